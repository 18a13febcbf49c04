//! `sentence_transformers.models.Normalize`: L2-normalises each sentence embedding.

use candle_core::{Tensor, D};

use crate::error::Result;

/// L2 normalisation, `x / max(‖x‖, 1e-12)` (PyTorch's `F.normalize`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Normalize;

impl Normalize {
    /// `x`: `[b, d]`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let norm = x
            .sqr()?
            .sum_keepdim(D::Minus1)?
            .sqrt()?
            .clamp(1e-12, f64::MAX)?;
        Ok(x.broadcast_div(&norm)?)
    }
}

/// L2-normalises the rows of a row-major `[n, dim]` buffer in place (same math as [`Normalize`]).
pub(crate) fn normalize_rows(data: &mut [f32], dim: usize) {
    if dim == 0 {
        return;
    }
    for row in data.chunks_mut(dim) {
        let norm = row.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12);
        row.iter_mut().for_each(|v| *v /= norm);
    }
}
