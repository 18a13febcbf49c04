//! The modules of a sentence-transformers pipeline and [`SentenceTransformer`] itself.
//!
//! A model is an ordered list of small modules read from `modules.json`:
//! [`Transformer`] (tokenizer + encoder) → [`Pooling`] → optional [`Dense`] → optional [`Normalize`].

pub mod added_tokens;
pub mod config;
pub mod dense;
pub mod encode;
pub mod encode_shards;
pub mod hub;
pub mod load_options;
pub mod module;
pub mod normalize;
pub mod pooling;
pub mod save;
pub mod sentence_transformer;
pub mod tokenizer;
pub mod transformer;

/// The encoder (moved to [`crate::encoder::bert`]; this path stays for existing code).
pub use crate::encoder::bert;
pub use crate::encoder::{Bert, Encoder, EncoderConfig, Family};
pub use config::{ModuleEntry, SentenceBertConfig, SentenceTransformerConfig};
pub use dense::{Dense, DenseConfig};
pub use encode::EncodeOptions;
pub use load_options::LoadOptions;
pub use module::Module;
pub use normalize::Normalize;
pub use pooling::{Pooling, PoolingConfig, PoolingMode};
pub use sentence_transformer::SentenceTransformer;
pub use transformer::Transformer;
