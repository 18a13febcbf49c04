//! Fusion of runs (`ranx.fuse`) against ranx 0.3.21: every method under every normalization on
//! three seeded runs (tests/golden/fusion.json from scripts/make_golden_fusion.py), and a hybrid
//! that beats both of its runs on a hand-made case.

use std::collections::BTreeMap;

mod common;
use common::{repo_golden, run_from_json};

use sbert::evaluation::{evaluate, fuse, FuseOptions, FusionMethod, Measure, Norm, Qrels, Run};

fn golden() -> serde_json::Value {
    repo_golden("fusion.json")
}

#[test]
fn every_method_and_normalization_matches_ranx() {
    let g = golden();
    let runs: Vec<Run> = g["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(run_from_json)
        .collect();
    let refs: Vec<&Run> = runs.iter().collect();
    let mut checked = 0;
    for case in g["cases"].as_array().unwrap() {
        let norm: Norm = case["norm"].as_str().unwrap().parse().unwrap();
        let method = match case["method"].as_str().unwrap() {
            "rrf" => FusionMethod::Rrf {
                k: case["params"]["k"].as_f64().unwrap(),
            },
            "sum" => FusionMethod::Sum,
            "max" => FusionMethod::Max,
            "min" => FusionMethod::Min,
            "mnz" => FusionMethod::Mnz,
            "wsum" => FusionMethod::Wsum(
                case["params"]["weights"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|w| w.as_f64().unwrap())
                    .collect(),
            ),
            other => panic!("{other}"),
        };
        let what = format!("{method} / {norm}");
        let fused = fuse(&refs, &FuseOptions::default().norm(norm).method(method)).unwrap();
        let want = case["fused"].as_object().unwrap();
        assert_eq!(fused.len(), want.len(), "{what}: queries");
        for (q, docs) in want {
            let got = &fused[q];
            let docs = docs.as_object().unwrap();
            assert_eq!(got.len(), docs.len(), "{what} {q}: documents");
            for (d, s) in got {
                let w = docs[d].as_f64().unwrap();
                assert!(
                    (s - w).abs() <= 1e-12 * w.abs().max(1.0),
                    "{what} {q} {d}: {s} vs ranx {w}"
                );
                checked += 1;
            }
            // Best first, ties by docid descending.
            assert!(got
                .windows(2)
                .all(|p| p[0].1 > p[1].1
                    || (p[0].1 == p[1].1 && p[0].0.as_bytes() > p[1].0.as_bytes())));
        }
    }
    assert!(checked > 1000, "{checked}");
}

#[test]
fn hybrid_beats_both_runs_and_bad_input_is_refused() {
    // Each run finds one of the two relevant documents at rank 1 and the other at rank 4: fused,
    // both come first.
    let qrels: Qrels = [(
        "q".to_string(),
        BTreeMap::from([("a".to_string(), 1), ("b".to_string(), 1)]),
    )]
    .into();
    let mk = |docs: &[(&str, f64)]| -> Run {
        [(
            "q".to_string(),
            docs.iter().map(|(d, s)| (d.to_string(), *s)).collect(),
        )]
        .into()
    };
    let bm25 = mk(&[("a", 12.0), ("x", 11.0), ("y", 10.0), ("b", 9.0)]);
    let dense = mk(&[("b", 0.9), ("z", 0.8), ("w", 0.7), ("a", 0.6)]);
    let ndcg = |r: &Run| evaluate(&qrels, r, &[Measure::NdcgCut(2)], 1).mean["ndcg_cut_2"];
    for opts in [
        FuseOptions::default(),
        FuseOptions::default().method(FusionMethod::Sum),
        FuseOptions::default()
            .method(FusionMethod::Sum)
            .norm(Norm::Max),
    ] {
        let hybrid = fuse(&[&bm25, &dense], &opts).unwrap();
        assert!(ndcg(&hybrid) > ndcg(&bm25).max(ndcg(&dense)), "{opts:?}");
        assert_eq!(ndcg(&hybrid), 1.0);
    }
    let top = fuse(&[&bm25, &dense], &FuseOptions::default().top_k(2)).unwrap();
    assert_eq!(top["q"].len(), 2);
    // Bad input: clear errors.
    let e = |r: sbert::Result<Run>| r.unwrap_err().to_string();
    assert!(e(fuse(&[&bm25], &FuseOptions::default())).contains("at least two runs"));
    assert!(e(fuse(
        &[&bm25, &dense],
        &FuseOptions::default().method(FusionMethod::Wsum(vec![1.0]))
    ))
    .contains("1 weights for 2 runs"));
    assert!(e(fuse(
        &[&bm25, &dense],
        &FuseOptions::default().method(FusionMethod::Rrf { k: -1.0 })
    ))
    .contains("k must be"));
    let nan = mk(&[("a", f64::NAN)]);
    assert!(e(fuse(&[&bm25, &nan], &FuseOptions::default())).contains("NaN"));
    assert!("softmax"
        .parse::<Norm>()
        .unwrap_err()
        .to_string()
        .contains("min-max"));
}
