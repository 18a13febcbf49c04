//! New tokens for a model: Python's `model.tokenizer.add_tokens([...])` and
//! `model[0].auto_model.resize_token_embeddings(len(model.tokenizer))`, e.g. the `[TITLE]` and
//! `[BODY]` markers of a topic template.

use std::collections::HashMap;

use candle_core::{DType, Tensor};
use candle_nn::VarBuilder;
use tokenizers::AddedToken;

use super::sentence_transformer::SentenceTransformer;
use crate::core::{Error, Result};
use crate::encoder::Encoder;

const WORD_EMBEDDINGS: &str = "embeddings.word_embeddings.weight";

impl SentenceTransformer {
    /// Adds tokens to the tokenizer (Python's `tokenizer.add_tokens(tokens, special_tokens=…)`):
    /// each is then one token wherever it occurs in a text (special tokens are matched as
    /// written; others after the tokenizer's normalisation, e.g. lower-casing). Returns how many
    /// were new. The model can encode them once [`SentenceTransformer::resize_token_embeddings`]
    /// has given them embeddings; [`SentenceTransformer::save`] writes both, for Python too.
    ///
    /// ```no_run
    /// # use sbert::prelude::*;
    /// let mut model = SentenceTransformer::load("all-MiniLM-L6-v2")?;
    /// model.add_tokens(&["[TITLE]", "[BODY]"], true)?;
    /// model.resize_token_embeddings(model.tokenizer_len())?;
    /// let emb = model.encode(&["[TITLE] Visa for Peru? [BODY] I am Dutch."], &EncodeOptions::default())?;
    /// # Ok::<(), sbert::Error>(())
    /// ```
    pub fn add_tokens<S: AsRef<str>>(&mut self, tokens: &[S], special: bool) -> Result<usize> {
        if let Some(bad) = tokens.iter().find(|t| t.as_ref().trim().is_empty()) {
            return Err(Error::InvalidInput(format!(
                "cannot add the empty token {:?}",
                bad.as_ref()
            )));
        }
        let added: Vec<AddedToken> = tokens
            .iter()
            .map(|t| AddedToken::from(t.as_ref().to_string(), special))
            .collect();
        let transformer = self.transformer_mut();
        let n = if special {
            transformer.tokenizer.add_special_tokens(&added)
        } else {
            transformer.tokenizer.add_tokens(&added)
        };
        if n > 0 {
            transformer.tokens_added = true;
        }
        Ok(n)
    }

    /// How many tokens the tokenizer knows, added ones included (Python's `len(tokenizer)`).
    pub fn tokenizer_len(&self) -> usize {
        self.transformer().tokenizer.get_vocab_size(true)
    }

    /// Resizes the word-embedding matrix to `new_size` rows (Python's
    /// `resize_token_embeddings(new_size)`): rows beyond the old ones are the mean of the old rows
    /// (what transformers' default `mean_resizing` draws them around, with a variance of 1e-9 of
    /// the old rows'), rows past `new_size` are dropped. Call it after
    /// [`SentenceTransformer::add_tokens`] with [`SentenceTransformer::tokenizer_len`], and before
    /// training (the training variables are made from the resized matrix).
    pub fn resize_token_embeddings(&mut self, new_size: usize) -> Result<()> {
        let device = self.device.clone();
        let encoder = &self.transformer().encoder;
        let old_size = encoder.config().vocab_size;
        if new_size == old_size {
            return Ok(());
        }
        if new_size == 0 {
            return Err(Error::InvalidInput(
                "resize_token_embeddings: the vocabulary cannot be empty".into(),
            ));
        }
        let mut tensors: HashMap<String, Tensor> = encoder.named_tensors().into_iter().collect();
        let old = tensors
            .remove(WORD_EMBEDDINGS)
            .ok_or_else(|| Error::Internal("the encoder has no word embeddings".into()))?;
        let new = if new_size < old_size {
            old.narrow(0, 0, new_size)?
        } else {
            let mean = old.mean_keepdim(0)?;
            let extra = mean.broadcast_as((new_size - old_size, old.dim(1)?))?;
            Tensor::cat(&[&old, &extra.contiguous()?], 0)?
        };
        tensors.insert(WORD_EMBEDDINGS.into(), new.contiguous()?);
        let mut config = encoder.config().clone();
        config.vocab_size = new_size;
        let dtype = encoder.dtype();
        let mut resized = Encoder::new(
            &config,
            VarBuilder::from_tensors(tensors, DType::F32, &device),
        )?;
        resized.set_dtype(dtype)?;
        self.set_encoder(resized);
        Ok(())
    }
}
