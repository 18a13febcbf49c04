//! `sentence_transformers.util.quantization`: [`quantize_embeddings`] (int8 / uint8 with
//! per-dimension ranges calibrated on a sample, binary / ubinary packed bits) and
//! [`semantic_search_quantized`], an exact search over a quantized corpus with rescoring of the
//! best `top_k × rescore_multiplier` candidates by the full-precision query — what Python's
//! `semantic_search_usearch(…, corpus_precision=…, rescore=True, exact=True)` returns.
//!
//! Memory per 384-dimensional embedding: f32 1,536 bytes, int8 384 (1/4), binary 48 (1/32).

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use rayon::prelude::*;

use super::binary_scan::asymmetric_candidates;
use super::search::{hits_of, Hit, SearchResults};
use super::similarity::ScoreFunction;
use super::topk::{offer_scaled, Candidate, TopK};
use crate::core::compute::{compute_lock, matmul_nt};
use crate::core::{AsEmbeddings, Embeddings, Error, Result};
use crate::display::impl_display;

/// The precision of quantized embeddings, with Python's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// One signed byte per dimension: `floor((x − min) / step) − 128`, `step = (max − min) / 255`.
    Int8,
    /// One unsigned byte per dimension: `floor((x − min) / step)`.
    Uint8,
    /// One bit per dimension (`x > 0`), packed 8 to a byte, first dimension in the high bit
    /// (`np.packbits`), stored as Python's int8 values (each byte − 128).
    Binary,
    /// The same bits as unsigned bytes.
    Ubinary,
}

impl Precision {
    /// Python's name (`"int8"`, `"uint8"`, `"binary"`, `"ubinary"`).
    pub fn name(self) -> &'static str {
        match self {
            Precision::Int8 => "int8",
            Precision::Uint8 => "uint8",
            Precision::Binary => "binary",
            Precision::Ubinary => "ubinary",
        }
    }

    /// Whether the values are bits (binary, ubinary) rather than bytes per dimension.
    pub fn is_binary(self) -> bool {
        matches!(self, Precision::Binary | Precision::Ubinary)
    }

    /// Bytes per embedding of `dim` dimensions.
    pub fn row_bytes(self, dim: usize) -> usize {
        if self.is_binary() {
            dim.div_ceil(8)
        } else {
            dim
        }
    }

    /// Whether the stored bytes are NumPy `int8` (else `uint8`).
    pub fn is_signed(self) -> bool {
        matches!(self, Precision::Int8 | Precision::Binary)
    }

    /// What XORs an unsigned byte (a uint8 value, or 8 packed bits) into its stored form and back:
    /// int8 / binary store `byte − 128` as Python's int8, the same bit pattern as `byte ^ 0x80`.
    pub(crate) fn sign_flip(self) -> u8 {
        if self.is_signed() {
            0x80
        } else {
            0
        }
    }
}

impl fmt::Display for Precision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Precision {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "int8" => Ok(Precision::Int8),
            "uint8" => Ok(Precision::Uint8),
            "binary" => Ok(Precision::Binary),
            "ubinary" => Ok(Precision::Ubinary),
            "float32" | "f32" => Err(Error::InvalidInput(
                "float32 is not a quantized precision: the embeddings as they are".into(),
            )),
            other => Err(Error::InvalidInput(format!(
                "unknown precision '{other}': use int8, uint8, binary or ubinary"
            ))),
        }
    }
}

/// Per-dimension `[min, max]` of int8 / uint8 quantization (Python's `ranges`, shape `(2, dim)`).
#[derive(Debug, Clone, PartialEq)]
pub struct QuantizationRanges {
    /// Each dimension's minimum.
    pub min: Vec<f32>,
    /// Each dimension's maximum.
    pub max: Vec<f32>,
}

impl QuantizationRanges {
    /// The per-dimension minimum and maximum of `calibration` (at least 2 embeddings: one gives
    /// every dimension a zero range, as Python refuses).
    pub fn from_embeddings<E: AsEmbeddings + ?Sized>(calibration: &E) -> Result<Self> {
        let e = calibration.as_embeddings()?;
        if e.len() < 2 {
            return Err(Error::InvalidInput(format!(
                "cannot calibrate int8 / uint8 ranges from {} embedding(s): give ranges or calibration embeddings from a representative set",
                e.len()
            )));
        }
        let d = e.dim();
        let (mut min, mut max) = (vec![f32::INFINITY; d], vec![f32::NEG_INFINITY; d]);
        for row in e.rows() {
            for (j, &v) in row.iter().enumerate() {
                min[j] = min[j].min(v);
                max[j] = max[j].max(v);
            }
        }
        Self::new(min, max)
    }

