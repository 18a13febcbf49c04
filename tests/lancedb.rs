//! LanceDB (feature `lancedb`, off by default: `cargo test --features lancedb --test lancedb`):
//! the real engine in this process. A table written from embeddings or a shard folder is searched
//! into the same hits as exact search (LanceDB scans every row without an index), reopened, and
//! refused or replaced as asked; the CLI's ingest → search → run equals `sbert search`'s run.
#![cfg(feature = "lancedb")]

mod common;

use sbert::prelude::*;
use sbert::vectordb::LanceTable;

/// `got` has `want`'s hits: the same rows, scores within `tol` (ties may swap places).
fn same_hits(got: &sbert::util::SearchResults, want: &sbert::util::SearchResults, tol: f32) {
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(want.iter()) {
        assert_eq!(g.len(), w.len());
        for (a, b) in g.iter().zip(w) {
            assert!((a.score - b.score).abs() < tol, "{a:?} vs {b:?}");
            if a.corpus_id != b.corpus_id {
                assert!(w
                    .iter()
                    .any(|x| x.corpus_id == a.corpus_id && (x.score - a.score).abs() < tol));
            }
        }
    }
}

#[test]
fn a_table_searches_as_exact_search_and_round_trips() {
    let model = common::model();
    let ds =
        sbert::datasets::scifact::load_test(&common::shared().join("data/beir-scifact")).unwrap();
    let cached = EncodeOptions::default().cache_dir(common::temp_dir("lancedb-cache"));
    let n = 1500;
    let corpus = model.encode(&ds.corpus_texts()[..n], &cached).unwrap();
    let queries = model.encode(&ds.query_texts(), &cached).unwrap();
    let ids: Vec<String> = ds.corpus[..n].iter().map(|d| d.id.clone()).collect();
    let texts: Vec<String> = ds.corpus_texts()[..n].to_vec();
    let db = common::temp_dir("lancedb").join("db");
    let uri = db.to_string_lossy().into_owned();
    let table = LanceTable::create(&uri, "scifact", &ids, &texts, &corpus, false).unwrap();
    assert_eq!((table.len().unwrap(), table.dim()), (n, 384));
    let exact = semantic_search(&queries, &corpus, &SearchOptions::default().top_k(10)).unwrap();
    same_hits(&table.search(&queries, 10).unwrap(), &exact, 1e-5);
    // Reopened: the same rows, ids in order, the same hits.
    drop(table);
    let table = LanceTable::open(&uri, "scifact").unwrap();
    assert_eq!(table.ids().unwrap(), ids);
    same_hits(&table.search(&queries, 10).unwrap(), &exact, 1e-5);
    // Written again without overwrite: refused, the table unchanged; with it: replaced.
    let few = corpus.select(&(0..10).collect::<Vec<_>>()).unwrap();
    let err = LanceTable::create(&uri, "scifact", &ids[..10], &texts[..10], &few, false)
        .unwrap_err()
        .to_string();
    assert!(err.contains("exists"), "{err}");
    assert_eq!(LanceTable::open(&uri, "scifact").unwrap().len().unwrap(), n);
    let replaced =
        LanceTable::create(&uri, "scifact", &ids[..10], &texts[..10], &few, true).unwrap();
    assert_eq!(replaced.len().unwrap(), 10);
    // Bad input: clear errors.
    assert!(LanceTable::open(&uri, "no-such-table").is_err());
    assert!(replaced
        .search(&Embeddings::random_unit(1, 8, 1).unwrap(), 3)
        .is_err());
    assert!(LanceTable::create(&uri, "t", &ids[..9], &texts[..10], &few, false).is_err());
    assert!(replaced.search(&queries, 0).unwrap()[0].is_empty());
}

#[test]
fn shards_go_in_one_at_a_time_and_search_as_the_whole() {
    let model = common::model();
    let texts: Vec<String> = (0..23)
        .map(|i| format!("Sentence number {i} is about topic {}.", i % 4))
        .collect();
    let dir = common::temp_dir("lancedb-shards");
    let shards = model
        .encode_to_shards(&texts, &dir.join("shards"), 5, &EncodeOptions::default())
        .unwrap();
    let ids: Vec<String> = (0..23).map(|i| format!("d{i}")).collect();
    let uri = dir.join("db").to_string_lossy().into_owned();
    let table = LanceTable::create_from_shards(&uri, "s", &ids, &texts, &shards, false).unwrap();
    assert_eq!(table.len().unwrap(), 23);
    assert_eq!(table.ids().unwrap(), ids);
    let all = shards.rows(0..23).unwrap().normalized();
    let q = model
        .encode(&["topic 2", "Sentence number 7"], &EncodeOptions::default())
        .unwrap();
    for k in [1, 5, 30] {
        let want = semantic_search(&q, &all, &SearchOptions::default().top_k(k)).unwrap();
        same_hits(&table.search(&q, k).unwrap(), &want, 1e-5);
    }
}

#[test]
fn cli_ingest_search_evaluate_equals_plain_search() {
    let dir = common::temp_dir("lancedb-cli");
    let ds =
        sbert::datasets::scifact::load_test(&common::shared().join("data/beir-scifact")).unwrap();
    let (c, q) = common::write_scifact_titles(&ds, &dir, 400, 40);
    let p = |name: &str| dir.join(name).to_string_lossy().into_owned();
    let ok = common::sbert_ok;
    let db = p("db");
    ok(&[
        "encode",
        "--corpus",
        &c,
        "--output-dir",
        &p("shards"),
        "--shard-size",
        "150",
    ]);
    let ingested = ok(&[
        "lancedb",
        "ingest",
        "--corpus",
        &c,
        "--corpus-embeddings",
        &p("shards"),
        "--uri",
        &db,
        "--table",
        "titles",
    ]);
    assert!(ingested.contains("\"rows\": 400"), "{ingested}");
    ok(&[
        "lancedb",
        "search",
        "--uri",
        &db,
        "--table",
        "titles",
        "--queries",
        &q,
        "--run",
        &p("lance.run"),
    ]);
    ok(&[
        "search",
        "--corpus",
        &c,
        "--queries",
        &q,
        "--run",
        &p("exact.run"),
    ]);
    let read = |name: &str| sbert::datasets::trec::read_run(&dir.join(name)).unwrap();
    let (lance, exact) = (read("lance.run"), read("exact.run"));
    assert_eq!(lance.len(), 40);
    for (qid, docs) in &exact {
        let got: std::collections::HashMap<&String, f64> =
            lance[qid].iter().map(|(d, s)| (d, *s)).collect();
        assert_eq!(got.len(), docs.len());
        for (d, s) in docs {
            assert!((got[d] - s).abs() < 1e-4, "{qid} {d}: {} vs {s}", got[d]);
        }
    }
    // Ingested again: refused without --overwrite, nothing changed.
    let out = common::sbert(&[
        "lancedb", "ingest", "--corpus", &c, "--uri", &db, "--table", "titles",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("exists"));
}
