//! `CrossEncoderRerankingEvaluator` (Python's, formerly `CERerankingEvaluator`): each sample's
//! candidate documents re-ranked by a cross-encoder, scored with MAP, MRR@k and nDCG@k as
//! sentence-transformers scores them (scikit-learn's tie rules), logged to Python's CSV.

use std::collections::{BTreeMap, HashSet};

use super::model::{CrossEncoder, PredictOptions};
use crate::core::{Error, Result};
use crate::datasets::{RankedRun, RetrievalDataset};
use crate::evaluation::evaluator::prefixed;
use crate::evaluation::{CsvRow, EvalReport, Evaluator};

/// What a sample's query is ranked against besides its positives.
#[derive(Debug, Clone, PartialEq)]
pub enum Candidates {
    /// Python's `"negative"`: the documents ranked are the positives followed by these.
    Negative(Vec<String>),
    /// Python's `"documents"`: a first stage's ranking (BM25's, a bi-encoder's top 100), best
    /// first, which may miss some positives; its own order gives the `base_` metrics.
    Documents(Vec<String>),
}

/// One query with its relevant documents and its candidates (Python's
/// `{"query": …, "positive": […], "negative": […]}` or `{…, "documents": […]}`).
#[derive(Debug, Clone, PartialEq)]
pub struct RerankingSample {
    /// The query.
    pub query: String,
    /// The relevant documents' texts.
    pub positive: Vec<String>,
    /// The other documents ranked.
    pub candidates: Candidates,
}

impl RerankingSample {
    /// A sample with positives and negatives.
    pub fn with_negatives(
        query: impl Into<String>,
        positive: Vec<String>,
        negative: Vec<String>,
    ) -> Self {
        Self {
            query: query.into(),
            positive,
            candidates: Candidates::Negative(negative),
        }
    }
    /// A sample with a first stage's ranked documents.
    pub fn with_documents(
        query: impl Into<String>,
        positive: Vec<String>,
        documents: Vec<String>,
    ) -> Self {
        Self {
            query: query.into(),
            positive,
            candidates: Candidates::Documents(documents),
        }
    }
}

/// Re-ranks every sample's documents with a cross-encoder and reports the means of MAP, MRR@k and
/// nDCG@k (primary: nDCG@k), as Python's `CrossEncoderRerankingEvaluator`; with `Documents`
/// samples also the first stage's own `base_map`, `base_mrr@k`, `base_ndcg@k`. During
/// `CrossEncoder` training (or [`Evaluator::evaluate_and_log`]) it appends
/// `epoch,steps,MAP,MRR@k,NDCG@k` to `CrossEncoderRerankingEvaluator[_name]_results_@k.csv`.
///
/// A sample without positives counts 0 for every measure, as in Python. Among equal scores, MRR
/// takes the later candidate first (Python's `argsort(scores)[::-1]` with a stable sort; NumPy's
/// default sort is not stable where it uses SIMD sorting networks, so Python's own order of ties
/// depends on the CPU), and nDCG and MAP average over the tie (scikit-learn's `ndcg_score` and
/// `average_precision_score`). Equal to sentence-transformers 6.2 in `tests/cross_encoder.rs`
/// (golden from `scripts/make_golden_ce_reranking.py`).
#[derive(Debug, Clone)]
pub struct CrossEncoderRerankingEvaluator {
    /// The samples.
    pub samples: Vec<RerankingSample>,
    /// The cut-off of MRR and nDCG (default 10).
    pub at_k: usize,
    /// With `Documents` samples: put every positive into the ranked list even where the first
    /// stage missed it (default true, as Python).
    pub always_rerank_positives: bool,
    /// Prefix of the metric keys and part of the CSV's name.
    pub name: String,
    /// Batch size (default 64, as Python) and progress bar of the cross-encoder.
    pub predict: PredictOptions,
    /// Whether training logs write the CSV (default true).
    pub write_csv: bool,
}

impl CrossEncoderRerankingEvaluator {
    /// An evaluator of `samples` (at_k 10).
    pub fn new(samples: Vec<RerankingSample>) -> Self {
        Self {
            samples,
            at_k: 10,
            always_rerank_positives: true,
            name: String::new(),
            predict: PredictOptions {
                batch_size: 64,
                ..PredictOptions::default()
            },
            write_csv: true,
        }
    }

