//! Serde structs that mirror the sentence-transformers on-disk JSON files.
//!
//! | file | struct |
//! |---|---|
//! | `modules.json` | `Vec<`[`ModuleEntry`]`>` |
//! | `sentence_bert_config.json` | [`SentenceBertConfig`] |
//! | `config_sentence_transformers.json` | [`SentenceTransformerConfig`] |
//! | `config.json` (Hugging Face, BERT family) | [`crate::encoder::config::BertConfig`] |
//! | `1_Pooling/config.json` | [`crate::models::PoolingConfig`] |

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

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
