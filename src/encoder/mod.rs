//! The transformer math: the encoder's config and weights, its forward pass for each device
//! (candle's ops, or the fast unpadded CPU path), and the fused kernels with their backward.
//!
//! Imports only [`crate::core`]. Knows nothing of tokenizer files, pooling or sentence-transformers
//! pipelines (that is [`crate::models`]).

pub mod batch;
pub mod bert;
pub mod config;
pub(crate) mod cpu;
pub(crate) mod kernels;
pub mod layers;
pub(crate) mod ops;

pub use batch::{pad_batch, PaddedBatch};
pub use bert::Bert;
pub use config::{BertConfig, HiddenAct};
pub(crate) use layers::Linear;
pub use layers::Mode;
