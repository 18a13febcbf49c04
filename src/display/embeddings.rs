//! How [`Embeddings`] show: the first rows and columns, the texts, and which inputs were truncated.

use super::table::{impl_display, shorten, Section, Tabular, MAX_ROWS, TEXT_WIDTH};
use crate::core::Embeddings;

impl_display!(Embeddings);

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
