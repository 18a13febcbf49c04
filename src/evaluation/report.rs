//! `ranx.compare`'s report: several runs' means side by side, each marked with the runs it beats
//! significantly (paired test per measure over the queries) — the table students paste into their
//! report, as text, Markdown or LaTeX.

use std::collections::BTreeSet;

use super::ir_metrics::{evaluate, Measure, Qrels, Run};
use super::stats::{paired_t_test, randomization_test_of};
use crate::core::{Error, Result};
use crate::display::{impl_display, Section, Tabular};

/// The paired test behind a [`Report`]'s marks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SignificanceTest {
    /// The paired t-test (`scipy.stats.ttest_rel`; ranx's `"student"`).
    #[default]
    TTest,
    /// Fisher's paired randomization test (ranx's `"fisher"`; exact up to 20 queries, else
    /// 100,000 seeded sign swaps).
    Randomization,
}

/// Options of [`Report::new`].
#[derive(Debug, Clone, PartialEq)]
#[must_use]
pub struct ReportOptions {
    /// The measures (rows of the comparison; default nDCG@10, P@5, MRR, MAP).
    pub measures: Vec<Measure>,
    /// Grade from which a document counts as relevant (default 1).
    pub rel_level: i32,
    /// The paired test (default the t-test).
    pub test: SignificanceTest,
    /// Significance level (default 0.05).
    pub alpha: f64,
}

impl Default for ReportOptions {
    fn default() -> Self {
        Self {
            measures: vec![
                Measure::NdcgCut(10),
                Measure::P(5),
                Measure::RecipRank,
                Measure::Map,
            ],
            rel_level: 1,
            test: SignificanceTest::TTest,
            alpha: 0.05,
        }
    }
}

/// Runs compared on some measures: means, and for each run and measure the runs it beats
/// significantly (higher mean and p < alpha), marked with their letters (a, b, c, … in run order).
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// The runs' names, in order (letter a, b, …).
    pub names: Vec<String>,
    /// The measures, trec_eval names.
    pub measures: Vec<String>,
    /// `means[run][measure]` over the queries.
    pub means: Vec<Vec<f64>>,
    /// `beats[run][measure]`: the runs (indices) it significantly beats on that measure.
    pub beats: Vec<Vec<Vec<usize>>>,
    /// Queries compared: those of the qrels that any run retrieves for (a run without a query
    /// scores 0 there).
    pub queries: usize,
    /// The test and level behind the marks.
    pub test: SignificanceTest,
    /// The significance level.
    pub alpha: f64,
}

impl Report {
    /// Evaluates every run and tests every pair on every measure.
    pub fn new(qrels: &Qrels, runs: &[(&str, &Run)], options: &ReportOptions) -> Result<Self> {
        if runs.len() < 2 || runs.len() > 26 {
            return Err(Error::InvalidInput(format!(
                "a report compares 2 to 26 runs (one letter each), got {}",
                runs.len()
            )));
        }
        if options.measures.is_empty() || !(options.alpha > 0.0 && options.alpha < 1.0) {
            return Err(Error::InvalidInput(format!(
                "a report needs at least one measure and alpha in (0, 1), got {} measures, alpha {}",
                options.measures.len(),
                options.alpha
            )));
        }
        let evals: Vec<_> = runs
            .iter()
            .map(|(_, r)| evaluate(qrels, r, &options.measures, options.rel_level))
            .collect();
        let qids: BTreeSet<&String> = evals.iter().flat_map(|e| e.per_query.keys()).collect();
        let measures: Vec<String> = options.measures.iter().map(Measure::to_string).collect();
        // values[run][measure][query]
        let values: Vec<Vec<Vec<f64>>> = evals
            .iter()
            .map(|e| {
                measures
                    .iter()
                    .map(|m| qids.iter().map(|q| e.get(q, m).unwrap_or(0.0)).collect())
                    .collect()
            })
            .collect();
        let n = qids.len().max(1) as f64;
        let means: Vec<Vec<f64>> = values
            .iter()
            .map(|r| r.iter().map(|v| v.iter().sum::<f64>() / n).collect())
            .collect();
        let mut beats = vec![vec![Vec::new(); measures.len()]; runs.len()];
        for (i, row) in beats.iter_mut().enumerate() {
            for (m, cell) in row.iter_mut().enumerate() {
                for j in (0..runs.len()).filter(|&j| j != i && means[i][m] > means[j][m]) {
                    let (b, a) = (&values[i][m], &values[j][m]);
                    let p = match options.test {
                        SignificanceTest::TTest => paired_t_test(b, a).p_value,
                        SignificanceTest::Randomization => randomization_test_of(b, a)?.p_value,
                    };
                    if p < options.alpha {
                        cell.push(j);
                    }
                }
            }
        }
        Ok(Self {
            names: runs.iter().map(|r| r.0.to_string()).collect(),
            measures,
            means,
            beats,
            queries: qids.len(),
            test: options.test,
            alpha: options.alpha,
        })
    }

