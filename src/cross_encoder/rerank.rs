//! Retrieve & re-rank: a first-stage run re-scored by a cross-encoder, score interpolation and
//! the tuning of its weight.

use super::model::{CrossEncoder, PredictOptions};
use crate::core::{Error, Result};
use crate::datasets::run::rerank_head;
use crate::datasets::{Query, RankedRun, RetrievalDataset};
use crate::display::{impl_display, LineChart, Progress, Section, Tabular};
use crate::evaluation::retrieval::retrieve;
use crate::models::{EncodeOptions, SentenceTransformer};
use crate::util::ScoreFunction;

/// Retrieve & re-rank in one call: the bi-encoder's top `top_k` documents of each query of
/// `dataset` (exact cosine search), the first `rerank_top` of them re-scored by the cross-encoder
/// (see [`rerank_run`]), best first.
pub fn retrieve_and_rerank(
    bi_encoder: &SentenceTransformer,
    cross_encoder: &CrossEncoder,
    dataset: &RetrievalDataset,
    top_k: usize,
    rerank_top: usize,
    encode: &EncodeOptions,
    predict: &PredictOptions,
) -> Result<RankedRun> {
    let run = retrieve(
        bi_encoder,
        dataset,
        top_k.max(rerank_top),
        ScoreFunction::Cosine,
        encode,
    )?;
    let texts: std::collections::HashMap<&str, String> = dataset
        .corpus
        .iter()
        .map(|d| (d.id.as_str(), d.contents()))
        .collect();
    rerank_run(
        cross_encoder,
        &dataset.queries,
        &run,
        |id| texts.get(id).cloned(),
        rerank_top,
        predict,
    )
}

/// Retrieve & re-rank: each query's bi-encoder top `rerank_top` documents of `run`, re-scored by the
/// cross-encoder and sorted by that score (best first, ties by the bi-encoder's order). The
/// documents past `rerank_top` keep their bi-encoder order after them, with scores below every
/// re-ranked one (lowest re-ranked score − 1, − 2, …), so the run keeps its depth (recall@depth is
/// unchanged). `doc_text(id)` gives a document's text.
pub fn rerank_run(
    cross_encoder: &CrossEncoder,
    queries: &[Query],
    run: &RankedRun,
    doc_text: impl Fn(&str) -> Option<String>,
    rerank_top: usize,
    opts: &PredictOptions,
) -> Result<RankedRun> {
    let texts: std::collections::HashMap<&str, &str> = queries
        .iter()
        .map(|q| (q.id.as_str(), q.text.as_str()))
        .collect();
    let mut out = Vec::with_capacity(run.len());
    // One progress bar over the queries (not one per query's batch).
    let mut progress = Progress::new(run.len() as u64, "Queries", opts.show_progress_bar);
    let opts = &PredictOptions {
        show_progress_bar: false,
        ..opts.clone()
    };
    for (qid, docs) in run {
        let q = texts
            .get(qid.as_str())
            .ok_or_else(|| Error::InvalidInput(format!("query {qid} of the run has no text")))?;
        let top: Vec<&(String, f32)> = docs.iter().take(rerank_top).collect();
        let doc_texts: Vec<String> = top
            .iter()
            .map(|(d, _)| {
                doc_text(d).ok_or_else(|| {
                    Error::InvalidInput(format!("document {d} of the run has no text"))
                })
            })
            .collect::<Result<_>>()?;
        let pairs: Vec<(&str, &str)> = doc_texts.iter().map(|t| (*q, t.as_str())).collect();
        let scores = cross_encoder.predict(&pairs, opts)?;
        out.push((qid.clone(), rerank_head(docs, &scores)));
        progress.inc(1);
    }
    progress.finish();
    Ok(out)
}

