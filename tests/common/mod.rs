#![allow(dead_code)]
//! Shared test helpers: the `../shared` folder, the real model, JSON goldens.

use std::path::PathBuf;
use std::sync::OnceLock;

use sbert::SentenceTransformer;

/// `../shared` beside the checkout (or `$SBERT_SHARED`).
pub fn shared() -> PathBuf {
    std::env::var_os("SBERT_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join("shared"))
}

pub fn golden(name: &str) -> serde_json::Value {
    let p = shared().join("golden").join(name);
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()));
    serde_json::from_str(&text).expect("golden JSON")
}

/// The real all-MiniLM-L6-v2. Fails (never skips) when it is missing: run `bash scripts/provision-model.sh`.
pub fn model() -> &'static SentenceTransformer {
    static M: OnceLock<SentenceTransformer> = OnceLock::new();
    M.get_or_init(|| {
        SentenceTransformer::load("all-MiniLM-L6-v2")
            .unwrap_or_else(|e| panic!("the real model is required for this test: {e}"))
    })
}

pub fn f32s(v: &serde_json::Value) -> Vec<f32> {
    v.as_array().expect("array").iter().map(|x| x.as_f64().expect("number") as f32).collect()
}

pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "length mismatch");
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}
