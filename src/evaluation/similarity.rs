//! `EmbeddingSimilarityEvaluator`: how well the model's similarity of sentence pairs correlates
//! (Pearson, Spearman) with gold scores, e.g. on STS Benchmark.

use std::collections::BTreeMap;

use super::evaluator::{
    check_pair_embeddings, csv_file_name, prefixed, CsvRow, EvalReport, Evaluator,
};
use super::stats::{pearson, spearman};
use crate::core::{Embeddings, Error, Result};
use crate::models::{EncodeOptions, SentenceTransformer};
use crate::util::SimilarityFunction;

/// Evaluates a model by the correlation of its pair similarities with gold scores.
///
/// Python: `EmbeddingSimilarityEvaluator(sentences1, sentences2, scores, name="sts-test")(model)`
/// → `{"sts-test_pearson_cosine": …, "sts-test_spearman_cosine": …}`; primary metric
/// `spearman_cosine` (or `spearman_max` with several similarity functions).
#[derive(Debug, Clone)]
pub struct EmbeddingSimilarityEvaluator {
    sentences1: Vec<String>,
    sentences2: Vec<String>,
    scores: Vec<f64>,
    /// Name used as the key prefix and in the CSV file name.
    pub name: String,
    /// Batch size for encoding (default 16).
    pub batch_size: usize,
    /// Similarity functions to report (default cosine only).
    pub similarity_fns: Vec<SimilarityFunction>,
    /// Show a progress bar while encoding.
    pub show_progress_bar: bool,
    /// Append a row to [`Self::csv_file`] at each evaluation during `fit` (default true, as Python).
    pub write_csv: bool,
}

impl EmbeddingSimilarityEvaluator {
    /// Pairs `(sentences1[i], sentences2[i])` with gold `scores[i]`; all three must have the same length (≥ 2).
    pub fn new<S: AsRef<str>, T: AsRef<str>>(
        sentences1: &[S],
        sentences2: &[T],
        scores: &[f32],
    ) -> Result<Self> {
        if sentences1.len() != sentences2.len() || sentences1.len() != scores.len() {
            return Err(Error::InvalidInput(format!(
                "sentences1, sentences2 and scores must have the same length ({}, {}, {})",
                sentences1.len(),
                sentences2.len(),
                scores.len()
            )));
        }
        if scores.len() < 2 {
            return Err(Error::InvalidInput(
                "a correlation needs at least 2 pairs".into(),
            ));
        }
        Ok(Self {
            sentences1: sentences1.iter().map(|s| s.as_ref().to_string()).collect(),
            sentences2: sentences2.iter().map(|s| s.as_ref().to_string()).collect(),
            scores: scores.iter().map(|&s| s as f64).collect(),
            name: String::new(),
            batch_size: 16,
            similarity_fns: vec![SimilarityFunction::Cosine],
            show_progress_bar: false,
            write_csv: true,
        })
    }

    /// From STS Benchmark pairs.
    pub fn from_sts(pairs: &[crate::datasets::sts::StsPair]) -> Result<Self> {
        let s1: Vec<&str> = pairs.iter().map(|p| p.sentence1.as_str()).collect();
        let s2: Vec<&str> = pairs.iter().map(|p| p.sentence2.as_str()).collect();
        let sc: Vec<f32> = pairs.iter().map(|p| p.score).collect();
        Self::new(&s1, &s2, &sc)
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
        self.scores.len()
    }
    /// Always false (at least 2 pairs).
    pub fn is_empty(&self) -> bool {
        self.scores.is_empty()
    }

    /// The CSV file this evaluator appends to: `similarity_evaluation_{name}_results.csv`.
    pub fn csv_file(&self) -> String {
        csv_file_name("similarity_evaluation", &self.name)
    }

    /// The report from precomputed embeddings of both sides (row `i` of each is pair `i`).
    pub fn evaluate_embeddings(&self, e1: &Embeddings, e2: &Embeddings) -> Result<EvalReport> {
        check_pair_embeddings(e1, e2, self.len())?;
        let mut metrics = BTreeMap::new();
        let mut spearmans = Vec::new();
        let mut pearsons = Vec::new();
        for f in &self.similarity_fns {
            let sims: Vec<f64> = (0..self.len()).map(|i| f.pair(&e1[i], &e2[i])).collect();
            let (p, s) = (pearson(&self.scores, &sims), spearman(&self.scores, &sims));
            metrics.insert(prefixed(&self.name, &format!("pearson_{}", f.name())), p);
            metrics.insert(prefixed(&self.name, &format!("spearman_{}", f.name())), s);
            pearsons.push(p);
            spearmans.push(s);
        }
        let primary = if self.similarity_fns.len() > 1 {
            metrics.insert(
                prefixed(&self.name, "pearson_max"),
                pearsons.iter().copied().fold(f64::NAN, f64::max),
            );
            metrics.insert(
                prefixed(&self.name, "spearman_max"),
                spearmans.iter().copied().fold(f64::NAN, f64::max),
            );
            prefixed(&self.name, "spearman_max")
        } else {
            prefixed(
                &self.name,
                &format!(
                    "spearman_{}",
                    self.similarity_fns.first().map_or("cosine", |f| f.name())
                ),
            )
        };
        Ok(EvalReport {
            name: self.name.clone(),
            primary,
            metrics,
        })
    }

    /// The report from precomputed similarity scores (one per pair) for one function.
    pub fn evaluate_scores(&self, sims: &[f64], f: SimilarityFunction) -> Result<EvalReport> {
        if sims.len() != self.len() {
            return Err(Error::DimensionMismatch {
                what: "scores vs pairs".into(),
                left: sims.len(),
                right: self.len(),
            });
        }
        let mut metrics = BTreeMap::new();
        metrics.insert(
            prefixed(&self.name, &format!("pearson_{}", f.name())),
            pearson(&self.scores, sims),
        );
        metrics.insert(
            prefixed(&self.name, &format!("spearman_{}", f.name())),
            spearman(&self.scores, sims),
        );
        Ok(EvalReport {
            name: self.name.clone(),
            primary: prefixed(&self.name, &format!("spearman_{}", f.name())),
            metrics,
        })
    }
}

impl Evaluator for EmbeddingSimilarityEvaluator {
    fn evaluate(&self, model: &SentenceTransformer) -> Result<EvalReport> {
        let opts = EncodeOptions::default()
            .batch_size(self.batch_size)
            .show_progress_bar(self.show_progress_bar);
        let e1 = model.encode(&self.sentences1, &opts)?;
        let e2 = model.encode(&self.sentences2, &opts)?;
        self.evaluate_embeddings(&e1, &e2)
    }

    /// `epoch,steps,cosine_pearson,cosine_spearman,…` in [`Self::csv_file`] (Python's columns).
    fn csv_row(&self, report: &EvalReport) -> Option<CsvRow> {
        if !self.write_csv {
            return None;
        }
        let mut columns = Vec::new();
        let mut values = Vec::new();
        for f in &self.similarity_fns {
            for m in ["pearson", "spearman"] {
                columns.push(format!("{}_{m}", f.name()));
                values.push(report.get(&format!("{m}_{}", f.name())).unwrap_or(f64::NAN));
            }
        }
        Some(CsvRow {
            file: self.csv_file(),
            columns,
            values,
        })
    }
}
