//! `ranx.fuse`: combining runs — reciprocal rank fusion and score fusion (CombSUM, CombMAX,
//! CombMIN, CombMNZ, weighted sum) after a per-query normalization — with ranx's exact formulas
//! (checked against ranx 0.3.21 in `tests/fusion.rs`). The usual hybrid is BM25 + a dense run
//! fused by RRF, or by min-max-normalised CombSUM.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use crate::core::{Error, Result};
use crate::datasets::run::{trec_eval_order, Run};

/// How each run's scores are normalised per query before fusing (ranx's `norm`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Norm {
    /// The scores as they are.
    None,
    /// `(s − min) / max(max − min, 1e-9)` (ranx's default).
    #[default]
    MinMax,
    /// `s / max(max, 1e-9)`.
    Max,
    /// `(s − min) / max(Σs − min · n, 1e-9)`.
    Sum,
    /// Zero mean, unit variance: `(s − mean) / max(std, 1e-9)` (population std).
    Zmuv,
    /// `1 − rank / n`, rank from 0 (scores ignored).
    Rank,
}

impl FromStr for Norm {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Ok(
            match s.trim().to_ascii_lowercase().replace('_', "-").as_str() {
                "none" => Norm::None,
                "min-max" | "minmax" => Norm::MinMax,
                "max" => Norm::Max,
                "sum" => Norm::Sum,
                "zmuv" | "z-score" | "zscore" => Norm::Zmuv,
                "rank" => Norm::Rank,
                _ => {
                    return Err(Error::InvalidInput(format!(
                        "unknown normalization '{s}': none, min-max, max, sum, zmuv or rank"
                    )))
                }
            },
        )
    }
}

impl fmt::Display for Norm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Norm::None => "none",
            Norm::MinMax => "min-max",
            Norm::Max => "max",
            Norm::Sum => "sum",
            Norm::Zmuv => "zmuv",
            Norm::Rank => "rank",
        })
    }
}

/// How the (normalised) runs are combined (ranx's `method`).
#[derive(Debug, Clone, PartialEq)]
pub enum FusionMethod {
    /// Reciprocal rank fusion: Σ 1 / (k + rank), rank from 1 (Cormack et al. 2009; k = 60).
    Rrf {
        /// The constant k.
        k: f64,
    },
    /// CombSUM: the sum of a document's scores (0 where a run lacks it).
    Sum,
    /// CombMAX: its highest score among the runs that have it.
    Max,
    /// CombMIN: its lowest score among the runs that have it.
    Min,
    /// CombMNZ: the sum of its scores times the number of runs that have it.
    Mnz,
    /// Weighted sum: Σ wᵢ · sᵢ (0 where a run lacks it), one weight per run.
    Wsum(Vec<f64>),
}

impl Default for FusionMethod {
    fn default() -> Self {
        FusionMethod::Rrf { k: 60.0 }
    }
}

impl fmt::Display for FusionMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FusionMethod::Rrf { k } => write!(f, "rrf (k = {k})"),
            FusionMethod::Sum => f.write_str("sum"),
            FusionMethod::Max => f.write_str("max"),
            FusionMethod::Min => f.write_str("min"),
            FusionMethod::Mnz => f.write_str("mnz"),
            FusionMethod::Wsum(w) => write!(f, "wsum {w:?}"),
        }
    }
}

/// Options of [`fuse`]: the default is RRF with k = 60.
#[derive(Debug, Clone, PartialEq, Default)]
#[must_use]
pub struct FuseOptions {
    /// Per-query normalization of each run first (default min-max; RRF reads only the ranks).
    pub norm: Norm,
    /// How the runs are combined (default RRF, k = 60).
    pub method: FusionMethod,
    /// Documents kept per query, best first (default: all).
    pub top_k: Option<usize>,
}

impl FuseOptions {
    /// Sets the normalization.
    pub fn norm(mut self, norm: Norm) -> Self {
        self.norm = norm;
        self
    }
    /// Sets the method.
    pub fn method(mut self, method: FusionMethod) -> Self {
        self.method = method;
        self
    }
    /// Keeps the best `k` documents per query.
    pub fn top_k(mut self, k: usize) -> Self {
        self.top_k = Some(k);
        self
    }
}

