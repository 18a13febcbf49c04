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
//! The lab trains 60 steps (≈ 8 minutes on 2 cores) and re-ranks each test query's top 10
//! (≈ 5 minutes); the whole notebook takes ≈ 17 minutes.
//! The full recipe (1 epoch, 138 steps, re-ranking the top 20):
//! `SBERT_FULL=1 cargo run --release --example retrieve_rerank` (≈ 30 min on 2 cores).
//! Run: `cargo run --release --example retrieve_rerank` (mirrored by `notebooks/04_retrieve_rerank.ipynb`).

use std::collections::BTreeMap;
use std::ops::ControlFlow;

use sbert::cross_encoder::{
    interpolate_scores, rerank_run, tune_interpolation, CrossEncoder, PredictOptions,
};
use sbert::datasets::{scifact, RetrievalDataset};
use sbert::evaluation::retrieval::{to_ranked_run, to_run};
use sbert::evaluation::{InformationRetrievalEvaluator, MeanComparison, Measure, RunComparison};
use sbert::prelude::*;
use sbert::train::{mine_hard_negatives, DataLoader, FitConfig, InputExample, Rng};

/// Whether `claim` cites document `doc` (is judged relevant to it).
fn cites(claims: &RetrievalDataset, claim: &str, doc: &str) -> bool {
    claims
        .qrels
        .get(claim)
        .is_some_and(|judged| judged.contains_key(doc))
}

fn main() -> sbert::Result<()> {
    // # The bi-encoder retrieves: SciFact test, top 100 per query
    // Encoding the 5,183 abstracts takes a few minutes on a laptop CPU. `cache_dir` keeps the
    // embeddings: running the notebook again (or notebook 06, same model and texts) reads them back.
    // `cached.clone()` makes a copy of the options to change (`cached` itself is used again later).
    let full = std::env::var_os("SBERT_FULL").is_some();
    let bi_encoder = SentenceTransformer::load("all-MiniLM-L6-v2")?;
    let data = sbert::datasets::data_dir()?.join("beir-scifact");
    let evaluator = InformationRetrievalEvaluator::new(scifact::load(&data, "test")?)
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

    // # The training claims, one in five held out
    // SciFact's 809 training claims with the abstracts they cite, split by claim (seed 42): 80% to
    // train the cross-encoder, 20% held out for validation (the cross-encoder never sees them).
    let mut parts = scifact::load(&data, "train")?.split_by_query(&[0.8, 0.2], 42)?;
    let validation = parts.remove(1);
    let train_claims = parts.remove(0);
    let mut positives = Vec::new(); // (claim id, claim, cited abstract's row in the corpus)
    let row_of: BTreeMap<String, usize> = evaluator
        .dataset
        .corpus
        .iter()
        .enumerate()
        .map(|(i, d)| (d.id.clone(), i))
        .collect();
    for q in &train_claims.queries {
        for doc in train_claims.qrels[&q.id].keys() {
            positives.push((q.id.clone(), q.text.clone(), row_of[doc]));
        }
    }
    println!(
        "{} training claims ({} cited abstracts), {} held out",
        train_claims.queries.len(),
        positives.len(),
        validation.queries.len()
    );

    // # Hard negatives: what the bi-encoder gets wrong
    // Abstracts the bi-encoder ranks high for a claim but the claim does not cite — exactly the
    // mistakes a re-ranker must fix (one per positive, from the top 10), plus one random abstract.
    let doc_ids: Vec<String> = evaluator
        .dataset
        .corpus
        .iter()
        .map(|d| d.id.clone())
        .collect();
    let claim_texts: Vec<String> = positives.iter().map(|p| p.1.clone()).collect();
    let claim_embeddings = bi_encoder.encode(&claim_texts, &EncodeOptions::default())?;
    let hard = mine_hard_negatives(
        &claim_embeddings,
        &corpus_embeddings,
        |q, d| cites(&train_claims, &positives[q].0, &doc_ids[d]),
        10,
        1,
        42,
    )?;
    let mut rng = Rng::new(42);
    let mut examples = Vec::new();
    for (k, (claim_id, claim, row)) in positives.iter().enumerate() {
        examples.push(InputExample::pair(
            claim.clone(),
            corpus_texts[*row].clone(),
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
            if !cites(&train_claims, claim_id, &doc_ids[d]) {
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
        "{} training pairs: {} positives, {} hard and {} random negatives",
        examples.len(),
        positives.len(),
        hard.iter().map(Vec::len).sum::<usize>(),
        positives.len()
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
    // A cross-encoder trained for minutes on 647 claims is a weak ranker on its own, but it sees
    // what the bi-encoder misses. So the final score mixes both: `w · z(bi-encoder cosine) +
    // (1 − w) · z(cross-encoder logit)`, each z-normalised over the query's candidates. We try
    // w = 0, 0.05, …, 1 on the held-out claims (never on the test queries) and keep the best.
    let rerank_top = if full { 20 } else { 10 };
    let logits = PredictOptions {
        apply_activation: false,
        show_progress_bar: true,
        ..Default::default()
    };
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