    /// Samples from a collection and a first-stage run (BM25's, a bi-encoder's): for each query of
    /// `dataset` the run ranks, its relevant documents' texts as positives (grade ≥ 1) and the
    /// texts of the run's first `top` documents as `Documents`.
    pub fn from_run(dataset: &RetrievalDataset, run: &RankedRun, top: usize) -> Result<Self> {
        if top == 0 {
            return Err(Error::InvalidInput(
                "top must be at least 1 (the documents re-ranked per query)".into(),
            ));
        }
        let texts: BTreeMap<&str, String> = dataset
            .corpus
            .iter()
            .map(|d| (d.id.as_str(), d.contents()))
            .collect();
        let queries: BTreeMap<&str, &str> = dataset
            .queries
            .iter()
            .map(|q| (q.id.as_str(), q.text.as_str()))
            .collect();
        let text_of = |id: &str| {
            texts.get(id).cloned().ok_or_else(|| {
                Error::InvalidInput(format!("document {id:?} of the run is not in the corpus"))
            })
        };
        let mut samples = Vec::new();
        for (qid, hits) in run {
            let Some(query) = queries.get(qid.as_str()) else {
                continue;
            };
            let mut positive = Vec::new();
            if let Some(judged) = dataset.qrels.get(qid) {
                for (doc, grade) in judged {
                    if *grade >= 1 {
                        positive.push(text_of(doc)?);
                    }
                }
            }
            let documents = hits
                .iter()
                .take(top)
                .map(|(d, _)| text_of(d))
                .collect::<Result<Vec<_>>>()?;
            samples.push(RerankingSample::with_documents(*query, positive, documents));
        }
        Ok(Self::new(samples))
    }

    /// Sets `at_k`.
    pub fn at_k(mut self, at_k: usize) -> Self {
        self.at_k = at_k;
        self
    }

    /// Sets the name.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// The report with `score` as the cross-encoder: it gets every `(query, document)` pair of
    /// the samples at once and returns one score per pair (what [`Evaluator::evaluate`] does with
    /// `CrossEncoder::predict`).
    pub fn evaluate_with(
        &self,
        score: impl FnOnce(&[(String, String)]) -> Result<Vec<f32>>,
    ) -> Result<EvalReport> {
        if self.samples.is_empty() {
            return Err(Error::InvalidInput(
                "CrossEncoderRerankingEvaluator needs at least one sample".into(),
            ));
        }
        if self.at_k == 0 {
            return Err(Error::InvalidInput("at_k must be at least 1".into()));
        }
        let k = self.at_k;
        let mut base = Vec::new();
        let mut pairs = Vec::new();
        // Per sample: its relevance labels and how many pairs it sent (None: no positive).
        let mut ranked: Vec<Option<Vec<bool>>> = Vec::new();
        for s in &self.samples {
            let (docs, relevant): (Vec<&String>, Vec<bool>) = match &s.candidates {
                Candidates::Negative(negative) => (
                    s.positive.iter().chain(negative).collect(),
                    s.positive
                        .iter()
                        .map(|_| true)
                        .chain(negative.iter().map(|_| false))
                        .collect(),
                ),
                Candidates::Documents(documents) => {
                    let positives: HashSet<&String> = s.positive.iter().collect();
                    let mut is_relevant: Vec<bool> =
                        documents.iter().map(|d| positives.contains(d)).collect();
                    let found = is_relevant.iter().filter(|r| **r).count();
                    base.push(if found == 0 {
                        (0.0, 0.0, 0.0)
                    } else {
                        // Positives the first stage missed count as ranked after its list.
                        is_relevant.extend(std::iter::repeat_n(true, s.positive.len() - found));
                        let n = is_relevant.len();
                        let order: Vec<f32> = (0..n).map(|i| (n - i) as f32).collect();
                        reranking_metrics(&is_relevant, &order, k)
                    });
                    if self.always_rerank_positives {
                        let docs: Vec<&String> = s
                            .positive
                            .iter()
                            .chain(documents.iter().filter(|d| !positives.contains(d)))
                            .collect();
                        let relevant = (0..docs.len()).map(|i| i < s.positive.len()).collect();
                        (docs, relevant)
                    } else {
                        let relevant = documents.iter().map(|d| positives.contains(d)).collect();
                        (documents.iter().collect(), relevant)
                    }
                }
            };
            if !relevant.iter().any(|r| *r) {
                ranked.push(None);
                continue;
            }
            pairs.extend(docs.iter().map(|d| (s.query.clone(), (*d).clone())));
            ranked.push(Some(relevant));
        }
        let scores = if pairs.is_empty() {
            Vec::new()
        } else {
            score(&pairs)?
        };
        if scores.len() != pairs.len() {
            return Err(Error::DimensionMismatch {
                what: "cross-encoder scores vs (query, document) pairs".into(),
                left: scores.len(),
                right: pairs.len(),
            });
        }
        let mut offset = 0;
        let per_sample: Vec<(f64, f64, f64)> = ranked
            .iter()
            .map(|r| match r {
                None => (0.0, 0.0, 0.0),
                Some(relevant) => {
                    let s = &scores[offset..offset + relevant.len()];
                    offset += relevant.len();
                    reranking_metrics(relevant, s, k)
                }
            })
            .collect();
        let mean = |v: &[(f64, f64, f64)], f: fn(&(f64, f64, f64)) -> f64| {
            v.iter().map(f).sum::<f64>() / v.len() as f64
        };
        let mut metrics = BTreeMap::new();
        let mut put = |key: String, value: f64| {
            metrics.insert(prefixed(&self.name, &key), value);
        };
        put("map".into(), mean(&per_sample, |m| m.2));
        put(format!("mrr@{k}"), mean(&per_sample, |m| m.0));
        put(format!("ndcg@{k}"), mean(&per_sample, |m| m.1));
        if !base.is_empty() {
            put("base_map".into(), mean(&base, |m| m.2));
            put(format!("base_mrr@{k}"), mean(&base, |m| m.0));
            put(format!("base_ndcg@{k}"), mean(&base, |m| m.1));
        }
        Ok(EvalReport {
            name: self.name.clone(),
            primary: prefixed(&self.name, &format!("ndcg@{k}")),
            metrics,
        })
    }
}

