//! The paired t-test against scipy's `ttest_rel` (tests/golden/ttest.json, made by
//! scripts/make_golden_ttest.py), on its own and through `RunComparison::t_test`; the paired
//! randomization test against scipy's exact `permutation_test` (tests/golden/randomization.json).

use std::collections::BTreeMap;

use sbert::evaluation::{paired_t_test, Measure, Qrels, Run, RunComparison};

fn golden() -> serde_json::Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/ttest.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn number(v: &serde_json::Value) -> f64 {
    match v.as_str() {
        Some(s) => s.parse().unwrap(), // "inf", "-inf", "nan"
        None => v.as_f64().unwrap(),
    }
}

fn values(v: &serde_json::Value) -> Vec<f64> {
    v.as_array().unwrap().iter().map(number).collect()
}

/// Equal to 1e-9 relative (and 1e-300 absolute for p-values far below 1e-9), NaN to NaN.
fn close(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || a == b || (a - b).abs() <= 1e-9 * b.abs().max(1e-300)
}

#[test]
fn paired_t_test_matches_scipy() {
    let g = golden();
    let cases = g["cases"].as_array().unwrap();
    assert!(cases.len() >= 10);
    for c in cases {
        let (a, b) = (values(&c["a"]), values(&c["b"]));
        let t = paired_t_test(&a, &b);
        let name = c["name"].as_str().unwrap();
        assert!(
            close(t.statistic, number(&c["statistic"])),
            "{name}: t {} vs scipy {}",
            t.statistic,
            c["statistic"]
        );
        assert!(
            close(t.p_value, number(&c["p_value"])),
            "{name}: p {} vs scipy {}",
            t.p_value,
            c["p_value"]
        );
        assert_eq!(t.df, number(&c["df"]), "{name}");
        // Swapping the systems flips t and keeps p.
        let s = paired_t_test(&b, &a);
        assert!(
            close(s.statistic, -t.statistic) && close(s.p_value, t.p_value),
            "{name}"
        );
    }
}

#[test]
fn paired_t_test_rejects_what_it_cannot_test() {
    assert!(paired_t_test(&[0.1, 0.2], &[0.3]).p_value.is_nan());
    assert!(paired_t_test(&[0.1], &[0.3]).statistic.is_nan());
    assert!(paired_t_test(&[], &[]).p_value.is_nan());
}

/// Through a comparison of two runs: per-query nDCG@10 of B against A, as `ranx.compare` tests.
#[test]
fn run_comparison_t_test_is_b_against_a() {
    let g = golden();
    let c = &g["cases"][0];
    let (a, b) = (values(&c["a"]), values(&c["b"]));
    // One judged document per query, ranked first or not at all: each run's P_1 per query is the
    // golden score rounded to 0 or 1; t must be that of B's values against A's.
    let mut qrels: Qrels = BTreeMap::new();
    let (mut run_a, mut run_b): (Run, Run) = (BTreeMap::new(), BTreeMap::new());
    let (mut pa, mut pb) = (Vec::new(), Vec::new());
    for (i, (x, y)) in a.iter().zip(&b).enumerate() {
        let q = format!("q{i:03}");
        qrels.insert(q.clone(), BTreeMap::from([("rel".to_string(), 1)]));
        let top = |hit: bool| if hit { "rel" } else { "other" };
        run_a.insert(q.clone(), vec![(top(*x >= 0.5).to_string(), 1.0)]);
        run_b.insert(q.clone(), vec![(top(*y >= 0.5).to_string(), 1.0)]);
        pa.push(if *x >= 0.5 { 1.0 } else { 0.0 });
        pb.push(if *y >= 0.5 { 1.0 } else { 0.0 });
    }
    let cmp = RunComparison::new(&qrels, &run_a, &run_b, Measure::P(1), 1);
    let t = cmp.t_test();
    let direct = paired_t_test(&pb, &pa);
    assert_eq!(t, direct);
    assert!(t.p_value > 0.0 && t.p_value < 1.0);
    assert!(t.to_string().starts_with("paired t-test: t = "));
}

/// Fisher's paired randomization test: exact p-values equal scipy's `permutation_test` over all
/// 2ⁿ swaps (tests/golden/randomization.json, scripts/make_golden_randomization.py); the random
/// version lands within 4 standard errors of the exact value; through `RunComparison` it tests B
/// against A; bad input is an error.
#[test]
fn randomization_test_matches_scipy() {
    use sbert::evaluation::paired_randomization_test;
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/golden/randomization.json"
    );
    let g: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    for c in g["cases"].as_array().unwrap() {
        let name = c["name"].as_str().unwrap();
        let (a, b) = (values(&c["a"]), values(&c["b"]));
        let r = paired_randomization_test(&a, &b, 1 << 20, 1).unwrap();
        assert!(r.exact, "{name}");
        assert_eq!(r.permutations, 1 << a.len());
        assert!(
            close(r.mean_difference, number(&c["statistic"])),
            "{name}: {r}"
        );
        assert!(
            close(r.p_value, number(&c["p_value"])),
            "{name}: {r} vs {}",
            c["p_value"]
        );
        // Fewer permutations than 2ⁿ: random sign assignments, near the exact p-value.
        if a.len() >= 10 {
            let m = ((1u64 << a.len()) / 2).min(20_000);
            let mc = paired_randomization_test(&a, &b, m, 7).unwrap();
            assert!(!mc.exact);
            let p = r.p_value;
            let se = (p * (1.0 - p) / m as f64).sqrt().max(1.0 / m as f64);
            assert!(
                (mc.p_value - p).abs() <= 4.0 * se + 1.0 / m as f64,
                "{name}: {mc} vs {p}"
            );
        }
    }
    assert!(paired_randomization_test(&[1.0], &[1.0, 2.0], 100, 1).is_err());
    assert!(paired_randomization_test(&[], &[], 100, 1).is_err());
    assert!(paired_randomization_test(&[1.0], &[0.0], 0, 1).is_err());

    // Through RunComparison: B's per-query P_1 against A's.
    let mut qrels: Qrels = BTreeMap::new();
    let (mut run_a, mut run_b): (Run, Run) = (BTreeMap::new(), BTreeMap::new());
    for i in 0..12 {
        let q = format!("q{i:02}");
        qrels.insert(q.clone(), BTreeMap::from([("rel".to_string(), 1)]));
        let top = |hit: bool| if hit { "rel" } else { "other" };
        run_a.insert(q.clone(), vec![(top(i % 3 == 0).to_string(), 1.0)]);
        run_b.insert(q.clone(), vec![(top(i % 4 != 1).to_string(), 1.0)]);
    }
    let cmp = RunComparison::new(&qrels, &run_a, &run_b, Measure::P(1), 1);
    let r = cmp.randomization_test().unwrap();
    let (pa, pb): (Vec<f64>, Vec<f64>) = (0..12)
        .map(|i| ((i % 3 == 0) as u8 as f64, (i % 4 != 1) as u8 as f64))
        .unzip();
    assert_eq!(r, paired_randomization_test(&pb, &pa, 1 << 20, 42).unwrap());
    assert!(r.exact && r.mean_difference > 0.0 && r.p_value < 1.0);
    assert!(r.to_string().starts_with("paired randomization test"));
}

