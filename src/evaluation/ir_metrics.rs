//! IR metrics with trec_eval's exact semantics (checked against pytrec_eval on
//! `../shared/golden/ir_metrics_cases.json` to 1e-9).
//!
//! The rules, from trec_eval 9:
//! - **Ordering.** The rank column and the list order are ignored. Scores are cast to `f32` (C
//!   `float`), sorted descending, ties broken by **docid descending** in byte order (`strcmp`), so
//!   `"9" > "2" > "100" > "10"`. A docid listed twice keeps its highest-scoring occurrence.
//! - **Relevant** means grade ≥ `rel_level` (1 by default; the course counts grades 1 and 2) for P,
//!   recall, MAP, MRR and bpref. nDCG uses the grade itself as the gain (linear), discount
//!   1/log2(rank + 1), and the ideal ranking of *all* judged documents of the query.
//! - `P_k` divides by k even when fewer than k documents were retrieved; `recall_k` divides by R
//!   (the number of relevant documents, 0 when R = 0); `map` uses the whole run; `recip_rank` is
//!   1/rank of the first relevant document; `bpref` counts judged non-relevant documents ranked above
//!   each relevant one.
//! - A query without any relevant judgement scores 0 everywhere and counts in the mean; a query in
//!   the run but not in the qrels is ignored; a query in the qrels but not in the run has no row.
//!   The mean is over the rows (pytrec_eval's and BEIR's convention).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use crate::core::{Error, Result};
use crate::display::{impl_display, Section, Tabular};

pub use crate::datasets::run::{trec_eval_order, Qrels, Run};

/// A measure, named as trec_eval names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Measure {
    /// `P_k`: precision at k.
    P(usize),
    /// `recall_k`: recall at k.
    Recall(usize),
    /// `ndcg_cut_k`: nDCG at k.
    NdcgCut(usize),
    /// `ndcg`: nDCG over the whole run.
    Ndcg,
    /// `map`: mean average precision over the whole run.
    Map,
    /// `map_cut_k`: average precision counting the top k only.
    MapCut(usize),
    /// `recip_rank`: reciprocal rank of the first relevant document (MRR when averaged).
    RecipRank,
    /// `bpref`.
    Bpref,
    /// `Rprec`: precision at R.
    RPrec,
    /// `success_k`: 1 if a relevant document is in the top k, else 0 (ranx's `hit_rate@k`).
    Success(usize),
    /// `gm_map`: per query ln(max(AP, 0.00001)); summarised as exp of their mean (the geometric
    /// mean of AP, which rewards improving the hardest queries).
    GmMap,
    /// `iprec_at_recall_0.00` … `iprec_at_recall_1.00`: interpolated precision at recall
    /// `tenths / 10` (the highest precision at any rank reaching that recall), the points of an
    /// 11-point precision-recall curve.
    IprecAtRecall(u8),
    /// `num_ret`: documents retrieved (summed over queries).
    NumRet,
    /// `num_rel`: relevant documents judged (summed over queries).
    NumRel,
    /// `num_rel_ret`: relevant documents retrieved (summed over queries).
    NumRelRet,
}

impl Measure {
    /// The measures of the course project: P@1, P@5, nDCG@5, MRR, MAP.
    pub fn course() -> Vec<Measure> {
        vec![
            Measure::P(1),
            Measure::P(5),
            Measure::NdcgCut(5),
            Measure::RecipRank,
            Measure::Map,
        ]
    }
    /// BEIR's headline measures: nDCG@10, recall@100, MAP, MRR, P@5.
    pub fn beir() -> Vec<Measure> {
        vec![
            Measure::NdcgCut(10),
            Measure::Recall(100),
            Measure::Map,
            Measure::RecipRank,
            Measure::P(5),
        ]
    }
    /// The 11 points of trec_eval's `iprec_at_recall` (recall 0.0, 0.1, … 1.0).
    pub fn iprec_at_recall() -> Vec<Measure> {
        (0..=10).map(Measure::IprecAtRecall).collect()
    }
    /// Parses a comma-separated list (`"P_5,ndcg_cut_10,map"`); `iprec_at_recall` alone stands
    /// for its 11 points, as in trec_eval.
    pub fn parse_list(s: &str) -> Result<Vec<Measure>> {
        let mut measures = Vec::new();
        for p in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            if p.eq_ignore_ascii_case("iprec_at_recall") {
                measures.extend(Measure::iprec_at_recall());
            } else {
                measures.push(p.parse()?);
            }
        }
        if measures.is_empty() {
            return Err(Error::InvalidInput(format!(
                "no measure in {s:?} (e.g. ndcg_cut_10,P_5,map)"
            )));
        }
        Ok(measures)
    }
    /// The value trec_eval prints under `all` for these per-query values: the arithmetic mean,
    /// except the counts `num_*` (summed) and `gm_map` (exp of the mean of its logarithms); 0
    /// without queries.
    pub fn summarize(&self, per_query: &[f64]) -> f64 {
        if per_query.is_empty() {
            return 0.0;
        }
        let sum: f64 = per_query.iter().sum();
        let mean = sum / per_query.len() as f64;
        match self {
            Measure::NumRet | Measure::NumRel | Measure::NumRelRet => sum,
            Measure::GmMap => mean.exp(),
            _ => mean,
        }
    }
}