    /// Ranges given explicitly (e.g. saved from an earlier calibration); finite, `min ≤ max`.
    pub fn new(min: Vec<f32>, max: Vec<f32>) -> Result<Self> {
        if min.len() != max.len() {
            return Err(Error::DimensionMismatch {
                what: "quantization ranges: min vs max".into(),
                left: min.len(),
                right: max.len(),
            });
        }
        if let Some(j) = (0..min.len())
            .find(|&j| !(min[j].is_finite() && max[j].is_finite() && min[j] <= max[j]))
        {
            return Err(Error::InvalidInput(format!(
                "quantization range of dimension {j} is [{}, {}]: it must be finite with min ≤ max",
                min[j], max[j]
            )));
        }
        Ok(Self { min, max })
    }

    /// The number of dimensions.
    pub fn dim(&self) -> usize {
        self.min.len()
    }

    /// Each dimension's step `(max − min) / 255` (1 where the range is 0, as Python).
    pub fn steps(&self) -> Vec<f32> {
        self.min
            .iter()
            .zip(&self.max)
            .map(|(lo, hi)| {
                let s = (hi - lo) / 255.0;
                if s == 0.0 {
                    1.0
                } else {
                    s
                }
            })
            .collect()
    }
}

/// Embeddings stored in a reduced precision: `len() × precision.row_bytes(dim)` bytes, with the
/// ranges that made int8 / uint8 values (to quantize queries alike and to dequantize).
#[derive(Clone, PartialEq)]
pub struct QuantizedEmbeddings {
    precision: Precision,
    dim: usize,
    n: usize,
    data: Vec<u8>,
    ranges: Option<QuantizationRanges>,
    /// The ranges' steps, derived once (empty for binary).
    steps: Vec<f32>,
    texts: Arc<Vec<String>>,
}

impl QuantizedEmbeddings {
    /// Wraps stored values (`n × row_bytes` bytes, each the bit pattern of Python's int8 or uint8
    /// value), e.g. read back from disk. int8 / uint8 need their ranges.
    pub fn from_raw(
        precision: Precision,
        dim: usize,
        data: Vec<u8>,
        ranges: Option<QuantizationRanges>,
    ) -> Result<Self> {
        let row = precision.row_bytes(dim);
        if dim == 0 || !data.len().is_multiple_of(row) {
            return Err(Error::InvalidInput(format!(
                "{} bytes are not whole {precision} rows of dimension {dim} ({row} bytes each)",
                data.len()
            )));
        }
        match (&ranges, precision.is_binary()) {
            (None, false) => {
                return Err(Error::InvalidInput(format!(
                    "{precision} embeddings need their quantization ranges"
                )))
            }
            (Some(r), false) if r.dim() != dim => {
                return Err(Error::DimensionMismatch {
                    what: "quantization ranges vs embedding dimension".into(),
                    left: r.dim(),
                    right: dim,
                })
            }
            _ => {}
        }
        let ranges = if precision.is_binary() { None } else { ranges };
        Ok(Self {
            precision,
            dim,
            n: data.len() / row,
            data,
            steps: ranges
                .as_ref()
                .map_or_else(Vec::new, QuantizationRanges::steps),
            ranges,
            texts: Arc::new(Vec::new()),
        })
    }

