//! `sentence_transformers.models.Pooling`: token embeddings → one sentence embedding.

use candle_core::{DType, Tensor, D};
use serde::{Deserialize, Serialize};

use crate::core::{Error, Result};
use crate::encoder::split_ragged;

/// How token embeddings are pooled. Maps to the boolean `pooling_mode_*` flags of `1_Pooling/config.json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PoolingMode {
    /// The first token (`[CLS]`).
    Cls,
    /// Element-wise maximum over the attended tokens.
    Max,
    /// Mean over the attended tokens (sentence-transformers' default).
    Mean,
    /// Sum over the attended tokens divided by √(number of tokens).
    MeanSqrtLen,
    /// Position-weighted mean (weights 1, 2, …, n).
    WeightedMean,
    /// The last attended token.
    LastToken,
}

/// `1_Pooling/config.json`, as sentence-transformers writes it: the boolean `pooling_mode_*`
/// flags, or (sentence-transformers 6) `embedding_dimension` and a `pooling_mode` name or list of
/// names, read into the same flags. Saved in the flag format, which every version reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PoolingConfig {
    /// Size of the token embeddings.
    #[serde(alias = "embedding_dimension")]
    pub word_embedding_dimension: usize,
    /// sentence-transformers 6's `pooling_mode`: `"mean"`, `"cls"`, … or a list of them
    /// (turned into the flags by [`Pooling::new`]).
    #[serde(default, skip_serializing)]
    pub pooling_mode: Option<ModeNames>,
    /// `[CLS]` pooling.
    #[serde(default)]
    pub pooling_mode_cls_token: bool,
    /// Mean pooling.
    #[serde(default)]
    pub pooling_mode_mean_tokens: bool,
    /// Max pooling.
    #[serde(default)]
    pub pooling_mode_max_tokens: bool,
    /// Mean · √len pooling.
    #[serde(default)]
    pub pooling_mode_mean_sqrt_len_tokens: bool,
    /// Weighted-mean pooling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pooling_mode_weightedmean_tokens: Option<bool>,
    /// Last-token pooling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pooling_mode_lasttoken: Option<bool>,
    /// Whether the prompt tokens are included (kept for round trips).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_prompt: Option<bool>,
}

/// One pooling mode name or several.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum ModeNames {
    /// `"mean"`.
    One(String),
    /// `["cls", "mean"]`.
    Many(Vec<String>),
}

impl PoolingConfig {
    /// The flags of sentence-transformers 6's `pooling_mode` names switched on (and the names
    /// cleared); an unknown name is an error.
    fn apply_mode_names(mut self) -> Result<Self> {
        let names = match self.pooling_mode.take() {
            None => return Ok(self),
            Some(ModeNames::One(n)) => vec![n],
            Some(ModeNames::Many(v)) => v,
        };
        for name in names {
            match name.as_str() {
                "cls" | "cls_token" => self.pooling_mode_cls_token = true,
                "max" | "max_tokens" => self.pooling_mode_max_tokens = true,
                "mean" | "mean_tokens" => self.pooling_mode_mean_tokens = true,
                "mean_sqrt_len_tokens" | "mean_sqrt_len" => {
                    self.pooling_mode_mean_sqrt_len_tokens = true
                }
                "weightedmean" | "weightedmean_tokens" => {
                    self.pooling_mode_weightedmean_tokens = Some(true)
                }
                "lasttoken" => self.pooling_mode_lasttoken = Some(true),
                other => {
                    return Err(Error::InvalidInput(format!(
                        "unknown pooling_mode '{other}' (cls, max, mean, mean_sqrt_len_tokens, weightedmean, lasttoken)"
                    )))
                }
            }
        }
        Ok(self)
    }

    /// The modes switched on, in the order sentence-transformers concatenates them.
    pub fn modes(&self) -> Vec<PoolingMode> {
        let mut m = Vec::new();
        if self.pooling_mode_cls_token {
            m.push(PoolingMode::Cls);
        }
        if self.pooling_mode_max_tokens {
            m.push(PoolingMode::Max);
        }
        if self.pooling_mode_mean_tokens {
            m.push(PoolingMode::Mean);
        }
        if self.pooling_mode_mean_sqrt_len_tokens {
            m.push(PoolingMode::MeanSqrtLen);
        }
        if self.pooling_mode_weightedmean_tokens == Some(true) {
            m.push(PoolingMode::WeightedMean);
        }
        if self.pooling_mode_lasttoken == Some(true) {
            m.push(PoolingMode::LastToken);
        }
        m
    }

