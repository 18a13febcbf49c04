//! Learning-rate schedules (Python's `_get_scheduler` names), as pure functions of the step.

/// A schedule: the factor applied to the peak learning rate at an optimizer step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LrSchedule {
    /// Always 1.
    ConstantLr,
    /// 0 → 1 over `warmup_steps`, then 1.
    WarmupConstant,
    /// 0 → 1 over `warmup_steps`, then linearly to 0 at `t_total` (sentence-transformers' default).
    #[default]
    WarmupLinear,
    /// 0 → 1 over `warmup_steps`, then half a cosine to 0 at `t_total`.
    WarmupCosine,
}

impl LrSchedule {
    /// The factor at 0-based optimizer step `step` (the first step has factor 0 with warm-up, as in Python).
    pub fn factor(&self, step: usize, warmup_steps: usize, t_total: usize) -> f64 {
        let (s, w, t) = (step as f64, warmup_steps as f64, t_total as f64);
        if *self != LrSchedule::ConstantLr && step < warmup_steps {
            return s / w.max(1.0);
        }
        match self {
            LrSchedule::ConstantLr | LrSchedule::WarmupConstant => 1.0,
            LrSchedule::WarmupLinear => ((t - s) / (t - w).max(1.0)).max(0.0),
            LrSchedule::WarmupCosine => {
                let progress = (s - w) / (t - w).max(1.0);
                (0.5 * (1.0 + (std::f64::consts::PI * progress).cos())).max(0.0)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn warmup_linear_matches_transformers() {
        // transformers.get_linear_schedule_with_warmup(num_warmup_steps=100, num_training_steps=114)
        let f = |s| LrSchedule::WarmupLinear.factor(s, 100, 114);
        assert_eq!(f(0), 0.0);
        assert_eq!(f(50), 0.5);
        assert_eq!(f(100), 1.0);
        assert!((f(107) - 0.5).abs() < 1e-12);
        assert_eq!(f(114), 0.0);
        assert_eq!(f(115), 0.0);
        assert_eq!(LrSchedule::ConstantLr.factor(0, 100, 114), 1.0);
        assert_eq!(LrSchedule::WarmupConstant.factor(200, 100, 114), 1.0);
    }
}
