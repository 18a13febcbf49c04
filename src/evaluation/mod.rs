//! Evaluation: trec_eval-exact IR metrics, the `EmbeddingSimilarityEvaluator`, the
//! `BinaryClassificationEvaluator` and the `InformationRetrievalEvaluator`, the course project's run
//! comparison, the fusion of runs (`ranx.fuse`) and the significance report (`ranx.compare`).
//!
//! Every evaluator returns one [`EvalReport`] and can append a CSV row (`epoch,steps,…`, header
//! written once), as sentence-transformers' evaluators do.

pub mod binary_classification;
pub mod compare;
pub mod fusion;
pub mod ir_metrics;
pub mod report;
pub mod retrieval;
pub mod similarity;
pub mod stats;

pub mod evaluator;

pub use crate::util::SimilarityFunction;
pub use binary_classification::{binary_metrics, BinaryClassificationEvaluator, BinaryMetrics};
pub use compare::{QueryExplanation, RunComparison};
pub use evaluator::{append_csv, CsvRow, EvalReport, Evaluator};
pub use fusion::{fuse, FuseOptions, FusionMethod, Norm};
pub use ir_metrics::{evaluate, IrEvaluation, MeanComparison, Measure, Qrels, Run};
pub use report::{Report, ReportOptions, SignificanceTest};
pub use retrieval::{rerank_run_with_bi_encoder, InformationRetrievalEvaluator};
pub use similarity::EmbeddingSimilarityEvaluator;
pub use stats::{paired_randomization_test, paired_t_test, RandomizationTest, TTest};
