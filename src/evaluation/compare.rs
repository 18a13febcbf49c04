//! The course project's Part 3: the same queries through two systems (e.g. pretrained vs
//! fine-tuned), compared query by query — who gained, who lost, the best and worst queries with
//! their text and top hits — and a "ski-jump" plot of the per-query metric, sorted.

use std::collections::BTreeMap;

use super::ir_metrics::{evaluate, trec_eval_order, Measure, Qrels, Run};
use crate::datasets::{Document, Query};
use crate::display::{impl_display, shorten, Section, Tabular};

/// Top documents kept per query and run (tables show 3, [`RunComparison::explain`] all).
const TOP: usize = 5;

/// One query's metric in both runs.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct QueryRow {
    /// Query id.
    pub qid: String,
    /// Metric in run A.
    pub a: f64,
    /// Metric in run B.
    pub b: f64,
}

impl QueryRow {
    /// `b − a`.
    pub fn delta(&self) -> f64 {
        self.b - self.a
    }
}

/// Which of the two runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// Run A.
    A,
    /// Run B.
    B,
}

/// A per-query comparison of two runs on one measure.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunComparison {
    /// The measure compared (trec_eval name).
    pub measure: String,
    /// Names of the runs.
    pub names: (String, String),
    /// Per-query values, by query id. A judged query missing from one run scores 0 there.
    pub rows: Vec<QueryRow>,
    /// Mean over `rows` of A and B.
    pub mean: (f64, f64),
    #[serde(skip)]
    query_texts: BTreeMap<String, String>,
    #[serde(skip)]
    doc_texts: BTreeMap<String, String>,
    #[serde(skip)]
    top: (BTreeMap<String, Vec<String>>, BTreeMap<String, Vec<String>>),
    #[serde(skip)]
    qrels: Qrels,
    #[serde(skip)]
    rel_level: i32,
}

impl RunComparison {
    /// Compares `run_a` and `run_b` on `measure` over the judged queries that either run answers.
    pub fn new(qrels: &Qrels, run_a: &Run, run_b: &Run, measure: Measure, rel_level: i32) -> Self {
        let ea = evaluate(qrels, run_a, &[measure], rel_level);
        let eb = evaluate(qrels, run_b, &[measure], rel_level);
        let m = measure.to_string();
        let mut qids: Vec<&String> = ea.per_query.keys().chain(eb.per_query.keys()).collect();
        qids.sort();
        qids.dedup();
        let rows: Vec<QueryRow> = qids
            .into_iter()
            .map(|q| QueryRow {
                qid: q.clone(),
                a: ea.get(q, &m).unwrap_or(0.0),
                b: eb.get(q, &m).unwrap_or(0.0),
            })
            .collect();
        let n = rows.len().max(1) as f64;
        let mean = (
            rows.iter().map(|r| r.a).sum::<f64>() / n,
            rows.iter().map(|r| r.b).sum::<f64>() / n,
        );
        let top5 = |run: &Run| -> BTreeMap<String, Vec<String>> {
            run.iter()
                .map(|(q, e)| {
                    (
                        q.clone(),
                        trec_eval_order(e)
                            .into_iter()
                            .take(TOP)
                            .map(|(d, _)| d)
                            .collect(),
                    )
                })
                .collect()
        };
        Self {
            measure: m,
            names: ("A".into(), "B".into()),
            rows,
            mean,
            query_texts: BTreeMap::new(),
            doc_texts: BTreeMap::new(),
            top: (top5(run_a), top5(run_b)),
            qrels: qrels.clone(),
            rel_level,
        }
    }

    /// The paired t-test of B against A over the queries (`scipy.stats.ttest_rel(b, a)`, as
    /// `ranx.compare` runs it): a positive statistic means B scores higher; the p-value says how
    /// likely a difference this large would be between two equal systems on these queries.
    pub fn t_test(&self) -> crate::evaluation::stats::TTest {
        let (a, b): (Vec<f64>, Vec<f64>) = self.rows.iter().map(|r| (r.a, r.b)).unzip();
        crate::evaluation::stats::paired_t_test(&b, &a)
    }