    /// The precision.
    pub fn precision(&self) -> Precision {
        self.precision
    }
    /// Dimensions of the embeddings they came from.
    pub fn dim(&self) -> usize {
        self.dim
    }
    /// Number of embeddings.
    pub fn len(&self) -> usize {
        self.n
    }
    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }
    /// Bytes per embedding.
    pub fn row_bytes(&self) -> usize {
        self.precision.row_bytes(self.dim)
    }
    /// The stored bytes (row-major).
    pub fn as_bytes(&self) -> &[u8] {
        &self.data
    }
    /// Memory of the values, in bytes.
    pub fn memory_bytes(&self) -> usize {
        self.data.len()
    }
    /// The int8 / uint8 ranges (None for binary).
    pub fn ranges(&self) -> Option<&QuantizationRanges> {
        self.ranges.as_ref()
    }
    /// The texts of the embeddings they came from (empty when those had none).
    pub fn texts(&self) -> &[String] {
        &self.texts
    }

    /// The `.npy` file Python's `np.save` writes of these values (`int8` for int8 and binary,
    /// `uint8` for uint8 and ubinary; shape `[n, row bytes]`).
    pub fn to_npy_bytes(&self) -> Vec<u8> {
        crate::core::npy::byte_npy_bytes(
            &self.data,
            self.n,
            self.row_bytes(),
            self.precision.is_signed(),
        )
    }

    /// Row `i` as Python holds it: int8 / uint8 values per dimension, or the packed bytes (binary
    /// as int8, ubinary as uint8), widened to i16.
    pub fn row_values(&self, i: usize) -> Result<Vec<i16>> {
        let row = self.row(i)?;
        Ok(row
            .iter()
            .map(|&b| {
                if self.precision.is_signed() {
                    b as i8 as i16
                } else {
                    b as i16
                }
            })
            .collect())
    }

    /// Row `i` back in f32, as Python rescores it: int8 / uint8 dequantized (`(v [+ 128]) · step +
    /// min`), binary as its bits (0.0 or 1.0).
    pub fn dequantize_row(&self, i: usize) -> Result<Vec<f32>> {
        let mut out = vec![0f32; self.dim];
        self.dequantize_into(self.row(i)?, &mut out);
        Ok(out)
    }

    fn row(&self, i: usize) -> Result<&[u8]> {
        let r = self.row_bytes();
        self.data.get(i * r..(i + 1) * r).ok_or_else(|| {
            Error::InvalidInput(format!("row {i} of {} quantized embeddings", self.n))
        })
    }

    fn dequantize_into(&self, row: &[u8], out: &mut [f32]) {
        match (self.precision, &self.ranges) {
            (Precision::Binary | Precision::Ubinary, _) => {
                let flip = self.precision.sign_flip();
                for (j, o) in out.iter_mut().enumerate() {
                    let byte = row[j / 8] ^ flip;
                    *o = f32::from((byte >> (7 - j % 8)) & 1);
                }
            }
            (p, Some(r)) => {
                for (j, o) in out.iter_mut().enumerate() {
                    let v = if p == Precision::Int8 {
                        row[j] as i8 as f32 + 128.0
                    } else {
                        row[j] as f32
                    };
                    *o = v * self.steps[j] + r.min[j];
                }
            }
            _ => unreachable!("int8 / uint8 embeddings always hold their ranges"),
        }
    }
}

impl fmt::Debug for QuantizedEmbeddings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "QuantizedEmbeddings({} × {}, {}, {} bytes)",
            self.n,
            self.dim,
            self.precision,
            self.data.len()
        )
    }
}

impl fmt::Display for QuantizedEmbeddings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} embeddings of dimension {}: {} bytes ({:.1}× smaller than float32)",
            self.n,
            self.precision,
            self.dim,
            self.data.len(),
            (self.n * self.dim * 4) as f64 / self.data.len().max(1) as f64
        )
    }
}

/// Python's `quantize_embeddings(embeddings, precision, ranges, calibration_embeddings)`: int8 /
/// uint8 use `ranges` if given, else the ranges of `calibration` if given, else those of the
/// embeddings themselves (at least 2 of them); binary / ubinary need neither.
pub fn quantize_embeddings<E: AsEmbeddings + ?Sized>(
    embeddings: &E,
    precision: Precision,
    ranges: Option<&QuantizationRanges>,
    calibration: Option<&Embeddings>,
) -> Result<QuantizedEmbeddings> {
    let e = embeddings.as_embeddings()?;
    let d = e.dim();
    if d == 0 {
        return Err(Error::InvalidInput(
            "cannot quantize embeddings of dimension 0".into(),
        ));
    }
    let ranges = if precision.is_binary() {
        None
    } else {
        let r = match (ranges, calibration) {
            (Some(r), _) => r.clone(),
            (None, Some(c)) => QuantizationRanges::from_embeddings(c)?,
            (None, None) => QuantizationRanges::from_embeddings(&*e)?,
        };
        if r.dim() != d {
            return Err(Error::DimensionMismatch {
                what: "quantization ranges vs embedding dimension".into(),
                left: r.dim(),
                right: d,
            });
        }
        Some(r)
    };
    let row_bytes = precision.row_bytes(d);
    let mut data = vec![0u8; e.len() * row_bytes];
    let steps = ranges.as_ref().map(QuantizationRanges::steps);
    data.par_chunks_mut(row_bytes)
        .zip(e.as_slice().par_chunks(d))
        .for_each(|(out, x)| quantize_row(x, precision, ranges.as_ref(), steps.as_deref(), out));
    let mut q = QuantizedEmbeddings::from_raw(precision, d, data, ranges)?;
    q.texts = e.texts_arc();
    Ok(q)
}