/// Fuses runs as `ranx.fuse(runs, norm, method, params)` does, query by query: each run's
/// documents in trec_eval's order (score descending, ties by docid descending) give the ranks;
/// its scores are normalised ([`Norm`]); the documents of all runs are combined
/// ([`FusionMethod`]). Queries are the union of the runs' (ranx requires equal sets; a query a run
/// lacks is fused from the others). The result lists each query's documents best first (ties by
/// docid descending), `top_k` of them if set.
///
/// Errors: fewer than two runs, a weight count that is not the number of runs, a negative or
/// non-finite `k` or weight, a non-finite score.
pub fn fuse(runs: &[&Run], options: &FuseOptions) -> Result<Run> {
    if runs.len() < 2 {
        return Err(Error::InvalidInput(format!(
            "fusion needs at least two runs, got {}",
            runs.len()
        )));
    }
    match &options.method {
        FusionMethod::Rrf { k } if !(k.is_finite() && *k >= 0.0) => {
            return Err(Error::InvalidInput(format!(
                "RRF's k must be a finite number ≥ 0, got {k}"
            )))
        }
        FusionMethod::Wsum(w) if w.len() != runs.len() => {
            return Err(Error::InvalidInput(format!(
                "weighted sum: {} weights for {} runs",
                w.len(),
                runs.len()
            )))
        }
        FusionMethod::Wsum(w) if w.iter().any(|x| !x.is_finite()) => {
            return Err(Error::InvalidInput(format!(
                "weighted sum: the weights must be finite, got {w:?}"
            )))
        }
        _ => {}
    }
    for run in runs {
        if let Some((q, (d, s))) = run
            .iter()
            .flat_map(|(q, docs)| docs.iter().map(move |e| (q, e)))
            .find(|(_, (_, s))| !s.is_finite())
        {
            return Err(Error::InvalidInput(format!(
                "cannot fuse a run with score {s} (query {q}, document {d})"
            )));
        }
    }
    let queries: std::collections::BTreeSet<&String> = runs.iter().flat_map(|r| r.keys()).collect();
    let mut out = Run::new();
    for q in queries {
        let lists: Vec<BTreeMap<String, f64>> = runs
            .iter()
            .map(|r| {
                r.get(q)
                    .map_or_else(BTreeMap::new, |e| normalized(e, options))
            })
            .collect();
        let mut fused: BTreeMap<&str, f64> = BTreeMap::new();
        for doc in lists.iter().flat_map(|l| l.keys()) {
            if fused.contains_key(doc.as_str()) {
                continue;
            }
            let present: Vec<(usize, f64)> = lists
                .iter()
                .enumerate()
                .filter_map(|(i, l)| l.get(doc).map(|&s| (i, s)))
                .collect();
            let score = match &options.method {
                FusionMethod::Rrf { .. } | FusionMethod::Sum => present.iter().map(|p| p.1).sum(),
                FusionMethod::Max => present.iter().map(|p| p.1).fold(f64::MIN, f64::max),
                FusionMethod::Min => present.iter().map(|p| p.1).fold(f64::MAX, f64::min),
                FusionMethod::Mnz => {
                    present.iter().map(|p| p.1).sum::<f64>() * present.len() as f64
                }
                FusionMethod::Wsum(w) => present.iter().map(|&(i, s)| w[i] * s).sum(),
            };
            fused.insert(doc, score);
        }
        let mut ranked: Vec<(String, f64)> =
            fused.into_iter().map(|(d, s)| (d.to_string(), s)).collect();
        ranked.sort_by(|a, b| {
            b.1.total_cmp(&a.1)
                .then_with(|| b.0.as_bytes().cmp(a.0.as_bytes()))
        });
        if let Some(k) = options.top_k {
            ranked.truncate(k);
        }
        out.insert(q.clone(), ranked);
    }
    Ok(out)
}

/// One run's documents for one query, normalised (or, for RRF, scored by rank).
fn normalized(entries: &[(String, f64)], options: &FuseOptions) -> BTreeMap<String, f64> {
    // The ranking (ranks come from it) with the original f64 scores of the kept occurrences.
    let order = trec_eval_order(entries);
    let mut best: BTreeMap<&str, f64> = BTreeMap::new();
    for (d, s) in entries {
        let b = best.entry(d.as_str()).or_insert(*s);
        *b = b.max(*s);
    }
    let docs: Vec<(&str, f64)> = order
        .iter()
        .map(|(d, _)| (d.as_str(), best[d.as_str()]))
        .collect();
    let n = docs.len() as f64;
    if let FusionMethod::Rrf { k } = options.method {
        // ranx normalises first, which keeps the order; RRF then reads the ranks only.
        return docs
            .iter()
            .enumerate()
            .map(|(i, (d, _))| (d.to_string(), 1.0 / (k + i as f64 + 1.0)))
            .collect();
    }
    let scores = docs.iter().map(|d| d.1);
    let (min, max) = scores
        .clone()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), s| {
            (lo.min(s), hi.max(s))
        });
    let sum: f64 = scores.clone().sum();
    let mean = sum / n;
    let std = (docs.iter().map(|d| (d.1 - mean).powi(2)).sum::<f64>() / n).sqrt();
    let f = |i: usize, s: f64| -> f64 {
        match options.norm {
            Norm::None => s,
            Norm::MinMax => (s - min) / (max - min).max(1e-9),
            Norm::Max => s / max.max(1e-9),
            Norm::Sum => (s - min) / (sum - min * n).max(1e-9),
            Norm::Zmuv => (s - mean) / std.max(1e-9),
            Norm::Rank => 1.0 - i as f64 / n,
        }
    };
    docs.iter()
        .enumerate()
        .map(|(i, &(d, s))| (d.to_string(), f(i, s)))
        .collect()
}
