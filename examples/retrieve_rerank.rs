//! # Lecture: bi-encoder vs cross-encoder, retrieve & re-rank (on SciFact)
//!
//! A **bi-encoder** embeds the query and each document separately and compares the vectors:
//! documents are embedded once, search is a matrix product — it scales to millions. A
//! **cross-encoder** reads the query and a document together and outputs one relevance score: more
//! accurate, but every (query, document) pair is a full BERT pass. So we combine them: the
//! bi-encoder retrieves the top candidates, the cross-encoder re-ranks them.
//!
//! Python:
//! ```python
//! hits = util.semantic_search(question_embedding, corpus_embeddings, top_k=100)[0]
//! cross_scores = cross_encoder.predict([[query, passages[hit["corpus_id"]]] for hit in hits])
//! ```
//! No pretrained cross-encoder can be downloaded here, so we train one (`CrossEncoder.fit`):
//! all-MiniLM-L6-v2's encoder with a fresh 1-logit head, binary cross-entropy, on the SciFact train
//! claims — positives = (claim, cited abstract), negatives = one hard negative mined with the
//! bi-encoder (from the claim's top 10) and one random abstract per positive, seed 42. One train
//! claim in five is held out: on those validation claims we choose how much of the bi-encoder's
//! score to keep when re-ranking (score interpolation), never on the test queries.
//!
//! The lab trains 60 steps (a few minutes on a laptop CPU) and re-ranks each test query's top 10.
//! The full recipe (1 epoch, 138 steps, re-ranking the top 20):
//! `SBERT_FULL=1 cargo run --release --example retrieve_rerank` (≈ 30 min on 2 cores).
//! Run: `cargo run --release --example retrieve_rerank` (mirrored by `notebooks/04_retrieve_rerank.ipynb`).

use std::collections::{BTreeMap, BTreeSet};
use std::ops::ControlFlow;

use sbert::cross_encoder::{
    interpolate_scores, rerank_run, tune_interpolation, CrossEncoder, PredictOptions,
};
use sbert::datasets::scifact;
use sbert::evaluation::retrieval::{to_ranked_run, to_run};
use sbert::evaluation::{InformationRetrievalEvaluator, MeanComparison, Measure, RunComparison};
use sbert::prelude::*;
use sbert::train::{mine_hard_negatives, DataLoader, FitConfig, InputExample, Rng};

