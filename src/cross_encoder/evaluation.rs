//! `CrossEncoderRerankingEvaluator`: re-rank fixed candidate lists with a cross-encoder and score
//! the result with trec_eval's measures (what `CrossEncoder.fit`'s evaluator reports).

use std::collections::HashMap;

use super::model::{CrossEncoder, PredictOptions};
use super::rerank::rerank_run;
use crate::core::Result;
use crate::datasets::RankedRun;
use crate::evaluation::{EvalReport, Evaluator, InformationRetrievalEvaluator};

/// Re-ranks each query's candidates (e.g. the bi-encoder's top 100) and evaluates the new order
/// on the collection's judgements with the measures of `ir` (the first is primary).
#[derive(Debug, Clone)]
pub struct CrossEncoderRerankingEvaluator {
    /// Collection, measures and name.
    pub ir: InformationRetrievalEvaluator,
    /// Candidate documents per query, best first.
    pub candidates: RankedRun,
    /// How many candidates of each query are re-ranked (the rest are dropped).
    pub rerank_top: usize,
    /// Batch size and progress bar of the cross-encoder.
    pub predict: PredictOptions,
}

impl CrossEncoderRerankingEvaluator {
    /// An evaluator re-ranking the top `rerank_top` of `candidates`.
    pub fn new(
        ir: InformationRetrievalEvaluator,
        candidates: RankedRun,
        rerank_top: usize,
    ) -> Self {
        Self {
            ir,
            candidates,
            rerank_top,
            predict: PredictOptions::default(),
        }
    }

    /// The re-ranked run.
    pub fn rerank(&self, model: &CrossEncoder) -> Result<RankedRun> {
        let texts: HashMap<&str, String> = self
            .ir
            .dataset
            .corpus
            .iter()
            .map(|d| (d.id.as_str(), d.contents()))
            .collect();
        rerank_run(
            model,
            &self.ir.dataset.queries,
            &self.candidates,
            |id| texts.get(id).cloned(),
            self.rerank_top,
            &self.predict,
        )
    }
}

impl Evaluator<CrossEncoder> for CrossEncoderRerankingEvaluator {
    fn evaluate(&self, model: &CrossEncoder) -> Result<EvalReport> {
        Ok(self.ir.report_for_run(&self.rerank(model)?))
    }
}
