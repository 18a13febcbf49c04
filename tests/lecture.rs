//! The lecture's second half against Python (`tests/golden/lecture.json`, made by
//! `scripts/make_golden_lecture.py` with sentence-transformers 6.2.0): the
//! `BinaryClassificationEvaluator` (pure metrics on scores with ties, and on the real model), the
//! contrastive losses with Euclidean / Manhattan distance, and what `fit` writes and says.

mod common;
use std::ops::ControlFlow;

use candle_core::{Device, Tensor, Var};
use common::*;
use sbert::evaluation::{binary_metrics, BinaryClassificationEvaluator, Evaluator};
use sbert::losses::{
    ContrastiveLoss, Loss, MultipleNegativesRankingLoss, OnlineContrastiveLoss,
    SiameseDistanceMetric,
};
use sbert::train::{
    fit, skipped_examples_note, DataLoader, FitConfig, InputExample, Objective, SentencesDataset,
};
use sbert::util::SimilarityFunction;

fn lecture() -> serde_json::Value {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/lecture.json");
    serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap()
}

fn close(got: f64, want: f64, tol: f64, what: &str) {
    assert!(
        (got - want).abs() <= tol * want.abs().max(1.0),
        "{what}: {got} vs Python {want}"
    );
}

#[test]
fn binary_metrics_match_python_on_scores_with_ties() {
    let g = lecture();
    for (n, case) in g["binary_metrics"].as_array().unwrap().iter().enumerate() {
        let scores: Vec<f64> = f32s(&case["scores"]).iter().map(|&v| v as f64).collect();
        let labels: Vec<bool> = case["labels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_i64() == Some(1))
            .collect();
        let m = binary_metrics(
            &scores,
            &labels,
            case["greater_is_better"].as_bool().unwrap(),
        )
        .unwrap();
        for (key, got) in m.named() {
            // thresholds are float32 arithmetic in Python
            let tol = if key.ends_with("threshold") {
                1e-6
            } else {
                1e-12
            };
            close(
                got,
                case[key].as_f64().unwrap(),
                tol,
                &format!("case {n} {key}"),
            );
        }
    }
}

#[test]
fn binary_classification_evaluator_matches_python_on_the_real_model() {
    let g = lecture();
    let pairs =
        sbert::datasets::sts::read_sts(&shared().join("data/stsbenchmark/sts-dev.csv")).unwrap();
    let pairs = &pairs[..300];
    let s1: Vec<&str> = pairs.iter().map(|p| p.sentence1.as_str()).collect();
    let s2: Vec<&str> = pairs.iter().map(|p| p.sentence2.as_str()).collect();
    let labels: Vec<f32> = pairs
        .iter()
        .map(|p| if p.score >= 3.0 { 1.0 } else { 0.0 })
        .collect();
    let ev = BinaryClassificationEvaluator::new(&s1, &s2, &labels)
        .unwrap()
        .name("sts-dev-binary")
        .similarity_fns(&[
            SimilarityFunction::Cosine,
            SimilarityFunction::Dot,
            SimilarityFunction::Euclidean,
            SimilarityFunction::Manhattan,
        ]);
    let report = ev.evaluate(model()).unwrap();
    let want = &g["evaluator"];
    assert_eq!(report.primary, want["primary"].as_str().unwrap());
    let want = want["metrics"].as_object().unwrap();
    assert_eq!(
        report.metrics.len(),
        want.len(),
        "{:?}",
        report.metrics.keys()
    );
    for (k, v) in want {
        let got = report.metrics[k];
        // Embeddings agree to ~1e-6, so a threshold can move by that much; a count-based metric
        // changes only if two pairs swap order, which these data do not have.
        close(got, v.as_f64().unwrap(), 1e-5, k);
    }
    // The CSV row carries Python's columns.
    let row = ev.csv_row(&report).unwrap();
    assert_eq!(
        row.file,
        "binary_classification_evaluation_sts-dev-binary_results.csv"
    );
    assert_eq!(row.columns.len(), 32);
    assert_eq!(
        row.columns[..3],
        ["cosine_accuracy", "cosine_accuracy_threshold", "cosine_f1"]
    );
}

#[test]
fn binary_classification_evaluator_refuses_labels_other_than_0_and_1() {
    let err =
        BinaryClassificationEvaluator::new(&["a", "b"], &["c", "d"], &[1.0, 0.5]).unwrap_err();
    assert!(
        err.to_string().contains("pair 1") && err.to_string().contains("0.5"),
        "{err}"
    );
    let err = BinaryClassificationEvaluator::from_input_examples(&[InputExample {
        texts: vec!["only one".into()],
        label: 1.0,
    }])
    .unwrap_err();
    assert!(err.to_string().contains("example 0"), "{err}");
    assert!(binary_metrics(&[0.5, 0.1], &[true], true).is_err());
}

#[test]
fn contrastive_losses_with_euclidean_and_manhattan_match_pytorch() {
    let g = lecture();
    for case in g["distance_losses"].as_array().unwrap() {
        let metric = match case["distance_metric"].as_str().unwrap() {
            "EUCLIDEAN" => SiameseDistanceMetric::Euclidean,
            "MANHATTAN" => SiameseDistanceMetric::Manhattan,
            other => panic!("{other}"),
        };
        let margin = case["margin"].as_f64().unwrap();
        let loss: Box<dyn Loss> = match case["loss"].as_str().unwrap() {
            "OnlineContrastiveLoss" => Box::new(OnlineContrastiveLoss {
                distance_metric: metric,
                margin,
            }),
            _ => Box::new(ContrastiveLoss {
                distance_metric: metric,
                margin,
            }),
        };
        let vars: Vec<Var> = case["embeddings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|col| {
                let rows: Vec<Vec<f32>> = col.as_array().unwrap().iter().map(f32s).collect();
                let (r, c) = (rows.len(), rows[0].len());
                Var::from_tensor(&Tensor::from_vec(rows.concat(), (r, c), &Device::Cpu).unwrap())
                    .unwrap()
            })
            .collect();
        let tensors: Vec<Tensor> = vars.iter().map(|v| v.as_tensor().clone()).collect();
        let value = loss
            .compute_loss_from_embeddings(&tensors, &f32s(&case["labels"]))
            .unwrap();
        let what = format!("{} {}", case["loss"], case["distance_metric"]);
        close(
            value.to_scalar::<f32>().unwrap() as f64,
            case["loss_value"].as_f64().unwrap(),
            1e-5,
            &what,
        );
        let grads = value.backward().unwrap();
        for (c, var) in vars.iter().enumerate() {
            let got = grads
                .get(var.as_tensor())
                .unwrap()
                .to_vec2::<f32>()
                .unwrap();
            let want: Vec<Vec<f32>> = case["grads"][c]
                .as_array()
                .unwrap()
                .iter()
                .map(f32s)
                .collect();
            assert!(
                max_abs_diff(&got.concat(), &want.concat()) < 1e-5,
                "{what}: gradient of column {c}"
            );
        }
    }
}

