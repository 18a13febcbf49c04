//! `CosineSimilarityLoss`: regression of the cosine similarity on float labels.

use candle_core::Tensor;

use super::cosine::{check_columns, labels_tensor, pairwise_cosine};
use super::loss::Loss;
use crate::core::Result;

/// `CosineSimilarityLoss`: mean squared error between cos(a_i, b_i) and the float label.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct CosineSimilarityLoss;

impl Loss for CosineSimilarityLoss {
    fn compute_loss_from_embeddings(
        &self,
        embeddings: &[Tensor],
        labels: &[f32],
    ) -> Result<Tensor> {
        check_columns(embeddings, 2, self.name())?;
        let cos = pairwise_cosine(&embeddings[0], &embeddings[1])?;
        let y = labels_tensor(labels, &cos)?;
        Ok(cos.sub(&y)?.sqr()?.mean_all()?)
    }
    fn name(&self) -> &'static str {
        "CosineSimilarityLoss"
    }
}
