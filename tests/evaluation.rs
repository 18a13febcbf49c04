//! Evaluation against Python/trec_eval goldens: IR metrics, STS correlations, data readers.

mod common;
use common::*;
use sbert::datasets::{self, sts, trec};
use sbert::evaluation::ir_metrics::{evaluate, trec_eval_order, Measure, Qrels, Run};
use sbert::evaluation::Evaluator as _;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

fn sha256_hex(s: &str) -> String {
    Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn case_qrels(v: &serde_json::Value) -> Qrels {
    serde_json::from_value(v.clone()).unwrap()
}

/// pytrec_eval 0.5.11 on 17 hand-made cases: every measure, per query and mean, to 1e-9.
#[test]
fn ir_metrics_match_trec_eval_on_every_golden_case() {
    let g = golden("ir_metrics_cases.json");
    let mut checked = 0;
    for case in g["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let qrels = case_qrels(&case["qrels"]);
        let run = run_from_json(&case["run"]);
        let per_query = case["per_query"].as_object().unwrap();
        let measures: Vec<Measure> = per_query
            .values()
            .next()
            .unwrap()
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.parse().unwrap())
            .collect();
        let ev = evaluate(&qrels, &run, &measures, 1);
        assert_eq!(ev.per_query.len(), per_query.len(), "{name}: rows");
        for (q, vals) in per_query {
            for (m, want) in vals.as_object().unwrap() {
                let got = ev
                    .get(q, m)
                    .unwrap_or_else(|| panic!("{name}: no {m} for {q}"));
                assert!(
                    (got - want.as_f64().unwrap()).abs() < 1e-9,
                    "{name} {q} {m}: {got} vs {want}"
                );
                checked += 1;
            }
        }
        for (m, want) in case["mean"].as_object().unwrap() {
            assert!(
                (ev.mean[m] - want.as_f64().unwrap()).abs() < 1e-9,
                "{name} mean {m}: {} vs {want}",
                ev.mean[m]
            );
        }
        if let Some(order) = case["trec_eval_order"].as_object() {
            for (q, docs) in order {
                let got: Vec<String> = trec_eval_order(&run[q])
                    .into_iter()
                    .map(|(d, _)| d)
                    .collect();
                let want: Vec<String> = serde_json::from_value(docs.clone()).unwrap();
                assert_eq!(got, want, "{name}: order of {q}");
            }
        }
    }
    assert!(checked > 100);
}

/// The measure names of ranx and PyTerrier parse to the trec_eval measure each means, so they get
/// pytrec_eval's values on every golden case (checked through the canonical names above).
#[test]
fn measure_names_users_bring() {
    let same = [
        ("P_5", &["precision@5", "P@5", "P.5", "p_5"][..]),
        ("recall_100", &["recall@100", "R@100", "Recall@100"]),
        ("ndcg_cut_10", &["ndcg@10", "nDCG@10", "NDCG_CUT_10"]),
        ("map_cut_100", &["map@100", "AP@100"]),
        ("map", &["MAP", "AP"]),
        ("recip_rank", &["mrr", "MRR", "RR"]),
        ("Rprec", &["r-precision", "R-Prec", "rprec"]),
        ("bpref", &["BPref"]),
        ("ndcg", &["nDCG"]),
        ("success_5", &["hit_rate@5", "Success@5"]),
        ("gm_map", &["GM_MAP"]),
        (
            "iprec_at_recall_0.10",
            &["iprec_at_recall_0.1", "iprec_at_recall.0.10"],
        ),
        (
            "iprec_at_recall_1.00",
            &["iprec_at_recall_1", "iprec_at_recall_1.0"],
        ),
        ("num_rel_ret", &["NUM_REL_RET"]),
    ];
    let g = golden("ir_metrics_cases.json");
    let case = &g["cases"][0];
    let (qrels, run) = (case_qrels(&case["qrels"]), run_from_json(&case["run"]));
    for (canonical, aliases) in same {
        let want: Measure = canonical.parse().unwrap();
        assert_eq!(want.to_string(), canonical);
        let base = evaluate(&qrels, &run, &[want], 1).mean[canonical];
        for a in aliases {
            let m: Measure = a.parse().unwrap_or_else(|e| panic!("{a}: {e}"));
            assert_eq!(m, want, "{a}");
            assert_eq!(evaluate(&qrels, &run, &[m], 1).mean[canonical], base);
        }
    }
    for bad in [
        "mrr@10",
        "RR@10",
        "P@0",
        "ndcg@x",
        "hit_rate@0",
        "iprec_at_recall_0.15",
        "iprec_at_recall_1.10",
        "iprec_at_recall_x",
    ] {
        let e = bad.parse::<Measure>().unwrap_err().to_string();
        assert!(e.contains(bad), "{bad}: {e}");
    }
    assert!("mrr@10"
        .parse::<Measure>()
        .unwrap_err()
        .to_string()
        .contains("not trec_eval's recip_rank"));
}