fn lecture_pairs() -> Vec<InputExample> {
    vec![
        InputExample::pair("How do I get a visa?", "Apply at the embassy.", 1.0),
        InputExample::pair("How do I get a visa?", "The train leaves at nine.", 0.0),
        InputExample::pair("Is tap water safe?", "Yes, it is treated.", 1.0),
        InputExample::pair("Is tap water safe?", "Bring a warm coat.", 0.0),
        InputExample::pair("Where can I park?", "At the station garage.", 1.0),
        InputExample::pair("Where can I park?", "Museums close on Mondays.", 0.0),
    ]
}

#[test]
fn mnrl_says_what_it_skips_and_can_train_them_as_python_does() {
    let dataset = SentencesDataset::new(lecture_pairs(), model());
    let loader = DataLoader::new(dataset, 16);
    let mnrl = MultipleNegativesRankingLoss::new(model());
    let objective = Objective {
        loader: loader.clone(),
        loss: &mnrl,
    };
    let note = skipped_examples_note(0, &objective).unwrap();
    assert!(
        note.contains("skips the 3 of its 6 examples labelled 0"),
        "{note}"
    );
    let python = MultipleNegativesRankingLoss {
        ignore_labels: true,
        ..MultipleNegativesRankingLoss::new(model())
    };
    assert!(!python.positives_only());
    let objective = Objective {
        loader,
        loss: &python,
    };
    assert_eq!(skipped_examples_note(0, &objective), None);
    let ocl = OnlineContrastiveLoss::new(model());
    assert_eq!(ocl.distance_metric, SiameseDistanceMetric::CosineDistance);
    assert_eq!(ocl.margin, 0.5);
}

