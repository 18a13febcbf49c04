//! `fit` on the tiny BERT: two objectives, one optimizer, loss falls, evaluator + callback + CSV,
//! early stop, atomic save and exact reload, checkpoint rotation.

mod common;
use common::*;
use sbert::evaluation::EmbeddingSimilarityEvaluator;
use sbert::losses::{MultipleNegativesRankingLoss, OnlineContrastiveLoss};
use sbert::prelude::*;
use sbert::train::{fit, DataLoader, FitConfig, InputExample, Objective};
use std::ops::ControlFlow;

fn data() -> (Vec<InputExample>, Vec<InputExample>) {
    // Anchor "wK wK+1", positive "wK+2 wK+3" (a fixed mapping to learn), negatives elsewhere.
    let mut pos = Vec::new();
    let mut all = Vec::new();
    for k in (5..85).step_by(4) {
        let (a, p) = (
            format!("w{} w{}", k, k + 1),
            format!("w{} w{}", k + 2, k + 3),
        );
        pos.push(InputExample::pair(a.clone(), p.clone(), 1.0));
        all.push(InputExample::pair(a.clone(), p, 1.0));
        let j = 5 + (k * 7 + 3) % 80;
        all.push(InputExample::pair(a, format!("w{} w{}", j, j + 1), 0.0));
    }
    (pos, all)
}

