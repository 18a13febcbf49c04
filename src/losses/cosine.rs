//! The tensor math the losses share: differentiable cosine similarities, and the checks of a
//! batch's columns and labels.

use candle_core::{Tensor, D};

use crate::core::{Error, Result};
use crate::models::Normalize;

/// `util.cos_sim(a, b)` as a differentiable tensor `[a.rows, b.rows]` (rows normalised by the
/// pipeline's `Normalize`, PyTorch's `F.normalize`).
pub fn cos_sim_tensor(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    Ok(Normalize.forward(a)?.matmul(&Normalize.forward(b)?.t()?)?)
}

/// Row-wise cosine similarity of two `[b, d]` tensors (`F.cosine_similarity`, eps 1e-8) → `[b]`.
pub fn pairwise_cosine(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let eps = 1e-8;
    let na = a.sqr()?.sum(D::Minus1)?.sqrt()?.clamp(eps, f64::MAX)?;
    let nb = b.sqr()?.sum(D::Minus1)?.sqrt()?.clamp(eps, f64::MAX)?;
    Ok(a.mul(b)?.sum(D::Minus1)?.div(&na.mul(&nb)?)?)
}

/// An error unless the batch has at least `want` text columns.
pub(crate) fn check_columns(embeddings: &[Tensor], want: usize, name: &str) -> Result<()> {
    if embeddings.len() < want {
        return Err(Error::InvalidInput(format!(
            "{name} needs at least {want} text columns, got {}",
            embeddings.len()
        )));
    }
    Ok(())
}

/// The labels as a `[batch]` tensor on `like`'s device.
pub(crate) fn labels_tensor(labels: &[f32], like: &Tensor) -> Result<Tensor> {
    Ok(Tensor::from_slice(labels, labels.len(), like.device())?)
}

/// [`super::Loss::check_label`] of the contrastive losses: only labels 1 (similar) and 0
/// (dissimilar) — any other value fell in neither group, so the loss was 0 and nothing was
/// learned.
pub(crate) fn binary_label(name: &str, label: f32) -> std::result::Result<(), String> {
    if label == 0.0 || label == 1.0 {
        Ok(())
    } else {
        Err(format!(
            "{name} needs labels 1 (similar) or 0 (dissimilar), got {label}"
        ))
    }
}