    /// Fisher's paired randomization test of B against A over the queries (`ranx.compare`'s
    /// `"fisher"`; [`randomization_test_of`](crate::evaluation::stats::randomization_test_of)):
    /// exact over all sign assignments up to 20 queries, else 100,000 seeded random ones.
    pub fn randomization_test(
        &self,
    ) -> crate::core::Result<crate::evaluation::stats::RandomizationTest> {
        let (a, b): (Vec<f64>, Vec<f64>) = self.rows.iter().map(|r| (r.a, r.b)).unzip();
        crate::evaluation::stats::randomization_test_of(&b, &a)
    }

    /// Names the two runs (e.g. "pretrained", "fine-tuned").
    #[must_use]
    pub fn names(mut self, a: &str, b: &str) -> Self {
        self.names = (a.to_string(), b.to_string());
        self
    }

    /// Attaches query and document texts, so tables show what the queries and top hits say.
    #[must_use]
    pub fn with_texts(mut self, queries: &[Query], docs: &[Document]) -> Self {
        self.query_texts = queries
            .iter()
            .map(|q| (q.id.clone(), q.text.clone()))
            .collect();
        let wanted: std::collections::BTreeSet<&String> = self
            .top
            .0
            .values()
            .chain(self.top.1.values())
            .flatten()
            .chain(self.qrels.values().flat_map(|j| j.keys()))
            .collect();
        self.doc_texts = docs
            .iter()
            .filter(|d| wanted.contains(&d.id))
            .map(|d| (d.id.clone(), d.contents()))
            .collect();
        self
    }

    /// The `n` queries that gained most from A to B (largest positive delta first).
    pub fn gained(&self, n: usize) -> Vec<&QueryRow> {
        let mut v: Vec<&QueryRow> = self.rows.iter().filter(|r| r.delta() > 0.0).collect();
        v.sort_by(|x, y| y.delta().total_cmp(&x.delta()).then(x.qid.cmp(&y.qid)));
        v.truncate(n);
        v
    }

    /// The `n` queries that lost most from A to B (most negative delta first).
    pub fn lost(&self, n: usize) -> Vec<&QueryRow> {
        let mut v: Vec<&QueryRow> = self.rows.iter().filter(|r| r.delta() < 0.0).collect();
        v.sort_by(|x, y| x.delta().total_cmp(&y.delta()).then(x.qid.cmp(&y.qid)));
        v.truncate(n);
        v
    }

    /// How much `side` is ahead of the other run on this query.
    fn gain(r: &QueryRow, side: Side) -> f64 {
        match side {
            Side::A => -r.delta(),
            Side::B => r.delta(),
        }
    }

    /// One query explained, to say why it did well or badly: its whole text, the documents judged
    /// relevant, and each run's top 5 (✓ relevant), with texts long enough to read.
    pub fn explain(&self, qid: &str) -> QueryExplanation {
        let row = self.rows.iter().find(|r| r.qid == qid);
        let text = |d: &str| {
            self.doc_texts
                .get(d)
                .map_or(String::new(), |t| shorten(t, 240))
        };
        let relevant: Vec<Vec<String>> = self
            .qrels
            .get(qid)
            .map(|j| {
                j.iter()
                    .filter(|(_, &g)| g >= self.rel_level)
                    .map(|(d, g)| vec![d.clone(), g.to_string(), text(d)])
                    .collect()
            })
            .unwrap_or_default();
        let mut sections = vec![
            Section {
                title: Some(format!(
                    "Query {qid}: {} {:.4}, {} {:.4} ({})",
                    self.names.0,
                    row.map_or(f64::NAN, |r| r.a),
                    self.names.1,
                    row.map_or(f64::NAN, |r| r.b),
                    self.measure
                )),
                header: vec!["query".into()],
                rows: vec![vec![self.query_texts.get(qid).cloned().unwrap_or_default()]],
                more: 0,
            },
            Section {
                title: Some("Judged relevant".into()),
                header: vec!["doc".into(), "grade".into(), "text".into()],
                rows: relevant,
                more: 0,
            },
        ];
        for (side, name) in [(Side::A, &self.names.0), (Side::B, &self.names.1)] {
            let rows = self
                .top_docs(side, qid)
                .iter()
                .enumerate()
                .map(|(i, d)| vec![(i + 1).to_string(), self.marked(qid, d), text(d)])
                .collect();
            sections.push(Section {
                title: Some(format!("Top {TOP} of {name}")),
                header: vec!["rank".into(), "doc".into(), "text".into()],
                rows,
                more: 0,
            });
        }
        QueryExplanation { sections }
    }

