//! An approximate nearest-neighbour index over embeddings: [USearch](https://github.com/unum-cloud/usearch)'s
//! HNSW graph (the `usearch` crate; sentence-transformers' own choice for
//! `semantic_search_usearch`), storing float32, int8 or binary vectors — built from
//! [`Embeddings`](crate::Embeddings), saved to and loaded from a folder, searched into the same
//! [`SearchResults`](crate::util::SearchResults) as exact search, with optional rescoring of the
//! candidates from a quantized copy (binary graph, int8 rescoring).
//!
//! Behind the cargo feature `ann` (on by default; USearch is C++, compiled once by `cc`).

pub mod index;

pub use index::{AnnIndex, AnnOptions, ModelStamp, ANN_INFO_FILE};
