//! Training losses, each a small struct whose math is a pure function of the embeddings
//! (`compute_loss_from_embeddings`, as in sentence-transformers), testable without a model.
//!
//! Inputs follow sentence-transformers: `embeddings[c]` is the `[batch, dim]` embedding of text
//! column `c` of the batch (anchor, positive, negative…), `labels` one float per example.
//! Every function is built from differentiable candle ops, so `loss.backward()` gives gradients.

use candle_core::{Tensor, D};

use crate::core::{Error, Result};

/// A loss over the embeddings of a batch's text columns.
pub trait Loss {
    /// The loss (a scalar tensor) from `embeddings[column]` (`[batch, dim]` each) and `labels`.
    fn compute_loss_from_embeddings(&self, embeddings: &[Tensor], labels: &[f32])
        -> Result<Tensor>;
    /// The loss's name, as Python names it.
    fn name(&self) -> &'static str;
    /// Whether examples with label 0 must be left out (MNRL takes positive pairs only).
    fn positives_only(&self) -> bool {
        false
    }
}

/// `x / max(‖x‖, 1e-12)` row-wise (PyTorch's `F.normalize`).
fn normalize(x: &Tensor) -> Result<Tensor> {
    let norm = x
        .sqr()?
        .sum_keepdim(D::Minus1)?
        .sqrt()?
        .clamp(1e-12, f64::MAX)?;
    Ok(x.broadcast_div(&norm)?)
}

/// `util.cos_sim(a, b)` as a differentiable tensor `[a.rows, b.rows]`.
pub fn cos_sim_tensor(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    Ok(normalize(a)?.matmul(&normalize(b)?.t()?)?)
}

/// Row-wise cosine similarity of two `[b, d]` tensors (`F.cosine_similarity`, eps 1e-8) → `[b]`.
pub fn pairwise_cosine(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let eps = 1e-8;
    let na = a.sqr()?.sum(D::Minus1)?.sqrt()?.clamp(eps, f64::MAX)?;
    let nb = b.sqr()?.sum(D::Minus1)?.sqrt()?.clamp(eps, f64::MAX)?;
    Ok(a.mul(b)?.sum(D::Minus1)?.div(&na.mul(&nb)?)?)
}

fn check_columns(embeddings: &[Tensor], want: usize, name: &str) -> Result<()> {
    if embeddings.len() < want {
        return Err(Error::InvalidInput(format!(
            "{name} needs at least {want} text columns, got {}",
            embeddings.len()
        )));
    }
    Ok(())
}

fn labels_tensor(labels: &[f32], like: &Tensor) -> Result<Tensor> {
    Ok(Tensor::from_slice(labels, labels.len(), like.device())?)
}

/// `MultipleNegativesRankingLoss(scale=20, similarity_fct=cos_sim)`.
///
/// For anchors `a_i` and candidates `c_j` (the positives of every example, then any hard
/// negatives): `S = scale · cos_sim(a, c)`, loss = mean_i(logsumexp_j S_ij − S_ii) — cross-entropy
/// with the example's own positive as the target and every other candidate as a negative.
///
/// Inputs: (anchor, positive) pairs or (anchor, positive, negative) triplets; labels unused.
/// Reference: Henderson et al., 2017, *Efficient Natural Language Response Suggestion for Smart Reply*.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MultipleNegativesRankingLoss {
    /// Multiplier of the cosine similarities (inverse temperature), default 20.
    pub scale: f64,
}

impl Default for MultipleNegativesRankingLoss {
    fn default() -> Self {
        Self { scale: 20.0 }
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
        true
    }
}

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

/// A loss by its CLI or Python name, with default hyper-parameters: `mnrl` /
/// `MultipleNegativesRankingLoss`, `online-contrastive` / `OnlineContrastiveLoss`, `contrastive` /
/// `ContrastiveLoss`, `cosine` / `CosineSimilarityLoss`.
pub fn loss_by_name(name: &str) -> Result<Box<dyn Loss>> {
    Ok(match name.trim() {
        "mnrl" | "MultipleNegativesRankingLoss" => {
            Box::new(MultipleNegativesRankingLoss::default())
        }
        "online-contrastive" | "OnlineContrastiveLoss" => {
            Box::new(OnlineContrastiveLoss::default())
        }
        "contrastive" | "ContrastiveLoss" => Box::new(ContrastiveLoss::default()),
        "cosine" | "CosineSimilarityLoss" => Box::new(CosineSimilarityLoss),
        other => {
            return Err(Error::InvalidInput(format!(
                "unknown loss '{other}' (mnrl, online-contrastive, contrastive, cosine)"
            )))
        }
    })
}
