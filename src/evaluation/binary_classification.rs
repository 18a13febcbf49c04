//! `BinaryClassificationEvaluator`: how well a similarity threshold separates pairs labelled 1
//! (e.g. a question and its accepted answer) from pairs labelled 0 (a random answer).

use std::collections::{BTreeMap, HashMap};

use super::evaluator::{
    check_pair_embeddings, csv_file_name, prefixed, CsvRow, EvalReport, Evaluator,
};
use crate::core::{Embeddings, Error, Result};
use crate::models::{EncodeOptions, SentenceTransformer};
use crate::util::SimilarityFunction;

/// The metrics of one similarity function at its best thresholds, as Python computes them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BinaryMetrics {
    /// Best accuracy over all thresholds.
    pub accuracy: f64,
    /// The threshold that gives it (a similarity; a distance for Euclidean / Manhattan).
    pub accuracy_threshold: f64,
    /// Best F1 over all thresholds.
    pub f1: f64,
    /// Precision at the best-F1 threshold.
    pub precision: f64,
    /// Recall at the best-F1 threshold.
    pub recall: f64,
    /// The best-F1 threshold.
    pub f1_threshold: f64,
    /// Average precision of the ranking by score (scikit-learn's `average_precision_score`).
    pub ap: f64,
    /// Matthews correlation of the predictions at the best-F1 threshold.
    pub mcc: f64,
}

/// Python's `BinaryClassificationEvaluator(sentences1, sentences2, labels, name=…)`: accuracy,
/// F1, precision, recall, average precision and Matthews correlation at the best threshold.
/// Primary metric: `{name}_cosine_ap` (`max_ap` with several similarity functions).
#[derive(Debug, Clone)]
pub struct BinaryClassificationEvaluator {
    sentences1: Vec<String>,
    sentences2: Vec<String>,
    labels: Vec<bool>,
    /// Name used as the key prefix and in the CSV file name.
    pub name: String,
    /// Batch size for encoding (default 32, as Python).
    pub batch_size: usize,
    /// Similarity functions to report (default cosine).
    pub similarity_fns: Vec<SimilarityFunction>,
    /// Show a progress bar while encoding.
    pub show_progress_bar: bool,
    /// Append a row to [`Self::csv_file`] at each evaluation during `fit` (default true).
    pub write_csv: bool,
}

impl BinaryClassificationEvaluator {
    /// Pairs `(sentences1[i], sentences2[i])` with `labels[i]` 0 or 1; same lengths, at least one
    /// pair.
    pub fn new<S: AsRef<str>, T: AsRef<str>>(
        sentences1: &[S],
        sentences2: &[T],
        labels: &[f32],
    ) -> Result<Self> {
        if sentences1.len() != sentences2.len() || sentences1.len() != labels.len() {
            return Err(Error::InvalidInput(format!(
                "sentences1, sentences2 and labels must have the same length ({}, {}, {})",
                sentences1.len(),
                sentences2.len(),
                labels.len()
            )));
        }
        if labels.is_empty() {
            return Err(Error::InvalidInput(
                "a BinaryClassificationEvaluator needs at least one pair".into(),
            ));
        }
        let labels = labels
            .iter()
            .enumerate()
            .map(|(i, &l)| {
                if l == 1.0 || l == 0.0 {
                    Ok(l == 1.0)
                } else {
                    Err(Error::InvalidInput(format!(
                        "pair {i}: a BinaryClassificationEvaluator takes labels 0 or 1, got {l}"
                    )))
                }
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            sentences1: sentences1.iter().map(|s| s.as_ref().to_string()).collect(),
            sentences2: sentences2.iter().map(|s| s.as_ref().to_string()).collect(),
            labels,
            name: String::new(),
            batch_size: 32,
            similarity_fns: vec![SimilarityFunction::Cosine],
            show_progress_bar: false,
            write_csv: true,
        })
    }

