//! The [`Loss`] trait every training loss implements.

use candle_core::Tensor;

use crate::core::Result;

/// A loss over the embeddings of a batch's text columns.
pub trait Loss {
    /// The loss (a scalar tensor) from `embeddings[column]` (`[batch, dim]` each) and `labels`.
    fn compute_loss_from_embeddings(&self, embeddings: &[Tensor], labels: &[f32])
        -> Result<Tensor>;
    /// The loss's name, as Python names it.
    fn name(&self) -> &'static str;
    /// Whether `label` is one this loss can learn from (`Err` says what it takes). `fit` checks
    /// every example before training. Default: a finite number.
    fn check_label(&self, label: f32) -> std::result::Result<(), String> {
        if label.is_finite() {
            Ok(())
        } else {
            Err(format!("{} needs labels that are numbers", self.name()))
        }
    }
    /// Whether examples with label 0 must be left out (MNRL takes positive pairs only).
    fn positives_only(&self) -> bool {
        false
    }
}
