//! A progress bar that works in a terminal (indicatif) and in a Jupyter notebook (a `\r`-updated
//! line on stderr, which Jupyter renders in place).

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// Progress over a known number of steps.
pub struct Progress {
    inner: Inner,
}

enum Inner {
    Hidden,
    Term(indicatif::ProgressBar),
    Plain {
        label: String,
        total: u64,
        done: u64,
        start: Instant,
        last: Instant,
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
            let now = Instant::now();
            Inner::Plain {
                label: label.to_string(),
                total,
                done: 0,
                start: now,
                last: now - Duration::from_secs(1),
            }
        };
        Self { inner }
    }

    /// Advances by `n` steps.
    pub fn inc(&mut self, n: u64) {
        match &mut self.inner {
            Inner::Hidden => {}
            Inner::Term(bar) => bar.inc(n),
            Inner::Plain {
                label,
                total,
                done,
                start,
                last,
            } => {
                *done += n;
                if last.elapsed() >= Duration::from_millis(200) || *done >= *total {
                    *last = Instant::now();
                    let pct = if *total == 0 {
                        100
                    } else {
                        *done * 100 / *total
                    };
                    let filled = (pct / 5) as usize;
                    let mut err = std::io::stderr().lock();
                    let _ = write!(
                        err,
                        "\r{label}: {pct:>3}%|{}{}| {done}/{total} [{:.1}s]",
                        "█".repeat(filled),
                        " ".repeat(20 - filled),
                        start.elapsed().as_secs_f64()
                    );
                    let _ = err.flush();
                }
            }
        }
    }

    /// Ends the bar.
    pub fn finish(self) {
        match self.inner {
            Inner::Hidden => {}
            Inner::Term(bar) => bar.finish(),
            Inner::Plain { .. } => {
                let _ = writeln!(std::io::stderr());
            }
        }
    }
}
