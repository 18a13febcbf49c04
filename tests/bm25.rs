//! BM25 (`sbert::bm25`): SciFact against Anserini's published BEIR figures, every score against a
//! brute-force BM25 over the analysed texts, the index folder's round trip and its refusals.

mod common;

use std::collections::{BTreeMap, HashMap};

use common::*;
use sbert::bm25::{Analyzer, Bm25Index, Bm25Options};
use sbert::core::Rng;
use sbert::datasets::{self, trec, Document, Query};
use sbert::evaluation::ir_metrics::{evaluate, Measure};
use sbert::evaluation::{fuse, FuseOptions};

fn doc(id: &str, title: &str, text: &str) -> Document {
    Document {
        id: id.into(),
        title: title.into(),
        text: text.into(),
    }
}

fn scifact() -> datasets::RetrievalDataset {
    datasets::scifact::load_test(&shared().join("data/beir-scifact")).unwrap()
}

/// Anserini's BM25 "flat" run of BEIR SciFact (its regression page): nDCG@10 0.6789, recall@100
/// 0.9253. sbert's differs in stemming (Snowball English where Lucene runs Porter) and in the
/// tokenizer's rarer cases; both measures must be within 0.01. A hybrid with all-MiniLM-L6-v2's run
/// (Python's, `golden/scifact_minilm.run`) must beat both.
#[test]
fn scifact_bm25_is_anserinis_and_hybrid_beats_both() {
    let ds = scifact();
    let dir = temp_dir("bm25-scifact");
    let index = Bm25Index::build(&dir.join("index"), &ds.corpus, &Analyzer::default()).unwrap();
    assert_eq!(index.len(), 5183);
    assert!(index.size_bytes() > 100_000, "{}", index.size_bytes());
    let ranked = index
        .search_all(&ds.queries, &Bm25Options::default())
        .unwrap();
    assert_eq!(ranked.len(), 300);
    // Every claim matches some abstract; most match more than 1,000.
    assert!(ranked
        .iter()
        .all(|(_, hits)| !hits.is_empty() && hits.len() <= 1000));
    assert!(ranked.iter().filter(|(_, hits)| hits.len() == 1000).count() > 250);
    let bm25 = datasets::to_run(&ranked);
    let qrels = &ds.qrels;
    let measures = [Measure::NdcgCut(10), Measure::Recall(100)];
    let m = evaluate(qrels, &bm25, &measures, 1).mean;
    eprintln!("BM25 SciFact: {m:?}");
    assert!((m["ndcg_cut_10"] - 0.6789).abs() < 0.01, "{m:?}");
    assert!((m["recall_100"] - 0.9253).abs() < 0.01, "{m:?}");

    let dense = trec::read_run(&shared().join("golden/scifact_minilm.run")).unwrap();
    let d = evaluate(qrels, &dense, &measures, 1).mean["ndcg_cut_10"];
    for options in [
        FuseOptions::default(),
        FuseOptions::default().method(sbert::evaluation::FusionMethod::Sum),
    ] {
        let hybrid = fuse(&[&bm25, &dense], &options).unwrap();
        let h = evaluate(qrels, &hybrid, &measures, 1).mean["ndcg_cut_10"];
        eprintln!(
            "hybrid ({}): {h:.4} (BM25 {:.4}, dense {d:.4})",
            options.method, m["ndcg_cut_10"]
        );
        assert!(
            h > m["ndcg_cut_10"] + 0.01 && h > d + 0.01,
            "{h} vs {m:?}, {d}"
        );
    }

    // The index on disk answers as one built in memory, and as itself reopened.
    let reopened = Bm25Index::open(&dir.join("index")).unwrap();
    let memory = Bm25Index::in_memory(&ds.corpus, &Analyzer::default()).unwrap();
    let few = &ds.queries[..20];
    let options = Bm25Options::default().top_k(50);
    let a = reopened.search_all(few, &options).unwrap();
    let b = memory.search_all(few, &options).unwrap();
    for ((qa, ha), (qb, hb)) in a.iter().zip(&b) {
        assert_eq!(qa, qb);
        assert_eq!(ha.len(), hb.len());
        for (x, y) in ha.iter().zip(hb) {
            assert!(
                (x.1 - y.1).abs() <= 1e-5 * x.1.abs(),
                "{qa}: {x:?} vs {y:?}"
            );
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// BM25 computed directly: analysed texts, document frequencies over the whole corpus, document
/// lengths rounded to the byte tantivy (and Lucene) store them in.
fn brute_force(
    docs: &[Document],
    analyzer: &Analyzer,
    query: &str,
    k1: f64,
    b: f64,
) -> HashMap<String, f64> {
    let terms: Vec<Vec<String>> = docs
        .iter()
        .map(|d| analyzer.analyze(&d.contents()))
        .collect();
    let n = docs.len() as f64;
    let avg = terms.iter().map(|t| t.len()).sum::<usize>() as f64 / n;
    let mut query_counts: BTreeMap<String, f64> = BTreeMap::new();
    for t in analyzer.analyze(query) {
        *query_counts.entry(t).or_default() += 1.0;
    }
    let mut scores = HashMap::new();
    for (qt, count) in &query_counts {
        let df = terms.iter().filter(|t| t.contains(qt)).count() as f64;
        if df == 0.0 {
            continue;
        }
        let idf = (1.0 + (n - df + 0.5) / (df + 0.5)).ln();
        for (d, t) in docs.iter().zip(&terms) {
            let tf = t.iter().filter(|x| *x == qt).count() as f64;
            if tf == 0.0 {
                continue;
            }
            use tantivy::fieldnorm::FieldNormReader as F;
            let len = F::id_to_fieldnorm(F::fieldnorm_to_id(t.len() as u32)) as f64;
            *scores.entry(d.id.clone()).or_default() +=
                count * idf * tf / (tf + k1 * (1.0 - b + b * len / avg));
        }
    }
    scores
}

/// Random corpora over a small vocabulary (many repeats and ties; empty documents; long
/// documents whose stored length is rounded): sbert's scores equal the direct computation, and
/// its ranking is that order (ties: index order) cut at top_k, for several k1 and b.
#[test]
fn scores_equal_brute_force_bm25() {
    let vocab = [
        "cell",
        "cells",
        "gene",
        "protein",
        "the",
        "of",
        "cancer",
        "tumour",
        "running",
        "runs",
        "patient's",
        "dose",
        "3.5",
        "COVID-19",
        "mice",
        "mouse",
    ];
    let mut rng = Rng::new(7);
    for case in 0..6 {
        let n_docs = [1, 2, 7, 40, 150, 333][case];
        let docs: Vec<Document> = (0..n_docs)
            .map(|i| {
                let len = match rng.below(10) {
                    0 => 0,
                    1 => 60 + rng.below(200),
                    _ => 1 + rng.below(12),
                };
                let words: Vec<&str> = (0..len).map(|_| vocab[rng.below(vocab.len())]).collect();
                doc(
                    &format!("d{i}"),
                    if i % 3 == 0 { "Cells" } else { "" },
                    &words.join(" "),
                )
            })
            .collect();
        let analyzer = if case % 2 == 0 {
            Analyzer::default()
        } else {
            Analyzer::plain()
        };
        let index = Bm25Index::in_memory(&docs, &analyzer).unwrap();
        assert_eq!(index.len(), n_docs);
        let queries = [
            "cell gene",
            "the running patients",
            "cancer cancer tumour dose",
            "mice 3.5 covid",
            "unknownword",
            "",
        ];
        for (k1, b) in [(0.9, 0.4), (1.2, 0.75), (0.0, 0.5), (2.0, 0.0), (0.5, 1.0)] {
            for query in queries {
                let want = brute_force(&docs, &analyzer, query, k1, b);
                let top_k = 1 + rng.below(n_docs + 3);
                let options = Bm25Options::default()
                    .top_k(top_k)
                    .k1(k1 as f32)
                    .b(b as f32);
                let got = index.search(query, &options).unwrap();
                assert_eq!(
                    got.len(),
                    want.len().min(top_k),
                    "case {case} {query:?} k1 {k1} b {b}"
                );
                for (id, score) in &got {
                    let w = want[id];
                    assert!(
                        (*score as f64 - w).abs() <= 1e-5 * w.max(1e-3),
                        "case {case} {query:?} k1 {k1} b {b}: {id} {score} vs {w}"
                    );
                }
                for pair in got.windows(2) {
                    assert!(pair[0].1 >= pair[1].1, "{got:?}");
                }
                // Nothing left out scores above the last one kept (beyond float rounding).
                if let Some(last) = got.last() {
                    let kept: std::collections::HashSet<&str> =
                        got.iter().map(|h| h.0.as_str()).collect();
                    for (id, w) in &want {
                        if !kept.contains(id.as_str()) {
                            assert!(
                                *w <= last.1 as f64 + 1e-5,
                                "{id} {w} left out, {last:?} kept"
                            );
                        }
                    }
                }
            }
        }
    }
}

/// The folder: rebuilt in place it keeps the user's own files; a folder of other files an index
/// would overwrite is refused and left as it was; bad options and a folder that is no index are
/// errors, not panics.
#[test]
fn index_folder_round_trip_and_refusals() {
    let dir = temp_dir("bm25-folder");
    let docs = vec![
        doc("a", "Cats", "Cats purr when content."),
        doc("b", "", "Dogs bark at the cats next door."),
        doc("c", "Birds", "Birds sing at dawn."),
    ];
    let path = dir.join("idx");
    let first = Bm25Index::build(&path, &docs, &Analyzer::default()).unwrap();
    let hits = first.search("cat", &Bm25Options::default()).unwrap();
    assert_eq!(
        hits.iter().map(|h| h.0.as_str()).collect::<Vec<_>>(),
        ["a", "b"]
    );
    drop(first);
    std::fs::write(path.join("notes.txt"), "mine").unwrap();
    let rebuilt = Bm25Index::build(&path, &docs[1..], &Analyzer::plain()).unwrap();
    assert_eq!(rebuilt.len(), 2);
    assert_eq!(rebuilt.analyzer(), &Analyzer::plain());
    assert_eq!(
        std::fs::read_to_string(path.join("notes.txt")).unwrap(),
        "mine"
    );
    let reopened = Bm25Index::open(&path).unwrap();
    assert_eq!(reopened.len(), 2);
    assert_eq!(reopened.analyzer(), &Analyzer::plain());
    // Plain analysis keeps "the" and does not stem "cats": "cat" finds nothing now.
    assert!(reopened
        .search("cat", &Bm25Options::default())
        .unwrap()
        .is_empty());

    let foreign = dir.join("foreign");
    std::fs::create_dir_all(&foreign).unwrap();
    std::fs::write(foreign.join("meta.json"), "{\"mine\": true}").unwrap();
    let err = Bm25Index::build(&foreign, &docs, &Analyzer::default()).unwrap_err();
    assert!(err.to_string().contains("meta.json"), "{err}");
    assert_eq!(
        std::fs::read_to_string(foreign.join("meta.json")).unwrap(),
        "{\"mine\": true}"
    );
    let err = Bm25Index::open(&foreign).unwrap_err();
    assert!(err.to_string().contains("not a BM25 index"), "{err}");

    let dup = [doc("a", "", "x"), doc("a", "", "y")];
    let err = Bm25Index::in_memory(&dup, &Analyzer::default()).unwrap_err();
    assert!(err.to_string().contains("\"a\" occurs twice"), "{err}");
    for (options, says) in [
        (Bm25Options::default().top_k(0), "top_k"),
        (Bm25Options::default().k1(-1.0), "k1"),
        (Bm25Options::default().k1(f32::NAN), "k1"),
        (Bm25Options::default().b(1.5), "b must"),
    ] {
        let err = reopened.search("cats", &options).unwrap_err();
        assert!(err.to_string().contains(says), "{err}");
        let err = reopened
            .search_all(
                &[Query {
                    id: "q".into(),
                    text: "cats".into(),
                }],
                &options,
            )
            .unwrap_err();
        assert!(err.to_string().contains(says), "{err}");
    }
    drop(reopened);
    // A damaged index is an error naming it.
    std::fs::write(path.join("meta.json"), "{").unwrap();
    let err = Bm25Index::open(&path).unwrap_err();
    assert!(err.to_string().contains("idx"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `sbert bm25 index` + `search` write the run the library makes, and `evaluate` reads it.
#[test]
fn cli_indexes_and_searches_into_a_trec_run() {
    let dir = temp_dir("bm25-cli");
    let ds = scifact();
    datasets::beir::write_dir(&ds, &dir.join("beir"), "test").unwrap();
    let p = |s: &str| dir.join(s).to_str().unwrap().to_string();
    let out = sbert(&[
        "bm25",
        "index",
        "--corpus",
        &p("beir/corpus.jsonl"),
        "--index",
        &p("idx"),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let info: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(info["documents"], 5183);
    let out = sbert(&[
        "bm25",
        "search",
        "--index",
        &p("idx"),
        "--queries",
        &p("beir/queries.jsonl"),
        "--run",
        &p("bm25.run"),
        "--top-k",
        "100",
        "--k1",
        "1.2",
        "--b",
        "0.75",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run = trec::read_run(&dir.join("bm25.run")).unwrap();
    let index = Bm25Index::open(&dir.join("idx")).unwrap();
    let want = index
        .search_all(
            &ds.queries,
            &Bm25Options::default().top_k(100).k1(1.2).b(0.75),
        )
        .unwrap();
    assert_eq!(run.len(), 300);
    for (q, hits) in &want {
        let got = &run[q];
        assert_eq!(got.len(), hits.len(), "{q}");
        let got: HashMap<&str, f64> = got.iter().map(|(d, s)| (d.as_str(), *s)).collect();
        for (d, s) in hits {
            assert!((got[d.as_str()] - *s as f64).abs() < 1e-4, "{q} {d}");
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// BM25 → bi-encoder: `rerank_run_with_bi_encoder` re-scores each query's first documents with
/// cos_sim of the model's embeddings (an independent encode of each text), sorts them by it and
/// keeps the rest in BM25's order below them; `sbert rerank-run --bi-encoder` writes the same run.
#[test]
fn bm25_run_reranked_by_a_bi_encoder() {
    use sbert::prelude::*;
    let ds = scifact();
    let queries = &ds.queries[..12];
    let index = Bm25Index::in_memory(&ds.corpus, &Analyzer::default()).unwrap();
    let first = index
        .search_all(queries, &Bm25Options::default().top_k(8))
        .unwrap();
    let text: HashMap<&str, String> = ds
        .corpus
        .iter()
        .map(|d| (d.id.as_str(), d.contents()))
        .collect();
    let model = model();
    let top = 5;
    let reranked = sbert::evaluation::rerank_run_with_bi_encoder(
        model,
        queries,
        &first,
        |id| text.get(id).cloned(),
        top,
        ScoreFunction::Cosine,
        &EncodeOptions::default(),
    )
    .unwrap();
    for ((qid, bm25), (qid2, hits)) in first.iter().zip(&reranked) {
        assert_eq!(qid, qid2);
        assert_eq!(hits.len(), bm25.len());
        let q = queries.iter().find(|q| &q.id == qid).unwrap();
        let qe = model
            .encode(&[q.text.as_str()], &EncodeOptions::default())
            .unwrap();
        // The head: the same documents, each with its own cosine, best first.
        let mut head: Vec<&str> = bm25[..top].iter().map(|h| h.0.as_str()).collect();
        let mut got: Vec<&str> = hits[..top].iter().map(|h| h.0.as_str()).collect();
        for (d, s) in &hits[..top] {
            let de = model
                .encode(&[text[d.as_str()].as_str()], &EncodeOptions::default())
                .unwrap();
            let want = cos_sim(&qe, &de).unwrap().item().unwrap();
            assert!((s - want).abs() < 1e-4, "{qid} {d}: {s} vs {want}");
        }
        assert!(hits[..top].windows(2).all(|w| w[0].1 >= w[1].1), "{hits:?}");
        head.sort();
        got.sort();
        assert_eq!(head, got, "{qid}");
        // The tail: BM25's order, below the head.
        assert_eq!(
            hits[top..].iter().map(|h| &h.0).collect::<Vec<_>>(),
            bm25[top..].iter().map(|h| &h.0).collect::<Vec<_>>()
        );
        assert!(hits[top..].iter().all(|h| h.1 < hits[top - 1].1));
    }

    let dir = temp_dir("bm25-bi-rerank");
    let sub = datasets::RetrievalDataset {
        corpus: ds.corpus.clone(),
        queries: queries.to_vec(),
        qrels: ds.qrels.clone(),
    };
    datasets::beir::write_dir(&sub, &dir.join("beir"), "test").unwrap();
    trec::write_run(&dir.join("bm25.run"), &first, "bm25").unwrap();
    let p = |s: &str| dir.join(s).to_str().unwrap().to_string();
    let out = sbert(&[
        "rerank-run",
        "--bi-encoder",
        "--model",
        "all-MiniLM-L6-v2",
        "--run",
        &p("bm25.run"),
        "--corpus",
        &p("beir/corpus.jsonl"),
        "--queries",
        &p("beir/queries.jsonl"),
        "--top",
        "5",
        "--output",
        &p("bi.run"),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run = trec::read_run(&dir.join("bi.run")).unwrap();
    for (qid, hits) in &reranked {
        let got = &run[qid];
        let want: Vec<&str> = hits.iter().map(|h| h.0.as_str()).collect();
        let mut got_sorted = got.clone();
        got_sorted.sort_by(|a, b| b.1.total_cmp(&a.1));
        assert_eq!(
            got_sorted.iter().map(|h| h.0.as_str()).collect::<Vec<_>>(),
            want,
            "{qid}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
