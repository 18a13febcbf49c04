//! Evaluation: trec_eval-exact IR metrics, the `EmbeddingSimilarityEvaluator` and the
//! `InformationRetrievalEvaluator`, and the course project's run comparison.
//!
//! Every evaluator returns one [`EvalReport`] and can append a CSV row (`epoch,steps,…`, header
//! written once), as sentence-transformers' evaluators do.

pub mod compare;
pub mod ir_metrics;
pub mod reranking;
pub mod retrieval;
pub mod similarity;
pub mod stats;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

pub use compare::RunComparison;
pub use ir_metrics::{evaluate, IrEvaluation, MeanComparison, Measure, Qrels, Run};
pub use reranking::CrossEncoderRerankingEvaluator;
pub use retrieval::InformationRetrievalEvaluator;
pub use similarity::{EmbeddingSimilarityEvaluator, SimilarityFunction};

use crate::error::{Error, Result};
use crate::models::SentenceTransformer;

/// What an evaluator returns: named metrics and the one used to pick the best model.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EvalReport {
    /// The evaluator's name (prefix of the metric keys), e.g. `sts-test`.
    pub name: String,
    /// Key of the primary metric in `metrics`.
    pub primary: String,
    /// Metric key → value, keys as Python names them (`sts-test_spearman_cosine`).
    pub metrics: BTreeMap<String, f64>,
}

impl EvalReport {
    /// The primary metric's value (NaN if absent).
    pub fn primary_score(&self) -> f64 {
        self.metrics.get(&self.primary).copied().unwrap_or(f64::NAN)
    }
    /// A metric by key, with or without the name prefix.
    pub fn get(&self, key: &str) -> Option<f64> {
        self.metrics
            .get(key)
            .or_else(|| self.metrics.get(&prefixed(&self.name, key)))
            .copied()
    }
}

/// A model evaluator (Python's `SentenceEvaluator`; with `M = CrossEncoder`, its cross-encoder
/// evaluators).
pub trait Evaluator<M: ?Sized = SentenceTransformer> {
    /// Evaluates `model`.
    fn evaluate(&self, model: &M) -> Result<EvalReport>;
}

pub(crate) fn prefixed(name: &str, key: &str) -> String {
    if name.is_empty() {
        key.to_string()
    } else {
        format!("{name}_{key}")
    }
}

/// Appends `epoch,steps,values…` to a CSV file, writing `header` first when the file is new or empty.
/// Each row is written with one `write` call and flushed, so a crash never leaves half a row.
pub fn append_csv(
    path: &Path,
    header: &[String],
    epoch: i64,
    steps: i64,
    values: &[f64],
) -> Result<()> {
    if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
    }
    let new = std::fs::metadata(path)
        .map(|m| m.len() == 0)
        .unwrap_or(true);
    let mut text = String::new();
    if new {
        text.push_str("epoch,steps,");
        text.push_str(&header.join(","));
        text.push('\n');
    }
    text.push_str(&format!("{epoch},{steps}"));
    for v in values {
        text.push_str(&format!(",{v}"));
    }
    text.push('\n');
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| Error::io(format!("opening {}", path.display()), e))?;
    f.write_all(text.as_bytes())
        .and_then(|_| f.flush())
        .map_err(|e| Error::io(format!("writing {}", path.display()), e))
}