/// The measures beyond the first golden file — success_k (ranx's hit_rate@k), map_cut_k, Rprec,
/// gm_map, the 11 iprec_at_recall points, num_ret, num_rel, num_rel_ret — against pytrec_eval on
/// every golden case, per query and on trec_eval's `all` line (sum for num_*, geometric mean for
/// gm_map) (tests/golden/measures.json from scripts/make_golden_measures.py).
#[test]
fn more_measures_match_pytrec_eval() {
    let cases = golden("ir_metrics_cases.json");
    let want: serde_json::Value = repo_golden("measures.json");
    let measures = Measure::parse_list(
        "success_1,success_2,success_3,success_5,success_10,map_cut_5,map_cut_10,Rprec,gm_map,\
         iprec_at_recall,num_ret,num_rel,num_rel_ret",
    )
    .unwrap();
    assert_eq!(measures.len(), 9 + 11 + 3);
    let mut checked = std::collections::BTreeSet::new();
    for (case, w) in cases["cases"]
        .as_array()
        .unwrap()
        .iter()
        .zip(want["cases"].as_array().unwrap())
    {
        let name = case["name"].as_str().unwrap();
        assert_eq!(w["name"], case["name"]);
        let ev = evaluate(
            &case_qrels(&case["qrels"]),
            &run_from_json(&case["run"]),
            &measures,
            1,
        );
        let per_query = w["per_query"].as_object().unwrap();
        assert_eq!(ev.per_query.len(), per_query.len(), "{name}: rows");
        for (q, vals) in per_query {
            let vals = vals.as_object().unwrap();
            assert_eq!(
                vals.len(),
                measures.len(),
                "{name} {q}: pytrec_eval's measures"
            );
            for (m, v) in vals {
                let (got, want) = (ev.get(q, m).unwrap(), v.as_f64().unwrap());
                assert!(
                    (got - want).abs() < 1e-12,
                    "{name} {q} {m}: {got} vs {want}"
                );
                checked.insert(m.clone());
            }
        }
        for (m, v) in w["all"].as_object().unwrap() {
            let (got, want) = (ev.mean[m], v.as_f64().unwrap());
            assert!(
                (got - want).abs() < 1e-12,
                "{name} all {m}: {got} vs {want}"
            );
        }
        // trec_eval's text prints the counts as integers.
        if let Some(n) = w["all"]["num_ret"].as_f64() {
            let text = ev.to_trec_eval(false);
            let line = text.lines().find(|l| l.starts_with("num_ret ")).unwrap();
            assert_eq!(
                line.split('\t').nth(2),
                Some(format!("{n}").as_str()),
                "{line}"
            );
        }
    }
    assert_eq!(checked.len(), measures.len(), "{checked:?}");
}

/// The Python run on SciFact test, evaluated by our code: the golden means and per-query values (1e-9).
#[test]
fn scifact_golden_run_metrics_match_pytrec_eval() {
    let g = golden("scifact_pretrained.json");
    let run = trec::read_run(&shared().join("golden/scifact_minilm.run")).unwrap();
    let qrels =
        trec::read_qrels(&shared().join("data/beir-scifact/qrels.beir-v1.0.0-scifact.test.txt"))
            .unwrap();
    let ev = evaluate(&qrels, &run, &Measure::beir(), 1);
    assert_eq!(ev.per_query.len(), 300);
    for (m, want) in g["metrics_mean"].as_object().unwrap() {
        assert!((ev.mean[m] - want.as_f64().unwrap()).abs() < 1e-9, "{m}");
    }
    for (q, vals) in g["metrics_per_query"].as_object().unwrap() {
        for (m, want) in vals.as_object().unwrap() {
            assert!(
                (ev.get(q, m).unwrap() - want.as_f64().unwrap()).abs() < 1e-9,
                "{q} {m}"
            );
        }
    }
}

