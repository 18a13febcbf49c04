//! BM25, the lexical first stage: a corpus indexed with [tantivy](https://docs.rs/tantivy) and
//! searched with Lucene's BM25 (Anserini's BEIR set-up: title and text in one field, Lucene's
//! English analysis, k1 0.9, b 0.4), into the same runs dense retrieval makes — to evaluate,
//! [fuse](crate::evaluation::fuse) with a dense run, or re-rank with a cross-encoder.
//!
//! Behind the cargo feature `bm25` (on by default).

pub mod analyzer;
pub mod index;

pub use analyzer::{Analyzer, LUCENE_ENGLISH_STOP_WORDS};
pub use index::{Bm25Index, Bm25Options, INDEX_INFO_FILE};
