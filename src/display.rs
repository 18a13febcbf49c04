//! Tables for every result type: plain text (prettytable) through `Display` in a terminal, HTML
//! through `evcxr_display()` in a Jupyter notebook (evcxr calls that method by name).

use std::fmt;

use crate::embeddings::Embeddings;
use crate::evaluation::{EvalReport, IrEvaluation, MeanComparison};
use crate::util::{ScoredPairs, SearchResults, SimilarityMatrix};

/// Rows shown before a table is cut (with a "… N more" line).
pub const MAX_ROWS: usize = 25;
/// Columns of a score matrix shown before it is cut.
pub const MAX_COLS: usize = 12;
const TEXT_WIDTH: usize = 60;

/// One titled table.
pub(crate) struct Section {
    pub title: Option<String>,
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
    pub more: usize,
}

/// Something that renders as one or more tables.
pub(crate) trait Tabular {
    fn sections(&self) -> Vec<Section>;
}

pub(crate) fn shorten(s: &str, width: usize) -> String {
    let s = s.replace(['\n', '\r', '\t'], " ");
    if s.chars().count() <= width {
        s
    } else {
        let cut: String = s.chars().take(width.saturating_sub(1)).collect();
        format!("{cut}…")
    }
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Box-drawing borders, a rule under the header, no rules between rows.
fn table_format() -> prettytable::format::TableFormat {
    use prettytable::format::{FormatBuilder, LinePosition, LineSeparator};
    FormatBuilder::new()
        .column_separator('│')
        .borders('│')
        .separator(LinePosition::Top, LineSeparator::new('─', '┬', '┌', '┐'))
        .separator(LinePosition::Title, LineSeparator::new('─', '┼', '├', '┤'))
        .separator(LinePosition::Bottom, LineSeparator::new('─', '┴', '└', '┘'))
        .padding(1, 1)
        .build()
}

pub(crate) fn write_text(sections: &[Section], f: &mut fmt::Formatter<'_>) -> fmt::Result {
    for s in sections {
        if let Some(t) = &s.title {
            writeln!(f, "{t}")?;
        }
        let mut table = prettytable::Table::new();
        table.set_format(table_format());
        table.set_titles(prettytable::Row::new(
            s.header.iter().map(|h| prettytable::Cell::new(h)).collect(),
        ));
        for r in &s.rows {
            table.add_row(prettytable::Row::new(
                r.iter().map(|c| prettytable::Cell::new(c)).collect(),
            ));
        }
        write!(f, "{table}")?;
        if s.more > 0 {
            writeln!(f, "… {} more rows", s.more)?;
        }
    }
    Ok(())
}

/// The HTML of some sections (tables with class `sbert`).
pub(crate) fn to_html(sections: &[Section]) -> String {
    let mut h = String::new();
    for s in sections {
        h.push_str("<table class=\"sbert\">");
        if let Some(t) = &s.title {
            h.push_str(&format!(
                "<caption style=\"text-align:left\"><b>{}</b></caption>",
                escape(t)
            ));
        }
        h.push_str("<thead><tr>");
        for c in &s.header {
            h.push_str(&format!("<th>{}</th>", escape(c)));
        }
        h.push_str("</tr></thead><tbody>");
        for r in &s.rows {
            h.push_str("<tr>");
            for c in r {
                h.push_str(&format!("<td style=\"text-align:left\">{}</td>", escape(c)));
            }
            h.push_str("</tr>");
        }
        h.push_str("</tbody></table>");
        if s.more > 0 {
            h.push_str(&format!("<p>… {} more rows</p>", s.more));
        }
    }
    h
}

/// The block evcxr's Jupyter kernel turns into rich output (`EVCXR_BEGIN_CONTENT <mime>` … `EVCXR_END_CONTENT`).
pub fn evcxr_block(mime: &str, content: &str) -> String {
    format!("EVCXR_BEGIN_CONTENT {mime}\n{content}\nEVCXR_END_CONTENT\n")
}

/// Prints HTML the way evcxr's Jupyter kernel expects rich output, in one write.
pub(crate) fn emit_html(html: &str) {
    emit("text/html", html);
}

/// Prints rich output of any MIME type for evcxr's Jupyter kernel, in one write.
pub(crate) fn emit(mime: &str, content: &str) {
    use std::io::Write;
    let msg = evcxr_block(mime, content);
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(msg.as_bytes());
    let _ = out.flush();
}

macro_rules! displays {
    ($($t:ty),*) => {$(
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write_text(&self.sections(), f)
            }
        }
        impl $t {
            /// The result as HTML tables.
            pub fn to_html(&self) -> String {
                to_html(&self.sections())
            }
            /// Rich notebook output: evcxr's Jupyter kernel calls this to show the value as HTML tables.
            pub fn evcxr_display(&self) {
                emit_html(&self.to_html());
            }
        }
    )*};
}
displays!(
    Embeddings,
    SimilarityMatrix,
    ScoredPairs,
    SearchResults,
    EvalReport,
    IrEvaluation,
    MeanComparison
);

fn fmt_score(s: f32) -> String {
    format!("{s:.4}")
}

impl Tabular for Embeddings {
    fn sections(&self) -> Vec<Section> {
        let shown = self.len().min(MAX_ROWS);
        let cols = self.dim().min(4);
        let mut header = vec!["#".to_string()];
        if !self.texts().is_empty() {
            header.push("text".into());
        }
        header.extend((0..cols).map(|c| format!("[{c}]")));
        if self.dim() > cols {
            header.push("…".into());
        }
        let rows = (0..shown)
            .map(|i| {
                let mut r = vec![i.to_string()];
                if let Some(t) = self.text(i) {
                    r.push(shorten(t, TEXT_WIDTH));
                }
                r.extend(self[i].iter().take(cols).map(|v| format!("{v:.4}")));
                if self.dim() > cols {
                    r.push("…".into());
                }
                r
            })
            .collect();
        let mut title = format!("Embeddings [{} × {}]", self.len(), self.dim());
        if !self.truncated().is_empty() {
            title.push_str(&format!(
                " — {} input(s) truncated: {:?}",
                self.truncated().len(),
                self.truncated()
            ));
        }
        vec![Section {
            title: Some(title),
            header,
            rows,
            more: self.len() - shown,
        }]
    }
}