impl fmt::Display for Measure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Measure::P(k) => write!(f, "P_{k}"),
            Measure::Recall(k) => write!(f, "recall_{k}"),
            Measure::NdcgCut(k) => write!(f, "ndcg_cut_{k}"),
            Measure::Ndcg => write!(f, "ndcg"),
            Measure::Map => write!(f, "map"),
            Measure::MapCut(k) => write!(f, "map_cut_{k}"),
            Measure::RecipRank => write!(f, "recip_rank"),
            Measure::Bpref => write!(f, "bpref"),
            Measure::RPrec => write!(f, "Rprec"),
            Measure::Success(k) => write!(f, "success_{k}"),
            Measure::GmMap => write!(f, "gm_map"),
            Measure::IprecAtRecall(t) => write!(f, "iprec_at_recall_{:.2}", *t as f64 / 10.0),
            Measure::NumRet => write!(f, "num_ret"),
            Measure::NumRel => write!(f, "num_rel"),
            Measure::NumRelRet => write!(f, "num_rel_ret"),
        }
    }
}

impl FromStr for Measure {
    type Err = Error;
    /// The names users bring, each to its trec_eval measure:
    /// - trec_eval / pytrec_eval: `P_5`, `recall_100`, `ndcg_cut_10`, `ndcg`, `map`, `map_cut_10`,
    ///   `recip_rank`, `bpref`, `Rprec`, `success_5`, `gm_map`, `iprec_at_recall_0.10` (the 11
    ///   points 0.00 … 1.00; `0.1` works too), `num_ret`, `num_rel`, `num_rel_ret`;
    /// - ranx: `precision@5`, `recall@100`, `ndcg@10`, `map`, `map@100` (AP over the top 100,
    ///   trec_eval's `map_cut_100`), `mrr`, `bpref`, `r-precision`, `hit_rate@5` (`success_5`);
    /// - PyTerrier / ir_measures: `P.5`, `P@5`, `nDCG@10`, `R@100`, `AP`, `AP@100`, `RR`, `Rprec`.
    ///
    /// Case, `@`, `.` and `-` do not matter (`P@5` = `p.5` = `P_5`). A cut-off MRR (`mrr@10`,
    /// `RR@10`) is not trec_eval's `recip_rank` and is refused, as is a cut-off of 0.
    fn from_str(s: &str) -> Result<Self> {
        let lower = s.trim().to_ascii_lowercase().replace(['@', '.', '-'], "_");
        let cut = |prefix: &str| -> Option<Result<usize>> {
            lower.strip_prefix(prefix).map(|k| {
                k.parse::<usize>()
                    .ok()
                    .filter(|&k| k > 0)
                    .ok_or_else(|| Error::InvalidInput(format!("bad cutoff in measure '{s}'")))
            })
        };
        let cuts: [(&str, fn(usize) -> Measure); 11] = [
            ("success_", Measure::Success),
            ("hit_rate_", Measure::Success),
            ("precision_", Measure::P),
            ("p_", Measure::P),
            ("recall_", Measure::Recall),
            ("r_", Measure::Recall),
            ("ndcg_cut_", Measure::NdcgCut),
            ("ndcg_", Measure::NdcgCut),
            ("map_cut_", Measure::MapCut),
            ("map_", Measure::MapCut),
            ("ap_", Measure::MapCut),
        ];
        match lower.as_str() {
            "ndcg" => return Ok(Measure::Ndcg),
            "map" | "ap" => return Ok(Measure::Map),
            "recip_rank" | "mrr" | "rr" => return Ok(Measure::RecipRank),
            "bpref" => return Ok(Measure::Bpref),
            "rprec" | "r_precision" | "r_prec" => return Ok(Measure::RPrec),
            "gm_map" => return Ok(Measure::GmMap),
            "num_ret" => return Ok(Measure::NumRet),
            "num_rel" => return Ok(Measure::NumRel),
            "num_rel_ret" => return Ok(Measure::NumRelRet),
            _ => {}
        }
        if let Some(level) = lower.strip_prefix("iprec_at_recall_") {
            // "0_10" once '.' became '_': a recall level of 0.0, 0.1, … 1.0.
            let tenths = level
                .replacen('_', ".", 1)
                .parse::<f64>()
                .ok()
                .map(|r| r * 10.0)
                .filter(|t| (0.0..=10.0).contains(t) && (t - t.round()).abs() < 1e-9);
            return tenths
                .map(|t| Measure::IprecAtRecall(t.round() as u8))
                .ok_or_else(|| {
                    Error::InvalidInput(format!(
                        "bad recall level in measure '{s}': trec_eval's are 0.00, 0.10, … 1.00"
                    ))
                });
        }
        for (prefix, make) in cuts {
            if let Some(k) = cut(prefix) {
                return Ok(make(k?));
            }
        }
        let hint = if lower.starts_with("mrr_")
            || lower.starts_with("rr_")
            || lower.starts_with("recip_rank_")
        {
            " (a reciprocal rank cut at k is not trec_eval's recip_rank; use mrr / recip_rank)"
        } else {
            ""
        };
        Err(Error::InvalidInput(format!(
            "unknown measure '{s}'{hint}: use trec_eval names (P_k, recall_k, ndcg_cut_k, ndcg, map, map_cut_k, recip_rank, bpref, Rprec, success_k, gm_map, iprec_at_recall_0.10, num_ret, num_rel, num_rel_ret), ranx's (precision@k, ndcg@k, map@k, mrr, r-precision) or PyTerrier's (P.k, nDCG@k, AP, RR)"
        )))
    }
}