    /// A config with one mode switched on.
    pub fn new(dim: usize, mode: PoolingMode) -> Self {
        PoolingConfig {
            word_embedding_dimension: dim,
            pooling_mode: None,
            pooling_mode_cls_token: mode == PoolingMode::Cls,
            pooling_mode_mean_tokens: mode == PoolingMode::Mean,
            pooling_mode_max_tokens: mode == PoolingMode::Max,
            pooling_mode_mean_sqrt_len_tokens: mode == PoolingMode::MeanSqrtLen,
            pooling_mode_weightedmean_tokens: Some(mode == PoolingMode::WeightedMean),
            pooling_mode_lasttoken: Some(mode == PoolingMode::LastToken),
            include_prompt: Some(true),
        }
    }
}

/// The pooling module.
#[derive(Debug, Clone)]
pub struct Pooling {
    /// Its on-disk configuration.
    pub config: PoolingConfig,
    modes: Vec<PoolingMode>,
}

impl Pooling {
    /// Builds the module; at least one mode must be on.
    pub fn new(config: PoolingConfig) -> Result<Self> {
        let config = config.apply_mode_names()?;
        let modes = config.modes();
        if modes.is_empty() {
            return Err(Error::InvalidInput(
                "pooling config switches no pooling mode on".into(),
            ));
        }
        Ok(Self { config, modes })
    }

    /// The active modes.
    pub fn modes(&self) -> &[PoolingMode] {
        &self.modes
    }

    /// Output dimension (input dimension × number of modes).
    pub fn output_dim(&self) -> usize {
        self.config.word_embedding_dimension * self.modes.len()
    }

    /// [`Pooling::forward`] on unpadded token embeddings: `hidden` holds the `lens[i]` token
    /// rows (`h` values each) of every sequence one after another, as the fast CPU path returns
    /// them. Returns `b × (h · modes)` values, what [`Pooling::forward`] gives for the same
    /// sequences right-padded (a sequence without tokens pools as its padding would: zeros,
    /// `-1e9` for max).
    pub fn forward_ragged(&self, hidden: &[f32], lens: &[usize], h: usize) -> Result<Vec<f32>> {
        let total: usize = lens.iter().sum();
        if hidden.len() != total * h {
            return Err(Error::Shape(format!(
                "pooling {} token rows of {h} values from {} values",
                total,
                hidden.len()
            )));
        }
        let dim = h * self.modes.len();
        let mut out = vec![0f32; lens.len() * dim];
        let seqs = split_ragged(hidden, lens.iter().copied(), h);
        for ((&len, seq), row) in lens.iter().zip(seqs).zip(out.chunks_mut(dim.max(1))) {
            for (mode, o) in self.modes.iter().zip(row.chunks_mut(h.max(1))) {
                pool_one(*mode, seq, len, h, o);
            }
        }
        Ok(out)
    }

    /// `tokens`: `[b, s, h]`; `mask`: `[b, s]` (u32 or f32). Returns `[b, h · modes]`.
    pub fn forward(&self, tokens: &Tensor, mask: &Tensor) -> Result<Tensor> {
        let mask = mask.to_dtype(DType::F32)?;
        let mask3 = mask.unsqueeze(2)?; // [b, s, 1]
        let mut outs = Vec::with_capacity(self.modes.len());
        for mode in &self.modes {
            let pooled = match mode {
                PoolingMode::Cls => tokens.narrow(1, 0, 1)?.squeeze(1)?,
                PoolingMode::Max => {
                    // Padded positions get -1e9 (as sentence-transformers does) before the max.
                    let neg = ((mask3.ones_like()? - &mask3)? * -1e9)?;
                    tokens.broadcast_mul(&mask3)?.broadcast_add(&neg)?.max(1)?
                }
                PoolingMode::Mean | PoolingMode::MeanSqrtLen => {
                    let sum = tokens.broadcast_mul(&mask3)?.sum(1)?; // [b, h]
                    let count = mask.sum_keepdim(1)?; // [b, 1]
                    let denom = if *mode == PoolingMode::Mean {
                        count.clamp(1e-9, f64::MAX)?
                    } else {
                        count.sqrt()?
                    };
                    sum.broadcast_div(&denom)?
                }
                PoolingMode::WeightedMean => {
                    let s = tokens.dim(1)?;
                    let w = Tensor::arange(1u32, s as u32 + 1, tokens.device())?
                        .to_dtype(DType::F32)?
                        .unsqueeze(0)?
                        .broadcast_mul(&mask)?; // [b, s]
                    let sum = tokens.broadcast_mul(&w.unsqueeze(2)?)?.sum(1)?;
                    let denom = w.sum_keepdim(1)?.clamp(1e-9, f64::MAX)?;
                    sum.broadcast_div(&denom)?
                }
                PoolingMode::LastToken => {
                    // Index of the last attended token of each row (right padding).
                    let last = (mask.sum(1)? - 1.0)?
                        .clamp(0.0, f64::MAX)?
                        .to_dtype(DType::U32)?;
                    let (b, _s, h) = tokens.dims3()?;
                    let idx = last
                        .reshape((b, 1, 1))?
                        .broadcast_as((b, 1, h))?
                        .contiguous()?;
                    tokens.gather(&idx, 1)?.squeeze(1)?
                }
            };
            outs.push(pooled);
        }
        if outs.len() == 1 {
            Ok(outs.pop().expect("one element"))
        } else {
            Ok(Tensor::cat(&outs, D::Minus1)?)
        }
    }
}

