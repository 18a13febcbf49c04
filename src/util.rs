//! `sentence_transformers.util`: `cos_sim`, `dot_score`, `semantic_search`, and the lecture's
//! "top pairs" (all `i < j` pairs of a list, best first).
//!
//! **Tie rule.** Wherever results are ranked, equal scores are ordered by the lower index first
//! (`corpus_id` for search hits, `(i, j)` for pairs). Ranking is exact: chunking never changes a
//! result, it only bounds memory.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::str::FromStr;
use std::sync::Arc;

use rayon::prelude::*;

use crate::embeddings::{AsEmbeddings, Embeddings};
use crate::error::{Error, Result};

/// How a query and a document are scored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScoreFunction {
    /// Cosine similarity (`util.cos_sim`), for models trained with cosine (most of them).
    #[default]
    Cosine,
    /// Dot product (`util.dot_score`), for models trained with dot-product (e.g. `msmarco-*-dot-*`).
    Dot,
}

impl FromStr for ScoreFunction {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "cos" | "cosine" | "cos_sim" => Ok(ScoreFunction::Cosine),
            "dot" | "dot_score" | "dot_product" => Ok(ScoreFunction::Dot),
            other => Err(Error::InvalidInput(format!(
                "unknown score function '{other}' (use cos or dot)"
            ))),
        }
    }
}

impl std::fmt::Display for ScoreFunction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ScoreFunction::Cosine => "cos_sim",
            ScoreFunction::Dot => "dot_score",
        })
    }
}

/// Serialises the multi-threaded compute sections of the process (a batch through BERT, a block of
/// search scores). Two callers sharing the one thread pool at the same time make each other many
/// times slower (measured: 3× in total); taking turns block by block keeps the total throughput of
/// the pool, and interleaves fairly.
pub(crate) fn compute_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// `out[m×n] = a[m×k] · b[n×k]ᵀ`, row-major, multi-threaded.
pub(crate) fn matmul_nt(a: &[f32], m: usize, b: &[f32], n: usize, k: usize, out: &mut [f32]) {
    assert!(a.len() >= m * k && b.len() >= n * k && out.len() >= m * n);
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        out[..m * n].iter_mut().for_each(|v| *v = 0.0);
        return;
    }
    let threads = rayon::current_num_threads();
    let par = if m * n * k > 64 * 64 * 64 && threads > 1 {
        gemm::Parallelism::Rayon(threads)
    } else {
        gemm::Parallelism::None
    };
    // SAFETY: the slices were checked to hold the m×k, n×k and m×n elements the strides address.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            out.as_mut_ptr(),
            1,
            n as isize,
            false,
            a.as_ptr(),
            1,
            k as isize,
            b.as_ptr(),
            k as isize,
            1,
            0.0f32,
            1.0f32,
            false,
            false,
            false,
            par,
        );
    }
}

fn check_dims(a: &Embeddings, b: &Embeddings) -> Result<()> {
    if a.dim() != b.dim() && !a.is_empty() && !b.is_empty() {
        return Err(Error::DimensionMismatch {
            what: "embedding dimension".into(),
            left: a.dim(),
            right: b.dim(),
        });
    }
    Ok(())
}

/// A dense score matrix `[rows, cols]` with the texts of both sides, as returned by [`cos_sim`].
#[derive(Clone, PartialEq)]
pub struct SimilarityMatrix {
    data: Vec<f32>,
    rows: usize,
    cols: usize,
    pub(crate) row_texts: Arc<Vec<String>>,
    pub(crate) col_texts: Arc<Vec<String>>,
}