/// `Report` (ranx.compare's table): means equal `evaluate`'s, each mark is a pair whose paired
/// test (computed here directly) gives p < alpha with the higher mean, and the Markdown / LaTeX
/// renderings carry them.
#[test]
fn report_marks_exactly_the_significant_pairs() {
    use sbert::evaluation::{
        evaluate, paired_randomization_test, Report, ReportOptions, SignificanceTest,
    };
    // 40 queries, one relevant document each; three runs that rank it 1st, 2nd or 3rd in
    // different patterns (c is clearly best, a and b close).
    let mut qrels: Qrels = BTreeMap::new();
    let (mut ra, mut rb, mut rc): (Run, Run, Run) = Default::default();
    let at = |rank: usize| -> Vec<(String, f64)> {
        (0..3)
            .map(|k| {
                (
                    if k == rank {
                        "rel".into()
                    } else {
                        format!("x{k}")
                    },
                    3.0 - k as f64,
                )
            })
            .collect()
    };
    for i in 0..40 {
        let q = format!("q{i:02}");
        qrels.insert(q.clone(), BTreeMap::from([("rel".to_string(), 1)]));
        ra.insert(q.clone(), at(if i % 3 == 0 { 0 } else { 2 }));
        rb.insert(q.clone(), at(if i % 4 == 0 { 0 } else { 1 + i % 2 }));
        rc.insert(q.clone(), at(if i % 5 == 4 { 1 } else { 0 }));
    }
    let runs = [("bm25", &ra), ("dense", &rb), ("fine_tuned", &rc)];
    for test in [SignificanceTest::TTest, SignificanceTest::Randomization] {
        let opts = ReportOptions {
            measures: vec![Measure::RecipRank, Measure::P(1), Measure::NdcgCut(3)],
            test,
            ..Default::default()
        };
        let rep = Report::new(&qrels, &runs, &opts).unwrap();
        assert_eq!(rep.queries, 40);
        let mut marks = 0;
        for (i, (_, ri)) in runs.iter().enumerate() {
            let ei = evaluate(&qrels, ri, &opts.measures, 1);
            for (m, name) in rep.measures.iter().enumerate() {
                assert!((rep.means[i][m] - ei.mean[name]).abs() < 1e-12);
                let vi: Vec<f64> = ei.per_query.values().map(|v| v[name]).collect();
                for (j, (_, rj)) in runs.iter().enumerate().filter(|(j, _)| *j != i) {
                    let ej = evaluate(&qrels, rj, &opts.measures, 1);
                    let vj: Vec<f64> = ej.per_query.values().map(|v| v[name]).collect();
                    let p = match test {
                        SignificanceTest::TTest => paired_t_test(&vi, &vj).p_value,
                        SignificanceTest::Randomization => {
                            paired_randomization_test(&vi, &vj, 100_000, 42)
                                .unwrap()
                                .p_value
                        }
                    };
                    let want = ei.mean[name] > ej.mean[name] && p < 0.05;
                    assert_eq!(
                        rep.beats[i][m].contains(&j),
                        want,
                        "{test:?} {i} vs {j} {name}: p {p}"
                    );
                    marks += want as usize;
                }
            }
        }
        assert!(marks >= 3, "{marks}");
        // c beats a and b on MRR.
        assert_eq!(rep.marks(2, 0), "ab");
        let md = rep.to_markdown();
        assert!(md.contains("| (c) fine_tuned |"), "{md}");
        assert!(
            md.contains(&format!("{:.4}<sup>ab</sup>", rep.means[2][0])),
            "{md}"
        );
        let tex = rep.to_latex();
        assert!(tex.contains("(c) fine\\_tuned"), "{tex}");
        assert!(
            tex.contains(&format!("{:.4}$^{{ab}}$", rep.means[2][0])),
            "{tex}"
        );
        assert!(tex.contains("recip\\_rank"));
        assert!(rep.to_string().contains("^ab"));
    }
    assert!(Report::new(&qrels, &runs[..1], &ReportOptions::default()).is_err());
    let bad = ReportOptions {
        alpha: 1.5,
        ..Default::default()
    };
    assert!(Report::new(&qrels, &runs, &bad).is_err());
}
