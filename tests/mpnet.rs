//! The real all-mpnet-base-v2 (provisioned by `scripts/provision-mpnet.sh`; fails, never skips,
//! when missing) against Python: token ids and embeddings of the 40 parity texts
//! (`mpnet_parity.json`) and its STS Benchmark test Spearman (`mpnet_quality.json`, 0.8342).

mod common;
use common::*;
use sbert::datasets::sts;
use sbert::{EncodeOptions, SentenceTransformer};

fn mpnet() -> SentenceTransformer {
    SentenceTransformer::load("all-mpnet-base-v2").unwrap_or_else(|e| {
        panic!("the real all-mpnet-base-v2 is required (bash scripts/provision-mpnet.sh): {e}")
    })
}

#[test]
fn mpnet_ids_and_embeddings_match_python() {
    let g = golden("mpnet_parity.json");
    let model = mpnet();
    assert_eq!(model.max_seq_length(), 384);
    let texts: Vec<String> = serde_json::from_value(g["texts"].clone()).unwrap();
    let want_ids: Vec<Vec<u32>> = serde_json::from_value(g["input_ids"].clone()).unwrap();
    for (t, want) in texts.iter().zip(&want_ids) {
        assert_eq!(&model.tokenize(&[t]).unwrap()[0], want, "ids of {t:?}");
    }
    let got = model
        .encode(&texts, &EncodeOptions::default().batch_size(8))
        .unwrap();
    let mut worst = 0f32;
    for (row, want) in got.rows().zip(g["embeddings"].as_array().unwrap()) {
        worst = worst.max(max_abs_diff(row, &f32s(want)));
    }
    println!("all-mpnet-base-v2: embeddings max |Δ| = {worst:.2e}");
    assert!(worst <= 1e-5, "embeddings differ by {worst}");
}

#[test]
fn mpnet_stsb_spearman_matches_python() {
    let want = golden("mpnet_quality.json")["stsb_test_spearman_cosine"]
        .as_f64()
        .unwrap();
    let pairs = sts::read_sts(&shared().join("data/stsbenchmark/sts-test.csv")).unwrap();
    assert_eq!(pairs.len(), 1379);
    let ev = sbert::evaluation::EmbeddingSimilarityEvaluator::from_sts(&pairs)
        .unwrap()
        .name("sts-test");
    let r = sbert::evaluation::Evaluator::evaluate(&ev, &mpnet()).unwrap();
    println!(
        "all-mpnet-base-v2 STSb test Spearman {:.6} (Python {want:.6})",
        r.primary_score()
    );
    assert!(
        (r.primary_score() - want).abs() <= 1e-3,
        "spearman {} vs Python {want}",
        r.primary_score()
    );
}
