//! `fit`'s settings ([`FitConfig`]), with Python's names and defaults.

use std::path::PathBuf;

use super::schedule::LrSchedule;
use crate::core::{Error, Result};

/// `fit`'s settings, with Python's names and defaults.
#[derive(Debug, Clone, PartialEq)]
#[must_use]
pub struct FitConfig {
    /// Passes over the data (default 1).
    pub epochs: usize,
    /// Linear warm-up steps (default 10,000 in Python; the lecture uses 100).
    pub warmup_steps: usize,
    /// Learning-rate schedule (default WarmupLinear).
    pub scheduler: LrSchedule,
    /// Peak learning rate (default 2e-5).
    pub lr: f64,
    /// AdamW weight decay (default 0.01; never applied to biases and LayerNorm).
    pub weight_decay: f64,
    /// Gradient-norm clipping (default 1.0).
    pub max_grad_norm: f64,
    /// Evaluate every this many steps (0: only at epoch ends).
    pub evaluation_steps: usize,
    /// Stop after this many training steps in total (None: no limit).
    pub max_steps: Option<usize>,
    /// Longest input in tokens during training (None: the model's).
    pub max_seq_length: Option<usize>,
    /// Save the best model here (by the evaluator's primary score; the final model without an
    /// evaluator, or when no evaluation gave a score that is a number). Checked for writability
    /// before training starts.
    pub output_path: Option<PathBuf>,
    /// Save a numbered checkpoint every this many steps into `checkpoint_path` (0: never).
    pub checkpoint_save_steps: usize,
    /// Where numbered checkpoints go.
    pub checkpoint_path: Option<PathBuf>,
    /// How many checkpoints to keep (oldest removed first).
    pub checkpoint_save_total_limit: usize,
    /// Show a progress bar.
    pub show_progress_bar: bool,
    /// Seed of shuffling and dropout-free determinism where possible.
    pub seed: u64,
    /// Mixed precision, as Python's `use_amp` (bf16 on a CPU): the encoder's linear layers
    /// multiply bf16 inputs with f32 accumulation in forward and backward, while weights,
    /// gradients, the optimizer and everything else stay f32. Takes effect on the CPU training path
    /// where the CPU has AVX512-BF16 or AMX (`sbert::cpu::Isa::uses_bf16`); elsewhere training
    /// runs in f32. Default false.
    pub use_amp: bool,
}

impl Default for FitConfig {
    fn default() -> Self {
        Self {
            epochs: 1,
            warmup_steps: 10_000,
            scheduler: LrSchedule::WarmupLinear,
            lr: 2e-5,
            weight_decay: 0.01,
            max_grad_norm: 1.0,
            evaluation_steps: 0,
            max_steps: None,
            max_seq_length: None,
            output_path: None,
            checkpoint_save_steps: 0,
            checkpoint_path: None,
            checkpoint_save_total_limit: 0,
            show_progress_bar: true,
            seed: 42,
            use_amp: false,
        }
    }
}

impl FitConfig {
    /// Refuses settings that would train nothing or train a broken model without saying so: a
    /// learning rate, weight decay or clipping norm that is not a finite number ≥ 0 (a NaN rate
    /// made every embedding NaN), 0 epochs, `max_steps` or `max_seq_length` of 0.
    pub fn validate(&self) -> Result<()> {
        let bad = |what: &str, v: f64, why: &str| {
            Err(Error::InvalidInput(format!(
                "{what} must be {why}, got {v}"
            )))
        };
        if !(self.lr.is_finite() && self.lr >= 0.0) {
            return bad("lr", self.lr, "a finite number ≥ 0");
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return bad("weight_decay", self.weight_decay, "a finite number ≥ 0");
        }
        if self.max_grad_norm.is_nan() || self.max_grad_norm <= 0.0 {
            return bad("max_grad_norm", self.max_grad_norm, "a number > 0");
        }
        if self.epochs == 0 {
            return Err(Error::InvalidInput("epochs must be at least 1".into()));
        }
        if self.max_steps == Some(0) {
            return Err(Error::InvalidInput("max_steps must be at least 1".into()));
        }
        if self.max_seq_length == Some(0) {
            return Err(Error::InvalidInput(
                "max_seq_length must be at least 1".into(),
            ));
        }
        Ok(())
    }
}
