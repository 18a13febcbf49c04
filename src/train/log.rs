//! What training reports: the callback's [`TrainEvent`] and the [`TrainLog`] that `fit` returns,
//! with its charts.

use crate::display::LineChart;
use crate::evaluation::EvalReport;

/// What `fit` reports to the callback after each evaluation.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainEvent {
    /// The evaluator's primary score (NaN without evaluator).
    pub score: f64,
    /// Epoch (0-based).
    pub epoch: usize,
    /// Training steps done in this epoch (-1 at the epoch's end, as in Python).
    pub steps: i64,
    /// Optimizer steps done in total.
    pub global_step: usize,
    /// Mean training loss since the last event.
    pub loss: f64,
    /// The evaluator's report, if any.
    pub report: Option<EvalReport>,
}

/// What `fit` returns: the loss of every optimizer step and every evaluation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TrainLog {
    /// (global step, objective index, loss, learning rate) per optimizer step.
    pub steps: Vec<(usize, usize, f64, f64)>,
    /// Every evaluation, in order.
    pub evaluations: Vec<TrainEvent>,
    /// True when the callback or `max_steps` stopped training early.
    pub stopped_early: bool,
    /// What was saved to `output_path` (None without one).
    pub saved: Option<SavedModel>,
    /// True when training forwards ran in bf16 mixed precision (`FitConfig::use_amp` on the CPU
    /// training path of a CPU that multiplies bf16); false when every product was f32.
    pub mixed_precision: bool,
}

/// The model `fit` left at `output_path`.
#[derive(Debug, Clone, PartialEq)]
pub struct SavedModel {
    /// Where.
    pub path: std::path::PathBuf,
    /// Optimizer steps done when it was saved.
    pub global_step: usize,
    /// Its evaluator score (NaN without evaluator).
    pub score: f64,
    /// True: the best evaluation's model; false: the final model (no evaluator, or no evaluation
    /// gave a score that is a number).
    pub best: bool,
}

impl std::fmt::Display for SavedModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.best {
            write!(
                f,
                "the best model (score {:.4} after {} steps) is in {}",
                self.score,
                self.global_step,
                self.path.display()
            )
        } else {
            write!(
                f,
                "the final model (after {} steps) is in {}",
                self.global_step,
                self.path.display()
            )
        }
    }
}

impl TrainLog {
    /// The training loss of each optimizer step, one line per objective (`names[k]`, or
    /// "objective k"), against the optimizer step.
    pub fn loss_chart(&self, names: &[&str]) -> LineChart {
        let objectives = self.steps.iter().map(|s| s.1 + 1).max().unwrap_or(0);
        let mut chart = LineChart::new("Training loss", "optimizer step", "loss");
        for k in 0..objectives {
            let name = names
                .get(k)
                .map_or_else(|| format!("objective {k}"), |n| n.to_string());
            chart = chart.series(
                name,
                self.steps
                    .iter()
                    .filter(|s| s.1 == k)
                    .map(|s| (s.0 as f64, s.2))
                    .collect(),
            );
        }
        chart
    }

    /// The evaluator's primary score at each evaluation, against the optimizer step.
    pub fn score_chart(&self) -> LineChart {
        let name = self
            .evaluations
            .iter()
            .find_map(|e| e.report.as_ref().map(|r| r.primary.clone()))
            .unwrap_or_else(|| "score".into());
        LineChart::new("Evaluator score", "optimizer step", name.clone()).series(
            name,
            self.evaluations
                .iter()
                .map(|e| (e.global_step as f64, e.score))
                .collect(),
        )
    }
}