    /// The letters of the runs `run` beats on measure `m` ("" when none).
    pub fn marks(&self, run: usize, m: usize) -> String {
        self.beats[run][m].iter().map(|&j| letter(j)).collect()
    }

    /// Run `run`'s mean on measure `m` (4 decimals), its marks as `sup(marks)` after it.
    fn cell(&self, run: usize, m: usize, sup: impl Fn(&str) -> String) -> String {
        let marks = self.marks(run, m);
        let mean = format!("{:.4}", self.means[run][m]);
        if marks.is_empty() {
            mean
        } else {
            mean + &sup(&marks)
        }
    }

    fn legend(&self) -> String {
        let test = match self.test {
            SignificanceTest::TTest => "paired t-test",
            SignificanceTest::Randomization => "paired randomization test",
        };
        format!(
            "{} queries; a letter marks a run significantly better than that run ({test}, p < {})",
            self.queries, self.alpha
        )
    }

    /// A Markdown table: one row per run, one column per measure, marks as `<sup>`.
    pub fn to_markdown(&self) -> String {
        let mut s = format!("| run | {} |\n", self.measures.join(" | "));
        s += &format!("|---|{}\n", "---|".repeat(self.measures.len()));
        for (i, name) in self.names.iter().enumerate() {
            s += &format!("| ({}) {name} |", letter(i));
            for m in 0..self.measures.len() {
                s += &format!(" {} |", self.cell(i, m, |k| format!("<sup>{k}</sup>")));
            }
            s.push('\n');
        }
        s + &format!("\n{}\n", self.legend())
    }

    /// A LaTeX `tabular` (booktabs), marks as superscripts, names and measures escaped.
    pub fn to_latex(&self) -> String {
        let esc = |t: &str| {
            t.chars().fold(String::new(), |mut o, c| {
                match c {
                    '_' | '&' | '%' | '$' | '#' | '{' | '}' => {
                        o.push('\\');
                        o.push(c)
                    }
                    _ => o.push(c),
                }
                o
            })
        };
        let mut s = format!(
            "\\begin{{tabular}}{{l{}}}\n\\toprule\nrun & {} \\\\\n\\midrule\n",
            "r".repeat(self.measures.len()),
            self.measures
                .iter()
                .map(|m| esc(m))
                .collect::<Vec<_>>()
                .join(" & ")
        );
        for (i, name) in self.names.iter().enumerate() {
            s += &format!("({}) {}", letter(i), esc(name));
            for m in 0..self.measures.len() {
                s += &format!(" & {}", self.cell(i, m, |k| format!("$^{{{k}}}$")));
            }
            s += " \\\\\n";
        }
        s + &format!("\\bottomrule\n\\end{{tabular}}\n% {}\n", self.legend())
    }
}

/// The letter of run `i` (a, b, … z; [`Report::new`] takes at most 26 runs).
fn letter(i: usize) -> char {
    (b'a' + i as u8) as char
}

impl_display!(Report);

impl Tabular for Report {
    fn sections(&self) -> Vec<Section> {
        let mut header = vec!["run".to_string()];
        header.extend(self.measures.iter().cloned());
        let rows = self
            .names
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let mut row = vec![format!("({}) {name}", letter(i))];
                row.extend((0..self.measures.len()).map(|m| self.cell(i, m, |k| format!(" ^{k}"))));
                row
            })
            .collect();
        vec![Section {
            title: Some(self.legend()),
            header,
            rows,
            more: 0,
        }]
    }
}
