//! `semantic_search`, `top_pairs`, `cos_sim` against brute-force oracles, with awkward chunk sizes
//! (5, 17) and many exact ties; bad input.

mod common;
use common::*;
use sbert::prelude::*;

/// Vectors on a grid (multiples of 1/4, small): every dot product is exact in f32 whatever the
/// summation order, so chunked and brute-force scores are bit-identical and ties are real ties.
fn grid(rng: &mut Rng, n: usize, dim: usize) -> Embeddings {
    let data = (0..n * dim)
        .map(|_| (rng.below(7) as f32 - 3.0) * 0.25)
        .collect();
    Embeddings::from_flat(data, n, dim).unwrap()
}

/// Vectors with exactly four entries ±1 (norm 2): cosine scores are exact too.
fn four_hot(rng: &mut Rng, n: usize, dim: usize) -> Embeddings {
    let mut data = vec![0f32; n * dim];
    for r in 0..n {
        let mut placed = 0;
        while placed < 4 {
            let c = rng.below(dim as u64) as usize;
            if data[r * dim + c] == 0.0 {
                data[r * dim + c] = if rng.below(2) == 0 { 1.0 } else { -1.0 };
                placed += 1;
            }
        }
    }
    Embeddings::from_flat(data, n, dim).unwrap()
}

/// The oracle: score everything, sort by (score desc, corpus_id asc), keep top_k.
fn brute_force(
    q: &Embeddings,
    c: &Embeddings,
    top_k: usize,
    cosine: bool,
) -> Vec<Vec<(usize, f32)>> {
    let (qn, cn) = (q.norms(), c.norms());
    (0..q.len())
        .map(|i| {
            let mut all: Vec<(usize, f32)> = (0..c.len())
                .map(|j| {
                    let dot: f32 = q[i].iter().zip(&c[j]).map(|(a, b)| a * b).sum();
                    let s = if cosine {
                        dot / (qn[i].max(1e-12) * cn[j].max(1e-12))
                    } else {
                        dot
                    };
                    (j, s)
                })
                .collect();
            all.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            all.truncate(top_k);
            all
        })
        .collect()
}

fn as_pairs(r: &SearchResults) -> Vec<Vec<(usize, f32)>> {
    r.iter()
        .map(|hits| hits.iter().map(|h| (h.corpus_id, h.score)).collect())
        .collect()
}

#[test]
fn chunked_search_equals_brute_force_with_ties_dot() {
    let mut rng = Rng(42);
    let corpus = grid(&mut rng, 203, 6);
    let queries = grid(&mut rng, 23, 6);
    // Every GEMM path this CPU runs (grid scores are exact on each of them).
    on_every_isa(|isa| {
        for top_k in [0, 1, 7, 10, 203, 500] {
            let want = brute_force(&queries, &corpus, top_k, false);
            // (5, 2000) and (2, 100_000): more queries per GEMM than query_chunk_size (the memory
            // budget allows it), the corpus in blocks of 256 and 712.
            for (qc, cc) in [
                (5, 17),
                (17, 5),
                (1, 1),
                (100, 500_000),
                (23, 203),
                (4, 64),
                (5, 2000),
                (2, 100_000),
            ] {
                let opts = SearchOptions::default()
                    .top_k(top_k)
                    .query_chunk_size(qc)
                    .corpus_chunk_size(cc)
                    .score_function(ScoreFunction::Dot);
                let got = semantic_search(&queries, &corpus, &opts).unwrap();
                assert_eq!(
                    as_pairs(&got),
                    want,
                    "{isa}: top_k {top_k}, chunks ({qc}, {cc})"
                );
            }
        }
    });
    // The grid produces real ties, ordered by lower corpus_id.
    let all = semantic_search(
        &queries,
        &corpus,
        &SearchOptions::default()
            .top_k(203)
            .score_function(ScoreFunction::Dot),
    )
    .unwrap();
    let ties = all
        .iter()
        .flat_map(|h| h.windows(2))
        .filter(|w| w[0].score == w[1].score)
        .count();
    assert!(ties > 100, "test data should contain ties, found {ties}");
    for w in all.iter().flat_map(|h| h.windows(2)) {
        assert!(
            w[0].score > w[1].score
                || (w[0].score == w[1].score && w[0].corpus_id < w[1].corpus_id)
        );
    }
}

