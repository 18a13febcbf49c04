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
    /// A shuffling loader with seed 42.
    pub fn new(examples: Vec<InputExample>, batch_size: usize) -> Self {
        Self {
            examples,
            batch_size: batch_size.max(1),
            shuffle: true,
            seed: 42,
        }
    }
    /// Number of batches per epoch (the last one may be short, as with PyTorch's default).
    pub fn len(&self) -> usize {
        self.examples.len().div_ceil(self.batch_size)
    }
    /// True without examples.
    pub fn is_empty(&self) -> bool {
        self.examples.is_empty()
    }
    /// The batches (example indices) of an epoch.
    pub fn batches(&self, epoch: usize) -> Vec<Vec<usize>> {
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