impl SimilarityMatrix {
    /// Number of rows (left-hand inputs).
    pub fn rows(&self) -> usize {
        self.rows
    }
    /// Number of columns (right-hand inputs).
    pub fn cols(&self) -> usize {
        self.cols
    }
    /// `(rows, cols)`.
    pub fn shape(&self) -> (usize, usize) {
        (self.rows, self.cols)
    }
    /// The score of `(i, j)`, or `None` out of range.
    pub fn get(&self, i: usize, j: usize) -> Option<f32> {
        (i < self.rows && j < self.cols).then(|| self.data[i * self.cols + j])
    }
    /// The single value of a 1×1 matrix (Python's `.item()`).
    pub fn item(&self) -> Result<f32> {
        if self.rows == 1 && self.cols == 1 {
            Ok(self.data[0])
        } else {
            Err(Error::InvalidInput(format!(
                "item() needs a 1×1 matrix, this one is {}×{}",
                self.rows, self.cols
            )))
        }
    }
    /// Row `i` of scores.
    pub fn row(&self, i: usize) -> Option<&[f32]> {
        (i < self.rows).then(|| &self.data[i * self.cols..(i + 1) * self.cols])
    }
    /// Row-major scores.
    pub fn as_slice(&self) -> &[f32] {
        &self.data
    }
    /// The rows as `Vec<Vec<f32>>`.
    pub fn to_vec2(&self) -> Vec<Vec<f32>> {
        (0..self.rows)
            .filter_map(|i| self.row(i).map(<[f32]>::to_vec))
            .collect()
    }
    /// An ndarray copy.
    pub fn to_ndarray(&self) -> ndarray::Array2<f32> {
        ndarray::Array2::from_shape_vec((self.rows, self.cols), self.data.clone())
            .expect("shape matches")
    }
    /// Texts of the rows (may be empty).
    pub fn row_texts(&self) -> &[String] {
        &self.row_texts
    }
    /// Texts of the columns (may be empty).
    pub fn col_texts(&self) -> &[String] {
        &self.col_texts
    }
}

fn score_matrix(a: &Embeddings, b: &Embeddings, f: ScoreFunction) -> Result<SimilarityMatrix> {
    check_dims(a, b)?;
    let (a2, b2);
    let (a, b) = match f {
        ScoreFunction::Cosine => {
            a2 = a.normalized();
            b2 = b.normalized();
            (&a2, &b2)
        }
        ScoreFunction::Dot => (a, b),
    };
    let mut data = vec![0f32; a.len() * b.len()];
    matmul_nt(
        a.as_slice(),
        a.len(),
        b.as_slice(),
        b.len(),
        a.dim(),
        &mut data,
    );
    Ok(SimilarityMatrix {
        data,
        rows: a.len(),
        cols: b.len(),
        row_texts: a.texts_arc(),
        col_texts: b.texts_arc(),
    })
}

/// Cosine similarity of every row of `a` with every row of `b` → `[a.len(), b.len()]`
/// (Python's `util.cos_sim`). Vectors count as one row: `cos_sim(&emb[0], &emb[1])?.item()?`.
pub fn cos_sim<A: AsEmbeddings + ?Sized, B: AsEmbeddings + ?Sized>(
    a: &A,
    b: &B,
) -> Result<SimilarityMatrix> {
    score_matrix(
        &*a.as_embeddings()?,
        &*b.as_embeddings()?,
        ScoreFunction::Cosine,
    )
}

/// Dot product of every row of `a` with every row of `b` (Python's `util.dot_score`).
pub fn dot_score<A: AsEmbeddings + ?Sized, B: AsEmbeddings + ?Sized>(
    a: &A,
    b: &B,
) -> Result<SimilarityMatrix> {
    score_matrix(
        &*a.as_embeddings()?,
        &*b.as_embeddings()?,
        ScoreFunction::Dot,
    )
}

