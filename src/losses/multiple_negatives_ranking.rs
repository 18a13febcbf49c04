//! `MultipleNegativesRankingLoss` (in-batch negatives).

use candle_core::Tensor;

use super::cosine::{check_columns, cos_sim_tensor};
use super::loss::Loss;
use crate::core::Result;
use crate::models::SentenceTransformer;

/// `MultipleNegativesRankingLoss(scale=20, similarity_fct=cos_sim)`.
///
/// For anchors `a_i` and candidates `c_j` (the positives of every example, then any hard
/// negatives): `S = scale · cos_sim(a, c)`, loss = mean_i(logsumexp_j S_ij − S_ii) — cross-entropy
/// with the example's own positive as the target and every other candidate as a negative.
///
/// Inputs: (anchor, positive) pairs or (anchor, positive, negative) triplets.
///
/// **Labels.** Python's loss ignores them: a pair labelled 0 (a random negative, as in the
/// lecture's 50/50 list given to both losses) is trained as a positive. sbert leaves label-0
/// examples out of this loss by default and `fit` says how many it skipped; set
/// `ignore_labels: true` for Python's behaviour.
/// Reference: Henderson et al., 2017, *Efficient Natural Language Response Suggestion for Smart Reply*.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MultipleNegativesRankingLoss {
    /// Multiplier of the cosine similarities (inverse temperature), default 20.
    pub scale: f64,
    /// Train every example as a positive pair, whatever its label (Python's behaviour). Default
    /// false: examples labelled 0 are left out.
    pub ignore_labels: bool,
}

impl Default for MultipleNegativesRankingLoss {
    fn default() -> Self {
        Self {
            scale: 20.0,
            ignore_labels: false,
        }
    }
}

impl MultipleNegativesRankingLoss {
    /// Python's `losses.MultipleNegativesRankingLoss(model)`: scale 20, cosine similarity. The model
    /// is the one `fit` trains; the loss itself keeps nothing of it.
    pub fn new(_model: &SentenceTransformer) -> Self {
        Self::default()
    }
}

impl Loss for MultipleNegativesRankingLoss {
    fn compute_loss_from_embeddings(
        &self,
        embeddings: &[Tensor],
        _labels: &[f32],
    ) -> Result<Tensor> {
        check_columns(embeddings, 2, self.name())?;
        let anchors = &embeddings[0]; // [b, d]
        let candidates = Tensor::cat(&embeddings[1..], 0)?; // [b * (columns - 1), d]
        let scores = (cos_sim_tensor(anchors, &candidates)? * self.scale)?; // [b, b * (columns - 1)]
        let b = anchors.dim(0)?;
        let targets = Tensor::arange(0u32, b as u32, anchors.device())?;
        Ok(candle_nn::loss::cross_entropy(&scores, &targets)?)
    }
    fn name(&self) -> &'static str {
        "MultipleNegativesRankingLoss"
    }
    fn positives_only(&self) -> bool {
        !self.ignore_labels
    }
}
