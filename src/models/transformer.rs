//! `sentence_transformers.models.Transformer`: the tokenizer and the encoder (any [`Family`]).

use std::path::Path;

use candle_core::Device;
use candle_nn::VarBuilder;
use tokenizers::{Encoding, Tokenizer};

use super::config::SentenceBertConfig;
use super::tokenizer::{load_model_tokenizer, model_max_length, set_truncation};
use crate::core::fs::read_json;
use crate::core::{Error, Result};
use crate::encoder::{load_weights, Encoder, EncoderConfig};

/// Tokenizer + encoder, loaded from the model's root folder.
#[derive(Clone)]
pub struct Transformer {
    /// The Hugging Face tokenizer (padding off, truncation at `max_seq_length`).
    pub tokenizer: Tokenizer,
    /// The encoder.
    pub encoder: Encoder,
    /// `sentence_bert_config.json`.
    pub config: SentenceBertConfig,
    max_seq_length: usize,
    /// Whether tokens were added to the tokenizer since it was loaded (`save` then writes the
    /// tokenizer from memory instead of copying its file).
    pub(crate) tokens_added: bool,
}

impl std::fmt::Debug for Transformer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Transformer({{'max_seq_length': {}, 'do_lower_case': {}}}) with Transformer model: {}",
            self.max_seq_length,
            self.config.do_lower_case,
            self.encoder.family().hf_class()
        )
    }
}

impl Transformer {
    /// Loads `config.json` (its `model_type` chooses the [`Family`]), `sentence_bert_config.json`,
    /// the tokenizer (`tokenizer.json`, or built from the vocabulary files) and the weights
    /// (`model.safetensors`, or `pytorch_model.bin`) from `dir`.
    pub fn load(dir: &Path, device: &Device) -> Result<Self> {
        let config_path = dir.join("config.json");
        let encoder_config: EncoderConfig = read_json(&config_path)?;
        encoder_config
            .validate()
            .map_err(|why| Error::invalid_model(&config_path, why))?;
        let family = encoder_config
            .family()
            .map_err(|why| Error::invalid_model(&config_path, why))?;
        let sb_path = dir.join("sentence_bert_config.json");
        let config: SentenceBertConfig = if sb_path.exists() {
            read_json(&sb_path)?
        } else {
            SentenceBertConfig::default()
        };
        let tokenizer = load_model_tokenizer(dir, family)?;
        let (tensors, weights_path) = load_weights(dir, family, device)?;
        let vb = VarBuilder::from_tensors(tensors, candle_core::DType::F32, device);
        let encoder = Encoder::new(&encoder_config, vb)
            .map_err(|e| Error::invalid_model(&weights_path, e.to_string()))?;
        // As sentence-transformers: the configured length, else the tokenizer's model_max_length
        // (sentence-transformers 6 writes no max_seq_length), never past the positions.
        let model_max_length = || {
            model_max_length(dir)
                .filter(|m| *m >= 1.0)
                .map(|m| m.min(1e9) as usize)
        };
        let max_seq_length = config
            .max_seq_length
            .or_else(model_max_length)
            .unwrap_or(usize::MAX)
            .min(encoder.max_input_length());
        Self::from_parts(tokenizer, encoder, config, max_seq_length)
    }

    /// Assembles a Transformer from its parts (for tests and programmatic models).
    pub fn from_parts(
        mut tokenizer: Tokenizer,
        encoder: Encoder,
        config: SentenceBertConfig,
        max_seq_length: usize,
    ) -> Result<Self> {
        set_truncation(&mut tokenizer, max_seq_length, false)?;
        Ok(Self {
            tokenizer,
            encoder,
            config,
            max_seq_length,
            tokens_added: false,
        })
    }

    /// Inputs longer than this many tokens (specials included) are truncated.
    pub fn max_seq_length(&self) -> usize {
        self.max_seq_length
    }

    /// Changes `max_seq_length` (at most the positions the encoder has).
    pub fn set_max_seq_length(&mut self, n: usize) -> Result<()> {
        let limit = self.encoder.max_input_length();
        if n == 0 || n > limit {
            return Err(Error::InvalidInput(format!(
                "max_seq_length must be in 1..={limit}, got {n}"
            )));
        }
        let mut s = Self::from_parts(
            self.tokenizer.clone(),
            self.encoder.clone(),
            self.config.clone(),
            n,
        )?;
        s.config.max_seq_length = Some(n);
        s.tokens_added = self.tokens_added;
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