#[test]
fn fit_writes_the_evaluator_csv_under_output_eval_as_python_does() {
    let dir = temp_dir("lecture-eval-csv");
    let out = dir.join("finetuned");
    let mut m = sbert::SentenceTransformer::load(tiny_model_dir(true).to_str().unwrap()).unwrap();
    let examples = lecture_pairs();
    let evaluator = BinaryClassificationEvaluator::from_input_examples(&examples)
        .unwrap()
        .name("dev");
    let loader = DataLoader::new(SentencesDataset::from(examples), 2);
    let mnrl = MultipleNegativesRankingLoss::default();
    let ocl = OnlineContrastiveLoss::default();
    let objectives = [
        Objective {
            loader: loader.clone(),
            loss: &mnrl,
        },
        Objective { loader, loss: &ocl },
    ];
    let config = FitConfig {
        epochs: 2,
        evaluation_steps: 2,
        output_path: Some(out.clone()),
        show_progress_bar: false,
        ..FitConfig::default()
    };
    let mut calls = Vec::new();
    let log = fit(&mut m, &objectives, &config, Some(&evaluator), |e| {
        calls.push((e.epoch, e.steps, e.score));
        ControlFlow::Continue(())
    })
    .unwrap();
    let csv =
        std::fs::read_to_string(out.join("eval/binary_classification_evaluation_dev_results.csv"))
            .unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "epoch,steps,cosine_accuracy,cosine_accuracy_threshold,cosine_f1,cosine_precision,cosine_recall,cosine_f1_threshold,cosine_ap,cosine_mcc"
    );
    // One row per evaluation: steps 2 and the epoch's end (-1), for each of 2 epochs.
    assert_eq!(lines.len(), 1 + log.evaluations.len());
    assert_eq!(log.evaluations.len(), 4);
    for (line, (epoch, steps, score)) in lines[1..].iter().zip(&calls) {
        let cols: Vec<&str> = line.split(',').collect();
        assert_eq!(cols[0], epoch.to_string());
        assert_eq!(cols[1], steps.to_string());
        // the primary metric (cosine_ap) is the 9th column
        close(
            cols[8].parse().unwrap(),
            *score,
            1e-12,
            "cosine_ap in the CSV",
        );
    }
    // The saved model loads and its folder kept the log.
    assert!(sbert::SentenceTransformer::load(out.to_str().unwrap()).is_ok());
    let _ = std::fs::remove_dir_all(&dir);
}

/// SciFact (train and test claims), as the lab's data folder holds it.
fn scifact_all() -> sbert::datasets::RetrievalDataset {
    let dir = shared().join("data/beir-scifact");
    let train = sbert::datasets::scifact::load(&dir, "train").unwrap();
    let mut all = sbert::datasets::scifact::load(&dir, "test").unwrap();
    all.queries.extend(train.queries);
    all.qrels.extend(train.qrels);
    all
}

