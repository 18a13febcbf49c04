//! [`Embeddings`]: the one output type of `encode`.

use std::sync::Arc;

use ndarray::Array2;

use super::error::{Error, Result};

/// An owned `[n, dim]` matrix of f32 sentence embeddings, row `i` belonging to input `i`.
///
/// It also remembers the input texts (for display), how many tokens each input had after
/// truncation, and which inputs were truncated at `max_seq_length`, so truncation is never silent.
///
/// Convert explicitly: [`Embeddings::to_ndarray`], [`Embeddings::to_vec2`], [`Embeddings::as_slice`].
#[derive(Clone, PartialEq)]
pub struct Embeddings {
    data: Vec<f32>,
    n: usize,
    dim: usize,
    texts: Arc<Vec<String>>,
    num_tokens: Vec<usize>,
    truncated: Vec<usize>,
}

impl Embeddings {
    /// Wraps a row-major buffer of `n × dim` values.
    pub fn from_flat(data: Vec<f32>, n: usize, dim: usize) -> Result<Self> {
        let len = checked_len(n, dim)?;
        if data.len() != len {
            return Err(Error::DimensionMismatch {
                what: format!("buffer length vs {n} rows × {dim} columns"),
                left: data.len(),
                right: len,
            });
        }
        Ok(Self {
            data,
            n,
            dim,
            texts: Arc::new(Vec::new()),
            num_tokens: Vec::new(),
            truncated: Vec::new(),
        })
    }

    /// From rows; every row must have the same length.
    pub fn from_vec2(rows: Vec<Vec<f32>>) -> Result<Self> {
        let n = rows.len();
        let dim = rows.first().map_or(0, Vec::len);
        let mut data = Vec::with_capacity(n * dim);
        for (i, r) in rows.into_iter().enumerate() {
            if r.len() != dim {
                return Err(Error::DimensionMismatch {
                    what: format!("length of row {i} vs row 0"),
                    left: r.len(),
                    right: dim,
                });
            }
            data.extend(r);
        }
        Self::from_flat(data, n, dim)
    }

    /// From an ndarray matrix.
    pub fn from_ndarray(a: &Array2<f32>) -> Self {
        let (n, dim) = a.dim();
        let data: Vec<f32> = a.iter().copied().collect();
        Self::from_flat(data, n, dim).expect("shape matches by construction")
    }

    /// `n` random unit vectors (seeded, uniform on the sphere up to f32 rounding): for benchmarks and tests.
    pub fn random_unit(n: usize, dim: usize, seed: u64) -> Result<Self> {
        use rayon::prelude::*;
        let mut data = zeroed(checked_len(n, dim)?)?;
        data.par_chunks_mut(dim.max(1))
            .enumerate()
            .for_each(|(i, row)| {
                // One splitmix64 stream per row.
                let mut rng =
                    super::rng::Rng::new(seed ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
                row.iter_mut().for_each(|v| *v = rng.normal() as f32);
            });
        super::compute::normalize_rows(&mut data, dim);
        Self::from_flat(data, n, dim)
    }

    pub(crate) fn with_meta(
        mut self,
        texts: Vec<String>,
        num_tokens: Vec<usize>,
        truncated: Vec<usize>,
    ) -> Self {
        self.texts = Arc::new(texts);
        self.num_tokens = num_tokens;
        self.truncated = truncated;
        self
    }

    /// Attaches texts (used as labels by tables); their number must match the rows.
    pub fn with_texts<S: AsRef<str>>(mut self, texts: &[S]) -> Result<Self> {
        if texts.len() != self.n {
            return Err(Error::DimensionMismatch {
                what: "texts vs embeddings".into(),
                left: texts.len(),
                right: self.n,
            });
        }
        self.texts = Arc::new(texts.iter().map(|s| s.as_ref().to_string()).collect());
        Ok(self)
    }

    /// Number of embeddings (rows).
    pub fn len(&self) -> usize {
        self.n
    }
    /// True when there are no rows.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }
    /// Embedding dimension (columns).
    pub fn dim(&self) -> usize {
        self.dim
    }
    /// `(rows, dim)`, like numpy's `shape`.
    pub fn shape(&self) -> (usize, usize) {
        (self.n, self.dim)
    }
    /// The row-major data.
    pub fn as_slice(&self) -> &[f32] {
        &self.data
    }
    /// Row `i`, or `None` past the end.
    pub fn get(&self, i: usize) -> Option<&[f32]> {
        (i < self.n).then(|| &self.data[i * self.dim..(i + 1) * self.dim])
    }
    /// Row `i`, or an error past the end.
    pub fn row(&self, i: usize) -> Result<&[f32]> {
        self.get(i).ok_or_else(|| {
            Error::InvalidInput(format!("row {i} out of range for {} embeddings", self.n))
        })
    }
    /// Iterates over the rows.
    pub fn rows(&self) -> impl Iterator<Item = &[f32]> + '_ {
        // By index, so that dimension 0 gives `n` empty rows (chunks would give none).
        (0..self.n).map(move |i| &self.data[i * self.dim..(i + 1) * self.dim])
    }
    /// The rows as `Vec<Vec<f32>>`.
    pub fn to_vec2(&self) -> Vec<Vec<f32>> {
        self.rows().map(<[f32]>::to_vec).collect()
    }
    /// An ndarray copy `[n, dim]`.
    pub fn to_ndarray(&self) -> Array2<f32> {
        Array2::from_shape_vec((self.n, self.dim), self.data.clone())
            .expect("shape matches by construction")
    }
    /// Consumes into the flat row-major buffer.
    pub fn into_flat(self) -> Vec<f32> {
        self.data
    }
    /// The input texts (empty if the embeddings were not made by `encode`).
    pub fn texts(&self) -> &[String] {
        &self.texts
    }
    pub(crate) fn texts_arc(&self) -> Arc<Vec<String>> {
        Arc::clone(&self.texts)
    }
    /// The text of row `i`, if known.
    pub fn text(&self, i: usize) -> Option<&str> {
        self.texts.get(i).map(String::as_str)
    }
    /// Tokens per input after truncation, special tokens included (empty if unknown).
    pub fn num_tokens(&self) -> &[usize] {
        &self.num_tokens
    }
    /// Indices of the inputs that were cut at `max_seq_length`.
    pub fn truncated(&self) -> &[usize] {
        &self.truncated
    }
    /// A new `Embeddings` with the given rows, in the given order.
    pub fn select(&self, rows: &[usize]) -> Result<Self> {
        let mut data = Vec::with_capacity(rows.len() * self.dim);
        let mut texts = Vec::new();
        let mut num_tokens = Vec::new();
        for &i in rows {
            data.extend_from_slice(self.row(i)?);
            if let Some(t) = self.texts.get(i) {
                texts.push(t.clone());
            }
            if let Some(&t) = self.num_tokens.get(i) {
                num_tokens.push(t);
            }
        }
        let truncated = rows
            .iter()
            .enumerate()
            .filter(|(_, i)| self.truncated.contains(i))
            .map(|(k, _)| k)
            .collect();
        let texts = if texts.len() == rows.len() {
            texts
        } else {
            Vec::new()
        };
        let num_tokens = if num_tokens.len() == rows.len() {
            num_tokens
        } else {
            Vec::new()
        };
        Ok(Self::from_flat(data, rows.len(), self.dim)?.with_meta(texts, num_tokens, truncated))
    }
    /// A copy with every row L2-normalised.
    pub fn normalized(&self) -> Self {
        let mut out = self.clone();
        super::compute::normalize_rows(&mut out.data, self.dim);
        out
    }
    /// The L2 norm of each row.
    pub fn norms(&self) -> Vec<f32> {
        self.rows()
            .map(|r| r.iter().map(|v| v * v).sum::<f32>().sqrt())
            .collect()
    }
}

