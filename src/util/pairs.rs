//! The lecture's "top pairs": the most similar `i < j` pairs of one list (Python's
//! `util.paraphrase_mining_embeddings`).

use std::sync::Arc;

use super::topk::{Candidate, TopK};
use crate::core::compute::{compute_lock, matmul_nt};
use crate::core::{AsEmbeddings, Result};
use crate::display::{fmt_score, impl_display, shorten, Section, Tabular, MAX_ROWS};

/// One pair of inputs with its score.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ScoredPair {
    /// Index of the first input (`i < j`).
    pub i: usize,
    /// Index of the second input.
    pub j: usize,
    /// Cosine similarity.
    pub score: f32,
}

/// Pairs best first, with the texts they index (the result of [`top_pairs`]).
#[derive(Debug, Clone, PartialEq)]
pub struct ScoredPairs {
    pairs: Vec<ScoredPair>,
    pub(crate) texts: Arc<Vec<String>>,
}

impl ScoredPairs {
    /// The texts the pair indices refer to (may be empty).
    pub fn texts(&self) -> &[String] {
        &self.texts
    }
    /// Consumes into the pairs.
    pub fn into_vec(self) -> Vec<ScoredPair> {
        self.pairs
    }
}
impl std::ops::Deref for ScoredPairs {
    type Target = [ScoredPair];
    fn deref(&self) -> &[ScoredPair] {
        &self.pairs
    }
}
impl IntoIterator for ScoredPairs {
    type Item = ScoredPair;
    type IntoIter = std::vec::IntoIter<ScoredPair>;
    fn into_iter(self) -> Self::IntoIter {
        self.pairs.into_iter()
    }
}

/// The `top_k` most similar pairs `(i, j)`, `i < j`, of one list of embeddings by cosine
/// similarity, best first; equal scores by lower `(i, j)`. `top_k = 0` gives none, a `top_k` above
/// the number of pairs gives all of them. This is the lecture's "top-5 most similar pairs" (and
/// Python's `util.paraphrase_mining_embeddings` without its chunk parameters). Memory is
/// O(256 · n + top_k), never the full n × n matrix.
pub fn top_pairs<A: AsEmbeddings + ?Sized>(embeddings: &A, top_k: usize) -> Result<ScoredPairs> {
    let emb = embeddings.as_embeddings()?;
    let normed = emb.normalized();
    let (n, d) = emb.shape();
    let mut top = TopK::new(top_k);
    const BLOCK: usize = 256;
    let mut scores = vec![0f32; BLOCK.min(n.max(1)) * n];
    if top_k > 0 {
        for start in (0..n).step_by(BLOCK) {
            let rows = BLOCK.min(n - start);
            let a = &normed.as_slice()[start * d..(start + rows) * d];
            let _turn = compute_lock();
            matmul_nt(a, rows, normed.as_slice(), n, d, &mut scores[..rows * n]);
            for r in 0..rows {
                let i = start + r;
                for j in i + 1..n {
                    top.push(Candidate {
                        score: scores[r * n + j],
                        id: (i * n + j) as u64,
                    });
                }
            }
        }
    }
    let pairs = top
        .into_sorted()
        .into_iter()
        .map(|c| ScoredPair {
            i: c.id as usize / n,
            j: c.id as usize % n,
            score: c.score,
        })
        .collect();
    Ok(ScoredPairs {
        pairs,
        texts: emb.texts_arc(),
    })
}

impl_display!(ScoredPairs);

impl Tabular for ScoredPairs {
    fn sections(&self) -> Vec<Section> {
        let t = |i: usize| {
            self.texts()
                .get(i)
                .map_or_else(String::new, |s| shorten(s, 45))
        };
        let shown = self.len().min(MAX_ROWS);
        let rows = self
            .iter()
            .take(shown)
            .enumerate()
            .map(|(k, p)| {
                vec![
                    (k + 1).to_string(),
                    p.i.to_string(),
                    t(p.i),
                    p.j.to_string(),
                    t(p.j),
                    fmt_score(p.score),
                ]
            })
            .collect();
        vec![Section {
            title: Some(format!("Top {} pairs", self.len())),
            header: ["rank", "i", "sentence i", "j", "sentence j", "score"]
                .map(String::from)
                .to_vec(),
            rows,
            more: self.len() - shown,
        }]
    }
}
