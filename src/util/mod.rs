//! `sentence_transformers.util`: `cos_sim`, `dot_score`, `semantic_search`, and the lecture's
//! "top pairs" (all `i < j` pairs of a list, best first).
//!
//! **Tie rule.** Wherever results are ranked, equal scores are ordered by the lower index first
//! (`corpus_id` for search hits, `(i, j)` for pairs). Ranking is exact: chunking never changes a
//! result, it only bounds memory.

mod binary_scan;
pub mod mining;
pub mod pairs;
pub mod quantization;
pub mod search;
pub mod similarity;
pub(crate) mod topk;

pub use mining::mine_hard_negatives;
pub use pairs::{top_pairs, ScoredPair, ScoredPairs};
pub use quantization::{
    quantize_embeddings, semantic_search_quantized, semantic_search_quantized_rescored, Precision,
    QuantizationRanges, QuantizedEmbeddings, QuantizedSearchOptions, QuantizedSearchReport,
};
pub use search::{semantic_search, semantic_search_sharded, Hit, SearchOptions, SearchResults};
pub use similarity::{cos_sim, dot_score, ScoreFunction, SimilarityFunction, SimilarityMatrix};
