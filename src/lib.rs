//! # sbert — Sentence-BERT in Rust
//!
//! What Python's `sentence-transformers` does, with the same names and the same numbers, for Rust
//! programs and Rust Jupyter notebooks (evcxr).
//!
//! ```
//! use sbert::prelude::*;
//!
//! # fn main() -> sbert::Result<()> {
//! // Loads from a folder or the Hugging Face cache (see `scripts/provision-model.sh` to work offline).
//! let model = SentenceTransformer::load("all-MiniLM-L6-v2")?;
//!
//! // model.encode(sentences)
//! let emb = model.encode(&["This is a red cat with a hat.", "Have you seen my red cat?"], &EncodeOptions::default())?;
//! assert_eq!(emb.shape(), (2, 384));
//!
//! // util.cos_sim(emb[0], emb[1])
//! let score = cos_sim(&emb[0], &emb[1])?.item()?;
//! assert!((score - 0.6153).abs() < 1e-4);
//!
//! // the most similar pairs of a list, and util.semantic_search
//! let pairs = top_pairs(&emb, 5)?;
//! assert_eq!((pairs[0].i, pairs[0].j), (0, 1));
//! let hits = semantic_search(&emb, &emb, &SearchOptions::default().top_k(1))?;
//! assert_eq!(hits[1][0].corpus_id, 1);
//! println!("{pairs}"); // a table in a terminal; `pairs.evcxr_display()` gives HTML in a notebook
//! # Ok(())
//! # }
//! ```
//!
//! ## Core concepts (Python name → Rust)
//!
//! | Python | sbert |
//! |---|---|
//! | `SentenceTransformer(name)` | [`SentenceTransformer::load`] |
//! | `model.encode(sentences, batch_size=32, …)` | [`SentenceTransformer::encode`] with [`EncodeOptions`] → [`Embeddings`] |
//! | `util.cos_sim(a, b)` / `util.dot_score(a, b)` | [`util::cos_sim`] / [`util::dot_score`] → [`util::SimilarityMatrix`] |
//! | top-k most similar pairs of a list | [`util::top_pairs`] → [`util::ScoredPairs`] |
//! | `util.semantic_search(q, c, top_k=10, …)` | [`util::semantic_search`] with [`util::SearchOptions`] → [`util::SearchResults`] |
//! | `models.Transformer`, `Pooling`, `Dense`, `Normalize` | [`models`] |
//!
//! ## Data flow
//!
//! `modules.json` lists the pipeline. `encode` tokenizes every sentence (truncating at
//! `max_seq_length`, reported in [`Embeddings::truncated`]), sorts them by length, runs batches
//! through the encoder (BERT, RoBERTa, XLM-RoBERTa, DistilBERT or MPNet, chosen by `config.json`),
//! pools the token embeddings with the attention mask, optionally applies Dense and
//! Normalize, and returns the rows in input order. Every result type owns its data, so it can live
//! in a notebook variable, and prints as a table (`Display`) or as HTML (`evcxr_display`).
//!
//! Nothing in the public API panics on bad input: errors are [`Error`] values.
//!
//! ## Layout
//!
//! One folder per layer, each importing only from the layers below it: [`core`] → [`display`] →
//! [`util`] → `ann` → `vectordb` → [`encoder`] → [`models`] → [`datasets`] → `bm25` → [`evaluation`] → [`losses`] → [`train`] →
//! [`cross_encoder`]. The repository's `ARCHITECTURE.md` walks through them.

#![warn(missing_docs)]

// The layers, lowest first: core, display, util, ann, vectordb, encoder, models, datasets, bm25, evaluation, losses,
// train, cross_encoder (then prelude and this file). Each imports only from the layers before it
// (ARCHITECTURE.md; checked by scripts/check_layers.py).
#[cfg(feature = "ann")]
pub mod ann;
#[cfg(feature = "bm25")]
pub mod bm25;
pub mod core;
pub mod cross_encoder;
pub mod datasets;
pub mod display;
pub mod encoder;
pub mod evaluation;
pub mod losses;
pub mod models;
pub mod prelude;
pub mod train;
pub mod util;
#[cfg(feature = "lancedb")]
pub mod vectordb;

// Paths of earlier versions, kept for existing code and notebooks.
/// The instruction set sbert's CPU kernels run on (detected; `SBERT_ISA` or [`cpu::set_isa`] force a lower one).
pub use crate::core::isa as cpu;
pub use crate::core::{embeddings, error};
pub use crate::datasets::files as data;
pub use crate::display::{plot, progress};
pub use crate::models::hub;

/// Serde structs of the on-disk JSON files ([`models::config`] and [`encoder::config`]).
pub mod config {
    pub use crate::encoder::config::*;
    pub use crate::models::config::*;
}

/// `.npy` files and atomic writes (moved to [`core::npy`] and [`core::fs`]).
pub mod npy {
    pub use crate::core::fs::write_atomic;
    pub use crate::core::npy::*;
}

/// Reading `model.safetensors` (moved to [`core::safetensors`]).
pub mod weights {
    pub use crate::core::safetensors::load_safetensors;
}

pub use crate::core::{AsEmbeddings, Dtype, Embeddings, Error, Result};
pub use crate::models::{EncodeOptions, LoadOptions, SentenceTransformer};
pub use crate::util::{cos_sim, dot_score, semantic_search, top_pairs, SearchOptions};
