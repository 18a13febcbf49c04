//! A progress bar that works in a terminal (indicatif, redrawn in place) and in a Jupyter notebook
//! or a log (one line at every tenth of the way: evcxr passes a cell's output on line by line, so a
//! line redrawn with `\r` would only appear when it ends).

use std::io::{IsTerminal, Write};
use std::time::Instant;

/// Progress over a known number of steps.
pub struct Progress {
    inner: Inner,
}

enum Inner {
    Hidden,
    Term(indicatif::ProgressBar),
    Lines {
        label: String,
        total: u64,
        done: u64,
        start: Instant,
        /// The last tenth printed.
        shown: u64,
    },
}

impl Progress {
    /// A bar of `total` steps named `label`; hidden when `show` is false.
    pub fn new(total: u64, label: &str, show: bool) -> Self {
        let inner = if !show {
            Inner::Hidden
        } else if std::io::stderr().is_terminal() {
            let bar = indicatif::ProgressBar::new(total);
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{msg}: {percent:>3}%|{wide_bar}| {pos}/{len} [{elapsed_precise}<{eta_precise}, {per_sec}]",
            ) {
                bar.set_style(style);
            }
            bar.set_message(label.to_string());
            Inner::Term(bar)
        } else {
            Inner::Lines {
                label: label.to_string(),
                total,
                done: 0,
                start: Instant::now(),
                shown: 0,
            }
        };
        Self { inner }
    }

    /// Advances by `n` steps.
    pub fn inc(&mut self, n: u64) {
        match &mut self.inner {
            Inner::Hidden => {}
            Inner::Term(bar) => bar.inc(n),
            Inner::Lines {
                label,
                total,
                done,
                start,
                shown,
            } => {
                *done += n;
                let tenth = (*done * 10).checked_div(*total).unwrap_or(10).min(10);
                if tenth > *shown {
                    *shown = tenth;
                    print_line(&bar_line(
                        label,
                        *done,
                        *total,
                        start.elapsed().as_secs_f64(),
                        "",
                    ));
                }
            }
        }
    }

    /// Ends the bar.
    pub fn finish(self) {
        if let Inner::Term(bar) = self.inner {
            bar.finish();
        }
    }

    /// Ends the bar before its last step, saying why (e.g. `stopped by max_steps = 60`), so that
    /// a bar at 43% does not look like a crash.
    pub fn finish_early(self, why: &str) {
        match self.inner {
            Inner::Hidden => {}
            Inner::Term(bar) => {
                let label = bar.message();
                bar.abandon_with_message(format!("{label} — {why}"));
            }
            Inner::Lines {
                label,
                total,
                done,
                start,
                ..
            } => {
                print_line(&bar_line(
                    &label,
                    done,
                    total,
                    start.elapsed().as_secs_f64(),
                    why,
                ));
            }
        }
    }
}

/// Writes one whole line to stderr and flushes it (evcxr passes it on at once).
fn print_line(line: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{line}");
    let _ = err.flush();
}

/// `label:  40%|████████            | 24/58 [61.2s<86.7s] — note`.
fn bar_line(label: &str, done: u64, total: u64, elapsed: f64, note: &str) -> String {
    let pct = (done * 100).checked_div(total).unwrap_or(100).min(100);
    let filled = (pct / 5) as usize;
    let eta = if done > 0 && done < total {
        format!("<{:.1}s", elapsed / done as f64 * (total - done) as f64)
    } else {
        String::new()
    };
    let note = if note.is_empty() {
        String::new()
    } else {
        format!(" — {note}")
    };
    format!(
        "{label}: {pct:>3}%|{}{}| {done}/{total} [{elapsed:.1}s{eta}]{note}",
        "█".repeat(filled),
        " ".repeat(20 - filled),
    )
}

#[cfg(test)]
mod tests {
    use super::bar_line;

    #[test]
    fn a_bar_line_says_where_it_is_and_why_it_stopped() {
        assert_eq!(
            bar_line("Epoch 1/2", 6, 12, 3.0, ""),
            "Epoch 1/2:  50%|██████████          | 6/12 [3.0s<3.0s]"
        );
        assert_eq!(
            bar_line("Epoch 1/2", 5, 12, 2.5, "stopped by max_steps = 5"),
            "Epoch 1/2:  41%|████████            | 5/12 [2.5s<3.5s] — stopped by max_steps = 5"
        );
        assert_eq!(
            bar_line("x", 0, 0, 0.0, ""),
            "x: 100%|████████████████████| 0/0 [0.0s]"
        );
    }
}