/// One sequence's `len` token rows (`seq`, `h` values each) pooled by `mode` into `out` (`h`
/// values, zero on entry), with the arithmetic of [`Pooling::forward`]: sums in token order, then
/// one division.
fn pool_one(mode: PoolingMode, seq: &[f32], len: usize, h: usize, out: &mut [f32]) {
    let rows = || seq.chunks_exact(h);
    // Σ tokens, or with `weighted` Σ (position + 1) · token.
    let add = |out: &mut [f32], weighted: bool| {
        for (i, r) in rows().enumerate() {
            let w = if weighted { (i + 1) as f32 } else { 1.0 };
            out.iter_mut().zip(r).for_each(|(o, v)| *o += v * w);
        }
    };
    match mode {
        PoolingMode::Cls => {
            if len > 0 {
                out.copy_from_slice(&seq[..h]);
            }
        }
        PoolingMode::LastToken => {
            if len > 0 {
                out.copy_from_slice(&seq[(len - 1) * h..]);
            }
        }
        PoolingMode::Max => {
            out.fill(if len == 0 { -1e9 } else { f32::NEG_INFINITY });
            for r in rows() {
                out.iter_mut().zip(r).for_each(|(o, &v)| *o = o.max(v));
            }
        }
        PoolingMode::Mean | PoolingMode::MeanSqrtLen => {
            add(out, false);
            let n = len as f32;
            let denom = if mode == PoolingMode::Mean {
                n.max(1e-9)
            } else {
                n.sqrt()
            };
            out.iter_mut().for_each(|o| *o /= denom);
        }
        PoolingMode::WeightedMean => {
            add(out, true);
            let denom = ((len * (len + 1) / 2) as f32).max(1e-9);
            out.iter_mut().for_each(|o| *o /= denom);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::Rng;
    use candle_core::Device;

    /// The unpadded pooling against the padded one (candle's ops, the training and GPU path), every
    /// mode at once, sequences of different lengths.
    #[test]
    fn ragged_pooling_equals_padded_pooling() -> Result<()> {
        let (h, lens) = (8, [3usize, 1, 5, 2]);
        let s = *lens.iter().max().unwrap();
        let mut rng = Rng::new(7);
        let hidden: Vec<f32> = (0..lens.iter().sum::<usize>() * h)
            .map(|_| rng.normal() as f32)
            .collect();
        let (mut padded, mut mask) = (vec![0f32; lens.len() * s * h], vec![0u32; lens.len() * s]);
        let mut at = 0;
        for (b, &l) in lens.iter().enumerate() {
            padded[b * s * h..(b * s + l) * h].copy_from_slice(&hidden[at * h..(at + l) * h]);
            mask[b * s..b * s + l].fill(1);
            at += l;
        }
        let mut config = PoolingConfig::new(h, PoolingMode::Cls);
        config.pooling_mode_max_tokens = true;
        config.pooling_mode_mean_tokens = true;
        config.pooling_mode_mean_sqrt_len_tokens = true;
        config.pooling_mode_weightedmean_tokens = Some(true);
        config.pooling_mode_lasttoken = Some(true);
        let pooling = Pooling::new(config)?;
        assert_eq!(pooling.modes().len(), 6);
        let dev = Device::Cpu;
        let want = pooling
            .forward(
                &Tensor::from_vec(padded, (lens.len(), s, h), &dev)?,
                &Tensor::from_vec(mask, (lens.len(), s), &dev)?,
            )?
            .flatten_all()?
            .to_vec1::<f32>()?;
        let got = pooling.forward_ragged(&hidden, &lens, h)?;
        assert_eq!(got.len(), want.len());
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert!(
                (g - w).abs() <= 1e-6 * w.abs().max(1.0),
                "value {i}: {g} vs {w}"
            );
        }
        assert!(pooling.forward_ragged(&hidden[1..], &lens, h).is_err());
        Ok(())
    }
}
