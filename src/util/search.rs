//! `util.semantic_search`: exact, chunked top-k search of queries in a corpus.

use std::sync::Arc;

use rayon::prelude::*;

use super::similarity::{check_dims, ScoreFunction};
use super::topk::{offer_scaled, Candidate, TopK};
use crate::core::compute::{compute_lock, matmul_nt, normalize_rows};
use crate::core::dtype::Dtype;
use crate::core::isa::Isa;
use crate::core::qgemm::{Activations, PackedLinear};
use crate::core::shards::ShardedEmbeddings;
use crate::core::{AsEmbeddings, Embeddings, Error, Result};
use crate::display::{fmt_score, impl_display, shorten, Section, Tabular, MAX_ROWS, TEXT_WIDTH};

/// Options of [`semantic_search`], with Python's names and defaults.
#[derive(Debug, Clone, PartialEq)]
#[must_use]
pub struct SearchOptions {
    /// Queries scored at once (default 100).
    pub query_chunk_size: usize,
    /// Corpus entries scored at once (default 500,000).
    pub corpus_chunk_size: usize,
    /// Hits kept per query (default 10).
    pub top_k: usize,
    /// Cosine (default) or dot product.
    pub score_function: ScoreFunction,
    /// The precision the corpus is scored in: `Dtype::F32` (default, exact), or `Dtype::Bf16` /
    /// `Dtype::Int8`, which score a reduced-precision copy of the corpus on the bf16 / int8 kernels
    /// (AMX tiles, AVX512-BF16 / VNNI where the CPU has them) and then rescore each query's best
    /// `top_k × rescore_multiplier` candidates exactly in f32, as Python's
    /// `semantic_search_faiss(…, rescore=True)` does. The hits' scores are then exact; a true hit
    /// is missed only where reduced precision pushed it out of the candidates.
    pub precision: Dtype,
    /// Candidates rescored per hit after reduced-precision scoring (default 2, Python's
    /// `rescore_multiplier`; ignored in f32).
    pub rescore_multiplier: usize,
}

impl Default for SearchOptions {
    fn default() -> Self {
        Self {
            query_chunk_size: 100,
            corpus_chunk_size: 500_000,
            top_k: 10,
            score_function: ScoreFunction::Cosine,
            precision: Dtype::F32,
            rescore_multiplier: 2,
        }
    }
}

impl SearchOptions {
    /// Sets `top_k`.
    pub fn top_k(mut self, k: usize) -> Self {
        self.top_k = k;
        self
    }
    /// Sets the score function.
    pub fn score_function(mut self, f: ScoreFunction) -> Self {
        self.score_function = f;
        self
    }
    /// Sets `query_chunk_size`.
    pub fn query_chunk_size(mut self, n: usize) -> Self {
        self.query_chunk_size = n;
        self
    }
    /// Sets `corpus_chunk_size`.
    pub fn corpus_chunk_size(mut self, n: usize) -> Self {
        self.corpus_chunk_size = n;
        self
    }
    /// Sets the scoring precision (see [`SearchOptions::precision`]).
    pub fn precision(mut self, dtype: Dtype) -> Self {
        self.precision = dtype;
        self
    }
    /// Sets `rescore_multiplier`.
    pub fn rescore_multiplier(mut self, m: usize) -> Self {
        self.rescore_multiplier = m;
        self
    }
}

/// One search hit.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Hit {
    /// Row of the corpus embeddings.
    pub corpus_id: usize,
    /// Cosine similarity or dot product.
    pub score: f32,
}

/// For each query, its hits best first (the result of [`semantic_search`]).
#[derive(Debug, Clone, PartialEq)]
pub struct SearchResults {
    pub(crate) hits: Vec<Vec<Hit>>,
    pub(crate) query_texts: Arc<Vec<String>>,
    pub(crate) corpus_texts: Arc<Vec<String>>,
    /// The score function used.
    pub score_function: ScoreFunction,
}

impl SearchResults {
    /// Results assembled elsewhere (an ANN index, a vector database), without corpus texts.
    #[cfg(any(feature = "ann", feature = "lancedb"))]
    pub(crate) fn from_hits(
        hits: Vec<Vec<Hit>>,
        query_texts: Vec<String>,
        score_function: ScoreFunction,
    ) -> Self {
        Self {
            hits,
            query_texts: Arc::new(query_texts),
            corpus_texts: Arc::new(Vec::new()),
            score_function,
        }
    }

