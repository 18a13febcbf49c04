//! Hugging Face `config.json` of the encoder, as a serde struct that mirrors the file.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::family::Family;

/// The activation of BERT's feed-forward block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum HiddenAct {
    /// Exact GELU (erf), the BERT default.
    #[default]
    Gelu,
    /// tanh-approximated GELU.
    #[serde(alias = "gelu_new", alias = "gelu_pytorch_tanh")]
    GeluApproximate,
    /// ReLU.
    Relu,
}

/// Hugging Face `config.json` of an encoder of any [`Family`], under BERT's key names.
/// DistilBERT's own names (`dim`, `n_layers`, `n_heads`, `hidden_dim`, `activation`, `dropout`,
/// `attention_dropout`) are read as aliases. Saving never writes this struct: a saved model
/// keeps the source's `config.json` keys as they were.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EncoderConfig {
    /// Vocabulary size.
    pub vocab_size: usize,
    /// Hidden size.
    #[serde(alias = "dim")]
    pub hidden_size: usize,
    /// Number of transformer layers.
    #[serde(alias = "n_layers")]
    pub num_hidden_layers: usize,
    /// Number of attention heads.
    #[serde(alias = "n_heads")]
    pub num_attention_heads: usize,
    /// Feed-forward inner size.
    #[serde(alias = "hidden_dim")]
    pub intermediate_size: usize,
    /// Feed-forward activation.
    #[serde(default, alias = "activation")]
    pub hidden_act: HiddenAct,
    /// Dropout on hidden states (training only).
    #[serde(default = "default_dropout", alias = "dropout")]
    pub hidden_dropout_prob: f64,
    /// Dropout on attention probabilities (training only).
    #[serde(default = "default_dropout", alias = "attention_dropout")]
    pub attention_probs_dropout_prob: f64,
    /// Longest input the position embeddings allow.
    pub max_position_embeddings: usize,
    /// Number of token types (segments).
    #[serde(default = "default_type_vocab")]
    pub type_vocab_size: usize,
    /// LayerNorm epsilon.
    #[serde(default = "default_ln_eps")]
    pub layer_norm_eps: f64,
    /// Padding token id.
    #[serde(default)]
    pub pad_token_id: usize,
    /// The [`Family`]: `bert`, `roberta`, `xlm-roberta`, `distilbert` or `mpnet`.
    #[serde(default)]
    pub model_type: Option<String>,
    /// MPNet's number of relative-position buckets (32 when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relative_attention_num_buckets: Option<usize>,
    /// Every other key, kept so that saving writes the file back unchanged.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

fn default_dropout() -> f64 {
    0.1
}
fn default_type_vocab() -> usize {
    2
}
fn default_ln_eps() -> f64 {
    1e-12
}

/// The config's old name (it held BERT only).
pub type BertConfig = EncoderConfig;

impl EncoderConfig {
    /// The encoder family of `model_type` (`Err` lists the supported ones).
    pub fn family(&self) -> std::result::Result<Family, String> {
        Family::from_model_type(self.model_type.as_deref())
    }

    /// MPNet's relative-position buckets.
    pub fn num_buckets(&self) -> usize {
        self.relative_attention_num_buckets.unwrap_or(32)
    }

    /// Checks the sizes the encoder divides by or allocates with: `Err(reason)` names the key.
    /// (`hidden_size` not divisible by `num_attention_heads` would give other numbers than
    /// PyTorch, 0 heads a division by zero.)
    pub fn validate(&self) -> std::result::Result<(), String> {
        let positive = [
            ("vocab_size", self.vocab_size),
            ("hidden_size", self.hidden_size),
            ("num_attention_heads", self.num_attention_heads),
            ("intermediate_size", self.intermediate_size),
            ("max_position_embeddings", self.max_position_embeddings),
        ];
        if let Some((key, _)) = positive.iter().find(|(_, v)| *v == 0) {
            return Err(format!("{key} must be at least 1"));
        }
        if self.hidden_size % self.num_attention_heads != 0 {
            return Err(format!(
                "hidden_size {} is not a multiple of num_attention_heads {}",
                self.hidden_size, self.num_attention_heads
            ));
        }
        let family = self.family()?;
        if family.positions_after_padding() && self.max_position_embeddings <= self.pad_token_id + 1
        {
            return Err(format!(
                "max_position_embeddings {} leaves no position after padding_idx {} ({family} numbers positions from padding_idx + 1)",
                self.max_position_embeddings, self.pad_token_id
            ));
        }
        if family.has_relative_bias() && self.num_buckets() < 4 {
            return Err(format!(
                "relative_attention_num_buckets must be at least 4, got {}",
                self.num_buckets()
            ));
        }
        if !(self.layer_norm_eps.is_finite() && self.layer_norm_eps > 0.0) {
            return Err(format!(
                "layer_norm_eps must be a positive number, got {}",
                self.layer_norm_eps
            ));
        }
        for (key, p) in [
            ("hidden_dropout_prob", self.hidden_dropout_prob),
            (
                "attention_probs_dropout_prob",
                self.attention_probs_dropout_prob,
            ),
        ] {
            if !(0.0..1.0).contains(&p) {
                return Err(format!("{key} must be in [0, 1), got {p}"));
            }
        }
        Ok(())
    }
}
