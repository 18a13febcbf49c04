//! `BinaryCrossEntropyLoss`: the one-label cross-encoder's loss on logits.

use candle_core::Tensor;

use super::cosine::labels_tensor;
use crate::core::{Error, Result};

/// The cross-encoder's loss with one label: `torch.nn.BCEWithLogitsLoss()` (mean over the batch),
/// what Python's `CrossEncoder.fit` uses when `num_labels == 1` (sentence-transformers ≥ 4 calls it
/// `BinaryCrossEntropyLoss`).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct BinaryCrossEntropyLoss;

impl BinaryCrossEntropyLoss {
    /// The loss from the logits `[batch]` (or `[batch, 1]`) and labels in 0..1.
    pub fn compute_loss_from_logits(&self, logits: &Tensor, labels: &[f32]) -> Result<Tensor> {
        let x = logits.flatten_all()?;
        if x.dims1()? != labels.len() {
            return Err(Error::InvalidInput(format!(
                "{} logits but {} labels",
                x.dims1()?,
                labels.len()
            )));
        }
        bce_with_logits(&x, &labels_tensor(labels, &x)?)
    }
}

/// Mean of `max(x, 0) − x·y + log(1 + e^(−|x|))`: binary cross-entropy of `sigmoid(x)` against `y`,
/// in the numerically stable form PyTorch uses. Differentiable in `x`.
pub fn bce_with_logits(x: &Tensor, y: &Tensor) -> Result<Tensor> {
    let softplus = x.abs()?.neg()?.exp()?.affine(1.0, 1.0)?.log()?;
    Ok(x.relu()?.sub(&x.mul(y)?)?.add(&softplus)?.mean_all()?)
}