    /// Texts of the queries (may be empty).
    pub fn query_texts(&self) -> &[String] {
        &self.query_texts
    }
    /// Texts of the corpus (may be empty).
    pub fn corpus_texts(&self) -> &[String] {
        &self.corpus_texts
    }
    /// Consumes into the per-query hit lists.
    pub fn into_vec(self) -> Vec<Vec<Hit>> {
        self.hits
    }
    /// True when both results list the same corpus ids in the same order for every query
    /// (scores may differ).
    pub fn same_ranking(&self, other: &SearchResults) -> bool {
        self.hits.len() == other.hits.len()
            && self.hits.iter().zip(&other.hits).all(|(a, b)| {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.corpus_id == y.corpus_id)
            })
    }
}
impl std::ops::Deref for SearchResults {
    type Target = [Vec<Hit>];
    fn deref(&self) -> &[Vec<Hit>] {
        &self.hits
    }
}
impl IntoIterator for SearchResults {
    type Item = Vec<Hit>;
    type IntoIter = std::vec::IntoIter<Vec<Hit>>;
    fn into_iter(self) -> Self::IntoIter {
        self.hits.into_iter()
    }
}

/// Largest block of corpus rows scored at once inside a corpus chunk.
const SCORE_BLOCK: usize = 8192;
/// The most queries one scoring GEMM takes (within the memory budget).
const MAX_QUERY_BLOCK: usize = 1024;
/// The fewest documents one scoring GEMM takes when queries are grouped beyond `query_chunk_size`.
const MIN_SCORE_BLOCK: usize = 256;

/// Exact top-k search of every query in the corpus (Python's `util.semantic_search`).
///
/// Returns, for each query, up to `top_k` hits `{corpus_id, score}` sorted by score descending;
/// **equal scores are ordered by lower `corpus_id`**. `top_k = 0` gives empty lists, a `top_k` larger
/// than the corpus gives the whole corpus ranked. The result does not depend on the chunk sizes:
/// memory stays at `query_chunk_size × min(corpus_chunk_size, 8192)` scores (the budget of Python's
/// chunks; within it, up to 1,024 queries are scored at a time against correspondingly fewer
/// documents), one bounded heap per query, and never holds the full score matrix.
/// Cost: O(queries · corpus · dim) multiply-adds plus O(queries · corpus · log top_k) heap work at worst.
pub fn semantic_search<Q: AsEmbeddings + ?Sized, C: AsEmbeddings + ?Sized>(
    queries: &Q,
    corpus: &C,
    options: &SearchOptions,
) -> Result<SearchResults> {
    let q = queries.as_embeddings()?;
    let c = corpus.as_embeddings()?;
    check_dims(&q, &c)?;
    let hits = search_rows(&q, c.as_slice(), c.len(), options)?;
    Ok(SearchResults {
        hits,
        query_texts: q.texts_arc(),
        corpus_texts: c.texts_arc(),
        score_function: options.score_function,
    })
}

/// [`semantic_search`] over a corpus stored in shards on disk ([`ShardedEmbeddings`], from
/// `encode_to_shards` or `sbert encode --output-dir`): each memory-mapped shard is streamed
/// through the same chunked top-k and the per-shard hits merged, so the corpus is never loaded —
/// memory stays at one shard's pages in the cache plus the search's chunks. The hits equal
/// [`semantic_search`] over the whole corpus (same scores, same tie rule: lower `corpus_id`
/// first); `corpus_id` counts rows from the first shard.
pub fn semantic_search_sharded<Q: AsEmbeddings + ?Sized>(
    queries: &Q,
    corpus: &ShardedEmbeddings,
    options: &SearchOptions,
) -> Result<SearchResults> {
    let q = queries.as_embeddings()?;
    if q.dim() != corpus.dim() && !q.is_empty() && !corpus.is_empty() {
        return Err(Error::DimensionMismatch {
            what: "embedding dimension".into(),
            left: q.dim(),
            right: corpus.dim(),
        });
    }
    let k = options.top_k.min(corpus.len());
    let mut tops: Vec<TopK> = (0..q.len()).map(|_| TopK::new(k)).collect();
    for i in 0..corpus.shard_count() {
        let (start, values) = corpus.shard(i).expect("a shard of the folder");
        let rows = corpus.manifest().shards[i].rows;
        for (top, hits) in tops.iter_mut().zip(search_rows(&q, values, rows, options)?) {
            for h in hits {
                top.push(Candidate {
                    score: h.score,
                    id: (start + h.corpus_id) as u64,
                });
            }
        }
    }
    Ok(SearchResults {
        hits: tops.into_iter().map(hits_of).collect(),
        query_texts: q.texts_arc(),
        corpus_texts: Arc::new(Vec::new()),
        score_function: options.score_function,
    })
}

