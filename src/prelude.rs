//! `use sbert::prelude::*;` brings in what a notebook needs.

pub use crate::embeddings::{AsEmbeddings, Embeddings};
pub use crate::error::{Error, Result};
pub use crate::models::{EncodeOptions, SentenceTransformer};
pub use crate::util::{
    cos_sim, dot_score, semantic_search, top_pairs, Hit, ScoreFunction, ScoredPair, ScoredPairs,
    SearchOptions, SearchResults, SimilarityMatrix,
};
