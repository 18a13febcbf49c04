//! `sentence_transformers.models.Pooling`: token embeddings → one sentence embedding.

use candle_core::{DType, Tensor, D};
use serde::{Deserialize, Serialize};

use crate::core::{Error, Result};

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