#[test]
fn a_real_collection_in_the_course_layout_reads_back_and_splits_80_10_10() {
    use std::collections::BTreeSet;
    let all = scifact_all();
    assert_eq!(all.queries.len(), 1109);
    let dir = temp_dir("course-layout");
    sbert::datasets::stackexchange::write_collection(&dir, &all, 1).unwrap();
    let back = sbert::datasets::stackexchange::load(
        &dir.join("Answers.json"),
        &dir.join("topics_1.json"),
        Some(&dir.join("qrel_1.tsv")),
    )
    .unwrap();
    // Never over a file of the user's: a different Answers.json there is refused and kept; the
    // same collection written again is a no-op.
    let theirs = temp_dir("course-layout-theirs");
    std::fs::write(theirs.join("Answers.json"), "[]").unwrap();
    let err = sbert::datasets::stackexchange::write_collection(&theirs, &all, 1).unwrap_err();
    assert!(err.to_string().contains("Answers.json"), "{err}");
    assert_eq!(
        std::fs::read_to_string(theirs.join("Answers.json")).unwrap(),
        "[]"
    );
    assert!(!theirs.join("topics_1.json").exists());
    sbert::datasets::stackexchange::write_collection(&dir, &all, 1).unwrap();
    let squash = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    assert_eq!(back.corpus.len(), all.corpus.len());
    for (a, b) in all.corpus.iter().zip(&back.corpus) {
        assert_eq!((&a.id, squash(&a.contents())), (&b.id, b.contents()));
    }
    for (a, b) in all.queries.iter().zip(&back.queries) {
        assert_eq!((&a.id, squash(&a.text)), (&b.id, b.text.clone()));
    }
    assert_eq!(back.qrels, all.qrels);

    let parts = back.split_by_query(&[0.8, 0.1, 0.1], 42).unwrap();
    let sizes: Vec<usize> = parts.iter().map(|p| p.queries.len()).collect();
    assert_eq!(sizes, [887, 111, 111]);
    let ids = |p: &sbert::datasets::RetrievalDataset| -> BTreeSet<String> {
        p.queries.iter().map(|q| q.id.clone()).collect()
    };
    let (train, val, test) = (ids(&parts[0]), ids(&parts[1]), ids(&parts[2]));
    assert!(train.is_disjoint(&val) && train.is_disjoint(&test) && val.is_disjoint(&test));
    assert_eq!(train.len() + val.len() + test.len(), 1109);
    for p in &parts {
        assert_eq!(ids(p), p.qrels.keys().cloned().collect());
    }
    assert_eq!(
        back.split_by_query(&[0.8, 0.1, 0.1], 42).unwrap()[2].queries,
        parts[2].queries
    );
    assert_ne!(
        back.split_by_query(&[0.8, 0.1, 0.1], 7).unwrap()[2].queries,
        parts[2].queries
    );
    assert!(back.split_by_query(&[0.8, 0.3], 1).is_err());
    assert!(back.split_by_query(&[0.5, -0.1], 1).is_err());

    // The lecture's 50/50 training set in one call, validation and test queries left out.
    let exclude: BTreeSet<String> = val.union(&test).cloned().collect();
    let pairs = back.training_pairs(&exclude, 42).unwrap();
    let positives: usize = back
        .qrels
        .iter()
        .filter(|(q, _)| train.contains(*q))
        .map(|(_, d)| d.values().filter(|&&g| g >= 1).count())
        .sum();
    assert_eq!(pairs.len(), 2 * positives);
    let texts: std::collections::HashMap<String, &str> = back
        .queries
        .iter()
        .map(|q| (q.text.clone(), q.id.as_str()))
        .collect();
    let doc_of: std::collections::HashMap<String, &str> = back
        .corpus
        .iter()
        .map(|d| (d.contents(), d.id.as_str()))
        .collect();
    for (i, e) in pairs.iter().enumerate() {
        let q = texts[&e.texts[0]];
        assert!(
            train.contains(q),
            "pair {i}: query {q} is not a training query"
        );
        let relevant = back.qrels[q]
            .get(doc_of[&e.texts[1]])
            .is_some_and(|&g| g >= 1);
        assert_eq!(e.label, if i < positives { 1.0 } else { 0.0 });
        assert_eq!(relevant, i < positives, "pair {i}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn part3_tables_rank_ties_by_the_difference_and_explain_a_query_with_its_texts() {
    use sbert::datasets::{Document, Query};
    use sbert::evaluation::ir_metrics::{Qrels, Run};
    use sbert::evaluation::{compare::Side, Measure, RunComparison};
    let mut qrels = Qrels::new();
    let mut run_a = Run::new();
    let mut run_b = Run::new();
    // q1, q2, q3: the relevant document d_k first in B for all three; in A, q2's and q3's at rank 2.
    for (q, a_first) in [("q1", true), ("q2", false), ("q3", false)] {
        let rel = format!("d_{q}");
        qrels.entry(q.into()).or_default().insert(rel.clone(), 1);
        let other = "d_other".to_string();
        let (a1, a2) = if a_first {
            (rel.clone(), other.clone())
        } else {
            (other.clone(), rel.clone())
        };
        run_a
            .entry(q.into())
            .or_default()
            .extend([(a1, 2.0), (a2, 1.0)]);
        run_b
            .entry(q.into())
            .or_default()
            .extend([(rel, 2.0), (other, 1.0)]);
    }
    let docs: Vec<Document> = ["d_q1", "d_q2", "d_q3", "d_other"]
        .iter()
        .map(|id| Document {
            id: id.to_string(),
            title: String::new(),
            text: format!("the text of {id}, long enough to read why it ranks where it does"),
        })
        .collect();
    let queries: Vec<Query> = ["q1", "q2", "q3"]
        .iter()
        .map(|id| Query {
            id: id.to_string(),
            text: format!("claim {id}"),
        })
        .collect();
    let c = RunComparison::new(&qrels, &run_a, &run_b, Measure::NdcgCut(5), 1)
        .names("pretrained", "fine-tuned")
        .with_texts(&queries, &docs);
    // All three score 1.0 in B: the two that gained come first, not q1 by its id.
    let best: Vec<&str> = c.best(Side::B, 3).iter().map(|r| r.qid.as_str()).collect();
    assert_eq!(best[2], "q1", "{best:?}");
    let worst: Vec<&str> = c.worst(Side::A, 3).iter().map(|r| r.qid.as_str()).collect();
    assert_eq!(worst[2], "q1", "{worst:?}");
    let text = c.explain("q2").to_string();
    for want in [
        "Query q2",
        "claim q2",
        "Judged relevant",
        "the text of d_q2, long enough to read why it ranks",
        "Top 5 of pretrained",
        "✗ d_other",
        "✓ d_q2",
    ] {
        assert!(text.contains(want), "{want:?} missing from\n{text}");
    }
}
