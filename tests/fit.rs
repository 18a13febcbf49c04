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
        let (a, p) = (format!("w{} w{}", k, k + 1), format!("w{} w{}", k + 2, k + 3));
        pos.push(InputExample::pair(a.clone(), p.clone(), 1.0));
        all.push(InputExample::pair(a.clone(), p, 1.0));
        let j = 5 + (k * 7 + 3) % 80;
        all.push(InputExample::pair(a, format!("w{} w{}", j, j + 1), 0.0));
    }
    (pos, all)
}

#[test]
fn fit_trains_evaluates_saves_and_reloads() {
    let mut model = SentenceTransformer::from_dir(&tiny_model_dir(true), &candle_core::Device::Cpu).unwrap();
    let (pos, all) = data();
    let s1: Vec<String> = all.iter().map(|e| e.texts[0].clone()).collect();
    let s2: Vec<String> = all.iter().map(|e| e.texts[1].clone()).collect();
    let gold: Vec<f32> = all.iter().map(|e| e.label).collect();
    let evaluator = EmbeddingSimilarityEvaluator::new(&s1, &s2, &gold).unwrap().name("dev");
    let mnrl = MultipleNegativesRankingLoss::default();
    let ocl = OnlineContrastiveLoss::default();
    let objectives = [
        Objective { loader: DataLoader::new(pos.clone(), 4), loss: &mnrl },
        Objective { loader: DataLoader::new(all.clone(), 4), loss: &ocl },
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
    let before = sbert::evaluation::Evaluator::evaluate(&evaluator, &model).unwrap().primary_score();
    let mut seen = Vec::new();
    let log = fit(&mut model, &objectives, &config, Some(&evaluator), |e| {
        // The lecture's callback(score, epoch, steps), writing CSV.
        sbert::evaluation::append_csv(&csv, &["score".into()], e.epoch as i64, e.steps, &[e.score]).unwrap();
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
    let best_score = log.evaluations.iter().map(|e| e.score).fold(f64::NEG_INFINITY, f64::max);
    assert!(best_score > before, "evaluator score {before} → {best_score}");
    // The best model was saved; reloaded, it scores the best score exactly.
    let saved = SentenceTransformer::load(out.join("best").to_str().unwrap()).unwrap();
    let reloaded = sbert::evaluation::Evaluator::evaluate(&evaluator, &saved).unwrap().primary_score();
    assert!((reloaded - best_score).abs() < 1e-12, "{reloaded} vs {best_score}");
    // No temporary folders are left; checkpoints rotate (keep 2).
    let leftovers: Vec<_> = std::fs::read_dir(&out).unwrap().filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().to_string()).filter(|n| n.starts_with('.')).collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let mut ckpts: Vec<String> = std::fs::read_dir(out.join("ckpt")).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().to_string()).collect();
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
    let mut model = SentenceTransformer::from_dir(&tiny_model_dir(true), &candle_core::Device::Cpu).unwrap();
    let (pos, _) = data();
    let mnrl = MultipleNegativesRankingLoss::default();
    let objectives = [Objective { loader: DataLoader::new(pos, 4), loss: &mnrl }];
    let config = FitConfig { epochs: 3, warmup_steps: 1, evaluation_steps: 1, show_progress_bar: false, ..FitConfig::default() };
    let log = fit(&mut model, &objectives, &config, None, |e| if e.global_step >= 2 { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }).unwrap();
    assert!(log.stopped_early);
    assert_eq!(log.steps.len(), 2);
    let config = FitConfig { epochs: 3, max_steps: Some(7), show_progress_bar: false, ..FitConfig::default() };
    let log = fit(&mut model, &objectives, &config, None, |_| ControlFlow::Continue(())).unwrap();
    assert!(log.stopped_early);
    assert_eq!(log.steps.len(), 7);
    assert!(fit(&mut model, &[], &config, None, |_| ControlFlow::Continue(())).is_err());
}
