//! `CoSENTLoss`: a ranking loss on the pairs' cosine similarities (Su Jianlin, 2022), for graded
//! labels (STS scores, graded qrels): every pair with a higher label should score higher.

use candle_core::Tensor;

use super::cosine::{check_columns, pairwise_cosine};
use super::loss::Loss;
use crate::core::Result;

/// `CoSENTLoss(scale=20)`: `log(1 + Σ_{label_i < label_j} exp(scale · (cos_i − cos_j)))` over the
/// batch's pairs `(a_i, b_i)` — sentence-transformers' formula (a `logsumexp` over 0 and the
/// masked differences).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CoSENTLoss {
    /// The inverse temperature (default 20).
    pub scale: f32,
}

impl Default for CoSENTLoss {
    fn default() -> Self {
        Self { scale: 20.0 }
    }
}

impl Loss for CoSENTLoss {
    fn compute_loss_from_embeddings(
        &self,
        embeddings: &[Tensor],
        labels: &[f32],
    ) -> Result<Tensor> {
        check_columns(embeddings, 2, self.name())?;
        let s = (pairwise_cosine(&embeddings[0], &embeddings[1])? * self.scale as f64)?;
        let n = labels.len();
        // diff[i][j] = s_i − s_j where label_i < label_j, else −1e12 (exp gives exactly 0).
        let diff = s
            .unsqueeze(1)?
            .broadcast_sub(&s.unsqueeze(0)?)?
            .flatten_all()?;
        let off: Vec<f32> = (0..n * n)
            .map(|k| {
                if labels[k / n] < labels[k % n] {
                    0.0
                } else {
                    -1e12
                }
            })
            .collect();
        let off = Tensor::from_vec(off, n * n, s.device())?;
        let x = Tensor::cat(
            &[&Tensor::zeros(1, s.dtype(), s.device())?, &(diff + off)?],
            0,
        )?;
        // logsumexp, shifted by the (constant) maximum.
        let max = x.max_all()?.to_scalar::<f32>()? as f64;
        Ok(((x - max)?.exp()?.sum_all()?.log()? + max)?)
    }
    fn name(&self) -> &'static str {
        "CoSENTLoss"
    }
}
