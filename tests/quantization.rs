//! Quantized embeddings and search over them: values equal sentence-transformers 6.2's
//! `quantize_embeddings` (tests/golden/quantization.json, scripts/make_golden_quantization.py),
//! search equals a brute-force oracle on awkward sizes, and Python's `semantic_search_usearch` on
//! the golden case.

mod common;

use sbert::prelude::*;
use sbert::util::{
    quantize_embeddings, semantic_search_quantized, semantic_search_quantized_rescored, Precision,
    QuantizationRanges, QuantizedEmbeddings, QuantizedSearchOptions,
};

fn matrix(v: &serde_json::Value) -> Embeddings {
    let rows: Vec<Vec<f32>> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r.as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap() as f32)
                .collect()
        })
        .collect();
    Embeddings::from_vec2(rows).unwrap()
}

fn values(q: &QuantizedEmbeddings) -> Vec<Vec<i64>> {
    (0..q.len())
        .map(|i| {
            q.row_values(i)
                .unwrap()
                .into_iter()
                .map(i64::from)
                .collect()
        })
        .collect()
}

#[test]
fn quantize_embeddings_equals_python() {
    let g = common::repo_golden("quantization.json");
    let emb = matrix(&g["embeddings"]);
    let calibration = matrix(&g["calibration"]);
    let r = matrix(&g["ranges"]);
    let ranges =
        QuantizationRanges::new(r.row(0).unwrap().to_vec(), r.row(1).unwrap().to_vec()).unwrap();
    let cases = g["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 8);
    for case in cases {
        let precision: Precision = case["precision"].as_str().unwrap().parse().unwrap();
        let how = case["ranges_from"].as_str().unwrap();
        let q = match how {
            "self" => quantize_embeddings(&emb, precision, None, None),
            "calibration" => quantize_embeddings(&emb, precision, None, Some(&calibration)),
            "ranges" => quantize_embeddings(&emb, precision, Some(&ranges), None),
            other => panic!("unknown case {other}"),
        }
        .unwrap();
        let want: Vec<Vec<i64>> = serde_json::from_value(case["values"].clone()).unwrap();
        assert_eq!(values(&q), want, "{precision} with ranges from {how}");
        assert_eq!(q.len(), 37);
        assert_eq!(q.row_bytes(), if precision.is_binary() { 2 } else { 13 });
    }
}

#[test]
fn rescored_int8_search_equals_python() {
    let g = common::repo_golden("quantization.json");
    let s = &g["search"];
    let (corpus, queries) = (matrix(&s["corpus"]), matrix(&s["queries"]));
    let ranges = QuantizationRanges::from_embeddings(&corpus).unwrap();
    let q8 = quantize_embeddings(&corpus, Precision::Int8, Some(&ranges), None).unwrap();
    let hits = semantic_search_quantized(
        &queries,
        &q8,
        &QuantizedSearchOptions::default()
            .top_k(5)
            .rescore_multiplier(4),
    )
    .unwrap();
    let want: Vec<Vec<(usize, f64)>> = serde_json::from_value(s["hits"].clone()).unwrap();
    assert_eq!(hits.len(), want.len());
    for (qi, (got, want)) in hits.iter().zip(&want).enumerate() {
        let got: Vec<usize> = got.iter().map(|h| h.corpus_id).collect();
        let ids: Vec<usize> = want.iter().map(|w| w.0).collect();
        assert_eq!(got, ids, "query {qi}");
        for (h, w) in hits[qi].iter().zip(want) {
            assert!(
                (f64::from(h.score) - w.1).abs() < 1e-4,
                "query {qi}: {} vs {}",
                h.score,
                w.1
            );
        }
    }
}

/// The oracle: every row scored by the definition — binary: equal bits of the stored values;
/// int8 / uint8: the f32 query · the dequantized row — sorted by (score descending, id
/// ascending), the best `kept` rescored by the dot product of the f32 query with the dequantized
/// row (binary: its bits).
fn brute_force(
    queries: &Embeddings,
    corpus: &QuantizedEmbeddings,
    rescore_from: &QuantizedEmbeddings,
    top_k: usize,
    rescore: Option<usize>,
) -> Vec<Vec<(usize, f32)>> {
    let d = corpus.dim();
    let qq = match corpus.ranges() {
        Some(r) => quantize_embeddings(queries, corpus.precision(), Some(r), None).unwrap(),
        None => quantize_embeddings(queries, corpus.precision(), None, None).unwrap(),
    };
    let bits = |v: &[i16]| -> Vec<u8> {
        v.iter()
            .flat_map(|&b| {
                let byte = (b as i32).rem_euclid(256) as u8;
                (0..8).rev().map(move |s| (byte >> s) & 1)
            })
            .collect()
    };
    (0..queries.len())
        .map(|qi| {
            let qv = qq.row_values(qi).unwrap();
            let mut scored: Vec<(usize, f32)> = (0..corpus.len())
                .map(|i| {
                    let cv = corpus.row_values(i).unwrap();
                    let s = if corpus.precision().is_binary() {
                        let (a, b) = (bits(&qv), bits(&cv));
                        a.iter().zip(&b).filter(|(x, y)| x == y).count() as f32
                    } else {
                        let deq = corpus.dequantize_row(i).unwrap();
                        queries
                            .row(qi)
                            .unwrap()
                            .iter()
                            .zip(&deq)
                            .map(|(a, b)| f64::from(*a) * f64::from(*b))
                            .sum::<f64>() as f32
                    };
                    (i, s)
                })
                .collect();
            let order = |v: &mut Vec<(usize, f32)>| {
                v.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            };
            order(&mut scored);
            match rescore {
                None => scored.truncate(top_k),
                Some(m) => {
                    scored.truncate(top_k * m);
                    let row = queries.row(qi).unwrap();
                    for c in &mut scored {
                        let deq = rescore_from.dequantize_row(c.0).unwrap();
                        assert_eq!(deq.len(), d);
                        c.1 = row
                            .iter()
                            .zip(&deq)
                            .map(|(a, b)| f64::from(*a) * f64::from(*b))
                            .sum::<f64>() as f32;
                    }
                    order(&mut scored);
                    scored.truncate(top_k);
                }
            }
            scored
        })
        .collect()
}

#[test]
fn search_equals_brute_force_on_awkward_sizes() {
    // Dimensions that are not whole bytes or words, a corpus of several cache blocks for binary,
    // top_k beyond the corpus, and vectors with repeated values (ties).
    for (n, d, top_k) in [(1001, 67, 7), (5000, 9, 3), (13, 130, 20), (4099, 8, 10)] {
        let corpus = Embeddings::random_unit(n, d, n as u64).unwrap();
        let queries = Embeddings::random_unit(11, d, 99).unwrap();
        for precision in [
            Precision::Int8,
            Precision::Uint8,
            Precision::Binary,
            Precision::Ubinary,
        ] {
            let q = quantize_embeddings(&corpus, precision, None, None).unwrap();
            for rescore in [None, Some(1), Some(3)] {
                let options = QuantizedSearchOptions {
                    top_k,
                    rescore: rescore.is_some(),
                    rescore_multiplier: rescore.unwrap_or(1),
                    asymmetric: false,
                };
                let got = semantic_search_quantized(&queries, &q, &options).unwrap();
                let want = brute_force(&queries, &q, &q, top_k, rescore);
                for (qi, (g, w)) in got.iter().zip(&want).enumerate() {
                    let g: Vec<(usize, f32)> = g.iter().map(|h| (h.corpus_id, h.score)).collect();
                    assert_eq!(g.len(), w.len());
                    for (a, b) in g.iter().zip(w) {
                        assert_eq!(
                            a.0, b.0,
                            "{n}×{d} {precision} rescore {rescore:?} query {qi}"
                        );
                        assert!((a.1 - b.1).abs() <= 1e-5 * b.1.abs().max(1.0));
                    }
                }
            }
        }
    }
}

/// `q · (2b − 1)`: the query's dot product with row `i`'s bits as ±1 (in f64).
fn signed_bits_dot(q: &[f32], corpus: &QuantizedEmbeddings, i: usize) -> f64 {
    let bits = corpus.dequantize_row(i).unwrap(); // 0 / 1 per dimension
    q.iter()
        .zip(&bits)
        .map(|(&a, &b)| f64::from(a) * (2.0 * f64::from(b) - 1.0))
        .sum()
}

#[test]
fn asymmetric_binary_search_ranks_by_the_full_precision_query() {
    // Awkward sizes (dimensions that are not whole bytes, several scan blocks, top_k beyond the
    // corpus), binary and ubinary, against the brute-force score q · (2b − 1): each hit's score is
    // its brute-force score within the 5-bit tables' rounding, and no row left out beats the
    // last hit kept by more than twice that.
    for (n, d, top_k) in [(6001, 67, 7), (13, 130, 20), (700, 384, 10), (129, 3, 5)] {
        let corpus = Embeddings::random_unit(n, d, 10 + n as u64).unwrap();
        let queries = Embeddings::random_unit(7, d, 98).unwrap();
        for precision in [Precision::Binary, Precision::Ubinary] {
            let q = quantize_embeddings(&corpus, precision, None, None).unwrap();
            let options = QuantizedSearchOptions::default()
                .top_k(top_k)
                .rescore(false)
                .asymmetric(true);
            let got = semantic_search_quantized(&queries, &q, &options).unwrap();
            for (qi, hits) in got.iter().enumerate() {
                let qv = queries.row(qi).unwrap();
                // Each of the 2 · ⌈d / 8⌉ table entries is rounded by at most half of its step,
                // a step being at most 4 · max|q_j| / 31; the score counts them twice.
                let max_q = qv.iter().fold(0f32, |m, v| m.max(v.abs())) as f64;
                let tol = 2.0 * d.div_ceil(8) as f64 * 4.0 * max_q / 31.0 + 1e-4;
                assert_eq!(hits.len(), top_k.min(n), "{precision} {n}×{d}");
                assert!(hits.windows(2).all(|w| w[0].score >= w[1].score));
                for h in hits {
                    let exact = signed_bits_dot(qv, &q, h.corpus_id);
                    assert!(
                        (f64::from(h.score) - exact).abs() <= tol,
                        "{precision} {n}×{d} query {qi}: {} vs {exact}",
                        h.score
                    );
                }
                let kept: std::collections::HashSet<usize> =
                    hits.iter().map(|h| h.corpus_id).collect();
                let last = hits
                    .iter()
                    .map(|h| signed_bits_dot(qv, &q, h.corpus_id))
                    .fold(f64::INFINITY, f64::min);
                for i in (0..n).filter(|i| !kept.contains(i)) {
                    let s = signed_bits_dot(qv, &q, i);
                    assert!(
                        s <= last + 2.0 * tol,
                        "{precision} {n}×{d} query {qi}: row {i} ({s}) left out, last kept {last}"
                    );
                }
            }
            // Rescoring then works as for Hamming candidates: exact dot products with the bits.
            let rescored = semantic_search_quantized(
                &queries,
                &q,
                &options.clone().rescore(true).rescore_multiplier(3),
            )
            .unwrap();
            for (qi, hits) in rescored.iter().enumerate() {
                let qv = queries.row(qi).unwrap();
                for h in hits {
                    let bits = q.dequantize_row(h.corpus_id).unwrap();
                    let dot: f64 = qv
                        .iter()
                        .zip(&bits)
                        .map(|(&a, &b)| f64::from(a) * f64::from(b))
                        .sum();
                    assert!((f64::from(h.score) - dot).abs() <= 1e-5);
                }
            }
        }
    }
}

#[test]
fn asymmetric_binary_search_keeps_more_of_scifact_s_exact_hits() {
    // all-MiniLM-L6-v2's SciFact abstracts (the first 1,500) and claims: binary search with int8
    // rescoring ×4, the candidates ranked by Hamming distance (Python's way) or by the float32
    // query. Measured: 0.880 by Hamming, 0.965 asymmetric.
    let model = common::model();
    let ds =
        sbert::datasets::scifact::load_test(&common::shared().join("data/beir-scifact")).unwrap();
    let opts = EncodeOptions::default();
    let corpus = model.encode(&ds.corpus_texts()[..1500], &opts).unwrap();
    let queries = model.encode(&ds.query_texts(), &opts).unwrap();
    let exact = semantic_search(&queries, &corpus, &SearchOptions::default()).unwrap();
    let binary = quantize_embeddings(&corpus, Precision::Binary, None, None).unwrap();
    let int8 = quantize_embeddings(&corpus, Precision::Int8, None, None).unwrap();
    let recall = |asymmetric: bool| {
        let options = QuantizedSearchOptions::default()
            .rescore_multiplier(4)
            .asymmetric(asymmetric);
        let found = semantic_search_quantized_rescored(&queries, &binary, &int8, &options).unwrap();
        sbert::util::quantization::recall_of(&found, &exact, 10)
    };
    let (hamming, asymmetric) = (recall(false), recall(true));
    println!("binary + int8 ×4 recall@10: Hamming {hamming:.4}, asymmetric {asymmetric:.4}");
    assert!(asymmetric >= 0.95, "asymmetric ×4 recall@10 {asymmetric}");
    assert!(
        asymmetric >= hamming + 0.05,
        "asymmetric {asymmetric} vs Hamming {hamming}"
    );
}

#[test]
fn rescoring_from_an_int8_copy_equals_brute_force() {
    // Binary searched, int8 (and uint8) rescored: sentence-transformers' "binary + int8 rescoring".
    let corpus = Embeddings::random_unit(2051, 77, 3).unwrap();
    let queries = Embeddings::random_unit(9, 77, 4).unwrap();
    let binary = quantize_embeddings(&corpus, Precision::Binary, None, None).unwrap();
    for copy_precision in [Precision::Int8, Precision::Uint8] {
        let copy = quantize_embeddings(&corpus, copy_precision, None, None).unwrap();
        let options = QuantizedSearchOptions::default()
            .top_k(8)
            .rescore_multiplier(5);
        let got = semantic_search_quantized_rescored(&queries, &binary, &copy, &options).unwrap();
        let want = brute_force(&queries, &binary, &copy, 8, Some(5));
        for (g, w) in got.iter().zip(&want) {
            let ids: Vec<usize> = g.iter().map(|h| h.corpus_id).collect();
            assert_eq!(
                ids,
                w.iter().map(|x| x.0).collect::<Vec<_>>(),
                "{copy_precision}"
            );
            for (h, x) in g.iter().zip(w) {
                assert!((h.score - x.1).abs() <= 1e-6);
            }
        }
    }
    // A copy of another corpus is refused.
    let other = quantize_embeddings(
        &corpus.select(&[0, 1, 2]).unwrap(),
        Precision::Int8,
        None,
        None,
    )
    .unwrap();
    assert!(
        semantic_search_quantized_rescored(&queries, &binary, &other, &Default::default()).is_err()
    );
}

#[test]
fn encode_quantized_is_encode_then_quantize() {
    let model = common::model();
    let sentences = [
        "A man is eating food.",
        "A man is eating a piece of bread.",
        "The girl is carrying a baby.",
        "A man is riding a horse.",
    ];
    let f32s = model.encode(&sentences, &EncodeOptions::default()).unwrap();
    for precision in [Precision::Int8, Precision::Ubinary] {
        let opts = EncodeOptions::default().precision(precision);
        let q = model.encode_quantized(&sentences, &opts).unwrap();
        assert_eq!(
            q,
            quantize_embeddings(&f32s, precision, None, None).unwrap()
        );
        assert_eq!(q.texts().len(), 4);
        // encode refuses options that ask for another output type.
        assert!(model.encode(&sentences, &opts).is_err());
    }
    assert!(model
        .encode_quantized(&sentences, &EncodeOptions::default())
        .is_err());
}

#[test]
fn cli_encode_writes_python_s_arrays() {
    let dir = common::temp_dir("quantized-cli");
    let input = dir.join("lines.txt");
    std::fs::write(
        &input,
        "A man is eating food.\nA monkey is playing drums.\nA cheetah runs.\n",
    )
    .unwrap();
    let (out, ranges) = (dir.join("q.npy"), dir.join("ranges.npy"));
    let run = common::sbert(&[
        "encode",
        "--input",
        input.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
        "--precision",
        "int8",
        "--ranges-output",
        ranges.to_str().unwrap(),
    ]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let lines = [
        "A man is eating food.",
        "A monkey is playing drums.",
        "A cheetah runs.",
    ];
    let f32s = common::model()
        .encode(&lines, &EncodeOptions::default().normalize_embeddings(true))
        .unwrap();
    let want = quantize_embeddings(&f32s, Precision::Int8, None, None).unwrap();
    let bytes = std::fs::read(&out).unwrap();
    assert_eq!(bytes, want.to_npy_bytes());
    let header = String::from_utf8_lossy(&bytes[10..80]).to_string();
    assert!(
        header.contains("'descr': '|i1'") && header.contains("'shape': (3, 384)"),
        "{header}"
    );
    let r = sbert::npy::read_npy(&ranges).unwrap();
    assert_eq!(r.row(0).unwrap(), want.ranges().unwrap().min.as_slice());
    assert_eq!(r.row(1).unwrap(), want.ranges().unwrap().max.as_slice());
    // Quantized again with the saved ranges: the same values.
    let out2 = dir.join("q2.npy");
    let run = common::sbert(&[
        "encode",
        "--input",
        input.to_str().unwrap(),
        "--output",
        out2.to_str().unwrap(),
        "--precision",
        "int8",
        "--ranges",
        ranges.to_str().unwrap(),
    ]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert_eq!(std::fs::read(&out2).unwrap(), bytes);
}

#[test]
fn every_isa_finds_the_same_hits() {
    let corpus = Embeddings::random_unit(3000, 100, 5).unwrap();
    let queries = Embeddings::random_unit(20, 100, 6).unwrap();
    for precision in [Precision::Int8, Precision::Binary] {
        let q = quantize_embeddings(&corpus, precision, None, None).unwrap();
        let options = QuantizedSearchOptions::default().rescore(false);
        let mut results = Vec::new();
        for isa in sbert::cpu::Isa::supported() {
            sbert::cpu::set_isa(Some(isa)).unwrap();
            results.push(semantic_search_quantized(&queries, &q, &options).unwrap());
        }
        sbert::cpu::set_isa(None).unwrap();
        // Bit counts are exact on every path; int8's f32 GEMM may round the last bit differently.
        for r in &results[1..] {
            for (a, b) in r.iter().zip(results[0].iter()) {
                let ids =
                    |h: &[sbert::util::Hit]| h.iter().map(|h| h.corpus_id).collect::<Vec<_>>();
                assert_eq!(ids(a), ids(b), "{precision}");
                for (x, y) in a.iter().zip(b) {
                    assert!(
                        (x.score - y.score).abs() <= 1e-6,
                        "{precision}: {} vs {}",
                        x.score,
                        y.score
                    );
                }
            }
        }
    }
}

#[test]
fn binary_memory_is_one_thirty_second_and_recall_is_reported() {
    let corpus = Embeddings::random_unit(2000, 384, 1).unwrap();
    let b = quantize_embeddings(&corpus, Precision::Binary, None, None).unwrap();
    assert_eq!(b.memory_bytes() * 32, 2000 * 384 * 4);
    let i8 = quantize_embeddings(&corpus, Precision::Int8, None, None).unwrap();
    assert_eq!(i8.memory_bytes() * 4, 2000 * 384 * 4);
    // The corpus itself as queries: each one's exact best hit is itself, found again after
    // rescoring int8 (quantization moves scores by far less than the gap to the next one).
    let exact = semantic_search(&corpus, &corpus, &SearchOptions::default().top_k(1)).unwrap();
    let found =
        semantic_search_quantized(&corpus, &i8, &QuantizedSearchOptions::default().top_k(1))
            .unwrap();
    let report = sbert::util::QuantizedSearchReport::new(&i8, true, &found, &exact);
    assert_eq!(report.recall, 1.0);
    assert!(report.to_string().contains("1/4"));
}

#[test]
fn bad_input_is_an_error() {
    let e = Embeddings::random_unit(10, 8, 1).unwrap();
    let one = Embeddings::random_unit(1, 8, 1).unwrap();
    // One embedding cannot calibrate int8 (every range would be zero), as Python refuses.
    assert!(quantize_embeddings(&one, Precision::Int8, None, None).is_err());
    assert!(quantize_embeddings(&one, Precision::Binary, None, None).is_ok());
    let wrong = QuantizationRanges::new(vec![0.0; 3], vec![1.0; 3]).unwrap();
    assert!(quantize_embeddings(&e, Precision::Int8, Some(&wrong), None).is_err());
    assert!(QuantizationRanges::new(vec![1.0], vec![0.0]).is_err());
    assert!(QuantizationRanges::new(vec![f32::NAN], vec![0.0]).is_err());
    assert!("float32".parse::<Precision>().is_err());
    assert!("int4".parse::<Precision>().is_err());
    let q = quantize_embeddings(&e, Precision::Int8, None, None).unwrap();
    let other_dim = Embeddings::random_unit(2, 9, 1).unwrap();
    assert!(semantic_search_quantized(&other_dim, &q, &Default::default()).is_err());
    let nan = Embeddings::from_vec2(vec![vec![f32::NAN; 8]]).unwrap();
    assert!(semantic_search_quantized(&nan, &q, &Default::default()).is_err());
    let zero = QuantizedSearchOptions::default().rescore_multiplier(0);
    assert!(semantic_search_quantized(&e, &q, &zero).is_err());
    assert!(QuantizedEmbeddings::from_raw(Precision::Int8, 8, vec![0; 16], None).is_err());
    assert!(QuantizedEmbeddings::from_raw(Precision::Binary, 9, vec![0; 3], None).is_err());
    assert!(q.row_values(10).is_err());
}