    /// Sets the name.
    #[must_use]
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }
    /// Sets the similarity functions reported.
    #[must_use]
    pub fn similarity_fns(mut self, f: &[SimilarityFunction]) -> Self {
        self.similarity_fns = f.to_vec();
        self
    }
    /// Number of pairs.
    pub fn len(&self) -> usize {
        self.labels.len()
    }
    /// Always false (at least one pair).
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// `binary_classification_evaluation_{name}_results.csv`.
    pub fn csv_file(&self) -> String {
        csv_file_name("binary_classification_evaluation", &self.name)
    }

    /// The report from precomputed embeddings of both sides (row `i` of each is pair `i`).
    pub fn evaluate_embeddings(&self, e1: &Embeddings, e2: &Embeddings) -> Result<EvalReport> {
        check_pair_embeddings(e1, e2, self.len())?;
        let mut metrics = BTreeMap::new();
        let mut all = Vec::new();
        for f in &self.similarity_fns {
            // Python scores distances as distances (lower = more similar), similarities as is.
            let greater_is_better =
                matches!(f, SimilarityFunction::Cosine | SimilarityFunction::Dot);
            let sign = if greater_is_better { 1.0 } else { -1.0 };
            let scores: Vec<f64> = (0..self.len())
                .map(|i| sign * f.pair(&e1[i], &e2[i]))
                .collect();
            let m = binary_metrics(&scores, &self.labels, greater_is_better)?;
            for (key, v) in m.named() {
                metrics.insert(prefixed(&self.name, &format!("{}_{key}", f.name())), v);
            }
            all.push(m);
        }
        let primary = if self.similarity_fns.len() > 1 {
            for (j, key) in BinaryMetrics::KEYS.iter().enumerate() {
                let best = all.iter().map(|m| m.named()[j].1).fold(f64::NAN, f64::max);
                metrics.insert(prefixed(&self.name, &format!("max_{key}")), best);
            }
            prefixed(&self.name, "max_ap")
        } else {
            let f = self.similarity_fns.first().map_or("cosine", |f| f.name());
            prefixed(&self.name, &format!("{f}_ap"))
        };
        Ok(EvalReport {
            name: self.name.clone(),
            primary,
            metrics,
        })
    }
}