/// One row, as Python computes it (in f32: `clip(floor((x − min) / step), 0, 255)`).
fn quantize_row(
    x: &[f32],
    precision: Precision,
    ranges: Option<&QuantizationRanges>,
    steps: Option<&[f32]>,
    out: &mut [u8],
) {
    match (precision, ranges, steps) {
        (Precision::Binary | Precision::Ubinary, _, _) => {
            out.fill(0);
            for (j, &v) in x.iter().enumerate() {
                if v > 0.0 {
                    out[j / 8] |= 0x80 >> (j % 8);
                }
            }
            let flip = precision.sign_flip();
            out.iter_mut().for_each(|b| *b ^= flip);
        }
        (p, Some(r), Some(steps)) => {
            for j in 0..x.len() {
                let v = ((x[j] - r.min[j]) / steps[j]).floor();
                // NaN clips to 0 as NumPy's cast of a clipped NaN is undefined; a NaN input is
                // refused before search, so this only keeps the value in range.
                let v = if v.is_nan() { 0.0 } else { v.clamp(0.0, 255.0) } as u8;
                out[j] = v ^ p.sign_flip();
            }
        }
        _ => unreachable!("int8 / uint8 quantization always has ranges"),
    }
}

/// Options of [`semantic_search_quantized`], with Python's names and defaults.
#[derive(Debug, Clone, PartialEq)]
#[must_use]
pub struct QuantizedSearchOptions {
    /// Hits kept per query (default 10).
    pub top_k: usize,
    /// Rescore the candidates with the full-precision query (default true).
    pub rescore: bool,
    /// Candidates per hit that are rescored (default 2, Python's `rescore_multiplier`).
    pub rescore_multiplier: usize,
    /// Binary / ubinary corpora: rank the rows by the full-precision query's dot product with
    /// their bits as ±1 (`q · (2b − 1)`, through 5-bit lookup tables) instead of by the query's
    /// sign bits (Hamming distance, Python's way; default false). The corpus is the same; the
    /// first stage keeps many more of the true hits (SciFact, all-MiniLM-L6-v2, ×4 rescoring:
    /// 0.95 of the exact top 10 against 0.86) for about twice its time. int8 / uint8
    /// corpora are always scored with the full-precision query, so this changes nothing there.
    pub asymmetric: bool,
}

impl Default for QuantizedSearchOptions {
    fn default() -> Self {
        Self {
            top_k: 10,
            rescore: true,
            rescore_multiplier: 2,
            asymmetric: false,
        }
    }
}

impl QuantizedSearchOptions {
    /// Sets `top_k`.
    pub fn top_k(mut self, k: usize) -> Self {
        self.top_k = k;
        self
    }
    /// Sets whether to rescore.
    pub fn rescore(mut self, rescore: bool) -> Self {
        self.rescore = rescore;
        self
    }
    /// Sets the rescore multiplier.
    pub fn rescore_multiplier(mut self, m: usize) -> Self {
        self.rescore_multiplier = m;
        self
    }
    /// Sets whether binary rows are ranked by the full-precision query (see the field).
    pub fn asymmetric(mut self, asymmetric: bool) -> Self {
        self.asymmetric = asymmetric;
        self
    }
}

/// Packed binary rows scored at once per query group (a block stays in the core's cache).
const BINARY_BLOCK_BYTES: usize = 192 * 1024;
/// int8 / uint8 rows dequantized and scored by one GEMM.
const DEQUANT_BLOCK: usize = 4096;
/// Queries per GEMM of the int8 / uint8 search.
const QUERY_CHUNK: usize = 1024;

