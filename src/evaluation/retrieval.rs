//! `InformationRetrievalEvaluator`: retrieve with the model, score with trec_eval's measures.

use std::collections::BTreeMap;

use super::evaluator::{csv_file_name, prefixed, CsvRow, EvalReport, Evaluator};
use super::ir_metrics::{evaluate, IrEvaluation, Measure};
use crate::core::{Error, Result};
use crate::datasets::run::rerank_head;
pub use crate::datasets::run::{to_ranked_run, to_run, RankedRun};
use crate::datasets::{Query, RetrievalDataset};
use crate::models::{EncodeOptions, SentenceTransformer};
use crate::util::{
    quantize_embeddings, semantic_search, semantic_search_quantized,
    semantic_search_quantized_rescored, Precision, QuantizedSearchOptions, ScoreFunction,
    SearchOptions,
};

/// Encodes the corpus and the queries and returns each query's `top_k` documents (exact search).
pub fn retrieve(
    model: &SentenceTransformer,
    dataset: &RetrievalDataset,
    top_k: usize,
    score_function: ScoreFunction,
    encode: &EncodeOptions,
) -> Result<RankedRun> {
    dataset.check_unique_ids()?;
    let corpus = model.encode(&dataset.corpus_texts(), encode)?;
    let queries = model.encode(&dataset.query_texts(), encode)?;
    let hits = semantic_search(
        &queries,
        &corpus,
        &SearchOptions::default()
            .top_k(top_k)
            .score_function(score_function),
    )?;
    Ok(to_ranked_run(dataset, &hits))
}

/// [`retrieve`] over the corpus quantized to `precision` (Python's `semantic_search_usearch` with
/// `corpus_precision`): the corpus embeddings are quantized (int8 / uint8 ranges calibrated on
/// the corpus itself) and searched with the f32 queries by
/// [`semantic_search_quantized`](crate::util::semantic_search_quantized), rescoring as `search`
/// says — from the searched values (Python's rescoring) or, with `rescore_from`, from a second
/// copy of the corpus in that precision (binary searched, int8 rescored:
/// [`semantic_search_quantized_rescored`](crate::util::semantic_search_quantized_rescored)).
/// Quantized scores are dot products, so for cosine both sides are L2-normalised first.
pub fn retrieve_quantized(
    model: &SentenceTransformer,
    dataset: &RetrievalDataset,
    precision: Precision,
    rescore_from: Option<Precision>,
    search: &QuantizedSearchOptions,
    score_function: ScoreFunction,
    encode: &EncodeOptions,
) -> Result<RankedRun> {
    dataset.check_unique_ids()?;
    let encode = match score_function {
        ScoreFunction::Cosine => encode.clone().normalize_embeddings(true),
        ScoreFunction::Dot => encode.clone(),
        other => {
            return Err(Error::InvalidInput(format!(
                "a quantized search scores with cosine or dot, not {other}"
            )))
        }
    };
    let corpus = model.encode(&dataset.corpus_texts(), &encode)?;
    let queries = model.encode(&dataset.query_texts(), &encode)?;
    let quantized = quantize_embeddings(&corpus, precision, None, None)?;
    let hits = match rescore_from {
        Some(p) => {
            let copy = quantize_embeddings(&corpus, p, None, None)?;
            drop(corpus);
            semantic_search_quantized_rescored(&queries, &quantized, &copy, search)?
        }
        None => {
            drop(corpus);
            semantic_search_quantized(&queries, &quantized, search)?
        }
    };
    Ok(to_ranked_run(dataset, &hits))
}

/// Re-ranks any run (BM25's, another model's, a fusion) with a bi-encoder: each query's first
/// `rerank_top` documents re-scored by `score_function` (cosine, dot, …) between the model's query and document
/// embeddings and sorted by it (ties: the run's order), the rest after them in the run's order
/// with lower scores, as [`crate::cross_encoder::rerank_run`] does with a cross-encoder. Each
/// document is encoded once, however many queries rank it. `doc_text(id)` gives a document's text.
pub fn rerank_run_with_bi_encoder(
    model: &SentenceTransformer,
    queries: &[Query],
    run: &RankedRun,
    doc_text: impl Fn(&str) -> Option<String>,
    rerank_top: usize,
    score_function: ScoreFunction,
    encode: &EncodeOptions,
) -> Result<RankedRun> {
    if rerank_top == 0 {
        return Err(Error::InvalidInput(
            "rerank_top must be at least 1 (the documents re-scored per query)".into(),
        ));
    }
    let query_text: BTreeMap<&str, &str> = queries
        .iter()
        .map(|q| (q.id.as_str(), q.text.as_str()))
        .collect();
    let mut doc_row: BTreeMap<&str, usize> = BTreeMap::new();
    let mut doc_texts = Vec::new();
    let mut query_texts = Vec::with_capacity(run.len());
    for (qid, docs) in run {
        let q = query_text
            .get(qid.as_str())
            .ok_or_else(|| Error::InvalidInput(format!("query {qid} of the run has no text")))?;
        query_texts.push(*q);
        for (d, _) in docs.iter().take(rerank_top) {
            if !doc_row.contains_key(d.as_str()) {
                let text = doc_text(d).ok_or_else(|| {
                    Error::InvalidInput(format!("document {d} of the run has no text"))
                })?;
                doc_row.insert(d, doc_texts.len());
                doc_texts.push(text);
            }
        }
    }
    if run.is_empty() {
        return Ok(Vec::new());
    }
    let q_emb = model.encode(&query_texts, encode)?;
    let d_emb = model.encode(&doc_texts, encode)?;
    let mut out = Vec::with_capacity(run.len());
    for (i, (qid, docs)) in run.iter().enumerate() {
        let head: Vec<usize> = docs
            .iter()
            .take(rerank_top)
            .map(|(d, _)| doc_row[d.as_str()])
            .collect();
        if head.is_empty() {
            out.push((qid.clone(), docs.clone()));
            continue;
        }
        let query = q_emb.row(i)?;
        let scores = head
            .iter()
            .map(|&r| Ok(score_function.pair(query, d_emb.row(r)?) as f32))
            .collect::<Result<Vec<f32>>>()?;
        out.push((qid.clone(), rerank_head(docs, &scores)));
    }
    Ok(out)
}