/// The search itself, over `nc` corpus rows given as one row-major slice.
fn search_rows(
    q: &Embeddings,
    c_slice: &[f32],
    nc: usize,
    options: &SearchOptions,
) -> Result<Vec<Vec<Hit>>> {
    if options.query_chunk_size == 0 || options.corpus_chunk_size == 0 {
        return Err(Error::InvalidInput(
            "query_chunk_size and corpus_chunk_size must be at least 1".into(),
        ));
    }
    if options.precision != Dtype::F32 && options.rescore_multiplier == 0 {
        return Err(Error::InvalidInput(
            "rescore_multiplier must be at least 1 (the candidates rescored per hit)".into(),
        ));
    }
    let d = q.dim();
    let nq = q.len();
    let k = options.top_k.min(nc);
    let cosine = match options.score_function {
        ScoreFunction::Cosine => true,
        ScoreFunction::Dot => false,
        other => {
            return Err(Error::InvalidInput(format!(
                "semantic_search scores with cos_sim or dot_score, not {other}"
            )))
        }
    };
    // For cosine: queries are normalised, corpus rows are scaled by their inverse norms afterwards.
    let inv_norms: Vec<f32> = if cosine {
        // Row by row (not `chunks(d)`: at dimension 0 every row is there, empty).
        (0..nc)
            .map(|i| &c_slice[i * d..(i + 1) * d])
            .map(|r| 1.0 / r.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12))
            .collect()
    } else {
        Vec::new()
    };
    let mut all_hits: Vec<Vec<Hit>> = Vec::with_capacity(nq);
    // The scores held at once: query_chunk_size × min(corpus_chunk_size, 8192), as Python's chunks.
    // Within that budget, more queries against fewer documents per GEMM: each corpus row is then
    // packed for the GEMM once per many queries (1,000 × 819 instead of 100 × 8,192 rows).
    let budget = options
        .query_chunk_size
        .saturating_mul(options.corpus_chunk_size.min(SCORE_BLOCK));
    let q_step = options
        .query_chunk_size
        .max(nq.min(MAX_QUERY_BLOCK))
        .min((budget / MIN_SCORE_BLOCK).max(options.query_chunk_size));
    let block = (budget / q_step)
        .min(options.corpus_chunk_size)
        .min(SCORE_BLOCK)
        .max(1);
    // The corpus blocks scored at once: (first row, rows), within the corpus chunks.
    let blocks: Vec<(usize, usize)> = (0..nc)
        .step_by(options.corpus_chunk_size)
        .flat_map(|chunk_start| {
            let chunk_end = (chunk_start + options.corpus_chunk_size).min(nc);
            (chunk_start..chunk_end)
                .step_by(block)
                .map(move |b| (b, block.min(chunk_end - b)))
        })
        .collect();
    // Reduced precision: each block packed once for the bf16 / int8 kernels (as a linear layer's
    // weights: one output per document), and more candidates kept for the exact rescoring.
    let reduced = options.precision != Dtype::F32 && k > 0;
    let kept = if reduced {
        k.saturating_mul(options.rescore_multiplier).min(nc)
    } else {
        k
    };
    let packed: Vec<PackedLinear> = if reduced {
        let zeros = vec![0f32; block];
        let _turn = compute_lock();
        blocks
            .par_iter()
            .map(|&(b_start, bn)| {
                let cblock = &c_slice[b_start * d..(b_start + bn) * d];
                PackedLinear::new(cblock, bn, d, &zeros[..bn], options.precision)
            })
            .collect::<Result<_>>()?
    } else {
        Vec::new()
    };
    let mut scores = vec![0f32; q_step.min(nq.max(1)) * block.min(nc.max(1))];
    // Dot products are scaled by exactly 1 (the same scores as unscaled).
    let ones = if cosine {
        Vec::new()
    } else {
        vec![1f32; block]
    };
    for q_start in (0..nq).step_by(q_step) {
        let qn = q_step.min(nq - q_start);
        let mut qchunk = q.as_slice()[q_start * d..(q_start + qn) * d].to_vec();
        if cosine {
            normalize_rows(&mut qchunk, d);
        }
        let isa = Isa::current();
        let acts = if reduced {
            Some(Activations::new(options.precision, &qchunk, qn, d)?)
        } else {
            None
        };
        let mut tops: Vec<TopK> = (0..qn).map(|_| TopK::new(kept)).collect();
        if k > 0 {
            for (bi, &(b_start, bn)) in blocks.iter().enumerate() {
                let out = &mut scores[..qn * bn];
                let _turn = compute_lock();
                match &acts {
                    Some(a) => packed[bi].forward_converted(isa, a, out)?,
                    None => {
                        let cblock = &c_slice[b_start * d..(b_start + bn) * d];
                        matmul_nt(&qchunk, qn, cblock, bn, d, out);
                    }
                }
                out.par_chunks(bn)
                    .zip(tops.par_iter_mut())
                    .for_each(|(row, top)| {
                        // Ids rise through the scan, so a score at the threshold loses its
                        // tie: most scores are dismissed 16 to a comparison.
                        let scale = if cosine {
                            &inv_norms[b_start..b_start + bn]
                        } else {
                            &ones[..bn]
                        };
                        offer_scaled(top, row, scale, b_start as u64);
                    });
            }
        }
        if reduced {
            // The candidates' exact f32 scores, the best `k` of them kept.
            let _turn = compute_lock();
            tops = tops
                .into_par_iter()
                .enumerate()
                .map(|(i, candidates)| {
                    let qv = &qchunk[i * d..(i + 1) * d];
                    let mut exact = TopK::new(k);
                    for cand in candidates.into_sorted() {
                        let id = cand.id as usize;
                        let row = &c_slice[id * d..(id + 1) * d];
                        let dot: f32 = qv.iter().zip(row).map(|(a, b)| a * b).sum();
                        exact.push(Candidate {
                            score: if cosine { dot * inv_norms[id] } else { dot },
                            id: cand.id,
                        });
                    }
                    exact
                })
                .collect();
        }
        all_hits.extend(tops.into_iter().map(hits_of));
    }
    Ok(all_hits)
}

