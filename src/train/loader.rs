//! `DataLoader`: batches of examples, reshuffled each epoch from a seed.

use super::example::InputExample;
use crate::core::Rng;

/// Batches of examples, reshuffled each epoch from a seed (Python's `DataLoader(shuffle=True)`).
#[derive(Debug, Clone)]
pub struct DataLoader {
    /// The examples.
    pub examples: Vec<InputExample>,
    /// Examples per batch.
    pub batch_size: usize,
    /// Reshuffle every epoch.
    pub shuffle: bool,
    /// Seed of the shuffles.
    pub seed: u64,
}

impl DataLoader {
    /// A shuffling loader with seed 42 (`fit` refuses a `batch_size` of 0), over a
    /// `Vec<InputExample>` or a [`super::SentencesDataset`] — Python's
    /// `DataLoader(train_dataset, shuffle=True, batch_size=16)`.
    pub fn new(examples: impl Into<Vec<InputExample>>, batch_size: usize) -> Self {
        Self {
            examples: examples.into(),
            batch_size,
            shuffle: true,
            seed: 42,
        }
    }
    /// Number of batches per epoch (the last one may be short, as with PyTorch's default; none
    /// with a `batch_size` of 0).
    pub fn len(&self) -> usize {
        if self.batch_size == 0 {
            return 0;
        }
        self.examples.len().div_ceil(self.batch_size)
    }
    /// True without examples.
    pub fn is_empty(&self) -> bool {
        self.examples.is_empty()
    }
    /// The batches (example indices) of an epoch.
    pub fn batches(&self, epoch: usize) -> Vec<Vec<usize>> {
        if self.batch_size == 0 {
            return Vec::new();
        }
        let mut idx: Vec<usize> = (0..self.examples.len()).collect();
        if self.shuffle {
            Rng::new(
                self.seed
                    .wrapping_add(epoch as u64)
                    .wrapping_mul(0x2545_F491_4F6C_DD1D),
            )
            .shuffle(&mut idx);
        }
        idx.chunks(self.batch_size).map(<[usize]>::to_vec).collect()
    }
}
