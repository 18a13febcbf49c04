//! The transformer math: the encoder's config, its [`Family`] differences as data, its weights,
//! its forward pass for each device (candle's ops, or the fast unpadded CPU path), and the fused
//! kernels with their backward.
//!
//! Imports only [`crate::core`]. Knows nothing of tokenizer files, pooling or sentence-transformers
//! pipelines (that is [`crate::models`]).

mod attention;
pub mod batch;
pub mod config;
pub(crate) mod cpu;
pub mod family;
mod forward;
pub(crate) mod kernels;
pub mod layers;
pub mod model;
pub(crate) mod ops;
pub(crate) mod train_cpu;
pub mod weights;

/// The encoder under its old module name (`sbert::encoder::bert::Bert`).
pub mod bert {
    pub(crate) use super::model::dropout;
    pub use super::model::{Bert, Encoder, Mode};
}

pub use batch::{pad_batch, split_ragged, PaddedBatch};
pub use config::{BertConfig, EncoderConfig, HiddenAct};
pub use family::Family;
pub(crate) use layers::Linear;
pub use layers::Mode;
pub use model::{Bert, Encoder};
pub use weights::load_weights;
