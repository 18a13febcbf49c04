//! # Retrieve & re-rank on SciFact with a cross-encoder we train ourselves
//!
//! No pretrained cross-encoder can be downloaded offline, so we train one as Python's
//! `CrossEncoder.fit` does: all-MiniLM-L6-v2's encoder and pooler with a fresh 1-logit head,
//! binary cross-entropy.
//!
//! Recipe (seed 42 throughout):
//! - positives: (claim, cited abstract) of the SciFact train claims (919 pairs, 809 claims);
//! - hard negatives: for each positive, one abstract drawn from the claim's bi-encoder top 10
//!   that the claim does not cite (mined with the pretrained all-MiniLM-L6-v2);
//! - random negatives: one random uncited abstract per positive;
//! - batch 16, max_length 256, lr 2e-5 (AdamW, WarmupLinear with 10 % warm-up), 1 epoch.
//!
//! Test: the bi-encoder's top 100 for each SciFact test query; the cross-encoder re-scores the
//! first `--rerank-top` (default 20); nDCG@10, recall@100 (unchanged by construction) and MRR of
//! both runs.
//!
//! Run: `cargo run --release --example rerank_scifact [-- --max-steps N] [--rerank-top K] [--epochs E] [--output DIR]`
//! (≈ 30 min on 2 cores). Data: `sbert::datasets::shared_dir()` (`$SBERT_SHARED` or `../shared`).

use std::collections::{BTreeMap, BTreeSet};
use std::ops::ControlFlow;
use std::path::PathBuf;

use sbert::cross_encoder::{rerank_run, CrossEncoder, PredictOptions};
use sbert::datasets::scifact;
use sbert::evaluation::{InformationRetrievalEvaluator, Measure};
use sbert::prelude::*;
use sbert::train::{DataLoader, FitConfig, InputExample, Rng};