    fn value(r: &QueryRow, side: Side) -> f64 {
        match side {
            Side::A => r.a,
            Side::B => r.b,
        }
    }

    /// The `n` best queries of one run: highest metric first; among equal values (many queries
    /// score 1.0) the one whose run gained most over the other first, so the table shows what
    /// changed, not the lowest query ids.
    pub fn best(&self, side: Side, n: usize) -> Vec<&QueryRow> {
        let mut v: Vec<&QueryRow> = self.rows.iter().collect();
        v.sort_by(|x, y| {
            Self::value(y, side)
                .total_cmp(&Self::value(x, side))
                .then(Self::gain(y, side).total_cmp(&Self::gain(x, side)))
                .then(x.qid.cmp(&y.qid))
        });
        v.truncate(n);
        v
    }

    /// The `n` worst queries of one run: lowest metric first; among equal values (many score 0)
    /// the one this run lost most on first.
    pub fn worst(&self, side: Side, n: usize) -> Vec<&QueryRow> {
        let mut v: Vec<&QueryRow> = self.rows.iter().collect();
        v.sort_by(|x, y| {
            Self::value(x, side)
                .total_cmp(&Self::value(y, side))
                .then(Self::gain(x, side).total_cmp(&Self::gain(y, side)))
                .then(x.qid.cmp(&y.qid))
        });
        v.truncate(n);
        v
    }

    /// Counts of queries that improved, got worse, and stayed equal.
    pub fn counts(&self) -> (usize, usize, usize) {
        let up = self.rows.iter().filter(|r| r.delta() > 0.0).count();
        let down = self.rows.iter().filter(|r| r.delta() < 0.0).count();
        (up, down, self.rows.len() - up - down)
    }

    /// The ski-jump plot as SVG: each run's per-query metric sorted from best to worst.
    pub fn ski_jump_svg(&self) -> String {
        let max_y = self
            .rows
            .iter()
            .flat_map(|q| [q.a, q.b])
            .fold(1.0f64, f64::max);
        let n = self.rows.len();
        let mut chart = crate::display::LineChart::new(
            format!("Per-query {} sorted (ski-jump), {n} queries", self.measure),
            "queries, best to worst",
            self.measure.clone(),
        )
        .y_range(0.0, max_y);
        for (side, name, mean) in [
            (Side::A, &self.names.0, self.mean.0),
            (Side::B, &self.names.1, self.mean.1),
        ] {
            let mut v: Vec<f64> = self.rows.iter().map(|q| Self::value(q, side)).collect();
            v.sort_by(|x, y| y.total_cmp(x));
            let points = v
                .into_iter()
                .enumerate()
                .map(|(i, y)| ((i + 1) as f64, y))
                .collect();
            chart = chart.series(format!("{name} (mean {mean:.4})"), points);
        }
        chart.to_svg()
    }

    /// One run's top documents for `qid`, best first (none if the run lacks the query).
    fn top_docs(&self, side: Side, qid: &str) -> &[String] {
        let top = match side {
            Side::A => &self.top.0,
            Side::B => &self.top.1,
        };
        top.get(qid).map_or(&[], Vec::as_slice)
    }

    /// `✓ doc` when `doc` is judged relevant to `qid` (grade ≥ `rel_level`), else `✗ doc`.
    fn marked(&self, qid: &str, doc: &str) -> String {
        let relevant = self
            .qrels
            .get(qid)
            .and_then(|j| j.get(doc))
            .is_some_and(|&g| g >= self.rel_level);
        format!("{}{doc}", if relevant { "✓ " } else { "✗ " })
    }

