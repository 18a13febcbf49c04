//! # Lecture: fine-tuning a Sentence-BERT with two objectives, an evaluator and a callback
//!
//! Python:
//! ```python
//! train_objectives = [(mnrl_dataloader, losses.MultipleNegativesRankingLoss(model)),
//!                     (pairs_dataloader, losses.OnlineContrastiveLoss(model, margin=0.5))]
//! evaluator = EmbeddingSimilarityEvaluator(sentences1, sentences2, scores, name="sts-dev")
//! def callback(score, epoch, steps):
//!     with open("scores.csv", "a") as f: f.write(f"{epoch},{steps},{score}\n")
//! model.fit(train_objectives=train_objectives, evaluator=evaluator, epochs=1, warmup_steps=100,
//!           evaluation_steps=20, output_path="finetuned", callback=callback)
//! ```
//! The training set is the lecture's: positive pairs (question, accepted answer) and as many
//! negative pairs (question, random answer), 50/50 — here SciFact's train claims with the abstracts
//! they cite, and random abstracts they do not cite (seed 42). Batch 16, max_seq_length 128,
//! 1 epoch: 58 steps, each one MNRL step and one OnlineContrastiveLoss step (≈ 5 min on 2 cores).
//!
//! **Stopping early**: a notebook's interrupt button cannot stop Rust code. Set
//! `max_steps: Some(n)` in the `FitConfig`, or return `ControlFlow::Break(())` from the callback
//! (e.g. when the score stops improving).
//!
//! The model is saved to `target/lab/finetuned-scifact`; notebook 06 compares it with the
//! pretrained one. Full-size experiment with SciFact before/after:
//! `cargo run --release --example finetune_scifact`.
//! Run: `cargo run --release --example fine_tuning` (mirrored by `notebooks/05_fine_tuning.ipynb`).

use std::collections::{BTreeMap, BTreeSet};
use std::ops::ControlFlow;

use sbert::datasets::{scifact, sts};
use sbert::evaluation::{append_csv, EmbeddingSimilarityEvaluator, Evaluator};
use sbert::losses::{MultipleNegativesRankingLoss, OnlineContrastiveLoss};
use sbert::prelude::*;
use sbert::train::{fit, DataLoader, FitConfig, InputExample, Objective, Rng};

fn main() -> sbert::Result<()> {
    // # The training set: positives and 50/50 random negatives
    let data = sbert::datasets::shared_dir()?;
    let zip = data.join("data/beir-scifact/scifact.zip");
    let corpus = scifact::read_corpus(&zip)?;
    let claims = scifact::read_claims(&zip, "claims_train.csv")?;
    let positives = scifact::train_positives(&claims, &corpus);
    let mut cited: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for c in &claims {
        cited
            .entry(c.id.clone())
            .or_default()
            .extend(c.cited_doc_ids.iter().cloned());
    }
    let abstracts: BTreeMap<String, String> = corpus
        .iter()
        .map(|d| (d.id.clone(), d.text.clone()))
        .collect();
    let mut rng = Rng::new(42);
    let mut pos_pairs = Vec::new();
    let mut all_pairs = Vec::new();
    for (_, claim, doc) in &positives {
        pos_pairs.push(InputExample::pair(
            claim.clone(),
            abstracts[doc].clone(),
            1.0,
        ));
        all_pairs.push(InputExample::pair(
            claim.clone(),
            abstracts[doc].clone(),
            1.0,
        ));
    }
    for (claim_id, claim, _) in &positives {
        let negative = loop {
            let d = &corpus[rng.below(corpus.len())];
            if !cited[claim_id].contains(&d.id) {
                break d.text.clone();
            }
        };
        all_pairs.push(InputExample::pair(claim.clone(), negative, 0.0));
    }
    println!(
        "{} positive pairs, {} pairs with the negatives",
        pos_pairs.len(),
        all_pairs.len()
    );

    // # The evaluator: Spearman correlation on STS Benchmark dev
    // The lecture fine-tunes all-distilroberta-v1 (RoBERTa). With internet access it is one line
    // (downloaded from the hub into the Hugging Face cache, as Python does), and everything below
    // runs unchanged on it:
    //     let model = SentenceTransformer::load("all-distilroberta-v1")?;
    // Offline, the lab fine-tunes the provisioned all-MiniLM-L6-v2 (BERT), 4× faster on 2 cores.
    let model = SentenceTransformer::load("all-MiniLM-L6-v2")?;
    let evaluator = EmbeddingSimilarityEvaluator::from_sts(&sts::read_sts(
        &data.join("data/stsbenchmark/sts-dev.csv"),
    )?)?
    .name("sts-dev");
    let before = evaluator.evaluate(&model)?;
    println!("{before}");

    // # Two objectives, one optimizer: MNRL on the positives, OnlineContrastiveLoss on all pairs
    let mnrl = MultipleNegativesRankingLoss::default();
    let ocl = OnlineContrastiveLoss::default();
    let mut mnrl_loader = DataLoader::new(pos_pairs, 16);
    mnrl_loader.seed = 42;
    let mut pairs_loader = DataLoader::new(all_pairs, 16);
    pairs_loader.seed = 43;

    // # fit, with callback(score, epoch, steps) writing a CSV
    // The callback runs after every evaluation (every 20 steps and at the epoch's end); returning
    // `ControlFlow::Break(())` would stop training there. (`objectives` borrows the losses, so it
    // lives inside the block: a notebook keeps only owned values between cells.)
    let csv = std::path::PathBuf::from("target/lab/callback_scores.csv");
    let _ = std::fs::remove_file(&csv);
    let config = FitConfig {
        epochs: 1,
        warmup_steps: 100,
        max_seq_length: Some(128),
        evaluation_steps: 20,
        output_path: Some("target/lab/finetuned-scifact".into()),
        show_progress_bar: true,
        ..FitConfig::default()
    };
    let mut model = model;
    let mut csv_error = None;
    let log = {
        let objectives = [
            Objective {
                loader: mnrl_loader,
                loss: &mnrl,
            },
            Objective {
                loader: pairs_loader,
                loss: &ocl,
            },
        ];
        fit(&mut model, &objectives, &config, Some(&evaluator), |e| {
            println!(
                "callback: score {:.4}, epoch {}, steps {}",
                e.score, e.epoch, e.steps
            );
            if let Err(err) = append_csv(
                &csv,
                &["score".to_string()],
                e.epoch as i64,
                e.steps,
                &[e.score],
            ) {
                csv_error = Some(err);
                return ControlFlow::Break(());
            }
            ControlFlow::Continue(())
        })?
    };
    if let Some(err) = csv_error {
        Err(err)?;
    }
    println!(
        "{}",
        std::fs::read_to_string(&csv)
            .map_err(|e| sbert::Error::io("reading the callback's CSV", e))?
    );

    // # The evaluator's score over the steps
    let score_chart = log.score_chart();
    println!("{score_chart}");

    // # The two losses over the steps
    let loss_chart = log.loss_chart(&["MultipleNegativesRankingLoss", "OnlineContrastiveLoss"]);
    println!("{loss_chart}");
    Ok(())
}
