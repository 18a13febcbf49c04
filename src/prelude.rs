//! `use sbert::prelude::*;` brings in what a notebook needs.
//!
//! Not `sbert::Result`: a glob import would shadow std's two-parameter `Result` in every notebook
//! cell (and in the code evcxr generates around cells); name it `sbert::Result` where needed.

pub use crate::core::{AsEmbeddings, Dtype, Embeddings, Error};
pub use crate::models::{EncodeOptions, LoadOptions, SentenceTransformer};
pub use crate::util::{
    cos_sim, dot_score, semantic_search, top_pairs, Hit, ScoreFunction, ScoredPair, ScoredPairs,
    SearchOptions, SearchResults, SimilarityMatrix,
};
