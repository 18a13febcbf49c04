//! `sentence_transformers.models.Transformer`: the tokenizer and the BERT encoder.

use std::path::Path;

use candle_core::Device;
use candle_nn::VarBuilder;
use tokenizers::{Encoding, Tokenizer};

use super::config::SentenceBertConfig;
use super::tokenizer::{load_tokenizer, set_truncation};
use crate::core::fs::read_json;
use crate::core::safetensors::load_safetensors;
use crate::core::{Error, Result};
use crate::encoder::{Bert, BertConfig};

/// Tokenizer + encoder, loaded from the model's root folder.
#[derive(Clone)]
pub struct Transformer {
    /// The Hugging Face tokenizer (padding off, truncation at `max_seq_length`).
    pub tokenizer: Tokenizer,
    /// The encoder.
    pub bert: Bert,
    /// `sentence_bert_config.json`.
    pub config: SentenceBertConfig,
    max_seq_length: usize,
}

impl std::fmt::Debug for Transformer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Transformer({{'max_seq_length': {}, 'do_lower_case': {}}}) with Transformer model: BertModel",
            self.max_seq_length, self.config.do_lower_case
        )
    }
}

impl Transformer {
    /// Loads `config.json`, `sentence_bert_config.json`, `tokenizer.json` and `model.safetensors` from `dir`.
    pub fn load(dir: &Path, device: &Device) -> Result<Self> {
        let bert_config: BertConfig = read_json(&dir.join("config.json"))?;
        bert_config
            .validate()
            .map_err(|why| Error::invalid_model(dir.join("config.json"), why))?;
        if let Some(t) = &bert_config.model_type {
            if !matches!(t.as_str(), "bert") {
                return Err(Error::invalid_model(
                    dir.join("config.json"),
                    format!("model_type '{t}' is not supported (sbert runs BERT-family encoders)"),
                ));
            }
        }
        let sb_path = dir.join("sentence_bert_config.json");
        let config: SentenceBertConfig = if sb_path.exists() {
            read_json(&sb_path)?
        } else {
            SentenceBertConfig::default()
        };
        let tokenizer = load_tokenizer(&dir.join("tokenizer.json"))?;
        let weights_path = dir.join("model.safetensors");
        if !weights_path.exists() {
            return Err(Error::invalid_model(
                &weights_path,
                "model.safetensors is missing (pytorch_model.bin is not supported: convert it with safetensors)",
            ));
        }
        let tensors = load_safetensors(&weights_path, device)?;
        let vb = VarBuilder::from_tensors(tensors, candle_core::DType::F32, device);
        let bert = Bert::new(&bert_config, vb)
            .map_err(|e| Error::invalid_model(&weights_path, e.to_string()))?;
        let max_seq_length = config
            .max_seq_length
            .unwrap_or(bert_config.max_position_embeddings)
            .min(bert_config.max_position_embeddings);
        Self::from_parts(tokenizer, bert, config, max_seq_length)
    }

    /// Assembles a Transformer from its parts (for tests and programmatic models).
    pub fn from_parts(
        mut tokenizer: Tokenizer,
        bert: Bert,
        config: SentenceBertConfig,
        max_seq_length: usize,
    ) -> Result<Self> {
        set_truncation(&mut tokenizer, max_seq_length)?;
        Ok(Self {
            tokenizer,
            bert,
            config,
            max_seq_length,
        })
    }

    /// Inputs longer than this many tokens (specials included) are truncated.
    pub fn max_seq_length(&self) -> usize {
        self.max_seq_length
    }

    /// Changes `max_seq_length` (at most the model's `max_position_embeddings`).
    pub fn set_max_seq_length(&mut self, n: usize) -> Result<()> {
        let limit = self.bert.config().max_position_embeddings;
        if n == 0 || n > limit {
            return Err(Error::InvalidInput(format!(
                "max_seq_length must be in 1..={limit}, got {n}"
            )));
        }
        let mut s = Self::from_parts(
            self.tokenizer.clone(),
            self.bert.clone(),
            self.config.clone(),
            n,
        )?;
        s.config.max_seq_length = Some(n);
        *self = s;
        Ok(())
    }

    /// Tokenizes texts (with special tokens, truncated, unpadded).
    pub fn tokenize<S: AsRef<str>>(&self, texts: &[S]) -> Result<Vec<Encoding>> {
        let inputs: Vec<String> = texts
            .iter()
            .map(|t| {
                if self.config.do_lower_case {
                    t.as_ref().to_lowercase()
                } else {
                    t.as_ref().to_string()
                }
            })
            .collect();
        Ok(self.tokenizer.encode_batch(inputs, true)?)
    }
}
