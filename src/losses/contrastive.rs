//! `ContrastiveLoss`: pulls similar pairs together, pushes dissimilar ones past a margin.

use candle_core::Tensor;

use super::cosine::{binary_label, check_columns, labels_tensor};
use super::loss::Loss;
use super::siamese_distance::SiameseDistanceMetric;
use crate::core::Result;
use crate::models::SentenceTransformer;

/// `ContrastiveLoss(model, distance_metric=COSINE_DISTANCE, margin=0.5, size_average=True)`:
/// mean(0.5 · (y·d² + (1 − y)·relu(margin − d)²)), d = `distance_metric(a, b)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ContrastiveLoss {
    /// The distance between the two texts of a pair, default cosine distance.
    pub distance_metric: SiameseDistanceMetric,
    /// Margin for dissimilar pairs, default 0.5.
    pub margin: f64,
}

impl Default for ContrastiveLoss {
    fn default() -> Self {
        Self {
            distance_metric: SiameseDistanceMetric::CosineDistance,
            margin: 0.5,
        }
    }
}

impl ContrastiveLoss {
    /// Python's `losses.ContrastiveLoss(model)`: the defaults (cosine distance, margin 0.5).
    pub fn new(_model: &SentenceTransformer) -> Self {
        Self::default()
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
        let d = self
            .distance_metric
            .distance(&embeddings[0], &embeddings[1])?;
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
