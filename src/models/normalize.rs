//! `sentence_transformers.models.Normalize`: L2-normalises each sentence embedding.

use candle_core::{Tensor, D};

use crate::core::Result;

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