/// Computes one query's measures. `judged` is the query's qrels (may hold no relevant document).
pub fn evaluate_query(
    judged: &BTreeMap<String, i32>,
    ranked: &[(String, f32)],
    measures: &[Measure],
    rel_level: i32,
) -> BTreeMap<String, f64> {
    let grades: Vec<Option<i32>> = ranked.iter().map(|(d, _)| judged.get(d).copied()).collect();
    let is_rel: Vec<bool> = grades
        .iter()
        .map(|g| g.is_some_and(|g| g >= rel_level))
        .collect();
    let num_rel = judged.values().filter(|&&g| g >= rel_level).count();
    let num_nonrel = judged.values().filter(|&&g| g < rel_level).count();
    let r = num_rel as f64;
    let mut ideal: Vec<i32> = judged.values().copied().filter(|&g| g > 0).collect();
    ideal.sort_unstable_by(|a, b| b.cmp(a));
    let dcg = |gains: &mut dyn Iterator<Item = i32>, k: usize| -> f64 {
        gains
            .take(k)
            .enumerate()
            .map(|(i, g)| g.max(0) as f64 / ((i + 2) as f64).log2())
            .sum()
    };
    let ndcg_at = |k: usize| -> f64 {
        let idcg = dcg(&mut ideal.iter().copied(), k);
        if idcg == 0.0 {
            0.0
        } else {
            dcg(&mut grades.iter().map(|g| g.unwrap_or(0)), k) / idcg
        }
    };
    let rel_in_top = |k: usize| is_rel.iter().take(k).filter(|&&x| x).count() as f64;
    let ap_to = |k: usize| -> f64 {
        if num_rel == 0 {
            return 0.0;
        }
        let mut found = 0.0;
        let mut sum = 0.0;
        for (i, &rel) in is_rel.iter().take(k).enumerate() {
            if rel {
                found += 1.0;
                sum += found / (i + 1) as f64;
            }
        }
        sum / r
    };
    let num_rel_ret = is_rel.iter().filter(|&&x| x).count();
    let mut out = BTreeMap::new();
    for m in measures {
        let v = match *m {
            // Defined whether or not the query has a relevant document.
            Measure::NumRet => ranked.len() as f64,
            Measure::NumRel => r,
            Measure::NumRelRet => num_rel_ret as f64,
            Measure::GmMap => ap_to(usize::MAX).max(MIN_GEO_MEAN).ln(),
            Measure::IprecAtRecall(t) => iprec_at_recall(&is_rel, num_rel, num_rel_ret, t),
            _ if num_rel == 0 => 0.0,
            Measure::P(k) => rel_in_top(k) / k as f64,
            Measure::Recall(k) => rel_in_top(k) / r,
            Measure::NdcgCut(k) => ndcg_at(k),
            Measure::Ndcg => ndcg_at(usize::MAX),
            Measure::Map => ap_to(usize::MAX),
            Measure::MapCut(k) => ap_to(k),
            Measure::RecipRank => is_rel
                .iter()
                .position(|&x| x)
                .map_or(0.0, |i| 1.0 / (i + 1) as f64),
            Measure::RPrec => rel_in_top(num_rel) / r,
            Measure::Success(k) => (rel_in_top(k) > 0.0) as u8 as f64,
            Measure::Bpref => {
                let mut nonrel_above = 0usize;
                let mut sum = 0.0;
                for (g, &rel) in grades.iter().zip(&is_rel) {
                    if rel {
                        sum += if nonrel_above == 0 {
                            1.0
                        } else {
                            1.0 - nonrel_above.min(num_rel) as f64 / num_rel.min(num_nonrel) as f64
                        };
                    } else if g.is_some() {
                        nonrel_above += 1;
                    }
                }
                sum / r
            }
        };
        out.insert(m.to_string(), v);
    }
    out
}