/// Exact search of full-precision queries in a quantized corpus, as Python's
/// `semantic_search_usearch(query_embeddings, corpus_embeddings=quantized, corpus_precision,
/// rescore=…, rescore_multiplier=…, exact=True)` returns it:
///
/// - **binary / ubinary**: the queries' sign bits are compared with every row's, the score being
///   the number of equal bits (`dim − Hamming distance`, higher is better); with `rescore`, the
///   best `top_k × rescore_multiplier` are rescored by the f32 query's dot product with the row's
///   0/1 bits (Python's rescoring) and the best `top_k` kept. With `asymmetric`, the rows are
///   ranked by the f32 query's dot product with their bits as ±1 instead (see
///   [`QuantizedSearchOptions::asymmetric`]); the rescoring is the same.
/// - **int8 / uint8**: every row is dequantized (`(v [+ 128]) · step + min`, with the corpus's
///   ranges) and scored by the f32 query's dot product with it, block by block through the f32
///   GEMM — the score Python's rescoring gives its candidates, here given to every row, so no true
///   hit is lost to a too-small candidate pool (Python first ranks by the int8 codes' inner
///   product). With `rescore` the best `top_k × rescore_multiplier` scores are recomputed in f64
///   (Python's einsum precision); without, the GEMM's f32 scores are returned.
///
/// Scores are dot products, so cosine search wants unit-length embeddings (`normalize_embeddings`
/// before quantizing, as for Python's quantized search). Equal scores are ordered by lower
/// `corpus_id`. Memory: the quantized corpus, one bounded heap per query and one block of scores.
/// Cost: binary O(queries · corpus · dim / 64) popcounts (asymmetric: O(queries · corpus · dim / 4)
/// byte lookups, 64 rows per instruction); int8 O(queries · corpus · dim)
/// multiply-adds (the f32 GEMM).
pub fn semantic_search_quantized<Q: AsEmbeddings + ?Sized>(
    queries: &Q,
    corpus: &QuantizedEmbeddings,
    options: &QuantizedSearchOptions,
) -> Result<SearchResults> {
    search(queries, corpus, corpus, options)
}

/// [`semantic_search_quantized`], rescoring from another copy of the same corpus: typically a
/// binary corpus searched in memory and its int8 copy (4× the bytes, on disk or memory-mapped)
/// dequantized for the rescoring — sentence-transformers' "binary search with int8 rescoring",
/// which keeps the memory of binary and most of the quality of int8. The rescoring copy must have
/// the same rows and dimension.
pub fn semantic_search_quantized_rescored<Q: AsEmbeddings + ?Sized>(
    queries: &Q,
    corpus: &QuantizedEmbeddings,
    rescore_from: &QuantizedEmbeddings,
    options: &QuantizedSearchOptions,
) -> Result<SearchResults> {
    if rescore_from.len() != corpus.len() || rescore_from.dim() != corpus.dim() {
        return Err(Error::InvalidInput(format!(
            "the rescoring copy ({} × {}) is not the searched corpus's shape ({} × {})",
            rescore_from.len(),
            rescore_from.dim(),
            corpus.len(),
            corpus.dim()
        )));
    }
    search(queries, corpus, rescore_from, options)
}

fn search<Q: AsEmbeddings + ?Sized>(
    queries: &Q,
    corpus: &QuantizedEmbeddings,
    rescore_from: &QuantizedEmbeddings,
    options: &QuantizedSearchOptions,
) -> Result<SearchResults> {
    let q = checked_queries(queries, corpus.dim())?;
    if options.rescore && options.rescore_multiplier == 0 {
        return Err(Error::InvalidInput(
            "rescore_multiplier must be at least 1 (the candidates rescored per hit)".into(),
        ));
    }
    let nc = corpus.len();
    let k = options.top_k.min(nc);
    let kept = if options.rescore {
        k.saturating_mul(options.rescore_multiplier).min(nc)
    } else {
        k
    };
    let candidates: Vec<Vec<Hit>> = if corpus.precision.is_binary() && options.asymmetric {
        let flip = corpus.precision.sign_flip();
        asymmetric_candidates(&q, &corpus.data, corpus.row_bytes(), flip, kept)
    } else {
        let tops = if corpus.precision.is_binary() {
            binary_candidates(&q, corpus, kept)
        } else {
            dequantized_candidates(&q, corpus, kept)?
        };
        tops.into_iter().map(hits_of).collect()
    };
    let hits = if options.rescore {
        rescore(&q, candidates, rescore_from, k)
    } else {
        candidates
    };
    Ok(SearchResults {
        hits,
        query_texts: q.texts_arc(),
        corpus_texts: corpus.texts.clone(),
        score_function: ScoreFunction::Dot,
    })
}

