//! `OnlineContrastiveLoss`: contrastive loss over the hard pairs of a batch only.

use candle_core::Tensor;

use super::cosine::{binary_label, check_columns};
use super::loss::Loss;
use super::siamese_distance::SiameseDistanceMetric;
use crate::core::{Error, Result};
use crate::models::SentenceTransformer;

/// `OnlineContrastiveLoss(model, distance_metric=SiameseDistanceMetric.COSINE_DISTANCE, margin=0.5)`.
///
/// `d = distance_metric(a_i, b_i)` (by default `1 − cos(a_i, b_i)`). Only hard pairs count: negatives closer than the farthest positive,
/// positives farther than the closest negative. loss = Σ hard positives d² + Σ hard negatives
/// relu(margin − d)² — a **sum**. Many batches give exactly 0 (nothing to mine).
///
/// Inputs: (text1, text2) pairs with labels 1 (similar) or 0 (dissimilar).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OnlineContrastiveLoss {
    /// The distance between the two texts of a pair, default cosine distance.
    pub distance_metric: SiameseDistanceMetric,
    /// Margin for dissimilar pairs, default 0.5.
    pub margin: f64,
}

impl Default for OnlineContrastiveLoss {
    fn default() -> Self {
        Self {
            distance_metric: SiameseDistanceMetric::CosineDistance,
            margin: 0.5,
        }
    }
}

impl OnlineContrastiveLoss {
    /// Python's `losses.OnlineContrastiveLoss(model)`: the defaults (cosine distance, margin 0.5).
    /// The model is the one `fit` trains; the loss itself keeps nothing of it.
    pub fn new(_model: &SentenceTransformer) -> Self {
        Self::default()
    }
}

fn mean(v: &[f32]) -> f32 {
    v.iter().sum::<f32>() / v.len() as f32
}

impl Loss for OnlineContrastiveLoss {
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
            .distance(&embeddings[0], &embeddings[1])?; // [b]
        let values = d.to_vec1::<f32>()?;
        if values.len() != labels.len() {
            return Err(Error::DimensionMismatch {
                what: "labels vs batch".into(),
                left: labels.len(),
                right: values.len(),
            });
        }
        let poss: Vec<f32> = values
            .iter()
            .zip(labels)
            .filter(|(_, &l)| l == 1.0)
            .map(|(v, _)| *v)
            .collect();
        let negs: Vec<f32> = values
            .iter()
            .zip(labels)
            .filter(|(_, &l)| l == 0.0)
            .map(|(v, _)| *v)
            .collect();
        // Python (6.2): negs[negs < (poss.max() if len(poss) else negs.mean())],
        //              poss[poss > (negs.min() if len(negs) else poss.mean())]
        let neg_bound = if !poss.is_empty() {
            poss.iter().copied().fold(f32::NEG_INFINITY, f32::max)
        } else {
            mean(&negs)
        };
        let pos_bound = if !negs.is_empty() {
            negs.iter().copied().fold(f32::INFINITY, f32::min)
        } else {
            mean(&poss)
        };
        let mut hard_pos = Vec::new();
        let mut hard_neg = Vec::new();
        for (i, (&v, &l)) in values.iter().zip(labels).enumerate() {
            if l == 1.0 && v > pos_bound {
                hard_pos.push(i as u32);
            } else if l == 0.0 && v < neg_bound {
                hard_neg.push(i as u32);
            }
        }
        let dev = d.device();
        let mut loss = Tensor::zeros((), d.dtype(), dev)?;
        // Multiply by zero so the graph still reaches the embeddings (their gradient is then exactly 0).
        loss = loss.add(&(d.sum_all()? * 0.0)?)?;
        if !hard_pos.is_empty() {
            let idx = Tensor::from_vec(hard_pos.clone(), hard_pos.len(), dev)?;
            loss = loss.add(&d.index_select(&idx, 0)?.sqr()?.sum_all()?)?;
        }
        if !hard_neg.is_empty() {
            let idx = Tensor::from_vec(hard_neg.clone(), hard_neg.len(), dev)?;
            let m = d.index_select(&idx, 0)?.affine(-1.0, self.margin)?.relu()?;
            loss = loss.add(&m.sqr()?.sum_all()?)?;
        }
        Ok(loss)
    }
    fn name(&self) -> &'static str {
        "OnlineContrastiveLoss"
    }
}