#[test]
fn fit_trains_evaluates_saves_and_reloads() {
    let mut model =
        SentenceTransformer::from_dir(&tiny_model_dir(true), &candle_core::Device::Cpu).unwrap();
    let (pos, all) = data();
    let s1: Vec<String> = all.iter().map(|e| e.texts[0].clone()).collect();
    let s2: Vec<String> = all.iter().map(|e| e.texts[1].clone()).collect();
    let gold: Vec<f32> = all.iter().map(|e| e.label).collect();
    let evaluator = EmbeddingSimilarityEvaluator::new(&s1, &s2, &gold)
        .unwrap()
        .name("dev");
    let mnrl = MultipleNegativesRankingLoss::default();
    let ocl = OnlineContrastiveLoss::default();
    let objectives = [
        Objective {
            loader: DataLoader::new(pos.clone(), 4),
            loss: &mnrl,
        },
        Objective {
            loader: DataLoader::new(all.clone(), 4),
            loss: &ocl,
        },
    ];
    let out = temp_dir("fit-out");
    let csv = out.join("log.csv");
    let config = FitConfig {
        epochs: 4,
        warmup_steps: 2,
        lr: 2e-3,
        evaluation_steps: 2,
        output_path: Some(out.join("best")),
        checkpoint_save_steps: 3,
        checkpoint_path: Some(out.join("ckpt")),
        checkpoint_save_total_limit: 2,
        show_progress_bar: false,
        ..FitConfig::default()
    };
    let before = sbert::evaluation::Evaluator::evaluate(&evaluator, &model)
        .unwrap()
        .primary_score();
    let mut seen = Vec::new();
    let log = fit(&mut model, &objectives, &config, Some(&evaluator), |e| {
        // The lecture's callback(score, epoch, steps), writing CSV.
        sbert::evaluation::append_csv(&csv, &["score".into()], e.epoch as i64, e.steps, &[e.score])
            .unwrap();
        seen.push((e.epoch, e.steps));
        ControlFlow::Continue(())
    })
    .unwrap();
    // 5 steps per epoch (the shorter loader: 20 positives / 4), 2 objectives → 10 optimizer steps per epoch.
    assert_eq!(log.steps.len(), 40);
    assert_eq!(log.steps.iter().filter(|s| s.1 == 0).count(), 20);
    assert_eq!(log.steps[0].3, 0.0, "first step runs at lr 0 (warm-up)");
    // Evaluations at steps 2 and 4 and at each epoch end.
    assert_eq!(&seen[..3], &[(0, 2), (0, 4), (0, -1)]);
    assert_eq!(seen.len(), 12);
    assert_eq!(std::fs::read_to_string(&csv).unwrap().lines().count(), 13);
    // MNRL falls; the evaluator improves.
    let mnrl_losses: Vec<f64> = log.steps.iter().filter(|s| s.1 == 0).map(|s| s.2).collect();
    let first: f64 = mnrl_losses[..5].iter().sum::<f64>() / 5.0;
    let last: f64 = mnrl_losses[15..].iter().sum::<f64>() / 5.0;
    assert!(last < first, "MNRL loss should fall: {first} → {last}");
    let best_score = log
        .evaluations
        .iter()
        .map(|e| e.score)
        .fold(f64::NEG_INFINITY, f64::max);
    assert!(
        best_score > before,
        "evaluator score {before} → {best_score}"
    );
    // The best model was saved; reloaded, it scores the best score exactly.
    let saved = SentenceTransformer::load(out.join("best").to_str().unwrap()).unwrap();
    let reloaded = sbert::evaluation::Evaluator::evaluate(&evaluator, &saved)
        .unwrap()
        .primary_score();
    assert!(
        (reloaded - best_score).abs() < 1e-12,
        "{reloaded} vs {best_score}"
    );
    // No temporary folders are left; checkpoints rotate (keep 2).
    let leftovers: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let mut ckpts: Vec<String> = std::fs::read_dir(out.join("ckpt"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    ckpts.sort();
    assert_eq!(ckpts, vec!["checkpoint-15", "checkpoint-18"]);
    // Saving the in-memory model and reloading gives identical embeddings.
    model.save(&out.join("last")).unwrap();
    let again = SentenceTransformer::load(out.join("last").to_str().unwrap()).unwrap();
    let texts = ["w10 w11", "w50 w51 w52"];
    let a = model.encode(&texts, &EncodeOptions::default()).unwrap();
    let b = again.encode(&texts, &EncodeOptions::default()).unwrap();
    assert_eq!(a, b.clone().with_texts(&texts).unwrap());
}

#[test]
fn callback_and_max_steps_stop_training() {
    let mut model =
        SentenceTransformer::from_dir(&tiny_model_dir(true), &candle_core::Device::Cpu).unwrap();
    let (pos, _) = data();
    let mnrl = MultipleNegativesRankingLoss::default();
    let objectives = [Objective {
        loader: DataLoader::new(pos, 4),
        loss: &mnrl,
    }];
    let config = FitConfig {
        epochs: 3,
        warmup_steps: 1,
        evaluation_steps: 1,
        show_progress_bar: false,
        ..FitConfig::default()
    };
    let log = fit(&mut model, &objectives, &config, None, |e| {
        if e.global_step >= 2 {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })
    .unwrap();
    assert!(log.stopped_early);
    assert_eq!(log.steps.len(), 2);
    let config = FitConfig {
        epochs: 3,
        max_steps: Some(7),
        show_progress_bar: false,
        ..FitConfig::default()
    };
    let log = fit(&mut model, &objectives, &config, None, |_| {
        ControlFlow::Continue(())
    })
    .unwrap();
    assert!(log.stopped_early);
    assert_eq!(log.steps.len(), 7);
    assert!(fit(
        &mut model,
        &[],
        &config,
        None,
        |_| ControlFlow::Continue(())
    )
    .is_err());
}

/// mine_hard_negatives against a brute-force oracle: every negative is among the query's
/// `range_max` most similar rows (cosine, ties by lower row), never a positive, no duplicates,
/// min(num_negatives, available) of them, reproducible from the seed.
#[test]
fn mine_hard_negatives_matches_brute_force() {
    use sbert::train::mine_hard_negatives;
    let q = sbert::Embeddings::random_unit(30, 8, 1).unwrap();
    let c = sbert::Embeddings::random_unit(200, 8, 2).unwrap();
    let positive = |qi: usize, d: usize| (qi * 7 + d) % 5 == 0;
    let got = mine_hard_negatives(&q, &c, positive, 10, 3, 42).unwrap();
    assert_eq!(
        got,
        mine_hard_negatives(&q, &c, positive, 10, 3, 42).unwrap(),
        "same seed, same negatives"
    );
    assert_ne!(
        got,
        mine_hard_negatives(&q, &c, positive, 10, 3, 43).unwrap()
    );
    for (qi, negs) in got.iter().enumerate() {
        let qr = q.row(qi).unwrap();
        let mut scored: Vec<(f32, usize)> = (0..200)
            .map(|d| {
                (
                    c.row(d)
                        .unwrap()
                        .iter()
                        .zip(qr)
                        .map(|(a, b)| a * b)
                        .sum::<f32>(),
                    d,
                )
            })
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        let top: Vec<usize> = scored[..10].iter().map(|s| s.1).collect();
        let available = top.iter().filter(|&&d| !positive(qi, d)).count();
        assert_eq!(negs.len(), available.min(3));
        let mut uniq = negs.clone();
        uniq.sort();
        uniq.dedup();
        assert_eq!(uniq.len(), negs.len());
        for d in negs {
            assert!(
                top.contains(d) && !positive(qi, *d),
                "query {qi}: {d} not a top-10 non-positive"
            );
        }
    }
}

/// The training curves: one loss line per objective with every optimizer step, the evaluator's
/// score per evaluation; SVG with one polyline per series; the text form in a terminal.
#[test]
fn training_charts() {
    let log = sbert::train::TrainLog {
        steps: vec![
            (0, 0, 0.9, 0.0),
            (1, 1, 0.5, 1e-5),
            (2, 0, 0.7, 2e-5),
            (3, 1, 0.4, 2e-5),
        ],
        evaluations: vec![
            sbert::train::TrainEvent {
                score: 0.8,
                epoch: 0,
                steps: 1,
                global_step: 2,
                loss: 0.7,
                report: None,
            },
            sbert::train::TrainEvent {
                score: 0.85,
                epoch: 0,
                steps: -1,
                global_step: 4,
                loss: 0.55,
                report: None,
            },
        ],
        stopped_early: false,
        saved: None,
        mixed_precision: false,
    };
    let loss = log.loss_chart(&["MNRL", "OCL"]);
    assert_eq!(loss.series.len(), 2);
    assert_eq!(loss.series[0].points, vec![(0.0, 0.9), (2.0, 0.7)]);
    assert_eq!(loss.series[1].points, vec![(1.0, 0.5), (3.0, 0.4)]);
    let svg = loss.to_svg();
    assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
    assert_eq!(svg.matches("<polyline").count(), 2);
    assert!(svg.contains("MNRL") && svg.contains("OCL"));
    assert!(loss
        .to_string()
        .contains("MNRL: 2 points, first 0.9000, last 0.7000"));
    let score = log.score_chart();
    assert_eq!(score.series[0].points, vec![(2.0, 0.8), (4.0, 0.85)]);
    // Degenerate input draws without NaN coordinates.
    let empty = sbert::plot::LineChart::new("t", "x", "y").series("s", vec![(1.0, f64::NAN)]);
    assert!(!empty.to_svg().contains("NaN"));
}

/// Dropout masks come from the seed: the same seed gives the same model, bit for bit; another
/// seed (same batches: no shuffling) gives another.
#[test]
fn same_seed_same_model() {
    let train = |seed: u64| {
        let mut model =
            SentenceTransformer::from_dir(&tiny_model_dir(true), &candle_core::Device::Cpu)
                .unwrap();
        let mut loader = DataLoader::new(data().0, 4);
        loader.shuffle = false;
        let mnrl = MultipleNegativesRankingLoss::default();
        let config = FitConfig {
            epochs: 1,
            warmup_steps: 0,
            lr: 2e-3,
            seed,
            show_progress_bar: false,
            ..FitConfig::default()
        };
        fit(
            &mut model,
            &[Objective {
                loader,
                loss: &mnrl,
            }],
            &config,
            None,
            |_| ControlFlow::Continue(()),
        )
        .unwrap();
        model
            .encode(&["w10 w11", "w20 w21 w22"], &EncodeOptions::default())
            .unwrap()
    };
    let (a, b, c) = (train(7), train(7), train(8));
    assert_eq!(a.as_slice(), b.as_slice());
    assert!(
        max_abs_diff(a.as_slice(), c.as_slice()) > 1e-6,
        "another seed, other dropout masks"
    );
}

/// The embedding cache: a second encode of the same texts reads the stored file (proved by
/// planting other values in it); other texts, options or weights (a model trained in place) miss.
#[test]
fn embedding_cache_hits_and_misses() {
    let mut model =
        SentenceTransformer::from_dir(&tiny_model_dir(true), &candle_core::Device::Cpu).unwrap();
    let dir = temp_dir("emb-cache");
    let opts = EncodeOptions::default().cache_dir(&dir);
    let texts = ["w10 w11", "w20 w21 w22", "w5"];
    let fresh = model.encode(&texts, &EncodeOptions::default()).unwrap();
    let first = model.encode(&texts, &opts).unwrap();
    assert_eq!(first.as_slice(), fresh.as_slice());
    let npys: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "npy"))
        .collect();
    assert_eq!(npys.len(), 1);
    // Plant other numbers: a hit returns them, with the texts and token counts.
    let planted = sbert::Embeddings::from_flat(
        vec![0.5; fresh.len() * fresh.dim()],
        fresh.len(),
        fresh.dim(),
    )
    .unwrap();
    sbert::npy::write_npy(&npys[0], &planted).unwrap();
    let hit = model.encode(&texts, &opts).unwrap();
    assert_eq!(hit.as_slice(), planted.as_slice());
    assert_eq!(hit.texts(), fresh.texts());
    assert_eq!(hit.num_tokens(), fresh.num_tokens());
    // The key is what the model sees: the same texts with other runs of spaces give the same
    // token ids, so they hit the same entry (and come back with their own texts).
    let spaced = ["w10   w11", " w20 w21\tw22 ", "w5"];
    let hit = model.encode(&spaced, &opts).unwrap();
    assert_eq!(hit.as_slice(), planted.as_slice());
    assert_eq!(hit.texts()[1], " w20 w21\tw22 ");
    // Other texts, other options: misses (computed, equal to a fresh encode).
    let other = model.encode(&["w10 w11", "w30"], &opts).unwrap();
    assert_eq!(
        other.as_slice(),
        model
            .encode(&["w10 w11", "w30"], &EncodeOptions::default())
            .unwrap()
            .as_slice()
    );
    let normalized = model
        .encode(&texts, &opts.clone().normalize_embeddings(true))
        .unwrap();
    assert_ne!(normalized.as_slice(), planted.as_slice());
    // Train in place (same path on disk, new weights in memory): a miss.
    let mnrl = MultipleNegativesRankingLoss::default();
    let config = FitConfig {
        epochs: 1,
        lr: 2e-3,
        warmup_steps: 0,
        max_steps: Some(1),
        show_progress_bar: false,
        ..FitConfig::default()
    };
    fit(
        &mut model,
        &[Objective {
            loader: DataLoader::new(data().0, 4),
            loss: &mnrl,
        }],
        &config,
        None,
        |_| ControlFlow::Continue(()),
    )
    .unwrap();
    let after = model.encode(&texts, &opts).unwrap();
    assert_eq!(
        after.as_slice(),
        model
            .encode(&texts, &EncodeOptions::default())
            .unwrap()
            .as_slice()
    );
    assert!(max_abs_diff(after.as_slice(), fresh.as_slice()) > 1e-6);
}

/// Project plumbing: training pairs from graded qrels (grade / max: 2 → 1.0, 1 → 0.5, 0 → 0.0)
/// for the training part of `split_by_query`, and a custom mapping that leaves grade 0 out.
#[test]
fn graded_examples_from_qrels() {
    use sbert::datasets::{Document, Qrels, Query, RetrievalDataset};
    use std::collections::{BTreeMap, BTreeSet};
    let qrels: Qrels = (0..50)
        .map(|i| {
            (
                format!("q{i}"),
                BTreeMap::from([
                    (format!("d{i}"), 2),
                    (format!("d{}", i + 1), 1),
                    (format!("d{}", i + 2), 0),
                ]),
            )
        })
        .collect();
    let ds = RetrievalDataset {
        corpus: (0..52)
            .map(|i| Document {
                id: format!("d{i}"),
                title: String::new(),
                text: format!("document {i}"),
            })
            .collect(),
        queries: (0..50)
            .map(|i| Query {
                id: format!("q{i}"),
                text: format!("query {i}"),
            })
            .collect(),
        qrels,
    };
    let parts = ds.split_by_query(&[0.8, 0.1, 0.1], 42).unwrap();
    let train: BTreeSet<String> = parts[0].queries.iter().map(|q| q.id.clone()).collect();
    let ex = ds.graded_examples(Some(&train), ds.grade_over_max());
    assert_eq!(ex.len(), train.len() * 3);
    for e in &ex {
        let q: usize = e.texts[0].trim_start_matches("query ").parse().unwrap();
        let d: usize = e.texts[1].trim_start_matches("document ").parse().unwrap();
        assert!(train.contains(&format!("q{q}")));
        assert_eq!(e.label, [1.0, 0.5, 0.0][d - q], "q{q} d{d}");
    }
    let positives = ds.graded_examples(None, |g| (g > 0).then_some(1.0));
    assert_eq!(positives.len(), 100);
    assert!(positives.iter().all(|e| e.label == 1.0));
}