/// Evaluates a model on a retrieval collection (Python's `InformationRetrievalEvaluator`, with
/// trec_eval's exact measures instead of its own approximations).
#[derive(Debug, Clone)]
pub struct InformationRetrievalEvaluator {
    /// The collection; only queries with judgements are searched.
    pub dataset: RetrievalDataset,
    /// Key prefix and CSV name.
    pub name: String,
    /// Measures reported (default: nDCG@10, recall@100, MAP, MRR, P@5). The first is primary.
    pub measures: Vec<Measure>,
    /// Retrieval depth (default 100).
    pub top_k: usize,
    /// Grade from which a document counts as relevant (default 1).
    pub rel_level: i32,
    /// Cosine (default) or dot.
    pub score_function: ScoreFunction,
    /// Encoding options (batch 32 by default).
    pub encode: EncodeOptions,
}

impl InformationRetrievalEvaluator {
    /// An evaluator over the judged queries of `dataset`.
    pub fn new(dataset: RetrievalDataset) -> Self {
        Self {
            dataset: dataset.judged_queries_only(),
            name: String::new(),
            measures: Measure::beir(),
            top_k: 100,
            rel_level: 1,
            score_function: ScoreFunction::Cosine,
            encode: EncodeOptions::default(),
        }
    }
    /// Sets the name.
    #[must_use]
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }
    /// Sets the measures (the first is primary).
    #[must_use]
    pub fn measures(mut self, m: &[Measure]) -> Self {
        self.measures = m.to_vec();
        self
    }
    /// Sets how the corpus and queries are encoded (e.g. with an embedding cache folder).
    #[must_use]
    pub fn encode_options(mut self, opts: EncodeOptions) -> Self {
        self.encode = opts;
        self
    }

    /// Retrieves with `model` (the run that [`Self::evaluate_run`] scores).
    pub fn retrieve(&self, model: &SentenceTransformer) -> Result<RankedRun> {
        retrieve(
            model,
            &self.dataset,
            self.top_k,
            self.score_function,
            &self.encode,
        )
    }

    /// trec_eval measures of a run against this collection's qrels.
    pub fn evaluate_run(&self, run: &RankedRun) -> IrEvaluation {
        evaluate(
            &self.dataset.qrels,
            &to_run(run),
            &self.measures,
            self.rel_level,
        )
    }

    /// The report of a run already retrieved (what [`Evaluator::evaluate`] returns, without re-encoding).
    pub fn report_for_run(&self, run: &RankedRun) -> EvalReport {
        self.report(&self.evaluate_run(run))
    }

    fn report(&self, ev: &IrEvaluation) -> EvalReport {
        let metrics: BTreeMap<String, f64> = ev
            .mean
            .iter()
            .map(|(k, v)| (prefixed(&self.name, k), *v))
            .collect();
        let primary = prefixed(
            &self.name,
            &self
                .measures
                .first()
                .map_or("ndcg_cut_10".into(), Measure::to_string),
        );
        EvalReport {
            name: self.name.clone(),
            primary,
            metrics,
        }
    }
}

impl Evaluator for InformationRetrievalEvaluator {
    fn evaluate(&self, model: &SentenceTransformer) -> Result<EvalReport> {
        let run = self.retrieve(model)?;
        Ok(self.report(&self.evaluate_run(&run)))
    }

    /// `epoch,steps,<measures>` in `Information-Retrieval_evaluation_{name}_results.csv`.
    fn csv_row(&self, report: &EvalReport) -> Option<CsvRow> {
        let columns: Vec<String> = self.measures.iter().map(Measure::to_string).collect();
        let values = columns
            .iter()
            .map(|m| report.get(m).unwrap_or(f64::NAN))
            .collect();
        Some(CsvRow {
            file: csv_file_name("Information-Retrieval_evaluation", &self.name),
            columns,
            values,
        })
    }
}