/// A query's kept candidates as hits, best first.
pub(crate) fn hits_of(top: TopK) -> Vec<Hit> {
    top.into_sorted()
        .into_iter()
        .map(|c| Hit {
            corpus_id: c.id as usize,
            score: c.score,
        })
        .collect()
}

impl_display!(SearchResults);

impl Tabular for SearchResults {
    fn sections(&self) -> Vec<Section> {
        let queries = self.len().min(MAX_ROWS);
        (0..queries)
            .map(|q| {
                let title = match self.query_texts().get(q) {
                    Some(t) => format!("Query {q}: {}", shorten(t, 80)),
                    None => format!("Query {q}"),
                };
                let hits = &self[q];
                let shown = hits.len().min(MAX_ROWS);
                let rows = hits
                    .iter()
                    .take(shown)
                    .enumerate()
                    .map(|(k, h)| {
                        let text = self
                            .corpus_texts()
                            .get(h.corpus_id)
                            .map_or_else(String::new, |s| shorten(s, TEXT_WIDTH));
                        vec![
                            (k + 1).to_string(),
                            h.corpus_id.to_string(),
                            fmt_score(h.score),
                            text,
                        ]
                    })
                    .collect();
                Section {
                    title: Some(title),
                    header: vec![
                        "rank".into(),
                        "corpus_id".into(),
                        format!("score ({})", self.score_function),
                        "text".into(),
                    ],
                    rows,
                    more: hits.len() - shown,
                }
            })
            .collect()
    }
}
