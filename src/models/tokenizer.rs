//! The one tokenizer set-up of the crate: load `tokenizer.json`, no padding, right-side
//! longest-first truncation at a maximum length (what sentence-transformers' `Transformer` and
//! `CrossEncoder` do).

use std::path::Path;

use tokenizers::{Tokenizer, TruncationDirection, TruncationParams, TruncationStrategy};

use crate::core::{Error, Result};

/// Loads `path` (a `tokenizer.json`) with a clear error when it is missing or unreadable.
pub fn load_tokenizer(path: &Path) -> Result<Tokenizer> {
    if !path.exists() {
        return Err(Error::invalid_model(path, "tokenizer.json is missing"));
    }
    Tokenizer::from_file(path)
        .map_err(|e| Error::invalid_model(path, format!("cannot load tokenizer: {e}")))
}

/// Turns padding off and truncates every input (a text or a pair) to `max_length` tokens,
/// specials included, cutting the longest side first.
pub fn set_truncation(tokenizer: &mut Tokenizer, max_length: usize) -> Result<()> {
    tokenizer.with_padding(None);
    tokenizer
        .with_truncation(Some(TruncationParams {
            direction: TruncationDirection::Right,
            max_length,
            strategy: TruncationStrategy::LongestFirst,
            stride: 0,
        }))
        .map_err(|e| Error::Tokenizer(e.to_string()))?;
    Ok(())
}
