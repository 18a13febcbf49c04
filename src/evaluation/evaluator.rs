//! What every evaluator shares: the [`Evaluator`] trait, its [`EvalReport`], and the CSV log.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use crate::core::{Embeddings, Error, Result};
use crate::display::{impl_display, Section, Tabular};
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

impl_display!(EvalReport);

impl Tabular for EvalReport {
    fn sections(&self) -> Vec<Section> {
        let rows = self
            .metrics
            .iter()
            .map(|(k, v)| {
                vec![
                    if *k == self.primary {
                        format!("{k} (primary)")
                    } else {
                        k.clone()
                    },
                    format!("{v:.6}"),
                ]
            })
            .collect();
        let title = if self.name.is_empty() {
            "Evaluation".to_string()
        } else {
            format!("Evaluation: {}", self.name)
        };
        vec![Section {
            title: Some(title),
            header: vec!["metric".into(), "value".into()],
            rows,
            more: 0,
        }]
    }
}

/// One row of an evaluator's CSV log: the file's name, its columns after `epoch,steps`, the values.
#[derive(Debug, Clone, PartialEq)]
pub struct CsvRow {
    /// File name, as Python names it (`similarity_evaluation_sts-dev_results.csv`).
    pub file: String,
    /// The columns after `epoch,steps`.
    pub columns: Vec<String>,
    /// One value per column.
    pub values: Vec<f64>,
}

/// A model evaluator (Python's `SentenceEvaluator`; with `M = CrossEncoder`, its cross-encoder
/// evaluators).
pub trait Evaluator<M: ?Sized = SentenceTransformer> {
    /// Evaluates `model`.
    fn evaluate(&self, model: &M) -> Result<EvalReport>;

    /// The CSV row `report` adds to this evaluator's log, or None when it writes none (Python's
    /// `write_csv=False`). `fit` appends it under `output_path/eval/`, as Python does.
    fn csv_row(&self, _report: &EvalReport) -> Option<CsvRow> {
        None
    }

    /// Evaluates and, with `output_path`, appends `epoch,steps,…` to the evaluator's CSV in that
    /// folder (Python's `evaluator(model, output_path, epoch, steps)`; -1 for "not training").
    fn evaluate_and_log(
        &self,
        model: &M,
        output_path: Option<&Path>,
        epoch: i64,
        steps: i64,
    ) -> Result<EvalReport> {
        let report = self.evaluate(model)?;
        if let Some(dir) = output_path {
            self.log_csv(&report, dir, epoch, steps)?;
        }
        Ok(report)
    }

    /// Appends `report`'s [`Self::csv_row`] (if any) to its file in `dir`.
    fn log_csv(&self, report: &EvalReport, dir: &Path, epoch: i64, steps: i64) -> Result<()> {
        match self.csv_row(report) {
            Some(row) => append_csv(
                &dir.join(&row.file),
                &row.columns,
                epoch,
                steps,
                &row.values,
            ),
            None => Ok(()),
        }
    }
}

/// Python's CSV file name for an evaluator: `{stem}_{name}_results.csv`, or `{stem}_results.csv`
/// without a name.
pub(crate) fn csv_file_name(stem: &str, name: &str) -> String {
    if name.is_empty() {
        format!("{stem}_results.csv")
    } else {
        format!("{stem}_{name}_results.csv")
    }
}

/// An error unless `e1` and `e2` have one row per pair each (`pairs`) and the same dimension.
pub(crate) fn check_pair_embeddings(e1: &Embeddings, e2: &Embeddings, pairs: usize) -> Result<()> {
    if e1.len() != pairs || e2.len() != pairs {
        return Err(Error::DimensionMismatch {
            what: "embeddings vs pairs".into(),
            left: e1.len().min(e2.len()),
            right: pairs,
        });
    }
    if e1.dim() != e2.dim() {
        return Err(Error::DimensionMismatch {
            what: "embedding dimension of sentences1 vs sentences2".into(),
            left: e1.dim(),
            right: e2.dim(),
        });
    }
    Ok(())
}

pub(crate) fn prefixed(name: &str, key: &str) -> String {
    if name.is_empty() {
        key.to_string()
    } else {
        format!("{name}_{key}")
    }
}

/// Appends `epoch,steps,values…` to a CSV file, writing `header` first when the file is new or empty.
/// A file with another header is an error (nothing appended).
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
    if values.len() != header.len() {
        return Err(Error::DimensionMismatch {
            what: format!("CSV values vs columns of {}", path.display()),
            left: values.len(),
            right: header.len(),
        });
    }
    let columns = format!("epoch,steps,{}", header.join(","));
    let new = std::fs::metadata(path)
        .map(|m| m.len() == 0)
        .unwrap_or(true);
    if !new {
        // Rows under another header would be read as the wrong measures.
        let mut first = String::new();
        std::fs::File::open(path)
            .and_then(|f| std::io::BufRead::read_line(&mut std::io::BufReader::new(f), &mut first))
            .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
        let first = first.trim_end_matches(['\n', '\r']);
        if first != columns {
            return Err(Error::InvalidInput(format!(
                "{} has the columns {first:?}, not {columns:?}: nothing was appended (write to another folder, or move the file away)",
                path.display()
            )));
        }
    }
    let mut text = String::new();
    if new {
        text.push_str(&columns);
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