impl Evaluator<CrossEncoder> for CrossEncoderRerankingEvaluator {
    fn evaluate(&self, model: &CrossEncoder) -> Result<EvalReport> {
        self.evaluate_with(|pairs| model.predict(pairs, &self.predict))
    }

    fn csv_row(&self, report: &EvalReport) -> Option<CsvRow> {
        if !self.write_csv {
            return None;
        }
        let k = self.at_k;
        let file = format!(
            "CrossEncoderRerankingEvaluator{}_results_@{k}.csv",
            if self.name.is_empty() {
                String::new()
            } else {
                format!("_{}", self.name)
            }
        );
        let keys = ["map".to_string(), format!("mrr@{k}"), format!("ndcg@{k}")];
        Some(CsvRow {
            file,
            columns: vec!["MAP".into(), format!("MRR@{k}"), format!("NDCG@{k}")],
            values: keys
                .iter()
                .map(|key| report.get(key).unwrap_or(f64::NAN))
                .collect(),
        })
    }
}

/// `(MRR@k, nDCG@k, AP)` of one ranked list as sentence-transformers computes them
/// (`compute_metrics`): `relevant[i]` and `scores[i]` describe candidate `i`.
///
/// - MRR@k: 1 / rank of the first relevant candidate in the top k by score (ties: the later
///   candidate first), 0 if none.
/// - nDCG@k: scikit-learn's `ndcg_score(…, k)`: candidates with equal scores share the average of
///   their gains over their positions' discounts `1 / log2(position + 1)` (positions past k count 0),
///   divided by the ideal DCG@k.
/// - AP: scikit-learn's `average_precision_score`: the sum over the distinct scores, from the
///   highest, of the recall gained there times the precision of all candidates scoring at least it.
pub fn reranking_metrics(relevant: &[bool], scores: &[f32], k: usize) -> (f64, f64, f64) {
    let n = relevant.len().min(scores.len());
    let total = relevant[..n].iter().filter(|r| **r).count();
    if n == 0 || total == 0 {
        return (0.0, 0.0, 0.0);
    }
    // Best first; among equal scores the later candidate first (reversed stable argsort).
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(b.cmp(&a)));
    let mrr = order
        .iter()
        .take(k)
        .position(|&i| relevant[i])
        .map_or(0.0, |r| 1.0 / (r + 1) as f64);

    let discount = |pos: usize| {
        if pos < k {
            1.0 / ((pos + 2) as f64).log2()
        } else {
            0.0
        }
    };
    let (mut dcg, mut ap, mut start) = (0.0, 0.0, 0);
    let (mut tp, mut seen) = (0usize, 0usize);
    while start < n {
        let score = scores[order[start]];
        let end = start
            + order[start..]
                .iter()
                .take_while(|&&i| scores[i] == score)
                .count();
        let gains = order[start..end].iter().filter(|&&i| relevant[i]).count();
        let discounts: f64 = (start..end).map(discount).sum();
        dcg += gains as f64 / (end - start) as f64 * discounts;
        seen += end - start;
        if gains > 0 {
            tp += gains;
            ap += gains as f64 / total as f64 * (tp as f64 / seen as f64);
        }
        start = end;
    }
    let ideal: f64 = (0..total).map(discount).sum();
    (mrr, dcg / ideal, ap)
}
