//! How results show: plain-text tables in a terminal, HTML in a notebook, SVG charts, progress bars.
//!
//! This layer imports nothing above [`crate::core`]: each result type implements [`Tabular`] next
//! to its own definition and gets `Display`, `to_html()` and `evcxr_display()` from
//! [`impl_display!`].

pub mod embeddings;
pub mod evcxr;
pub mod plot;
pub mod progress;
pub mod table;

pub(crate) use evcxr::emit_html;
pub use evcxr::evcxr_block;
pub use plot::{LineChart, Series};
pub use progress::Progress;
pub(crate) use table::{
    fmt_score, impl_display, shorten, to_html, write_text, Section, Tabular, TEXT_WIDTH,
};
pub use table::{MAX_COLS, MAX_ROWS};
