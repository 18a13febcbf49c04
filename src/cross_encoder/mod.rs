//! `CrossEncoder`: both texts through the encoder at once → one relevance score (Python's
//! `sentence_transformers.cross_encoder.CrossEncoder`), loaded from the Hugging Face
//! sequence-classification format of any family (`BertForSequenceClassification`,
//! `RobertaForSequenceClassification`, …: encoder and classification head).
//!
//! [`model`] loads and predicts, [`head`] is each family's classification head, [`train`] trains, [`save`] saves, [`rerank`] re-ranks runs
//! (retrieve & re-rank, score interpolation), [`evaluation`] evaluates a re-ranker.

pub mod evaluation;
pub(crate) mod head;
pub mod model;
pub mod rerank;
pub mod save;
pub mod train;

pub use evaluation::{
    reranking_metrics, Candidates, CrossEncoderRerankingEvaluator, RerankingSample,
};
pub use model::{Activation, CrossEncoder, PredictOptions, Ranked, Ranking};
pub use rerank::{
    interpolate_scores, rerank_run, retrieve_and_rerank, tune_interpolation, InterpolationSweep,
};