/// The SciFact reader builds exactly the corpus texts Python embedded (sha256 of all 5,183).
#[test]
fn scifact_reader_texts_match_golden_hash() {
    let g = golden("scifact_pretrained.json");
    let ds = datasets::scifact::load_test(&shared().join("data/beir-scifact")).unwrap();
    assert_eq!(ds.corpus.len(), 5183);
    let texts = ds.corpus_texts();
    let ids: Vec<&str> = ds.corpus.iter().map(|d| d.id.as_str()).collect();
    let per_doc = g["corpus"]["per_doc_sha256_prefix16"].as_array().unwrap();
    for (i, t) in texts.iter().enumerate() {
        assert_eq!(
            &sha256_hex(t)[..16],
            per_doc[i].as_str().unwrap(),
            "doc {} ({})",
            i,
            ids[i]
        );
    }
    assert_eq!(
        sha256_hex(&texts.join("\n")),
        g["corpus"]["sha256_of_texts_joined_by_newline"]
            .as_str()
            .unwrap()
    );
    assert_eq!(
        sha256_hex(&ids.join("\n")),
        g["corpus"]["sha256_of_doc_ids_joined_by_newline"]
            .as_str()
            .unwrap()
    );
    assert_eq!(ds.queries.len(), 300);
    let qtexts: Vec<&str> = ds.queries.iter().map(|q| q.text.as_str()).collect();
    assert_eq!(
        sha256_hex(&qtexts.join("\n")),
        g["queries"]["sha256_of_texts_joined_by_newline"]
            .as_str()
            .unwrap()
    );
    assert_eq!(ds.qrels.values().map(|d| d.len()).sum::<usize>(), 339);
    // Training claims: 809 claims on 1,261 rows; pairs as in finetune_scifact.json.
    let claims = datasets::scifact::read_claims(
        &shared().join("data/beir-scifact/scifact.zip"),
        "claims_train.csv",
    )
    .unwrap();
    assert_eq!(claims.len(), 1261);
    let unique: std::collections::BTreeSet<&str> = claims.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(unique.len(), 809);
}

/// Spearman/Pearson from Python's stored cosine scores: exact to 1e-9 (tests the statistics).
#[test]
fn sts_statistics_match_scipy() {
    let g = golden("stsb_pretrained.json");
    let pairs = sts::read_sts(&shared().join("data/stsbenchmark/sts-test.csv")).unwrap();
    assert_eq!(pairs.len(), 1379);
    let s1: Vec<&str> = pairs.iter().map(|p| p.sentence1.as_str()).collect();
    let s2: Vec<&str> = pairs.iter().map(|p| p.sentence2.as_str()).collect();
    assert_eq!(
        sha256_hex(&s1.join("\n")),
        g["data"]["sha256_s1_joined_by_newline"].as_str().unwrap()
    );
    assert_eq!(
        sha256_hex(&s2.join("\n")),
        g["data"]["sha256_s2_joined_by_newline"].as_str().unwrap()
    );
    let cos: Vec<f64> = g["cosine_scores"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap() as f32 as f64)
        .collect();
    let ev = sbert::evaluation::EmbeddingSimilarityEvaluator::from_sts(&pairs)
        .unwrap()
        .name("sts-test");
    let r = ev
        .evaluate_scores(&cos, sbert::evaluation::SimilarityFunction::Cosine)
        .unwrap();
    let want = &g["evaluator_output_default"];
    assert!(
        (r.metrics["sts-test_spearman_cosine"]
            - want["sts-test_spearman_cosine"].as_f64().unwrap())
        .abs()
            < 1e-9
    );
    assert!(
        (r.metrics["sts-test_pearson_cosine"] - want["sts-test_pearson_cosine"].as_f64().unwrap())
            .abs()
            < 1e-9
    );
    assert_eq!(r.primary, "sts-test_spearman_cosine");
}

