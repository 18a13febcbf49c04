//! Reduced precision (`Dtype::Bf16`, `Dtype::Int8`): quality against f32 on real data (STS
//! Benchmark test and SciFact test at most 0.005 below Python's f32 figures, for all-MiniLM-L6-v2 and
//! all-mpnet-base-v2), agreement of every instruction-set path, exact return to f32, and clear
//! errors where reduced precision cannot go (training). The kernels themselves are checked against
//! brute-force oracles in `src/core/qgemm.rs`.

mod common;

use common::*;
use sbert::datasets::sts;
use sbert::evaluation::Evaluator as _;
use sbert::prelude::*;

/// The quality budget of a reduced-precision format against f32 (issue 14): how much it may lose.
const BUDGET: f64 = 0.005;

/// Prints a dtype's figure beside Python's f32 one and asserts it loses at most [`BUDGET`].
///
/// The bound is on the loss only: quantisation noise moves a ranking measure either way, and
/// MiniLM's int8 SciFact nDCG@10 lands above f32's (0.6512 vs 0.6451 on the current kernels) —
/// better quality is not a failure of the format.
fn within_budget(what: &str, dtype: Dtype, got: f64, f32_python: f64) {
    eprintln!(
        "{what}, {dtype}: {got:.4} (f32 Python {f32_python:.4}, {:+.4})",
        got - f32_python
    );
    assert!(
        got >= f32_python - BUDGET,
        "{what}, {dtype}: {got} is more than {BUDGET} below f32's {f32_python}"
    );
}

fn in_dtype(model: &SentenceTransformer, dtype: Dtype) -> SentenceTransformer {
    let mut m = model.clone();
    m.set_dtype(dtype).unwrap();
    assert_eq!(m.dtype(), dtype);
    m
}

fn stsb_spearman(model: &SentenceTransformer) -> f64 {
    let pairs = sts::read_sts(&shared().join("data/stsbenchmark/sts-test.csv")).unwrap();
    let ev = sbert::evaluation::EmbeddingSimilarityEvaluator::from_sts(&pairs)
        .unwrap()
        .name("sts-test");
    ev.evaluate_and_log(model, None, -1, -1)
        .unwrap()
        .primary_score()
}

/// STS Benchmark test Spearman of all-MiniLM-L6-v2 in bf16 and int8 within 0.005 of Python's f32
/// figure (0.820325; f32 itself is tested in tests/evaluation.rs).
#[test]
fn minilm_stsb_per_dtype() {
    let f32_python = golden("stsb_pretrained.json")["spearman_cosine"]
        .as_f64()
        .unwrap();
    for dtype in [Dtype::Bf16, Dtype::Int8] {
        let got = stsb_spearman(&in_dtype(model(), dtype));
        within_budget("MiniLM STSb test Spearman", dtype, got, f32_python);
    }
}

/// The same for all-mpnet-base-v2 (f32 Python 0.834219).
#[test]
fn mpnet_stsb_per_dtype() {
    let f32_python = golden("mpnet_quality.json")["stsb_test_spearman_cosine"]
        .as_f64()
        .unwrap();
    let mpnet = SentenceTransformer::load("all-mpnet-base-v2")
        .expect("all-mpnet-base-v2 must be provisioned (scripts/provision-mpnet.sh)");
    for dtype in [Dtype::Bf16, Dtype::Int8] {
        let got = stsb_spearman(&in_dtype(&mpnet, dtype));
        within_budget("MPNet STSb test Spearman", dtype, got, f32_python);
    }
}

/// SciFact test nDCG@10 of all-MiniLM-L6-v2 in bf16 and int8 within 0.005 of Python's f32
/// figure (0.6451; f32 itself is tested in tests/evaluation.rs).
#[test]
fn minilm_scifact_per_dtype() {
    let f32_python = golden("scifact_pretrained.json")["metrics_mean"]["ndcg_cut_10"]
        .as_f64()
        .unwrap();
    let ds = sbert::datasets::scifact::load_test(&shared().join("data/beir-scifact")).unwrap();
    let ev = sbert::evaluation::InformationRetrievalEvaluator::new(ds).name("scifact-test");
    for dtype in [Dtype::Int8, Dtype::Bf16] {
        let run = ev.retrieve(&in_dtype(model(), dtype)).unwrap();
        let got = ev.evaluate_run(&run).mean["ndcg_cut_10"];
        within_budget("MiniLM SciFact test nDCG@10", dtype, got, f32_python);
    }
}