impl BinaryMetrics {
    /// Python's keys, in Python's CSV order.
    pub const KEYS: [&'static str; 8] = [
        "accuracy",
        "accuracy_threshold",
        "f1",
        "precision",
        "recall",
        "f1_threshold",
        "ap",
        "mcc",
    ];
    /// The metrics under Python's keys ([`Self::KEYS`]), in that order.
    pub fn named(&self) -> [(&'static str, f64); 8] {
        let v = [
            self.accuracy,
            self.accuracy_threshold,
            self.f1,
            self.precision,
            self.recall,
            self.f1_threshold,
            self.ap,
            self.mcc,
        ];
        std::array::from_fn(|i| (Self::KEYS[i], v[i]))
    }
}

/// Rows sorted best first (by score, descending when `greater_is_better`), ties kept in input order.
fn sorted_rows(scores: &[f64], labels: &[bool], greater_is_better: bool) -> Vec<(f64, bool)> {
    let mut rows: Vec<(f64, bool)> = scores.iter().copied().zip(labels.iter().copied()).collect();
    if greater_is_better {
        rows.sort_by(|a, b| b.0.total_cmp(&a.0));
    } else {
        rows.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    rows
}

/// The threshold between `score` and the next row's, as Python places it.
fn between(rows: &[(f64, bool)], i: usize) -> f64 {
    let score = rows[i].0;
    match rows.get(i + 1) {
        None => score,
        Some(&(next, _)) => {
            let mid = (score + next) / 2.0;
            if mid == next {
                score
            } else {
                mid
            }
        }
    }
}

/// Python's `find_best_acc_and_threshold`, `find_best_f1_and_threshold`, scikit-learn's
/// `average_precision_score` and `matthews_corrcoef` (at the best-F1 threshold), from one score
/// per pair. An error unless there is one label per score.
pub fn binary_metrics(
    scores: &[f64],
    labels: &[bool],
    greater_is_better: bool,
) -> Result<BinaryMetrics> {
    if scores.len() != labels.len() {
        return Err(Error::DimensionMismatch {
            what: "scores vs labels".into(),
            left: scores.len(),
            right: labels.len(),
        });
    }
    let rows = sorted_rows(scores, labels, greater_is_better);
    let n = rows.len() as f64;
    let total_pos = labels.iter().filter(|&&l| l).count();

    // Accuracy: everything up to the threshold predicted 1.
    let mut remaining_neg = labels.len() - total_pos;
    let mut pos_so_far = 0usize;
    let mut accuracy = remaining_neg as f64 / n;
    let mut accuracy_threshold = rows.first().map_or(-1.0, |r| {
        // np.nextafter(rows[0][0], ±inf) in float32, as Python's scores are
        let x = r.0 as f32;
        (if greater_is_better {
            x.next_up()
        } else {
            x.next_down()
        }) as f64
    });
    for i in 0..rows.len() {
        if rows[i].1 {
            pos_so_far += 1;
        } else {
            remaining_neg -= 1;
        }
        if i + 1 < rows.len() && rows[i].0 == rows[i + 1].0 {
            continue;
        }
        let acc = (pos_so_far + remaining_neg) as f64 / n;
        if acc > accuracy {
            accuracy = acc;
            accuracy_threshold = between(&rows, i);
        }
    }

    // F1, and average precision over the same distinct-score cut-offs.
    let (mut f1, mut precision, mut recall, mut f1_threshold) = (0.0, 0.0, 0.0, 0.0);
    let (mut extracted, mut correct) = (0usize, 0usize);
    let (mut ap, mut last_recall) = (0.0, 0.0);
    for i in 0..rows.len() {
        extracted += 1;
        if rows[i].1 {
            correct += 1;
        }
        if i + 1 < rows.len() && rows[i].0 == rows[i + 1].0 {
            continue;
        }
        if correct > 0 {
            let p = correct as f64 / extracted as f64;
            let r = correct as f64 / total_pos as f64;
            ap += (r - last_recall) * p;
            last_recall = r;
            let f = 2.0 * p * r / (p + r);
            if f > f1 {
                (f1, precision, recall) = (f, p, r);
                f1_threshold = between(&rows, i);
            }
        }
    }
    if total_pos == 0 {
        ap = f64::NAN;
    }

    // Matthews correlation of `score >= f1_threshold` (≤ for distances).
    let (mut tp, mut tn, mut fp, mut fneg) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
    for (&s, &l) in scores.iter().zip(labels) {
        let predicted = if greater_is_better {
            s >= f1_threshold
        } else {
            s <= f1_threshold
        };
        match (predicted, l) {
            (true, true) => tp += 1.0,
            (false, false) => tn += 1.0,
            (true, false) => fp += 1.0,
            (false, true) => fneg += 1.0,
        }
    }
    let denominator = ((tp + fp) * (tp + fneg) * (tn + fp) * (tn + fneg)).sqrt();
    let mcc = if denominator == 0.0 {
        0.0
    } else {
        (tp * tn - fp * fneg) / denominator
    };
    Ok(BinaryMetrics {
        accuracy,
        accuracy_threshold,
        f1,
        precision,
        recall,
        f1_threshold,
        ap,
        mcc,
    })
}

impl Evaluator for BinaryClassificationEvaluator {
    fn evaluate(&self, model: &SentenceTransformer) -> Result<EvalReport> {
        // Each distinct sentence is encoded once, as Python does.
        let mut unique: Vec<&str> = Vec::new();
        let mut index: HashMap<&str, usize> = HashMap::new();
        for s in self.sentences1.iter().chain(&self.sentences2) {
            index.entry(s.as_str()).or_insert_with(|| {
                unique.push(s.as_str());
                unique.len() - 1
            });
        }
        let opts = EncodeOptions::default()
            .batch_size(self.batch_size)
            .show_progress_bar(self.show_progress_bar);
        let all = model.encode(&unique, &opts)?;
        let pick = |side: &[String]| -> Result<Embeddings> {
            let rows: Vec<usize> = side.iter().map(|s| index[s.as_str()]).collect();
            all.select(&rows)
        };
        self.evaluate_embeddings(&pick(&self.sentences1)?, &pick(&self.sentences2)?)
    }

    /// `epoch,steps,cosine_accuracy,cosine_accuracy_threshold,…` (Python's columns).
    fn csv_row(&self, report: &EvalReport) -> Option<CsvRow> {
        if !self.write_csv {
            return None;
        }
        let mut columns = Vec::new();
        let mut values = Vec::new();
        for f in &self.similarity_fns {
            for key in BinaryMetrics::KEYS {
                let column = format!("{}_{key}", f.name());
                values.push(report.get(&column).unwrap_or(f64::NAN));
                columns.push(column);
            }
        }
        Some(CsvRow {
            file: self.csv_file(),
            columns,
            values,
        })
    }
}