/// End to end on the real model: STS Benchmark test Spearman within 1e-3 of Python (0.820325).
#[test]
fn sts_end_to_end_matches_python() {
    let g = golden("stsb_pretrained.json");
    let pairs = sts::read_sts(&shared().join("data/stsbenchmark/sts-test.csv")).unwrap();
    let ev = sbert::evaluation::EmbeddingSimilarityEvaluator::from_sts(&pairs)
        .unwrap()
        .name("sts-test");
    let dir = temp_dir("sts-csv");
    let r = ev.evaluate_and_log(model(), Some(&dir), -1, -1).unwrap();
    let want = g["spearman_cosine"].as_f64().unwrap();
    assert!(
        (r.primary_score() - want).abs() < 1e-3,
        "spearman {} vs Python {want}",
        r.primary_score()
    );
    assert!(
        (r.metrics["sts-test_pearson_cosine"] - g["pearson_cosine"].as_f64().unwrap()).abs() < 1e-3
    );
    // The CSV gets its header once, then a row per call.
    ev.evaluate_and_log(model(), Some(&dir), 0, 10).unwrap();
    let csv =
        std::fs::read_to_string(dir.join("similarity_evaluation_sts-test_results.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0], "epoch,steps,cosine_pearson,cosine_spearman");
    assert!(lines[2].starts_with("0,10,"));
}

#[test]
fn stackexchange_topics_and_qrels() {
    let dir = shared().join("data/cos470-travel-fall2024");
    let topics = datasets::stackexchange::read_topics(&dir.join("topics_1.json")).unwrap();
    assert_eq!(topics.len(), 1000);
    assert_eq!(
        datasets::stackexchange::read_topics(&dir.join("topics_2.json"))
            .unwrap()
            .len(),
        294
    );
    let t = topics.iter().find(|t| t.id == "77824").unwrap();
    assert_eq!(t.tags, vec!["air-travel", "safety", "airlines"]);
    assert!(t.body.starts_with("I have taken several flights") && !t.body.contains("<p>"));
    assert!(topics
        .iter()
        .all(|t| !t.body.contains("</") && !t.title.is_empty()));
    let qrels = trec::read_qrels(&dir.join("qrel_1.tsv")).unwrap();
    let mut grades = BTreeMap::new();
    for docs in qrels.values() {
        for g in docs.values() {
            *grades.entry(*g).or_insert(0) += 1;
        }
    }
    assert_eq!(grades, BTreeMap::from([(0, 449), (1, 2526), (2, 3875)]));
    // Answers.json is not shipped: a small file of the same shape.
    let tmp = temp_dir("answers");
    std::fs::write(
        tmp.join("Answers.json"),
        r#"[{"Id": "6768", "Text": "<p>Put your mask on <em>first</em> &amp; then help.</p>\r\n<p>Otherwise you&#39;ll faint.</p>", "Score": "12"}, {"Id": 6776, "Text": "No."}]"#,
    )
    .unwrap();
    let ds = datasets::stackexchange::load(
        &tmp.join("Answers.json"),
        &dir.join("topics_1.json"),
        Some(&dir.join("qrel_1.tsv")),
    )
    .unwrap();
    assert_eq!(
        ds.corpus[0].text,
        "Put your mask on first & then help. Otherwise you'll faint."
    );
    assert_eq!(ds.corpus[1].id, "6776");
    assert_eq!(ds.queries.len(), 1000);
    assert!(ds.queries[0]
        .text
        .starts_with("Why do flight attendants say"));
    // Malformed input: clear errors with the file name.
    std::fs::write(tmp.join("bad.json"), r#"[{"Id": "1"}]"#).unwrap();
    let e = datasets::stackexchange::read_answers(&tmp.join("bad.json"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("bad.json") && e.contains("Text"), "{e}");
    // Query templates: the default is title then body; the others as written, per topic.
    use datasets::stackexchange::{load_with_template, templates};
    let load = |template: &str| {
        load_with_template(
            &tmp.join("Answers.json"),
            &dir.join("topics_1.json"),
            None,
            template,
        )
    };
    let default = load(templates::TITLE_BODY).unwrap();
    assert_eq!(default.queries, ds.queries);
    let marked = load(templates::MARKED).unwrap();
    let tagged = load("{title} | {tags} | {id}").unwrap();
    for ((t, m), g) in topics.iter().zip(&marked.queries).zip(&tagged.queries) {
        assert_eq!(m.id, t.id);
        assert_eq!(
            m.text,
            format!("[TITLE] {} [BODY] {}", t.title, t.body).trim()
        );
        assert_eq!(
            g.text,
            format!("{} | {} | {}", t.title, t.tags.join(" "), t.id)
        );
    }
    assert_eq!(
        load(templates::TITLE).unwrap().queries[0].text,
        topics[0].title
    );
    for bad in ["{author}", "{title", "[TITLE] {Title}"] {
        let e = load(bad).unwrap_err().to_string();
        assert!(e.contains("query template"), "{bad}: {e}");
    }
}

#[test]
fn readers_report_line_numbers() {
    let tmp = temp_dir("readers");
    std::fs::write(tmp.join("q.txt"), "1 0 d1 1\n1 0 d2\n").unwrap();
    let e = trec::read_qrels(&tmp.join("q.txt"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("q.txt:2"), "{e}");
    std::fs::write(tmp.join("r.txt"), "1 Q0 d1 1 0.5 x\n1 Q0 d2 2 abc x\n").unwrap();
    assert!(trec::read_run(&tmp.join("r.txt"))
        .unwrap_err()
        .to_string()
        .contains("r.txt:2"));
    std::fs::write(tmp.join("s.csv"), "a\tb\tc\t1\t2.5\tx\ty\nshort\tline\n").unwrap();
    assert!(sts::read_sts(&tmp.join("s.csv"))
        .unwrap_err()
        .to_string()
        .contains("s.csv:2"));
    // A BEIR round trip.
    let ds = datasets::RetrievalDataset {
        corpus: vec![datasets::Document {
            id: "d1".into(),
            title: "T".into(),
            text: "body \"q\"".into(),
        }],
        queries: vec![datasets::Query {
            id: "q1".into(),
            text: "what?".into(),
        }],
        qrels: BTreeMap::from([("q1".to_string(), BTreeMap::from([("d1".to_string(), 2)]))]),
    };
    ds.write_beir(&tmp.join("beir")).unwrap();
    assert_eq!(
        datasets::beir::load_dir(&tmp.join("beir"), "test").unwrap(),
        ds
    );
}

#[test]
fn run_comparison_and_ski_jump() {
    let qrels: Qrels = BTreeMap::from([
        ("q1".to_string(), BTreeMap::from([("a".to_string(), 1)])),
        ("q2".to_string(), BTreeMap::from([("b".to_string(), 1)])),
        ("q3".to_string(), BTreeMap::from([("c".to_string(), 1)])),
    ]);
    let run = |pairs: &[(&str, &[&str])]| -> Run {
        pairs
            .iter()
            .map(|(q, docs)| {
                (
                    q.to_string(),
                    docs.iter()
                        .enumerate()
                        .map(|(i, d)| (d.to_string(), 1.0 - i as f64 * 0.1))
                        .collect(),
                )
            })
            .collect()
    };
    let a = run(&[
        ("q1", &["a", "x"]),
        ("q2", &["x", "b"]),
        ("q3", &["x", "y"]),
    ]);
    let b = run(&[
        ("q1", &["x", "a"]),
        ("q2", &["b", "x"]),
        ("q3", &["c", "y"]),
    ]);
    let c = sbert::evaluation::RunComparison::new(&qrels, &a, &b, Measure::RecipRank, 1)
        .names("pretrained", "fine-tuned");
    assert_eq!(c.rows.len(), 3);
    assert_eq!(c.mean, ((1.0 + 0.5 + 0.0) / 3.0, (0.5 + 1.0 + 1.0) / 3.0));
    assert_eq!(
        c.gained(5)
            .iter()
            .map(|r| r.qid.as_str())
            .collect::<Vec<_>>(),
        vec!["q3", "q2"]
    );
    assert_eq!(
        c.lost(5).iter().map(|r| r.qid.as_str()).collect::<Vec<_>>(),
        vec!["q1"]
    );
    assert_eq!(c.counts(), (2, 1, 0));
    let svg = c.ski_jump_svg();
    assert!(
        svg.starts_with("<svg")
            && svg.matches("<polyline").count() == 2
            && svg.contains("fine-tuned")
    );
    let text = c.to_string();
    assert!(
        text.contains("Gained most") && text.contains("recip_rank"),
        "{text}"
    );
}

/// End to end on the real model (≈4 min on 2 cores): SciFact test through the
/// InformationRetrievalEvaluator matches Python's figures (README tolerances of the golden).
#[test]
fn scifact_end_to_end_matches_python() {
    let g = golden("scifact_pretrained.json");
    let ds = datasets::scifact::load_test(&shared().join("data/beir-scifact")).unwrap();
    let ev = sbert::evaluation::InformationRetrievalEvaluator::new(ds).name("scifact-test");
    let run = ev.retrieve(model()).unwrap();
    let got = ev.evaluate_run(&run);
    let want = &g["metrics_mean"];
    for (m, tol) in [
        ("ndcg_cut_10", 2e-3),
        ("map", 2e-3),
        ("recip_rank", 2e-3),
        ("recall_100", 5e-3),
        ("P_5", 5e-3),
    ] {
        let w = want[m].as_f64().unwrap();
        assert!(
            (got.mean[m] - w).abs() <= tol,
            "{m}: {} vs Python {w}",
            got.mean[m]
        );
    }
    eprintln!(
        "SciFact test nDCG@10 = {:.6} (Python {:.6})",
        got.mean["ndcg_cut_10"],
        want["ndcg_cut_10"].as_f64().unwrap()
    );
    // Top-10 document sets overlap ≥ 99 % with Python's run; shared documents' scores within 1e-5.
    let py = trec::read_run(&shared().join("golden/scifact_minilm.run")).unwrap();
    let (mut same, mut total) = (0, 0);
    for (q, docs) in &run {
        let ours: std::collections::BTreeMap<&str, f32> = docs
            .iter()
            .take(10)
            .map(|(d, s)| (d.as_str(), *s))
            .collect();
        for (d, s) in trec_eval_order(&py[q]).into_iter().take(10) {
            total += 1;
            if let Some(o) = ours.get(d.as_str()) {
                same += 1;
                assert!((*o - s).abs() < 1e-5, "score of {d} for {q}: {o} vs {s}");
            }
        }
    }
    assert!(
        same as f64 >= 0.99 * total as f64,
        "top-10 overlap {same}/{total}"
    );
    // The report form: prefixed keys, nDCG@10 primary.
    let report = ev.report_for_run(&run);
    assert_eq!(report.primary, "scifact-test_ndcg_cut_10");
    assert_eq!(report.primary_score(), got.mean["ndcg_cut_10"]);
    assert_eq!(report.get("map"), Some(got.mean["map"]));
}

/// Two runs' means side by side: the values are each evaluation's means, the gain column is B − A.
#[test]
fn mean_comparison_side_by_side() {
    let mut qrels: Qrels = BTreeMap::new();
    qrels.entry("q1".into()).or_default().insert("d1".into(), 1);
    qrels.entry("q2".into()).or_default().insert("d2".into(), 1);
    let run = |first: &[&str; 2]| -> Run {
        let mut r: Run = BTreeMap::new();
        for (q, d) in [("q1", first[0]), ("q2", first[1])] {
            r.insert(q.into(), vec![(d.to_string(), 2.0), ("dx".into(), 1.0)]);
        }
        r
    };
    let m = [Measure::P(1), Measure::RecipRank];
    let a = evaluate(&qrels, &run(&["d1", "dz"]), &m, 1);
    let b = evaluate(&qrels, &run(&["d1", "d2"]), &m, 1);
    let cmp = sbert::evaluation::MeanComparison::new(&[("A", &a), ("B", &b)]);
    assert_eq!(cmp.measures, vec!["P_1", "recip_rank"]);
    assert_eq!(cmp.values, vec![vec![0.5, 0.5], vec![1.0, 1.0]]);
    let text = cmp.to_string();
    assert!(
        text.contains("+0.5000") && text.contains("Mean over 2 queries"),
        "{text}"
    );
    assert!(cmp.to_html().contains("<th>gain</th>"));
}

/// Train claims as a retrieval collection: queries = distinct claims citing a corpus document,
/// qrels = those citations (brute force over the CSV rows).
#[test]
fn scifact_claims_dataset() {
    let data = shared().join("data/beir-scifact");
    let ds = datasets::scifact::load_test(&data).unwrap();
    let claims =
        datasets::scifact::read_claims(&data.join("scifact.zip"), "claims_train.csv").unwrap();
    let train = datasets::scifact::claims_dataset(&claims, &ds.corpus);
    let ids: std::collections::BTreeSet<&str> = ds.corpus.iter().map(|d| d.id.as_str()).collect();
    let mut want: std::collections::BTreeMap<&str, std::collections::BTreeSet<&str>> =
        Default::default();
    for c in &claims {
        for d in c.cited_doc_ids.iter().filter(|d| ids.contains(d.as_str())) {
            want.entry(c.id.as_str()).or_default().insert(d.as_str());
        }
    }
    assert_eq!(train.queries.len(), want.len());
    assert_eq!(train.qrels.len(), want.len());
    for q in &train.queries {
        let got: std::collections::BTreeSet<&str> =
            train.qrels[&q.id].keys().map(String::as_str).collect();
        assert_eq!(got, want[q.id.as_str()]);
        assert!(train.qrels[&q.id].values().all(|&g| g == 1));
    }
    assert_eq!(train.corpus.len(), ds.corpus.len());
    eprintln!(
        "{} train claims with cited documents in the corpus",
        train.queries.len()
    );
}
