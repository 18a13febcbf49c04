//! Tables for every result type: plain text (prettytable) through `Display` in a terminal, HTML
//! through `evcxr_display()` in a Jupyter notebook (evcxr calls that method by name).
//!
//! A result type implements [`Tabular`] (its tables as [`Section`]s) next to its own definition and
//! calls [`impl_display!`](crate::display::impl_display) once: that gives it `Display`, `to_html()` and
//! `evcxr_display()`.

use std::fmt;

/// Rows shown before a table is cut (with a "… N more" line).
pub const MAX_ROWS: usize = 25;
/// Columns of a score matrix shown before it is cut.
pub const MAX_COLS: usize = 12;
/// Characters of a text shown in a table cell before it is cut.
pub(crate) const TEXT_WIDTH: usize = 60;

/// One titled table.
#[derive(Debug, Clone)]
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

/// A score as tables show it (4 decimals).
pub(crate) fn fmt_score(s: f32) -> String {
    format!("{s:.4}")
}

/// `Display`, `to_html()` and `evcxr_display()` from a type's [`Tabular`] tables.
macro_rules! impl_display {
    ($($t:ty),*) => {$(
        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                $crate::display::write_text(&$crate::display::Tabular::sections(self), f)
            }
        }
        impl $t {
            /// The result as HTML tables.
            pub fn to_html(&self) -> String {
                $crate::display::to_html(&$crate::display::Tabular::sections(self))
            }
            /// Rich notebook output: evcxr's Jupyter kernel calls this to show the value as HTML tables.
            pub fn evcxr_display(&self) {
                $crate::display::emit_html(&self.to_html(), &self.to_string());
            }
        }
    )*};
}
pub(crate) use impl_display;