fn main() -> sbert::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
    let shared = sbert::datasets::shared_dir()?;
    let data = shared.join("data/beir-scifact");
    let output = PathBuf::from(arg("--output").unwrap_or_else(|| "target/reranker-scifact".into()));
    let rerank_top: usize = arg("--rerank-top").and_then(|s| s.parse().ok()).unwrap_or(20);
    let epochs: usize = arg("--epochs").and_then(|s| s.parse().ok()).unwrap_or(1);
    let t0 = std::time::Instant::now();

    // # The bi-encoder and the collection
    let bi = SentenceTransformer::load("all-MiniLM-L6-v2")?;
    let test = scifact::load_test(&data)?;
    let corpus = &test.corpus;
    let texts: Vec<String> = corpus.iter().map(|d| d.contents()).collect();
    let corpus_emb = bi.encode(&texts, &EncodeOptions::default().show_progress_bar(true))?;
    println!("encoded {} abstracts in {:.0} s", corpus.len(), t0.elapsed().as_secs_f64());

    // # Training pairs: positives, bi-encoder hard negatives, random negatives
    let claims = scifact::read_claims(&data.join("scifact.zip"), "claims_train.csv")?;
    let positives = scifact::train_positives(&claims, corpus);
    let mut cited: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for c in &claims {
        cited.entry(c.id.as_str()).or_default().extend(c.cited_doc_ids.iter().map(String::as_str));
    }
    let index: BTreeMap<&str, usize> = corpus.iter().enumerate().map(|(i, d)| (d.id.as_str(), i)).collect();
    let claim_texts: Vec<&str> = positives.iter().map(|p| p.1.as_str()).collect();
    let claim_emb = bi.encode(&claim_texts, &EncodeOptions::default())?;
    let hits = semantic_search(&claim_emb, &corpus_emb, &SearchOptions::default().top_k(10))?;
    let mut rng = Rng::new(42);
    let mut examples = Vec::new();
    let (mut hard, mut random) = (0, 0);
    for (k, (cid, claim, doc)) in positives.iter().enumerate() {
        examples.push(InputExample::pair(claim.as_str(), texts[index[doc.as_str()]].as_str(), 1.0));
        let not_cited: Vec<usize> = hits[k].iter().map(|h| h.corpus_id).filter(|&i| !cited[cid.as_str()].contains(corpus[i].id.as_str())).collect();
        if !not_cited.is_empty() {
            let i = not_cited[rng.below(not_cited.len())];
            examples.push(InputExample::pair(claim.as_str(), texts[i].as_str(), 0.0));
            hard += 1;
        }
        let neg = loop {
            let i = rng.below(corpus.len());
            if !cited[cid.as_str()].contains(corpus[i].id.as_str()) {
                break i;
            }
        };
        examples.push(InputExample::pair(claim.as_str(), texts[neg].as_str(), 0.0));
        random += 1;
    }
    println!("{} positives, {hard} hard negatives, {random} random negatives", positives.len());

    // # Train the reranker (CrossEncoder.fit)
    let mut ce = CrossEncoder::new_from_encoder("all-MiniLM-L6-v2", 1, 42)?;
    let loader = DataLoader::new(examples, 16);
    let steps = loader.len() * epochs;
    let config = FitConfig {
        epochs,
        warmup_steps: steps / 10,
        max_seq_length: Some(256),
        max_steps: arg("--max-steps").and_then(|s| s.parse().ok()),
        output_path: Some(output.clone()),
        show_progress_bar: true,
        ..FitConfig::default()
    };
    let t1 = std::time::Instant::now();
    let log = ce.fit(&loader, &config, None, |e| {
        println!("epoch {} done: mean loss {:.4}", e.epoch, e.loss);
        ControlFlow::Continue(())
    })?;
    let secs = t1.elapsed().as_secs_f64();
    let losses: Vec<f64> = log.steps.iter().map(|s| s.2).collect();
    let avg = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    println!(
        "{} steps in {secs:.0} s ({:.2} pairs/s); BCE loss first 10 steps {:.3}, last 10 {:.3}; saved to {}",
        log.steps.len(),
        (log.steps.len() * 16) as f64 / secs,
        avg(&losses[..losses.len().min(10)]),
        avg(&losses[losses.len().saturating_sub(10)..]),
        output.display()
    );

    // # Test: bi-encoder alone vs bi-encoder + reranker
    let evaluator = InformationRetrievalEvaluator::new(test.clone()).name("scifact-test").measures(&Measure::beir());
    let queries = evaluator.dataset.query_texts();
    let q_emb = bi.encode(&queries, &EncodeOptions::default())?;
    let hits = semantic_search(&q_emb, &corpus_emb, &SearchOptions::default().top_k(100))?;
    let run: Vec<(String, Vec<(String, f32)>)> = evaluator
        .dataset
        .queries
        .iter()
        .zip(hits.iter())
        .map(|(q, hs)| (q.id.clone(), hs.iter().map(|h| (corpus[h.corpus_id].id.clone(), h.score)).collect()))
        .collect();
    let t2 = std::time::Instant::now();
    let popts = PredictOptions { show_progress_bar: true, ..Default::default() };
    let reranked = rerank_run(&ce, &evaluator.dataset.queries, &run, |id| index.get(id).map(|&i| texts[i].clone()), rerank_top, &popts)?;
    let pairs_scored = run.iter().map(|(_, d)| d.len().min(rerank_top)).sum::<usize>();
    println!("re-ranked {pairs_scored} pairs in {:.0} s", t2.elapsed().as_secs_f64());
    let before = evaluator.evaluate_run(&run);
    let after = evaluator.evaluate_run(&reranked);
    println!("{:<12} {:>10} {:>12} {:>8}", "measure", "bi-encoder", "+ reranker", "gain");
    for m in ["ndcg_cut_10", "recall_100", "recip_rank", "map", "P_5"] {
        println!("{m:<12} {:>10.4} {:>12.4} {:>+8.4}", before.mean[m], after.mean[m], after.mean[m] - before.mean[m]);
    }
    println!("total {:.0} s", t0.elapsed().as_secs_f64());
    Ok(())
}