/// trec_eval's floor on a query's AP before `gm_map` takes its logarithm.
const MIN_GEO_MEAN: f64 = 0.00001;

/// trec_eval's `iprec_at_recall` at `tenths / 10`, as `m_iprec_at_recall.c` computes it: the level
/// becomes a number of relevant documents, `⌊level · R + 0.9⌋`, and the value is the highest
/// precision at any rank from the one where that many relevant documents are found (0 if they never are).
/// `num_rel_ret` is the number of `true`s in `is_rel`.
fn iprec_at_recall(is_rel: &[bool], num_rel: usize, num_rel_ret: usize, tenths: u8) -> f64 {
    let level = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0][tenths.min(10) as usize];
    let needed = (level * num_rel as f64 + 0.9) as usize;
    if is_rel.is_empty() || needed > num_rel_ret {
        return 0.0;
    }
    // From the bottom of the ranking up: the best precision at this rank or below.
    let mut best = num_rel_ret as f64 / is_rel.len() as f64;
    let mut rel_so_far = num_rel_ret;
    for i in (1..=is_rel.len()).rev() {
        if rel_so_far == 0 {
            break;
        }
        best = best.max(rel_so_far as f64 / i as f64);
        if is_rel[i - 1] {
            if rel_so_far == needed {
                return best;
            }
            rel_so_far -= 1;
        }
    }
    best
}

/// Per-query and mean values of some measures over a run.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct IrEvaluation {
    /// The measures, in the order asked.
    pub measures: Vec<String>,
    /// query id → measure → value (queries of both the run and the qrels).
    pub per_query: BTreeMap<String, BTreeMap<String, f64>>,
    /// measure → its summary over `per_query`, as trec_eval's `all` line ([`Measure::summarize`]:
    /// the arithmetic mean, the sum of the `num_*` counts, `gm_map`'s geometric mean).
    pub mean: BTreeMap<String, f64>,
}

/// Several runs' means side by side (one column per run, a gain column for two runs).
#[derive(Debug, Clone, PartialEq)]
pub struct MeanComparison {
    /// Column names.
    pub names: Vec<String>,
    /// Measures (rows), trec_eval names.
    pub measures: Vec<String>,
    /// `values[run][measure]`.
    pub values: Vec<Vec<f64>>,
    /// Queries in the first evaluation.
    pub queries: usize,
}