fn sentences() -> Vec<String> {
    golden("encode_parity.json")["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["text"].as_str().unwrap().to_string())
        .collect()
}

/// Every instruction-set path gives the same embeddings in each format: int8's integer sums are
/// exact on every path, so paths differ only by the f32 kernels around them (and a quantization
/// step those differences may tip); bf16 accumulates in a different order per path.
#[test]
fn every_path_agrees_per_dtype() {
    let texts = sentences();
    let opts = EncodeOptions::default().batch_size(8);
    for dtype in [Dtype::Bf16, Dtype::Int8] {
        let m = in_dtype(model(), dtype);
        let best = {
            let _held = isa_lock();
            m.encode(&texts, &opts).unwrap()
        };
        // Reduced precision moves embeddings, but only a little: cosine to f32 ≥ 0.99.
        let exact = model().encode(&texts, &opts).unwrap();
        let mut from_f32 = 0f32;
        for (i, (a, b)) in best.rows().zip(exact.rows()).enumerate() {
            let cos: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
            assert!(cos >= 0.99, "{dtype}, text {i}: cosine to f32 {cos}");
            from_f32 = from_f32.max(1.0 - cos);
        }
        eprintln!("{dtype}: worst 1 − cos to f32 {from_f32:.2e}");
        on_every_isa(|isa| {
            let got = m.encode(&texts, &opts).unwrap();
            let worst = got
                .rows()
                .zip(best.rows())
                .map(|(a, b)| 1.0 - a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>())
                .fold(0f32, f32::max);
            let diff = max_abs_diff(got.as_slice(), best.as_slice());
            eprintln!("{dtype} on {isa}: max |Δ| {diff:.2e}, worst 1 − cos {worst:.2e}");
            // The paths differ by less than the format differs from f32 (int8: a rounding the
            // f32 kernels' last bits tip moves a value by a whole quantization step).
            assert!(
                worst <= from_f32.max(1e-4),
                "{dtype} on {isa}: max |Δ| {diff}, 1 − cos {worst} (to f32: {from_f32})"
            );
        });
    }
}

/// Switching back to f32 drops the packed copies: the embeddings are f32's, bit for bit.
#[test]
fn back_to_f32_is_exact() {
    // Bit-for-bit comparisons: no other test may switch the code path meanwhile.
    let _held = isa_lock();
    let texts = sentences();
    let opts = EncodeOptions::default().batch_size(8);
    let want = model().encode(&texts, &opts).unwrap();
    let mut m = in_dtype(model(), Dtype::Int8);
    let int8 = m.encode(&texts, &opts).unwrap();
    assert!(
        int8.as_slice() != want.as_slice(),
        "int8 gave f32's embeddings"
    );
    m.set_dtype(Dtype::F32).unwrap();
    let back = m.encode(&texts, &opts).unwrap();
    assert!(
        back.as_slice() == want.as_slice(),
        "back in f32: max |Δ| {}",
        max_abs_diff(back.as_slice(), want.as_slice())
    );
    // load_with gives what set_dtype gives.
    let loaded = SentenceTransformer::load_with(
        "all-MiniLM-L6-v2",
        &LoadOptions {
            dtype: Dtype::Int8,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(loaded.dtype(), Dtype::Int8);
    let again = loaded.encode(&texts, &opts).unwrap();
    assert!(
        again.as_slice() == int8.as_slice(),
        "load_with: max |Δ| {}",
        max_abs_diff(again.as_slice(), int8.as_slice())
    );
}

/// The embedding cache keys on the dtype: int8 never gets f32's cached rows, nor f32 int8's.
#[test]
fn cache_keys_on_dtype() {
    let _held = isa_lock();
    let texts = sentences();
    let dir = temp_dir("dtype-cache");
    let cached = EncodeOptions::default().batch_size(8).cache_dir(&dir);
    let plain = EncodeOptions::default().batch_size(8);
    let f32_rows = model().encode(&texts, &cached).unwrap();
    let int8 = in_dtype(model(), Dtype::Int8);
    let int8_rows = int8.encode(&texts, &cached).unwrap();
    assert!(int8_rows.as_slice() == int8.encode(&texts, &plain).unwrap().as_slice());
    assert!(int8_rows.as_slice() != f32_rows.as_slice());
    // Both entries are there now, each read back for its own dtype.
    assert!(int8.encode(&texts, &cached).unwrap().as_slice() == int8_rows.as_slice());
    assert!(model().encode(&texts, &cached).unwrap().as_slice() == f32_rows.as_slice());
}

/// Training runs in f32: fit on a reduced-precision model is a clear error, and the model is left as it was.
#[test]
fn fit_needs_f32() {
    let mut m = in_dtype(model(), Dtype::Bf16);
    let examples = vec![sbert::train::InputExample::pair("a cat", "a kitten", 1.0); 4];
    let mnrl = sbert::losses::MultipleNegativesRankingLoss::default();
    let objectives = [sbert::train::Objective {
        loader: sbert::train::DataLoader::new(examples, 2),
        loss: &mnrl,
    }];
    let err = sbert::train::fit(
        &mut m,
        &objectives,
        &sbert::train::FitConfig::default(),
        None,
        |_| std::ops::ControlFlow::Continue(()),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("bf16") && err.contains("set_dtype(Dtype::F32)"),
        "{err}"
    );
    assert_eq!(m.dtype(), Dtype::Bf16);
}
