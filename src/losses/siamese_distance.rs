//! `SiameseDistanceMetric`: the distance the contrastive losses put between the two texts of a pair.

use candle_core::{Tensor, D};

use super::cosine::pairwise_cosine;
use crate::core::Result;

/// Python's `losses.SiameseDistanceMetric`: how far apart the two embeddings of a pair are.
///
/// ```
/// use sbert::losses::{OnlineContrastiveLoss, SiameseDistanceMetric};
/// // The lecture's loss, every argument written out (these are also the defaults):
/// let loss = OnlineContrastiveLoss { distance_metric: SiameseDistanceMetric::CosineDistance, margin: 0.5 };
/// assert_eq!(loss, OnlineContrastiveLoss::default());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SiameseDistanceMetric {
    /// `COSINE_DISTANCE`: `1 − cos(a, b)` (0 for the same direction, up to 2).
    #[default]
    CosineDistance,
    /// `EUCLIDEAN`: `‖a − b + 1e-6‖₂` (PyTorch's `F.pairwise_distance`, p = 2).
    Euclidean,
    /// `MANHATTAN`: `‖a − b + 1e-6‖₁` (`F.pairwise_distance`, p = 1).
    Manhattan,
}

impl SiameseDistanceMetric {
    /// The row-wise distances of two `[batch, dim]` tensors → `[batch]` (differentiable).
    pub fn distance(&self, a: &Tensor, b: &Tensor) -> Result<Tensor> {
        // F.pairwise_distance adds eps to the difference before the norm.
        const EPS: f64 = 1e-6;
        Ok(match self {
            Self::CosineDistance => pairwise_cosine(a, b)?.affine(-1.0, 1.0)?,
            Self::Euclidean => (a - b)?.affine(1.0, EPS)?.sqr()?.sum(D::Minus1)?.sqrt()?,
            Self::Manhattan => (a - b)?.affine(1.0, EPS)?.abs()?.sum(D::Minus1)?,
        })
    }

    /// Python's name (`COSINE_DISTANCE`, `EUCLIDEAN`, `MANHATTAN`).
    pub fn name(&self) -> &'static str {
        match self {
            Self::CosineDistance => "COSINE_DISTANCE",
            Self::Euclidean => "EUCLIDEAN",
            Self::Manhattan => "MANHATTAN",
        }
    }
}