impl MeanComparison {
    /// The measures of the first evaluation, for every named evaluation.
    pub fn new(runs: &[(&str, &IrEvaluation)]) -> Self {
        let measures = runs
            .first()
            .map(|r| r.1.measures.clone())
            .unwrap_or_default();
        let values = runs
            .iter()
            .map(|(_, e)| {
                measures
                    .iter()
                    .map(|m| e.mean.get(m).copied().unwrap_or(f64::NAN))
                    .collect()
            })
            .collect();
        Self {
            names: runs.iter().map(|r| r.0.to_string()).collect(),
            queries: runs.first().map_or(0, |r| r.1.per_query.len()),
            measures,
            values,
        }
    }
}

impl IrEvaluation {
    /// The value of a measure for a query.
    pub fn get(&self, qid: &str, measure: &str) -> Option<f64> {
        self.per_query.get(qid)?.get(measure).copied()
    }
    /// trec_eval's text format: `measure \t qid \t value`, per query (if asked) then `all`.
    pub fn to_trec_eval(&self, per_query: bool) -> String {
        let mut s = String::new();
        if per_query {
            for (q, vals) in &self.per_query {
                for m in &self.measures {
                    let v = vals.get(m).copied().unwrap_or(f64::NAN);
                    s.push_str(&format!("{m:<22}\t{q}\t{}\n", trec_eval_value(m, v)));
                }
            }
        }
        for m in &self.measures {
            let v = self.mean.get(m).copied().unwrap_or(f64::NAN);
            s.push_str(&format!("{m:<22}\tall\t{}\n", trec_eval_value(m, v)));
        }
        s
    }
}

/// A value as trec_eval prints it: the `num_*` counts as integers, the rest with 4 decimals.
fn trec_eval_value(measure: &str, v: f64) -> String {
    if measure.starts_with("num_") {
        format!("{v:.0}")
    } else {
        format!("{v:.4}")
    }
}

/// Evaluates a run against qrels with trec_eval's semantics (see the module docs).
pub fn evaluate(qrels: &Qrels, run: &Run, measures: &[Measure], rel_level: i32) -> IrEvaluation {
    let mut per_query = BTreeMap::new();
    for (qid, entries) in run {
        let Some(judged) = qrels.get(qid) else {
            continue;
        };
        let ranked = trec_eval_order(entries);
        per_query.insert(
            qid.clone(),
            evaluate_query(judged, &ranked, measures, rel_level),
        );
    }
    let names: Vec<String> = measures.iter().map(Measure::to_string).collect();
    let mean = measures
        .iter()
        .zip(&names)
        .map(|(measure, m)| {
            let values: Vec<f64> = per_query
                .values()
                .map(|v: &BTreeMap<String, f64>| v[m])
                .collect();
            (m.clone(), measure.summarize(&values))
        })
        .collect();
    IrEvaluation {
        measures: names,
        per_query,
        mean,
    }
}

impl_display!(IrEvaluation, MeanComparison);

impl Tabular for IrEvaluation {
    fn sections(&self) -> Vec<Section> {
        let rows = self
            .measures
            .iter()
            .map(|m| {
                vec![
                    m.clone(),
                    format!("{:.4}", self.mean.get(m).copied().unwrap_or(f64::NAN)),
                ]
            })
            .collect();
        vec![Section {
            title: Some(format!(
                "trec_eval measures, mean over {} queries",
                self.per_query.len()
            )),
            header: vec!["measure".into(), "all".into()],
            rows,
            more: 0,
        }]
    }
}

impl Tabular for MeanComparison {
    fn sections(&self) -> Vec<Section> {
        let mut header = vec!["measure".to_string()];
        header.extend(self.names.iter().cloned());
        if self.names.len() == 2 {
            header.push("gain".into());
        }
        let rows = self
            .measures
            .iter()
            .enumerate()
            .map(|(m, name)| {
                let mut row = vec![name.clone()];
                row.extend(self.values.iter().map(|v| format!("{:.4}", v[m])));
                if self.values.len() == 2 {
                    row.push(format!("{:+.4}", self.values[1][m] - self.values[0][m]));
                }
                row
            })
            .collect();
        vec![Section {
            title: Some(format!("Mean over {} queries", self.queries)),
            header,
            rows,
            more: 0,
        }]
    }
}