/// Retrieve & re-rank with score interpolation: each query's first `rerank_top` documents of
/// `first_stage` get `weight · z(first-stage score) + (1 − weight) · z(cross-encoder score)`, each
/// score z-normalised over those documents (cosines and logits live on different scales), sorted
/// by it (ties: first-stage order); the rest keep their first-stage order after them, as in
/// [`rerank_run`]. `weight` 0 is the cross-encoder's order, 1 the bi-encoder's.
///
/// Interpolating the first-stage score is a standard re-ranking step (e.g. BEIR and TREC re-rankers
/// interpolate BM25 or dense scores): a cross-encoder trained on little data knows things the
/// bi-encoder does not, but is less reliable alone. `reranked` is [`rerank_run`]'s output for the
/// same run (logits — `apply_activation: false` — keep more of the cross-encoder's information than
/// sigmoid scores); choose `weight` on validation queries with [`tune_interpolation`], never on the
/// test queries.
pub fn interpolate_scores(
    first_stage: &RankedRun,
    reranked: &RankedRun,
    rerank_top: usize,
    weight: f32,
) -> Result<RankedRun> {
    if !(0.0..=1.0).contains(&weight) {
        return Err(Error::InvalidInput(format!(
            "interpolation weight {weight} is not in [0, 1]"
        )));
    }
    let ce: std::collections::HashMap<&str, std::collections::HashMap<&str, f32>> = reranked
        .iter()
        .map(|(q, docs)| {
            (
                q.as_str(),
                docs.iter().map(|(d, s)| (d.as_str(), *s)).collect(),
            )
        })
        .collect();
    let z = |v: &[f32]| -> Vec<f32> {
        let n = v.len().max(1) as f32;
        let mean = v.iter().sum::<f32>() / n;
        let sd = (v.iter().map(|x| (x - mean) * (x - mean)).sum::<f32>() / n).sqrt();
        v.iter()
            .map(|x| if sd > 0.0 { (x - mean) / sd } else { 0.0 })
            .collect()
    };
    let mut out = Vec::with_capacity(first_stage.len());
    for (qid, docs) in first_stage {
        let scores = ce.get(qid.as_str()).ok_or_else(|| {
            Error::InvalidInput(format!("query {qid} is not in the re-ranked run"))
        })?;
        let top = &docs[..rerank_top.min(docs.len())];
        let first: Vec<f32> = top.iter().map(|d| d.1).collect();
        let cross: Vec<f32> = top
            .iter()
            .map(|(d, _)| {
                scores.get(d.as_str()).copied().ok_or_else(|| {
                    Error::InvalidInput(format!(
                        "document {d} of query {qid} has no cross-encoder score"
                    ))
                })
            })
            .collect::<Result<_>>()?;
        let (zf, zc) = (z(&first), z(&cross));
        let fused: Vec<f32> = zf
            .iter()
            .zip(&zc)
            .map(|(a, b)| weight * a + (1.0 - weight) * b)
            .collect();
        let ranked = rerank_head(docs, &fused);
        out.push((qid.clone(), ranked));
    }
    Ok(out)
}

/// The interpolation weights tried by [`tune_interpolation`] and the mean measure of each.
#[derive(Debug, Clone, PartialEq)]
pub struct InterpolationSweep {
    /// The measure (trec_eval name).
    pub measure: String,
    /// (weight, mean measure), weight 0 (cross-encoder alone) to 1 (bi-encoder alone).
    pub values: Vec<(f32, f64)>,
    /// The weight with the best mean (ties: the larger weight, closer to the bi-encoder).
    pub best: f32,
}

/// Tries interpolation weights 0, 0.05, …, 1 on validation queries (`qrels`) and returns each
/// one's mean `measure` and the best weight (see [`interpolate_scores`]).
pub fn tune_interpolation(
    qrels: &crate::evaluation::Qrels,
    first_stage: &RankedRun,
    reranked: &RankedRun,
    rerank_top: usize,
    measure: crate::evaluation::Measure,
) -> Result<InterpolationSweep> {
    let mut values = Vec::new();
    for k in 0..=20 {
        let w = k as f32 / 20.0;
        let run = interpolate_scores(first_stage, reranked, rerank_top, w)?;
        let e = crate::evaluation::evaluate(
            qrels,
            &crate::evaluation::retrieval::to_run(&run),
            &[measure],
            1,
        );
        values.push((
            w,
            e.mean
                .get(&measure.to_string())
                .copied()
                .unwrap_or(f64::NAN),
        ));
    }
    let best = values
        .iter()
        .fold((0.0f32, f64::NEG_INFINITY), |b, &(w, v)| {
            if v >= b.1 {
                (w, v)
            } else {
                b
            }
        })
        .0;
    Ok(InterpolationSweep {
        measure: measure.to_string(),
        values,
        best,
    })
}

impl InterpolationSweep {
    /// The sweep as a line chart (SVG in a notebook).
    pub fn chart(&self) -> LineChart {
        LineChart::new(
            format!("Validation {} by interpolation weight", self.measure),
            "weight of the bi-encoder score",
            self.measure.clone(),
        )
        .series(
            self.measure.clone(),
            self.values.iter().map(|&(w, v)| (w as f64, v)).collect(),
        )
    }
}

impl Tabular for InterpolationSweep {
    fn sections(&self) -> Vec<Section> {
        let rows = self
            .values
            .iter()
            .map(|&(w, v)| {
                vec![
                    format!("{w:.2}"),
                    format!("{v:.4}"),
                    if w == self.best {
                        "best".into()
                    } else {
                        String::new()
                    },
                ]
            })
            .collect();
        vec![Section {
            title: Some(format!(
                "Interpolation weight (bi-encoder share) → mean {}",
                self.measure
            )),
            header: ["weight", &self.measure, ""].map(String::from).to_vec(),
            rows,
            more: 0,
        }]
    }
}

impl_display!(InterpolationSweep);
