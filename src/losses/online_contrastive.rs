//! `OnlineContrastiveLoss`: contrastive loss over the hard pairs of a batch only.

use candle_core::Tensor;

use super::cosine::{binary_label, check_columns, pairwise_cosine};
use super::loss::Loss;
use crate::core::{Error, Result};

/// `OnlineContrastiveLoss(distance_metric=COSINE_DISTANCE, margin=0.5)`.
///
/// `d = 1 − cos(a_i, b_i)`. Only hard pairs count: negatives closer than the farthest positive,
/// positives farther than the closest negative. loss = Σ hard positives d² + Σ hard negatives
/// relu(margin − d)² — a **sum**. Many batches give exactly 0 (nothing to mine).
///
/// Inputs: (text1, text2) pairs with labels 1 (similar) or 0 (dissimilar).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OnlineContrastiveLoss {
    /// Margin for dissimilar pairs, default 0.5.
    pub margin: f64,
}

impl Default for OnlineContrastiveLoss {
    fn default() -> Self {
        Self { margin: 0.5 }
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
        let d = (pairwise_cosine(&embeddings[0], &embeddings[1])?.affine(-1.0, 1.0))?; // [b]
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
        // Python: negs[negs < (poss.max() if len(poss) > 1 else negs.mean())],
        //         poss[poss > (negs.min() if len(negs) > 1 else poss.mean())]
        let neg_bound = if poss.len() > 1 {
            poss.iter().copied().fold(f32::NEG_INFINITY, f32::max)
        } else {
            mean(&negs)
        };
        let pos_bound = if negs.len() > 1 {
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
