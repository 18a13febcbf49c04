//! Serde structs that mirror the sentence-transformers on-disk JSON files.
//!
//! | file | struct |
//! |---|---|
//! | `modules.json` | `Vec<`[`ModuleEntry`]`>` |
//! | `sentence_bert_config.json` | [`SentenceBertConfig`] |
//! | `config_sentence_transformers.json` | [`SentenceTransformerConfig`] |
//! | `config.json` (Hugging Face, BERT family) | [`BertConfig`] |
//! | `1_Pooling/config.json` | [`crate::models::PoolingConfig`] |

use std::collections::BTreeMap;
use std::path::Path;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Reads and parses a JSON file, with the path in any error.
pub(crate) fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
    serde_json::from_str(&text).map_err(|source| Error::Json {
        path: path.to_path_buf(),
        source,
    })
}

/// One entry of `modules.json`: `{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModuleEntry {
    /// Position in the pipeline.
    pub idx: usize,
    /// Module name (usually the index as a string).
    pub name: String,
    /// Sub-folder holding the module's files (`""` for the model root).
    pub path: String,
    /// Python class path, e.g. `sentence_transformers.models.Pooling`.
    #[serde(rename = "type")]
    pub type_: String,
}

/// `sentence_bert_config.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct SentenceBertConfig {
    /// Inputs longer than this (in tokens, specials included) are truncated.
    #[serde(default)]
    pub max_seq_length: Option<usize>,
    /// Lower-case the text before tokenizing (on top of what the tokenizer does).
    #[serde(default)]
    pub do_lower_case: bool,
}

/// `config_sentence_transformers.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct SentenceTransformerConfig {
    /// `"cosine"`, `"dot"`, `"euclidean"` or `"manhattan"`; absent means cosine.
    #[serde(default)]
    pub similarity_fn_name: Option<String>,
    /// Named prompts, e.g. `{"query": "query: "}`.
    #[serde(default)]
    pub prompts: BTreeMap<String, String>,
    /// The prompt used when none is named.
    #[serde(default)]
    pub default_prompt_name: Option<String>,
    /// Library versions that wrote the model (kept for round trips).
    #[serde(
        default,
        rename = "__version__",
        skip_serializing_if = "Option::is_none"
    )]
    pub version: Option<serde_json::Value>,
}

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

/// Hugging Face `config.json` for the BERT family.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BertConfig {
    /// Vocabulary size.
    pub vocab_size: usize,
    /// Hidden size.
    pub hidden_size: usize,
    /// Number of transformer layers.
    pub num_hidden_layers: usize,
    /// Number of attention heads.
    pub num_attention_heads: usize,
    /// Feed-forward inner size.
    pub intermediate_size: usize,
    /// Feed-forward activation.
    #[serde(default)]
    pub hidden_act: HiddenAct,
    /// Dropout on hidden states (training only).
    #[serde(default = "default_dropout")]
    pub hidden_dropout_prob: f64,
    /// Dropout on attention probabilities (training only).
    #[serde(default = "default_dropout")]
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
    /// `"bert"` for the models sbert supports.
    #[serde(default)]
    pub model_type: Option<String>,
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