/// The queries, checked for a search of a corpus of dimension `dim`: the same dimension (or no
/// query) and no NaN or infinite value.
pub(crate) fn checked_queries<Q: AsEmbeddings + ?Sized>(
    queries: &Q,
    dim: usize,
) -> Result<std::borrow::Cow<'_, Embeddings>> {
    let q = queries.as_embeddings()?;
    if q.dim() != dim && !q.is_empty() {
        return Err(Error::DimensionMismatch {
            what: "query vs corpus embedding dimension".into(),
            left: q.dim(),
            right: dim,
        });
    }
    if let Some(i) = q.rows().position(|r| r.iter().any(|v| !v.is_finite())) {
        return Err(Error::InvalidInput(format!(
            "query {i} has a NaN or infinite value"
        )));
    }
    Ok(q)
}

/// Each query's candidates rescored by the f32 query's dot product with their rows of
/// `rescore_from` (dequantized; binary: their 0/1 bits), in f64 as NumPy's einsum, the best `k`
/// kept (ties: lower id first).
pub(crate) fn rescore(
    q: &Embeddings,
    candidates: Vec<Vec<Hit>>,
    rescore_from: &QuantizedEmbeddings,
    k: usize,
) -> Vec<Vec<Hit>> {
    let (d, rb) = (rescore_from.dim(), rescore_from.row_bytes());
    candidates
        .into_par_iter()
        .enumerate()
        .map_init(
            || vec![0f32; d],
            |deq, (qi, cands)| {
                let qv = &q.as_slice()[qi * d..(qi + 1) * d];
                let mut exact = TopK::new(k);
                for c in cands {
                    let id = c.corpus_id;
                    rescore_from.dequantize_into(&rescore_from.data[id * rb..(id + 1) * rb], deq);
                    let dot: f64 = qv
                        .iter()
                        .zip(deq.iter())
                        .map(|(a, b)| *a as f64 * *b as f64)
                        .sum();
                    exact.push(Candidate {
                        score: dot as f32,
                        id: id as u64,
                    });
                }
                hits_of(exact)
            },
        )
        .collect()
}

/// Each query's best `kept` rows by equal bits, the queries split among the threads, each thread
/// scanning the corpus block by block for all its queries. A block is first laid out word-major
/// in groups of 8 rows (word w of rows 0–7 side by side), so one query is compared with 8 rows
/// per vector instruction (AVX-512 VPOPCNTQ where the CPU has it).
fn binary_candidates(q: &Embeddings, corpus: &QuantizedEmbeddings, kept: usize) -> Vec<TopK> {
    let (rb, nc) = (corpus.row_bytes(), corpus.len());
    let words = rb.div_ceil(8);
    let mut qwords = vec![0u64; q.len() * words];
    let mut qrow = vec![0u8; rb];
    for (x, out) in q
        .as_slice()
        .chunks(corpus.dim())
        .zip(qwords.chunks_mut(words))
    {
        quantize_row(x, corpus.precision, None, None, &mut qrow);
        pack_words(&qrow, out);
    }
    let block = ((BINARY_BLOCK_BYTES / rb).max(8) / 8) * 8;
    let group = q.len().div_ceil(rayon::current_num_threads().max(1)).max(1);
    let isa = crate::core::isa::Isa::current();
    let bits = (rb * 8) as u32;
    let ones = vec![1f32; block];
    let _turn = compute_lock();
    qwords
        .par_chunks(words * group)
        .flat_map_iter(|qgroup| {
            let mut tops: Vec<TopK> = (0..qgroup.len() / words).map(|_| TopK::new(kept)).collect();
            let mut scores = vec![0f32; block];
            let mut transposed = vec![0u64; block * words];
            if kept > 0 {
                for start in (0..nc).step_by(block) {
                    let rows = block.min(nc - start);
                    let padded = rows.div_ceil(8) * 8;
                    transpose_block(
                        &corpus.data[start * rb..(start + rows) * rb],
                        rb,
                        &mut transposed[..padded * words],
                    );
                    for (qw, top) in qgroup.chunks_exact(words).zip(tops.iter_mut()) {
                        kernels::equal_bits(
                            isa,
                            qw,
                            &transposed[..padded * words],
                            bits,
                            &mut scores[..padded],
                        );
                        offer_scaled(top, &scores[..rows], &ones[..rows], start as u64);
                    }
                }
            }
            tops
        })
        .collect()
}

/// A row's bytes as little-endian u64 words, the last one padded with zero bytes.
fn pack_words(row: &[u8], out: &mut [u64]) {
    for (w, chunk) in out.iter_mut().zip(row.chunks(8)) {
        let mut b = [0u8; 8];
        b[..chunk.len()].copy_from_slice(chunk);
        *w = u64::from_le_bytes(b);
    }
}