impl Tabular for SimilarityMatrix {
    fn sections(&self) -> Vec<Section> {
        let (r, c) = self.shape();
        let label = |texts: &[String], i: usize| -> String {
            texts
                .get(i)
                .map_or_else(|| i.to_string(), |t| format!("{i}: {}", shorten(t, 40)))
        };
        let cols = c.min(MAX_COLS);
        let mut header = vec![String::new()];
        header.extend((0..cols).map(|j| {
            if r == 1 && c == 1 {
                label(self.col_texts(), j)
            } else {
                j.to_string()
            }
        }));
        if c > cols {
            header.push(format!("… {} more", c - cols));
        }
        let shown = r.min(MAX_ROWS);
        let rows = (0..shown)
            .map(|i| {
                let mut row = vec![label(self.row_texts(), i)];
                row.extend((0..cols).map(|j| fmt_score(self.get(i, j).unwrap_or(f32::NAN))));
                if c > cols {
                    row.push("…".into());
                }
                row
            })
            .collect();
        vec![Section {
            title: Some(format!("Similarity [{r} × {c}]")),
            header,
            rows,
            more: r - shown,
        }]
    }
}

impl Tabular for ScoredPairs {
    fn sections(&self) -> Vec<Section> {
        let t = |i: usize| {
            self.texts()
                .get(i)
                .map_or_else(String::new, |s| shorten(s, 45))
        };
        let shown = self.len().min(MAX_ROWS);
        let rows = self
            .iter()
            .take(shown)
            .enumerate()
            .map(|(k, p)| {
                vec![
                    (k + 1).to_string(),
                    p.i.to_string(),
                    t(p.i),
                    p.j.to_string(),
                    t(p.j),
                    fmt_score(p.score),
                ]
            })
            .collect();
        vec![Section {
            title: Some(format!("Top {} pairs", self.len())),
            header: ["rank", "i", "sentence i", "j", "sentence j", "score"]
                .map(String::from)
                .to_vec(),
            rows,
            more: self.len() - shown,
        }]
    }
}

impl Tabular for SearchResults {
    fn sections(&self) -> Vec<Section> {
        let queries = self.len().min(MAX_ROWS);
        (0..queries)
            .map(|q| {
                let title = match self.query_texts().get(q) {
                    Some(t) => format!("Query {q}: {}", shorten(t, 80)),
                    None => format!("Query {q}"),
                };
                let hits = &self[q];
                let shown = hits.len().min(MAX_ROWS);
                let rows = hits
                    .iter()
                    .take(shown)
                    .enumerate()
                    .map(|(k, h)| {
                        let text = self
                            .corpus_texts()
                            .get(h.corpus_id)
                            .map_or_else(String::new, |s| shorten(s, TEXT_WIDTH));
                        vec![
                            (k + 1).to_string(),
                            h.corpus_id.to_string(),
                            fmt_score(h.score),
                            text,
                        ]
                    })
                    .collect();
                Section {
                    title: Some(title),
                    header: vec![
                        "rank".into(),
                        "corpus_id".into(),
                        format!("score ({})", self.score_function),
                        "text".into(),
                    ],
                    rows,
                    more: hits.len() - shown,
                }
            })
            .collect()
    }
}

impl Tabular for EvalReport {
    fn sections(&self) -> Vec<Section> {
        let rows = self
            .metrics
            .iter()
            .map(|(k, v)| {
                vec![
                    if *k == self.primary {
                        format!("{k} (primary)")
                    } else {
                        k.clone()
                    },
                    format!("{v:.6}"),
                ]
            })
            .collect();
        let title = if self.name.is_empty() {
            "Evaluation".to_string()
        } else {
            format!("Evaluation: {}", self.name)
        };
        vec![Section {
            title: Some(title),
            header: vec!["metric".into(), "value".into()],
            rows,
            more: 0,
        }]
    }
}

impl Tabular for IrEvaluation {
    fn sections(&self) -> Vec<Section> {
        let rows = self
            .measures
            .iter()
            .map(|m| {
                vec![
                    m.clone(),
                    format!("{:.4}", self.mean.get(m).copied().unwrap_or(f64::NAN)),
                ]
            })
            .collect();
        vec![Section {
            title: Some(format!(
                "trec_eval measures, mean over {} queries",
                self.per_query.len()
            )),
            header: vec!["measure".into(), "all".into()],
            rows,
            more: 0,
        }]
    }
}

impl Tabular for MeanComparison {
    fn sections(&self) -> Vec<Section> {
        let mut header = vec!["measure".to_string()];
        header.extend(self.names.iter().cloned());
        if self.names.len() == 2 {
            header.push("gain".into());
        }
        let rows = self
            .measures
            .iter()
            .enumerate()
            .map(|(m, name)| {
                let mut row = vec![name.clone()];
                row.extend(self.values.iter().map(|v| format!("{:.4}", v[m])));
                if self.values.len() == 2 {
                    row.push(format!("{:+.4}", self.values[1][m] - self.values[0][m]));
                }
                row
            })
            .collect();
        vec![Section {
            title: Some(format!("Mean over {} queries", self.queries)),
            header,
            rows,
            more: 0,
        }]
    }
}
