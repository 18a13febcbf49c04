//! Fine-tuning: `InputExample`, a seeded data loader, the lecture's training set, and `fit` with
//! sentence-transformers' semantics (round-robin objectives, one AdamW with no decay on biases and
//! LayerNorm, WarmupLinear, gradient clipping, evaluation + callback, atomic save of the best model).

pub mod checkpoint;
pub mod config;
pub mod dataset;
pub mod evaluators;
pub mod example;
pub mod fit;
pub mod loader;
pub mod log;
pub mod optimizer;
pub mod schedule;

pub use crate::core::Rng;
pub use crate::util::mine_hard_negatives;
pub use config::FitConfig;
pub use dataset::SentencesDataset;
pub use example::{read_examples, InputExample};
pub use fit::{fit, skipped_examples_note, Objective};
pub(crate) use fit::{fit_loop, keep_large_allocations_in_heap};
pub use loader::DataLoader;
pub use log::{SavedModel, TrainEvent, TrainLog};
pub use optimizer::GroupedAdamW;
pub use schedule::LrSchedule;