/// Rows of `rb` bytes into groups of 8 rows, word-major: `out[(g · words + w) · 8 + l]` is word
/// `w` of row `8g + l` (rows past the end are zero).
fn transpose_block(rows: &[u8], rb: usize, out: &mut [u64]) {
    let words = rb.div_ceil(8);
    out.fill(0);
    let mut packed = vec![0u64; words];
    for (r, row) in rows.chunks_exact(rb).enumerate() {
        pack_words(row, &mut packed);
        let (g, l) = (r / 8, r % 8);
        for (w, &v) in packed.iter().enumerate() {
            out[(g * words + w) * 8 + l] = v;
        }
    }
}

/// Each query's best `kept` rows by the f32 query · dequantized row (one GEMM per block of rows
/// and chunk of queries).
fn dequantized_candidates(
    q: &Embeddings,
    corpus: &QuantizedEmbeddings,
    kept: usize,
) -> Result<Vec<TopK>> {
    let (d, rb, nc, nq) = (corpus.dim(), corpus.row_bytes(), corpus.len(), q.len());
    let block = DEQUANT_BLOCK.min(nc.max(1));
    let mut deq = crate::core::embeddings::zeroed(block * d)?;
    let mut scores = crate::core::embeddings::zeroed(QUERY_CHUNK.min(nq.max(1)) * block)?;
    let ones = vec![1f32; block];
    let mut all = Vec::with_capacity(nq);
    for q_start in (0..nq).step_by(QUERY_CHUNK) {
        let qn = QUERY_CHUNK.min(nq - q_start);
        let qchunk = &q.as_slice()[q_start * d..(q_start + qn) * d];
        let mut tops: Vec<TopK> = (0..qn).map(|_| TopK::new(kept)).collect();
        if kept > 0 {
            for start in (0..nc).step_by(block) {
                let bn = block.min(nc - start);
                let _turn = compute_lock();
                deq[..bn * d]
                    .par_chunks_mut(d)
                    .zip(corpus.data[start * rb..(start + bn) * rb].par_chunks(rb))
                    .for_each(|(out, row)| corpus.dequantize_into(row, out));
                let out = &mut scores[..qn * bn];
                matmul_nt(qchunk, qn, &deq[..bn * d], bn, d, out);
                out.par_chunks(bn)
                    .zip(tops.par_iter_mut())
                    .for_each(|(row, top)| offer_scaled(top, row, &ones[..bn], start as u64));
            }
        }
        all.extend(tops);
    }
    Ok(all)
}

/// The bit-counting kernel, compiled with popcnt (and AVX-512 VPOPCNTDQ where the CPU has it).
mod kernels {
    use crate::core::isa::Isa;

    /// `out[8g + l] = bits − Hamming(q, row 8g + l)` for the word-major groups of 8 rows of
    /// `block` (see `transpose_block`).
    #[inline(always)]
    fn equal_bits_impl(q: &[u64], block: &[u64], bits: u32, out: &mut [f32]) {
        let words = q.len();
        for (grp, o) in block.chunks_exact(words * 8).zip(out.chunks_exact_mut(8)) {
            let mut acc = [0u32; 8];
            for (w, &qw) in q.iter().enumerate() {
                let lanes = &grp[w * 8..w * 8 + 8];
                for l in 0..8 {
                    acc[l] += (qw ^ lanes[l]).count_ones();
                }
            }
            for l in 0..8 {
                o[l] = (bits - acc[l]) as f32;
            }
        }
    }