#[test]
fn chunked_search_equals_brute_force_with_ties_cosine() {
    let mut rng = Rng(7);
    let corpus = four_hot(&mut rng, 150, 8);
    let queries = four_hot(&mut rng, 31, 8);
    on_every_isa(|isa| {
        for top_k in [1, 10, 150] {
            let want = brute_force(&queries, &corpus, top_k, true);
            for (qc, cc) in [(5, 17), (17, 5), (31, 150), (3, 9000)] {
                let opts = SearchOptions::default()
                    .top_k(top_k)
                    .query_chunk_size(qc)
                    .corpus_chunk_size(cc);
                let got = semantic_search(&queries, &corpus, &opts).unwrap();
                assert_eq!(
                    as_pairs(&got),
                    want,
                    "{isa}: top_k {top_k}, chunks ({qc}, {cc})"
                );
            }
        }
    });
}

#[test]
fn search_on_real_scale_random_vectors_matches_brute_force() {
    // 20,000 × 32 uniform vectors: crosses the internal 8,192-row block boundary.
    let mut rng = Rng(3);
    let n = 20_000;
    let corpus =
        Embeddings::from_flat((0..n * 32).map(|_| rng.uniform() - 0.5).collect(), n, 32).unwrap();
    let queries =
        Embeddings::from_flat((0..7 * 32).map(|_| rng.uniform() - 0.5).collect(), 7, 32).unwrap();
    let want = brute_force(&queries, &corpus, 10, true);
    let got = semantic_search(
        &queries,
        &corpus,
        &SearchOptions::default().corpus_chunk_size(9_999),
    )
    .unwrap();
    // 1,100 queries with the default chunks: scored 1,024 at a time against 800 documents.
    let many = Embeddings::from_flat(
        (0..1100 * 32).map(|_| rng.uniform() - 0.5).collect(),
        1100,
        32,
    )
    .unwrap();
    let many_want = brute_force(&many, &corpus, 10, true);
    let many_got = semantic_search(&many, &corpus, &SearchOptions::default()).unwrap();
    for (g, w) in as_pairs(&many_got).iter().zip(&many_want) {
        assert_eq!(
            g.iter().map(|x| x.0).collect::<Vec<_>>(),
            w.iter().map(|x| x.0).collect::<Vec<_>>()
        );
    }
    for (g, w) in as_pairs(&got).iter().zip(&want) {
        let gi: Vec<usize> = g.iter().map(|x| x.0).collect();
        let wi: Vec<usize> = w.iter().map(|x| x.0).collect();
        assert_eq!(gi, wi);
        for (a, b) in g.iter().zip(w) {
            assert!((a.1 - b.1).abs() < 1e-6);
        }
    }
}

/// Reduced-precision scoring (bf16, int8) with exact rescoring: every hit's score is the exact
/// f32 score; with the default multiplier nearly all of the exact top-10 is found; rescoring the
/// whole corpus gives exactly the brute-force ranking. Dimensions 64 (AMX tiles where the CPU has
/// them) and 40 (the micro-kernels), cosine and dot, across the 8,192-row blocks.
#[test]
fn reduced_precision_search_rescores_exactly() {
    let mut rng = Rng(11);
    let n = 20_000;
    for dim in [64, 40] {
        let corpus =
            Embeddings::from_flat((0..n * dim).map(|_| rng.uniform() - 0.5).collect(), n, dim)
                .unwrap();
        let queries = Embeddings::from_flat(
            (0..300 * dim).map(|_| rng.uniform() - 0.5).collect(),
            300,
            dim,
        )
        .unwrap();
        let (qn, cn) = (queries.norms(), corpus.norms());
        for cosine in [true, false] {
            let want = brute_force(&queries, &corpus, 10, cosine);
            let f = if cosine {
                ScoreFunction::Cosine
            } else {
                ScoreFunction::Dot
            };
            for dtype in [Dtype::Bf16, Dtype::Int8] {
                let opts = SearchOptions::default().score_function(f).precision(dtype);
                let got = as_pairs(&semantic_search(&queries, &corpus, &opts).unwrap());
                let (mut found, mut total) = (0, 0);
                for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                    assert_eq!(g.len(), 10);
                    for (id, score) in g {
                        let dot: f32 = queries[i]
                            .iter()
                            .zip(&corpus[*id])
                            .map(|(a, b)| a * b)
                            .sum();
                        let exact = if cosine {
                            dot / (qn[i].max(1e-12) * cn[*id].max(1e-12))
                        } else {
                            dot
                        };
                        assert!(
                            (score - exact).abs() < 1e-5,
                            "{dtype} {dim}: {score} vs {exact}"
                        );
                    }
                    assert!(g.windows(2).all(|p| p[0].1 >= p[1].1), "sorted");
                    total += w.len();
                    found += w.iter().filter(|x| g.iter().any(|y| y.0 == x.0)).count();
                }
                let recall = found as f64 / total as f64;
                eprintln!(
                    "{dtype}, dim {dim}, cosine {cosine}: recall of the exact top-10 {recall:.4}"
                );
                assert!(
                    recall >= 0.97,
                    "{dtype} {dim} cosine {cosine}: recall {recall}"
                );
                // Every document a candidate: the exact ranking.
                let all =
                    semantic_search(&queries, &corpus, &opts.clone().rescore_multiplier(n / 10))
                        .unwrap();
                for (g, w) in as_pairs(&all).iter().zip(&want) {
                    let gi: Vec<usize> = g.iter().map(|x| x.0).collect();
                    let wi: Vec<usize> = w.iter().map(|x| x.0).collect();
                    assert_eq!(gi, wi, "{dtype} {dim} cosine {cosine}");
                }
            }
        }
    }
    let a = Embeddings::from_flat(vec![1.0; 8], 2, 4).unwrap();
    let e = semantic_search(
        &a,
        &a,
        &SearchOptions::default()
            .precision(Dtype::Int8)
            .rescore_multiplier(0),
    )
    .unwrap_err();
    assert!(e.to_string().contains("rescore_multiplier"), "{e}");
}