fn main() -> sbert::Result<()> {
    // # The bi-encoder retrieves: SciFact test, top 100 per query
    // Encoding the 5,183 abstracts takes a few minutes on a laptop CPU. `cache_dir` keeps the
    // embeddings: running the notebook again (or notebook 06, same model and texts) reads them back.
    let full = std::env::var_os("SBERT_FULL").is_some();
    let bi_encoder = SentenceTransformer::load("all-MiniLM-L6-v2")?;
    let data = sbert::datasets::data_dir()?.join("beir-scifact");
    let evaluator = InformationRetrievalEvaluator::new(scifact::load_test(&data)?)
        .name("scifact-test")
        .measures(&Measure::beir());
    let corpus_texts = evaluator.dataset.corpus_texts();
    let cached = EncodeOptions::default().cache_dir("target/lab/embeddings");
    let corpus_embeddings =
        bi_encoder.encode(&corpus_texts, &cached.clone().show_progress_bar(true))?;
    let query_embeddings =
        bi_encoder.encode(&evaluator.dataset.query_texts(), &EncodeOptions::default())?;
    let hits = semantic_search(
        &query_embeddings,
        &corpus_embeddings,
        &SearchOptions::default().top_k(100),
    )?;
    let bi_run = to_ranked_run(&evaluator.dataset, &hits);
    let bi_eval = evaluator.evaluate_run(&bi_run);
    println!("{bi_eval}");

    // # Training pairs for our cross-encoder
    // Positives: (claim, cited abstract). Hard negatives: abstracts the bi-encoder ranks high for
    // the claim but the claim does not cite — exactly the mistakes a re-ranker must fix. Every
    // fifth train claim is held out for validation (the cross-encoder never sees it).
    let claims = scifact::read_claims(&data.join("scifact.zip"), "claims_train.csv")?;
    let mut claim_ids: Vec<String> = claims.iter().map(|c| c.id.clone()).collect();
    claim_ids.dedup();
    let held_out: BTreeSet<String> = claim_ids.iter().skip(4).step_by(5).cloned().collect();
    let (validation_claims, train_claims): (Vec<_>, Vec<_>) = claims
        .iter()
        .cloned()
        .partition(|c| held_out.contains(&c.id));
    let positives = scifact::train_positives(&train_claims, &evaluator.dataset.corpus);
    let mut cited: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for c in &claims {
        cited
            .entry(c.id.clone())
            .or_default()
            .extend(c.cited_doc_ids.iter().cloned());
    }
    let row_of: BTreeMap<String, usize> = evaluator
        .dataset
        .corpus
        .iter()
        .enumerate()
        .map(|(i, d)| (d.id.clone(), i))
        .collect();
    let claim_texts: Vec<String> = positives.iter().map(|p| p.1.clone()).collect();
    let claim_embeddings = bi_encoder.encode(&claim_texts, &EncodeOptions::default())?;
    let doc_ids: Vec<String> = evaluator
        .dataset
        .corpus
        .iter()
        .map(|d| d.id.clone())
        .collect();
    let hard = mine_hard_negatives(
        &claim_embeddings,
        &corpus_embeddings,
        |q, d| cited[&positives[q].0].contains(&doc_ids[d]),
        10,
        1,
        42,
    )?;
    let mut rng = Rng::new(42);
    let mut examples = Vec::new();
    for (k, (claim_id, claim, doc)) in positives.iter().enumerate() {
        examples.push(InputExample::pair(
            claim.clone(),
            corpus_texts[row_of[doc]].clone(),
            1.0,
        ));
        for &d in &hard[k] {
            examples.push(InputExample::pair(
                claim.clone(),
                corpus_texts[d].clone(),
                0.0,
            ));
        }
        let random = loop {
            let d = rng.below(corpus_texts.len());
            if !cited[claim_id].contains(&doc_ids[d]) {
                break d;
            }
        };
        examples.push(InputExample::pair(
            claim.clone(),
            corpus_texts[random].clone(),
            0.0,
        ));
    }
    println!(
        "{} training pairs: {} positives, {} hard and {} random negatives ({} claims; {} held out)",
        examples.len(),
        positives.len(),
        hard.iter().map(Vec::len).sum::<usize>(),
        positives.len(),
        claim_ids.len() - held_out.len(),
        held_out.len()
    );

    // # Train the cross-encoder (CrossEncoder.fit)
    // Binary cross-entropy on the logit; AdamW lr 1e-4, 10 % warm-up, batch 16, max_length 256.
    // (The fresh head needs larger steps than fine-tuning's 2e-5: with 2e-5 the loss only went from
    // 0.691 to 0.614 in one epoch — barely below always predicting the 1/3 prior — and re-ranking
    // made nDCG@10 worse.)
    let mut cross_encoder = CrossEncoder::new_from_encoder("all-MiniLM-L6-v2", 1, 42)?;
    let loader = DataLoader::new(examples, 16);
    let config = FitConfig {
        lr: 1e-4,
        warmup_steps: loader.len() / 10,
        max_seq_length: Some(256),
        max_steps: if full { None } else { Some(60) },
        output_path: Some("target/lab/reranker-scifact".into()),
        show_progress_bar: true,
        ..FitConfig::default()
    };
    let log = cross_encoder.fit(&loader, &config, None, |_| ControlFlow::Continue(()))?;
    let loss_chart = log.loss_chart(&["BinaryCrossEntropyLoss"]);
    println!("{loss_chart}");

    // # Bi-encoder vs cross-encoder on one query
    // The bi-encoder's top 5 for the first test query, then the same 5 scored by the cross-encoder.
    let query = evaluator.dataset.queries[0].text.clone();
    let top5: Vec<String> = bi_run[0]
        .1
        .iter()
        .take(5)
        .map(|(id, _)| corpus_texts[row_of[id]].clone())
        .collect();
    let bi_scores = cos_sim(
        &bi_encoder.encode(&[query.as_str()], &EncodeOptions::default())?,
        &bi_encoder.encode(&top5, &EncodeOptions::default())?,
    )?;
    println!("{bi_scores}");
    let ranking = cross_encoder.rank(&query, &top5, None, &PredictOptions::default())?;
    println!("{ranking}");

    // # Choosing the interpolation weight on the validation claims
    // A cross-encoder trained for minutes on 650 claims is a weak ranker on its own, but it sees
    // what the bi-encoder misses. So the final score mixes both: `w · z(bi-encoder cosine) +
    // (1 − w) · z(cross-encoder logit)`, each z-normalised over the query's candidates. We try
    // w = 0, 0.05, …, 1 on the held-out claims (never on the test queries) and keep the best.
    let rerank_top = if full { 20 } else { 10 };
    let logits = PredictOptions {
        apply_activation: false,
        show_progress_bar: true,
        ..Default::default()
    };
    let validation = scifact::claims_dataset(&validation_claims, &evaluator.dataset.corpus);
    let validation_hits = semantic_search(
        &bi_encoder.encode(&validation.query_texts(), &EncodeOptions::default())?,
        &corpus_embeddings,
        &SearchOptions::default().top_k(100),
    )?;
    let validation_run = to_ranked_run(&validation, &validation_hits);
    let validation_reranked = rerank_run(
        &cross_encoder,
        &validation.queries,
        &validation_run,
        |id| row_of.get(id).map(|&i| corpus_texts[i].clone()),
        rerank_top,
        &logits,
    )?;
    let sweep = tune_interpolation(
        &validation.qrels,
        &validation_run,
        &validation_reranked,
        rerank_top,
        Measure::NdcgCut(10),
    )?;
    println!("{sweep}");

    // # Retrieve & re-rank every test query
    // The cross-encoder re-scores each query's top candidates (alone, then interpolated with the
    // weight chosen above); the rest of the top 100 keeps the bi-encoder's order, so recall@100
    // cannot change.
    let reranked = rerank_run(
        &cross_encoder,
        &evaluator.dataset.queries,
        &bi_run,
        |id| row_of.get(id).map(|&i| corpus_texts[i].clone()),
        rerank_top,
        &logits,
    )?;
    let interpolated = interpolate_scores(&bi_run, &reranked, rerank_top, sweep.best)?;
    let (reranked_eval, interpolated_eval) = (
        evaluator.evaluate_run(&reranked),
        evaluator.evaluate_run(&interpolated),
    );
    let interpolated_name = format!("interpolated (w = {:.2})", sweep.best);
    let means = MeanComparison::new(&[
        ("bi-encoder", &bi_eval),
        ("cross-encoder alone", &reranked_eval),
        (interpolated_name.as_str(), &interpolated_eval),
    ]);
    println!("{means}");

    // # Which queries gained, which lost (nDCG@10)
    let comparison = RunComparison::new(
        &evaluator.dataset.qrels,
        &to_run(&bi_run),
        &to_run(&interpolated),
        Measure::NdcgCut(10),
        1,
    )
    .names("bi-encoder", "re-ranked (interpolated)")
    .with_texts(&evaluator.dataset.queries, &evaluator.dataset.corpus);
    println!("{comparison}");
    Ok(())
}