/// A candidate in a ranking; `Ord` puts the **better** one first (higher score, then lower id).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ranked {
    pub score: f32,
    pub id: u64,
}
impl PartialEq for Ranked {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o) == Ordering::Equal
    }
}
impl Eq for Ranked {}
impl PartialOrd for Ranked {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Ranked {
    fn cmp(&self, o: &Self) -> Ordering {
        o.score.total_cmp(&self.score).then(self.id.cmp(&o.id))
    }
}

/// Keeps the best `k` candidates seen (a max-heap whose top is the worst kept one).
pub(crate) struct TopK {
    k: usize,
    heap: BinaryHeap<Ranked>,
}
impl TopK {
    pub fn new(k: usize) -> Self {
        Self {
            k,
            heap: BinaryHeap::with_capacity(k.min(1 << 16) + 1),
        }
    }
    #[inline]
    pub fn push(&mut self, c: Ranked) {
        if self.heap.len() < self.k {
            self.heap.push(c);
        } else if let Some(worst) = self.heap.peek() {
            if c < *worst {
                self.heap.pop();
                self.heap.push(c);
            }
        }
    }
    /// Best first.
    pub fn into_sorted(self) -> Vec<Ranked> {
        self.heap.into_sorted_vec()
    }
}

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
                    top.push(Ranked {
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
}

impl Default for SearchOptions {
    fn default() -> Self {
        Self {
            query_chunk_size: 100,
            corpus_chunk_size: 500_000,
            top_k: 10,
            score_function: ScoreFunction::Cosine,
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
    hits: Vec<Vec<Hit>>,
    pub(crate) query_texts: Arc<Vec<String>>,
    pub(crate) corpus_texts: Arc<Vec<String>>,
    /// The score function used.
    pub score_function: ScoreFunction,
}

impl SearchResults {
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

/// Exact top-k search of every query in the corpus (Python's `util.semantic_search`).
///
/// Returns, for each query, up to `top_k` hits `{corpus_id, score}` sorted by score descending;
/// **equal scores are ordered by lower `corpus_id`**. `top_k = 0` gives empty lists, a `top_k` larger
/// than the corpus gives the whole corpus ranked. The result does not depend on the chunk sizes:
/// queries are taken `query_chunk_size` at a time and the corpus `corpus_chunk_size` at a time
/// (internally in blocks of at most 8,192 rows), one bounded heap per query, so memory stays at
/// `query_chunk_size × min(corpus_chunk_size, 8192)` scores and never holds the full score matrix.
/// Cost: O(queries · corpus · dim) multiply-adds plus O(queries · corpus · log top_k) heap work at worst.
pub fn semantic_search<Q: AsEmbeddings + ?Sized, C: AsEmbeddings + ?Sized>(
    queries: &Q,
    corpus: &C,
    options: &SearchOptions,
) -> Result<SearchResults> {
    let q = queries.as_embeddings()?;
    let c = corpus.as_embeddings()?;
    check_dims(&q, &c)?;
    if options.query_chunk_size == 0 || options.corpus_chunk_size == 0 {
        return Err(Error::InvalidInput(
            "query_chunk_size and corpus_chunk_size must be at least 1".into(),
        ));
    }
    let d = q.dim();
    let (nq, nc) = (q.len(), c.len());
    let k = options.top_k.min(nc);
    let cosine = options.score_function == ScoreFunction::Cosine;
    // For cosine: queries are normalised, corpus rows are scaled by their inverse norms afterwards.
    let inv_norms: Vec<f32> = if cosine {
        c.norms().into_iter().map(|n| 1.0 / n.max(1e-12)).collect()
    } else {
        Vec::new()
    };
    let mut all_hits: Vec<Vec<Hit>> = Vec::with_capacity(nq);
    let block = options.corpus_chunk_size.min(SCORE_BLOCK).max(1);
    let mut scores = vec![0f32; options.query_chunk_size.min(nq.max(1)) * block.min(nc.max(1))];
    for q_start in (0..nq).step_by(options.query_chunk_size) {
        let qn = options.query_chunk_size.min(nq - q_start);
        let mut qchunk = q.as_slice()[q_start * d..(q_start + qn) * d].to_vec();
        if cosine {
            crate::models::normalize::normalize_rows(&mut qchunk, d);
        }
        let mut tops: Vec<TopK> = (0..qn).map(|_| TopK::new(k)).collect();
        if k > 0 {
            for chunk_start in (0..nc).step_by(options.corpus_chunk_size) {
                let chunk_end = (chunk_start + options.corpus_chunk_size).min(nc);
                for b_start in (chunk_start..chunk_end).step_by(block) {
                    let bn = block.min(chunk_end - b_start);
                    let cblock = &c.as_slice()[b_start * d..(b_start + bn) * d];
                    let out = &mut scores[..qn * bn];
                    let _turn = compute_lock();
                    matmul_nt(&qchunk, qn, cblock, bn, d, out);
                    out.par_chunks(bn)
                        .zip(tops.par_iter_mut())
                        .for_each(|(row, top)| {
                            for (j, &s) in row.iter().enumerate() {
                                let s = if cosine {
                                    s * inv_norms[b_start + j]
                                } else {
                                    s
                                };
                                top.push(Ranked {
                                    score: s,
                                    id: (b_start + j) as u64,
                                });
                            }
                        });
                }
            }
        }
        all_hits.extend(tops.into_iter().map(|t| {
            t.into_sorted()
                .into_iter()
                .map(|r| Hit {
                    corpus_id: r.id as usize,
                    score: r.score,
                })
                .collect()
        }));
    }
    Ok(SearchResults {
        hits: all_hits,
        query_texts: q.texts_arc(),
        corpus_texts: c.texts_arc(),
        score_function: options.score_function,
    })
}
