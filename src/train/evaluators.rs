//! The evaluators' `from_input_examples` (Python's classmethod): a held-out list of training-style
//! pairs becomes the evaluator `fit` validates on.

use super::example::InputExample;
use crate::core::{Error, Result};
use crate::evaluation::{BinaryClassificationEvaluator, EmbeddingSimilarityEvaluator};

/// Text 0, text 1 and the label of each example (every example a pair).
fn columns(examples: &[InputExample]) -> Result<(Vec<&str>, Vec<&str>, Vec<f32>)> {
    if let Some(i) = examples.iter().position(|e| e.texts.len() < 2) {
        return Err(Error::InvalidInput(format!(
            "example {i} has {} text(s); an evaluator needs pairs",
            examples[i].texts.len()
        )));
    }
    Ok((
        examples.iter().map(|e| e.texts[0].as_str()).collect(),
        examples.iter().map(|e| e.texts[1].as_str()).collect(),
        examples.iter().map(|e| e.label).collect(),
    ))
}

impl BinaryClassificationEvaluator {
    /// Python's `BinaryClassificationEvaluator.from_input_examples(examples)`: labels 0 or 1.
    pub fn from_input_examples(examples: &[InputExample]) -> Result<Self> {
        let (s1, s2, labels) = columns(examples)?;
        Self::new(&s1, &s2, &labels)
    }
}

impl EmbeddingSimilarityEvaluator {
    /// Python's `EmbeddingSimilarityEvaluator.from_input_examples(examples)`: the labels are the
    /// gold scores.
    pub fn from_input_examples(examples: &[InputExample]) -> Result<Self> {
        let (s1, s2, labels) = columns(examples)?;
        Self::new(&s1, &s2, &labels)
    }
}
