//! `ContrastiveLoss` over cosine distance.

use candle_core::Tensor;

use super::cosine::{binary_label, check_columns, labels_tensor, pairwise_cosine};
use super::loss::Loss;
use crate::core::Result;

/// `ContrastiveLoss(distance_metric=COSINE_DISTANCE, margin=0.5, size_average=True)`:
/// mean(0.5 · (y·d² + (1 − y)·relu(margin − d)²)), d = 1 − cos.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ContrastiveLoss {
    /// Margin for dissimilar pairs, default 0.5.
    pub margin: f64,
}

impl Default for ContrastiveLoss {
    fn default() -> Self {
        Self { margin: 0.5 }
    }
}

impl Loss for ContrastiveLoss {
    fn check_label(&self, label: f32) -> std::result::Result<(), String> {
        binary_label(self.name(), label)
    }

    fn compute_loss_from_embeddings(
        &self,
        embeddings: &[Tensor],
        labels: &[f32],
    ) -> Result<Tensor> {
        check_columns(embeddings, 2, self.name())?;
        let d = pairwise_cosine(&embeddings[0], &embeddings[1])?.affine(-1.0, 1.0)?;
        let y = labels_tensor(labels, &d)?;
        let pos = y.mul(&d.sqr()?)?;
        let neg = y
            .affine(-1.0, 1.0)?
            .mul(&d.affine(-1.0, self.margin)?.relu()?.sqr()?)?;
        Ok((pos.add(&neg)?.mean_all()? * 0.5)?)
    }
    fn name(&self) -> &'static str {
        "ContrastiveLoss"
    }
}
