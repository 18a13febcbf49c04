//! `SentencesDataset`: the lecture's `SentencesDataset(train_examples, model)`.

use super::example::InputExample;
use crate::models::SentenceTransformer;

/// A list of training examples, as Python's `SentencesDataset(examples, model=model)` (a legacy
/// wrapper there too: `DataLoader` also takes the examples directly).
///
/// ```
/// use sbert::train::{DataLoader, InputExample, SentencesDataset};
/// let examples = vec![InputExample::pair("a question", "its answer", 1.0)];
/// let dataset = SentencesDataset::from(examples);
/// let loader = DataLoader::new(dataset, 16); // DataLoader(train_dataset, shuffle=True, batch_size=16)
/// assert_eq!(loader.len(), 1);
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SentencesDataset {
    /// The examples, in order.
    pub examples: Vec<InputExample>,
}

impl SentencesDataset {
    /// Python's `SentencesDataset(examples, model=model)`. The model is the one the examples are for;
    /// the texts are tokenized by `fit`, so nothing of it is kept here.
    pub fn new(examples: Vec<InputExample>, _model: &SentenceTransformer) -> Self {
        Self { examples }
    }
    /// Number of examples.
    pub fn len(&self) -> usize {
        self.examples.len()
    }
    /// True without examples.
    pub fn is_empty(&self) -> bool {
        self.examples.is_empty()
    }
}

impl From<Vec<InputExample>> for SentencesDataset {
    fn from(examples: Vec<InputExample>) -> Self {
        Self { examples }
    }
}

impl From<SentencesDataset> for Vec<InputExample> {
    fn from(dataset: SentencesDataset) -> Self {
        dataset.examples
    }
}