#[test]
fn search_bad_input() {
    let a = Embeddings::from_flat(vec![1.0; 8], 2, 4).unwrap();
    let b = Embeddings::from_flat(vec![1.0; 9], 3, 3).unwrap();
    assert!(matches!(
        semantic_search(&a, &b, &SearchOptions::default()),
        Err(Error::DimensionMismatch { .. })
    ));
    assert!(semantic_search(&a, &a, &SearchOptions::default().query_chunk_size(0)).is_err());
    assert!(semantic_search(&a, &a, &SearchOptions::default().corpus_chunk_size(0)).is_err());
    assert!(cos_sim(&a, &b).is_err());
    // Empty sides.
    let empty = Embeddings::from_flat(vec![], 0, 4).unwrap();
    let r = semantic_search(&a, &empty, &SearchOptions::default()).unwrap();
    assert_eq!(r.len(), 2);
    assert!(r.iter().all(|h| h.is_empty()));
    assert_eq!(
        semantic_search(&empty, &a, &SearchOptions::default())
            .unwrap()
            .len(),
        0
    );
    // Ragged rows.
    assert!(Embeddings::from_vec2(vec![vec![1.0, 2.0], vec![1.0]]).is_err());
    assert!(Embeddings::from_flat(vec![1.0; 5], 2, 3).is_err());
}

#[test]
fn top_pairs_equals_brute_force() {
    let mut rng = Rng(11);
    let emb = four_hot(&mut rng, 300, 8); // 300 rows: crosses the 256-row block; exact scores, many ties
    let normed = emb.normalized();
    let mut all = Vec::new();
    for i in 0..300 {
        for j in i + 1..300 {
            let s: f32 = normed[i].iter().zip(&normed[j]).map(|(a, b)| a * b).sum();
            all.push((i, j, s));
        }
    }
    all.sort_by(|a, b| b.2.total_cmp(&a.2).then((a.0, a.1).cmp(&(b.0, b.1))));
    for k in [0, 1, 5, 1000] {
        let got = top_pairs(&emb, k).unwrap();
        assert_eq!(got.len(), k.min(all.len()));
        for (g, w) in got.iter().zip(&all) {
            assert_eq!((g.i, g.j), (w.0, w.1), "k {k}");
            assert!((g.score - w.2).abs() < 1e-6);
        }
    }
    // More than all pairs → all of them.
    let small = grid(&mut rng, 4, 5);
    assert_eq!(top_pairs(&small, 100).unwrap().len(), 6);
    assert_eq!(
        top_pairs(&Embeddings::from_flat(vec![], 0, 5).unwrap(), 5)
            .unwrap()
            .len(),
        0
    );
}