    fn hits_cell(&self, side: Side, qid: &str) -> String {
        self.top_docs(side, qid)
            .iter()
            .take(3)
            .map(|d| {
                let text = self
                    .doc_texts
                    .get(d)
                    .map_or(String::new(), |t| format!(" {}", shorten(t, 90)));
                format!("{}{text}", self.marked(qid, d))
            })
            .collect::<Vec<_>>()
            .join(" | ")
    }

    fn rows_section(&self, title: String, rows: &[&QueryRow], hits: Option<Side>) -> Section {
        let mut header = vec![
            "qid".to_string(),
            self.names.0.clone(),
            self.names.1.clone(),
            "Δ".into(),
            "query".into(),
        ];
        if let Some(s) = hits {
            header.push(format!(
                "top 3 of {} (✓ relevant)",
                if s == Side::A {
                    &self.names.0
                } else {
                    &self.names.1
                }
            ));
        }
        let mut rows: Vec<Vec<String>> = rows
            .iter()
            .map(|r| {
                let mut row = vec![
                    r.qid.clone(),
                    format!("{:.4}", r.a),
                    format!("{:.4}", r.b),
                    format!("{:+.4}", r.delta()),
                    self.query_texts
                        .get(&r.qid)
                        .map_or(String::new(), |t| shorten(t, 160)),
                ];
                if let Some(s) = hits {
                    row.push(self.hits_cell(s, &r.qid));
                }
                row
            })
            .collect();
        if rows.is_empty() {
            rows.push(
                header
                    .iter()
                    .enumerate()
                    .map(|(i, _)| {
                        if i == 0 {
                            "(none)".to_string()
                        } else {
                            String::new()
                        }
                    })
                    .collect(),
            );
        }
        Section {
            title: Some(title),
            header,
            rows,
            more: 0,
        }
    }
}

impl Tabular for RunComparison {
    fn sections(&self) -> Vec<Section> {
        let (up, down, same) = self.counts();
        let summary = Section {
            title: Some(format!(
                "{}: {} vs {}",
                self.measure, self.names.0, self.names.1
            )),
            header: [
                "queries",
                "mean A",
                "mean B",
                "Δ mean",
                "improved",
                "hurt",
                "unchanged",
                "p (t-test)",
                "p (randomization)",
            ]
            .map(String::from)
            .to_vec(),
            rows: vec![vec![
                self.rows.len().to_string(),
                format!("{:.4}", self.mean.0),
                format!("{:.4}", self.mean.1),
                format!("{:+.4}", self.mean.1 - self.mean.0),
                up.to_string(),
                down.to_string(),
                same.to_string(),
                format!("{:.4}", self.t_test().p_value),
                self.randomization_test()
                    .map_or_else(|_| "—".into(), |r| format!("{:.4}", r.p_value)),
            ]],
            more: 0,
        };
        vec![
            summary,
            self.rows_section("Gained most".into(), &self.gained(5), Some(Side::B)),
            self.rows_section("Lost most".into(), &self.lost(5), Some(Side::B)),
            self.rows_section(
                format!("Best queries of {}", self.names.1),
                &self.best(Side::B, 5),
                Some(Side::B),
            ),
            self.rows_section(
                format!("Worst queries of {}", self.names.1),
                &self.worst(Side::B, 5),
                Some(Side::B),
            ),
        ]
    }
}

impl std::fmt::Display for RunComparison {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        crate::display::write_text(&self.sections(), f)
    }
}

impl RunComparison {
    /// Tables and the ski-jump plot as HTML.
    pub fn to_html(&self) -> String {
        format!(
            "{}{}",
            crate::display::to_html(&self.sections()),
            self.ski_jump_svg()
        )
    }
    /// Rich notebook output (evcxr): the tables and the plot.
    pub fn evcxr_display(&self) {
        crate::display::emit_html(&self.to_html(), &self.to_string());
    }
}

/// [`RunComparison::explain`]: one query, its relevant documents and both runs' top hits.
#[derive(Debug, Clone)]
pub struct QueryExplanation {
    sections: Vec<Section>,
}

impl Tabular for QueryExplanation {
    fn sections(&self) -> Vec<Section> {
        self.sections.clone()
    }
}

impl_display!(QueryExplanation);