    pub(super) fn equal_bits(isa: Isa, q: &[u64], block: &[u64], bits: u32, out: &mut [f32]) {
        #[cfg(target_arch = "x86_64")]
        {
            /// One zmm holds word w of a group's 8 rows: XOR with the query's word w broadcast,
            /// VPOPCNTQ, add — 3 instructions per word for 8 rows.
            #[target_feature(enable = "avx512f,avx512dq,avx512vpopcntdq")]
            unsafe fn wide(q: &[u64], block: &[u64], bits: u32, out: &mut [f32]) {
                use std::arch::x86_64::*;
                let words = q.len();
                let total = _mm512_set1_epi64(i64::from(bits));
                for (grp, o) in block.chunks_exact(words * 8).zip(out.chunks_exact_mut(8)) {
                    let mut acc = _mm512_setzero_si512();
                    for (w, &qw) in q.iter().enumerate() {
                        // SAFETY: `grp` holds `words × 8` u64, so lanes w·8 … w·8 + 7 are in it.
                        let lanes = unsafe { _mm512_loadu_si512(grp.as_ptr().add(w * 8).cast()) };
                        let diff = _mm512_xor_si512(lanes, _mm512_set1_epi64(qw as i64));
                        acc = _mm512_add_epi64(acc, _mm512_popcnt_epi64(diff));
                    }
                    let equal = _mm512_cvtepi64_ps(_mm512_sub_epi64(total, acc));
                    // SAFETY: `o` is 8 f32.
                    unsafe { _mm256_storeu_ps(o.as_mut_ptr(), equal) };
                }
            }
            #[target_feature(enable = "avx2,popcnt")]
            unsafe fn avx2(q: &[u64], block: &[u64], bits: u32, out: &mut [f32]) {
                equal_bits_impl(q, block, bits, out)
            }
            match isa {
                // SAFETY: `isa` is a level the CPU runs (`Isa::current` never exceeds what was
                // detected; AVX2 machines have popcnt) and VPOPCNTDQ is checked here.
                Isa::Amx | Isa::Avx512 if *super::VPOPCNTDQ => {
                    return unsafe { wide(q, block, bits, out) }
                }
                Isa::Amx | Isa::Avx512 | Isa::Avx2 => return unsafe { avx2(q, block, bits, out) },
                Isa::Scalar => {}
            }
        }
        equal_bits_impl(q, block, bits, out)
    }
}

/// Whether the CPU has AVX-512 VPOPCNTDQ (vector popcount) and DQ (the conversion to f32).
#[cfg(target_arch = "x86_64")]
static VPOPCNTDQ: std::sync::LazyLock<bool> = std::sync::LazyLock::new(|| {
    std::arch::is_x86_feature_detected!("avx512vpopcntdq")
        && std::arch::is_x86_feature_detected!("avx512dq")
});

impl_display!(QuantizedSearchReport);

/// Memory and agreement of a quantized search with the exact one (what the notebook and the
/// benchmark print): recall@k of the exact hits, bytes of each corpus.
#[derive(Debug, Clone, PartialEq)]
pub struct QuantizedSearchReport {
    /// The precision of the corpus.
    pub precision: Precision,
    /// Whether the candidates were rescored.
    pub rescore: bool,
    /// The share of the exact search's hits the quantized search found.
    pub recall: f64,
    /// Bytes of the quantized corpus.
    pub memory_bytes: usize,
    /// Bytes of the same corpus in f32.
    pub f32_bytes: usize,
}

impl QuantizedSearchReport {
    /// Compares `found` (a quantized search) with `exact` (the f32 search of the same queries).
    pub fn new(
        corpus: &QuantizedEmbeddings,
        rescore: bool,
        found: &SearchResults,
        exact: &SearchResults,
    ) -> Self {
        Self {
            precision: corpus.precision(),
            rescore,
            recall: recall_of(found, exact, usize::MAX),
            memory_bytes: corpus.memory_bytes(),
            f32_bytes: corpus.len() * corpus.dim() * 4,
        }
    }
}

/// Recall@k against an exact search: the share of `exact`'s first `k` hits (over all queries)
/// that `found` has among its first `k` for the same query.
pub fn recall_of(found: &SearchResults, exact: &SearchResults, k: usize) -> f64 {
    let (mut hit, mut total) = (0usize, 0usize);
    for (got, want) in found.iter().zip(exact.iter()) {
        let ids: std::collections::HashSet<usize> =
            got.iter().take(k).map(|h| h.corpus_id).collect();
        let want = &want[..want.len().min(k)];
        total += want.len();
        hit += want.iter().filter(|w| ids.contains(&w.corpus_id)).count();
    }
    hit as f64 / total.max(1) as f64
}

impl crate::display::Tabular for QuantizedSearchReport {
    fn sections(&self) -> Vec<crate::display::Section> {
        vec![crate::display::Section {
            title: None,
            header: vec![
                "corpus".into(),
                "rescored".into(),
                "recall of the exact hits".into(),
                "memory".into(),
                "vs float32".into(),
            ],
            rows: vec![vec![
                self.precision.to_string(),
                self.rescore.to_string(),
                format!("{:.4}", self.recall),
                format!("{:.1} MB", self.memory_bytes as f64 / 1e6),
                format!(
                    "1/{:.0}",
                    self.f32_bytes as f64 / self.memory_bytes.max(1) as f64
                ),
            ]],
            more: 0,
        }]
    }
}