#[test]
fn cos_sim_and_dot_score_values() {
    let a = Embeddings::from_vec2(vec![vec![1.0, 0.0], vec![3.0, 4.0]]).unwrap();
    let b = Embeddings::from_vec2(vec![vec![0.0, 2.0], vec![6.0, 8.0], vec![0.0, 0.0]]).unwrap();
    let c = cos_sim(&a, &b).unwrap();
    assert_eq!(c.shape(), (2, 3));
    let want = [[0.0, 0.6, 0.0], [0.8, 1.0, 0.0]];
    for i in 0..2 {
        for j in 0..3 {
            assert!((c.get(i, j).unwrap() - want[i][j]).abs() < 1e-6);
        }
    }
    let d = dot_score(&a, &b).unwrap();
    assert_eq!(d.to_vec2(), vec![vec![0.0, 6.0, 0.0], vec![8.0, 50.0, 0.0]]);
    // Vectors count as one row.
    assert!((cos_sim(&a[1], &b[1]).unwrap().item().unwrap() - 1.0).abs() < 1e-6);
    assert!(c.item().is_err());
    assert_eq!(c.get(2, 0), None);
    let v: Vec<Vec<f32>> = vec![vec![1.0, 1.0]];
    assert!((cos_sim(&v, &vec![1.0f32, 1.0]).unwrap().item().unwrap() - 1.0).abs() < 1e-6);
}

#[test]
fn tables_render_in_text_and_html() {
    let emb = Embeddings::from_vec2(vec![vec![1.0, 0.0], vec![0.6, 0.8], vec![0.0, 1.0]])
        .unwrap()
        .with_texts(&["a <red> cat", "b", "c"])
        .unwrap();
    let pairs = top_pairs(&emb, 2).unwrap();
    let text = pairs.to_string();
    assert!(
        text.contains("a <red> cat") && text.contains("0.8000"),
        "{text}"
    );
    let html = pairs.to_html();
    assert!(
        html.contains("<table") && html.contains("a &lt;red&gt; cat") && html.contains("0.8000"),
        "{html}"
    );
    let m = cos_sim(&emb, &emb).unwrap();
    assert!(m.to_string().contains("0.6000"));
    let hits = semantic_search(&emb, &emb, &SearchOptions::default().top_k(2)).unwrap();
    let t = hits.to_string();
    assert!(
        t.contains("Query 0: a <red> cat") && t.contains("corpus_id"),
        "{t}"
    );
    assert!(emb.to_string().contains("Embeddings [3 × 2]"));
}

#[test]
fn score_function_parses() {
    assert_eq!(
        "cos".parse::<ScoreFunction>().unwrap(),
        ScoreFunction::Cosine
    );
    assert_eq!("dot".parse::<ScoreFunction>().unwrap(), ScoreFunction::Dot);
    assert!("euclid".parse::<ScoreFunction>().is_err());
}

#[test]
fn npy_round_trip_and_atomic_write() {
    let dir = temp_dir("npy");
    let e = Embeddings::from_vec2(vec![vec![1.5, -2.0, 3.25], vec![0.0, 1e-8, -7.0]]).unwrap();
    let p = dir.join("x.npy");
    sbert::npy::write_npy(&p, &e).unwrap();
    let bytes = std::fs::read(&p).unwrap();
    assert_eq!(&bytes[..8], b"\x93NUMPY\x01\x00");
    let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    assert_eq!((10 + header_len) % 64, 0);
    assert_eq!(sbert::npy::read_npy(&p).unwrap(), e.clone());
    // No temporary file is left behind.
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
    // Writing into a missing folder fails cleanly.
    assert!(sbert::npy::write_npy(&dir.join("missing/x.npy"), &e).is_err());
}

#[test]
fn evcxr_rich_output_block() {
    let emb = Embeddings::from_vec2(vec![vec![1.0, 0.0], vec![0.6, 0.8]])
        .unwrap()
        .with_texts(&["x", "y"])
        .unwrap();
    let html = top_pairs(&emb, 1).unwrap().to_html();
    let block = sbert::display::evcxr_block("text/html", &html);
    assert!(block.starts_with("EVCXR_BEGIN_CONTENT text/html\n<table"));
    assert!(block.ends_with("</table>\nEVCXR_END_CONTENT\n"));
}

/// A notebook's `use sbert::prelude::*;` must leave std's two-parameter `Result` alone: evcxr's
/// generated code and users' own cell functions write `Result<T, E>` (a one-parameter alias in the
/// prelude made every rejected cell fail with "type alias takes 1 generic argument").
#[test]
fn prelude_keeps_std_result() {
    fn half(n: i32) -> Result<i32, String> {
        if n % 2 == 0 {
            Ok(n / 2)
        } else {
            Err(format!("{n} is odd"))
        }
    }
    assert_eq!(half(4), Ok(2));
    assert_eq!(half(3), Err("3 is odd".to_string()));
}
