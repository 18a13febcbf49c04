//! `util.cos_sim`, `util.dot_score` and the similarity functions: [`SimilarityFunction`] and the
//! dense [`SimilarityMatrix`].

use std::str::FromStr;
use std::sync::Arc;

use crate::core::compute::matmul_nt;
use crate::core::{AsEmbeddings, Embeddings, Error, Result};
use crate::display::{fmt_score, impl_display, shorten, Section, Tabular, MAX_COLS, MAX_ROWS};

/// How two embeddings are scored (Python's `SimilarityFunction`; also the `score_function` of
/// `util.semantic_search`, hence the alias [`ScoreFunction`]).
///
/// `semantic_search` and [`crate::util::top_pairs`] rank by [`Cosine`](Self::Cosine) or
/// [`Dot`](Self::Dot); evaluators and `model.similarity` also take the two distances.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SimilarityFunction {
    /// Cosine similarity (`util.cos_sim`), for models trained with cosine (most of them).
    #[default]
    Cosine,
    /// Dot product (`util.dot_score`), for models trained with dot-product (e.g. `msmarco-*-dot-*`).
    Dot,
    /// Negative Euclidean distance (`util.euclidean_sim`).
    Euclidean,
    /// Negative Manhattan distance (`util.manhattan_sim`).
    Manhattan,
}

/// The name `util.semantic_search` gives the similarity (`score_function`).
pub type ScoreFunction = SimilarityFunction;

impl SimilarityFunction {
    /// Python's name (`cosine`, `dot`, `euclidean`, `manhattan`), as in metric keys.
    pub fn name(&self) -> &'static str {
        match self {
            SimilarityFunction::Cosine => "cosine",
            SimilarityFunction::Dot => "dot",
            SimilarityFunction::Euclidean => "euclidean",
            SimilarityFunction::Manhattan => "manhattan",
        }
    }
    /// The score of one pair, in f64.
    pub fn pair(&self, a: &[f32], b: &[f32]) -> f64 {
        let (a, b): (Vec<f64>, Vec<f64>) = (
            a.iter().map(|&v| v as f64).collect(),
            b.iter().map(|&v| v as f64).collect(),
        );
        match self {
            SimilarityFunction::Cosine => {
                let dot: f64 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
                let na = a.iter().map(|x| x * x).sum::<f64>().sqrt().max(1e-12);
                let nb = b.iter().map(|x| x * x).sum::<f64>().sqrt().max(1e-12);
                dot / (na * nb)
            }
            SimilarityFunction::Dot => a.iter().zip(&b).map(|(x, y)| x * y).sum(),
            SimilarityFunction::Euclidean => -a
                .iter()
                .zip(&b)
                .map(|(x, y)| (x - y) * (x - y))
                .sum::<f64>()
                .sqrt(),
            SimilarityFunction::Manhattan => {
                -a.iter().zip(&b).map(|(x, y)| (x - y).abs()).sum::<f64>()
            }
        }
    }
}

impl FromStr for SimilarityFunction {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "cos" | "cosine" | "cos_sim" => Ok(SimilarityFunction::Cosine),
            "dot" | "dot_score" | "dot_product" => Ok(SimilarityFunction::Dot),
            "euclidean" | "euclidean_sim" => Ok(SimilarityFunction::Euclidean),
            "manhattan" | "manhattan_sim" => Ok(SimilarityFunction::Manhattan),
            other => Err(Error::InvalidInput(format!(
                "unknown score function '{other}' (use cos or dot; euclidean or manhattan for similarity)"
            ))),
        }
    }
}

impl std::fmt::Display for SimilarityFunction {
    /// The `util` function's name: `cos_sim`, `dot_score`, `euclidean_sim`, `manhattan_sim`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SimilarityFunction::Cosine => "cos_sim",
            SimilarityFunction::Dot => "dot_score",
            SimilarityFunction::Euclidean => "euclidean_sim",
            SimilarityFunction::Manhattan => "manhattan_sim",
        })
    }
}

pub(crate) fn check_dims(a: &Embeddings, b: &Embeddings) -> Result<()> {
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

/// Every row of `a` scored with every row of `b` → `[a.len(), b.len()]`.
pub(crate) fn score_matrix(
    a: &Embeddings,
    b: &Embeddings,
    f: SimilarityFunction,
) -> Result<SimilarityMatrix> {
    check_dims(a, b)?;
    // `x · yᵀ` of every row pair, by one GEMM.
    let gram = |x: &Embeddings, y: &Embeddings| {
        let mut data = vec![0f32; x.len() * y.len()];
        matmul_nt(
            x.as_slice(),
            x.len(),
            y.as_slice(),
            y.len(),
            x.dim(),
            &mut data,
        );
        data
    };
    let data = match f {
        SimilarityFunction::Cosine => gram(&a.normalized(), &b.normalized()),
        SimilarityFunction::Dot => gram(a, b),
        SimilarityFunction::Euclidean | SimilarityFunction::Manhattan => a
            .rows()
            .flat_map(|x| b.rows().map(move |y| f.pair(x, y) as f32))
            .collect(),
    };
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
        SimilarityFunction::Cosine,
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
        SimilarityFunction::Dot,
    )
}

impl_display!(SimilarityMatrix);

impl Tabular for SimilarityMatrix {
    fn sections(&self) -> Vec<Section> {
        let (r, c) = self.shape();
        let label = |texts: &[String], i: usize| -> String {
            texts
                .get(i)
                .map_or_else(|| i.to_string(), |t| format!("{i}: {}", shorten(t, 40)))
        };
        let cols = c.min(MAX_COLS);
        let mut header = vec![String::new()];
        header.extend((0..cols).map(|j| {
            if r == 1 && c == 1 {
                label(self.col_texts(), j)
            } else {
                j.to_string()
            }
        }));
        if c > cols {
            header.push(format!("… {} more", c - cols));
        }
        let shown = r.min(MAX_ROWS);
        let rows = (0..shown)
            .map(|i| {
                let mut row = vec![label(self.row_texts(), i)];
                row.extend((0..cols).map(|j| fmt_score(self.get(i, j).unwrap_or(f32::NAN))));
                if c > cols {
                    row.push("…".into());
                }
                row
            })
            .collect();
        vec![Section {
            title: Some(format!("Similarity [{r} × {c}]")),
            header,
            rows,
            more: r - shown,
        }]
    }
}