/// `n × dim` as a buffer length, or an error when it does not fit in memory's address space.
pub(crate) fn checked_len(n: usize, dim: usize) -> Result<usize> {
    n.checked_mul(dim)
        .filter(|&len| len <= isize::MAX as usize / std::mem::size_of::<f32>())
        .ok_or_else(|| Error::InvalidInput(format!("{n} × {dim} values do not fit in memory")))
}

/// A zeroed f32 buffer, or an error (not an abort) when the allocation fails.
pub(crate) fn zeroed(len: usize) -> Result<Vec<f32>> {
    let mut v = Vec::new();
    v.try_reserve_exact(len).map_err(|_| {
        Error::InvalidInput(format!(
            "cannot allocate {len} values ({} MiB)",
            len / (1 << 18)
        ))
    })?;
    v.resize(len, 0.0);
    Ok(v)
}

impl std::ops::Index<usize> for Embeddings {
    type Output = [f32];
    /// Row `i`. Panics past the end, like any Rust index: use [`Embeddings::get`] or
    /// [`Embeddings::row`] for a checked access.
    fn index(&self, i: usize) -> &[f32] {
        assert!(i < self.n, "row {i} out of range for {} embeddings", self.n);
        &self.data[i * self.dim..(i + 1) * self.dim]
    }
}

impl std::fmt::Debug for Embeddings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Embeddings {{ shape: [{}, {}]", self.n, self.dim)?;
        if !self.truncated.is_empty() {
            write!(f, ", truncated: {:?}", self.truncated)?;
        }
        write!(f, " }}")
    }
}

/// Anything that can be seen as a matrix of embeddings: [`Embeddings`], one vector (`[f32]`,
/// `Vec<f32>`), rows (`Vec<Vec<f32>>`) or an ndarray matrix. Used by the `util` functions so that
/// `cos_sim(&a, &b)` takes what Python's `util.cos_sim` takes.
pub trait AsEmbeddings {
    /// Borrows or builds the embeddings.
    fn as_embeddings(&self) -> Result<std::borrow::Cow<'_, Embeddings>>;
}

impl AsEmbeddings for Embeddings {
    fn as_embeddings(&self) -> Result<std::borrow::Cow<'_, Embeddings>> {
        Ok(std::borrow::Cow::Borrowed(self))
    }
}
impl AsEmbeddings for [f32] {
    fn as_embeddings(&self) -> Result<std::borrow::Cow<'_, Embeddings>> {
        Ok(std::borrow::Cow::Owned(Embeddings::from_flat(
            self.to_vec(),
            1,
            self.len(),
        )?))
    }
}
impl AsEmbeddings for Vec<f32> {
    fn as_embeddings(&self) -> Result<std::borrow::Cow<'_, Embeddings>> {
        self.as_slice().as_embeddings()
    }
}
impl AsEmbeddings for Vec<Vec<f32>> {
    fn as_embeddings(&self) -> Result<std::borrow::Cow<'_, Embeddings>> {
        Ok(std::borrow::Cow::Owned(Embeddings::from_vec2(
            self.clone(),
        )?))
    }
}
impl AsEmbeddings for Array2<f32> {
    fn as_embeddings(&self) -> Result<std::borrow::Cow<'_, Embeddings>> {
        Ok(std::borrow::Cow::Owned(Embeddings::from_ndarray(self)))
    }
}
impl<T: AsEmbeddings + ?Sized> AsEmbeddings for &T {
    fn as_embeddings(&self) -> Result<std::borrow::Cow<'_, Embeddings>> {
        (**self).as_embeddings()
    }
}
