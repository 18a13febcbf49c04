//! `util.mine_hard_negatives`, reduced to its core: negatives drawn from each query's nearest
//! corpus rows.

use super::search::{semantic_search, SearchOptions};
use crate::core::{Embeddings, Result, Rng};

/// Hard negatives (Python's `util.mine_hard_negatives`, reduced to its core): for each query row,
/// `num_negatives` documents drawn at random (with `seed`) from its `range_max` nearest corpus rows
/// by cosine similarity, skipping those `is_positive(query, doc)` marks relevant. Fewer when the
/// range holds fewer non-positives.
pub fn mine_hard_negatives(
    queries: &Embeddings,
    corpus: &Embeddings,
    is_positive: impl Fn(usize, usize) -> bool,
    range_max: usize,
    num_negatives: usize,
    seed: u64,
) -> Result<Vec<Vec<usize>>> {
    let hits = semantic_search(queries, corpus, &SearchOptions::default().top_k(range_max))?;
    let mut rng = Rng::new(seed);
    Ok(hits
        .iter()
        .enumerate()
        .map(|(q, hs)| {
            let mut pool: Vec<usize> = hs
                .iter()
                .map(|h| h.corpus_id)
                .filter(|&d| !is_positive(q, d))
                .collect();
            rng.shuffle(&mut pool);
            pool.truncate(num_negatives);
            pool
        })
        .collect())
}
