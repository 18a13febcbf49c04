//! STS Benchmark: TAB-separated, no header, **no quoting**; score = column 4, sentences = columns
//! 5 and 6; columns after 7 (source notes on some rows) are ignored.

use std::path::Path;

use super::{bad_line, read_to_string};
use crate::core::Result;

/// A sentence pair with its gold similarity (0–5).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StsPair {
    /// First sentence.
    pub sentence1: String,
    /// Second sentence.
    pub sentence2: String,
    /// Gold score, 0 to 5.
    pub score: f32,
}

/// Reads an STS Benchmark file (`sts-train.csv`, `sts-dev.csv`, `sts-test.csv`).
pub fn read_sts(path: &Path) -> Result<Vec<StsPair>> {
    let text = read_to_string(path)?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        if cols.len() < 7 {
            return Err(bad_line(
                path,
                n + 1,
                format!(
                    "expected at least 7 TAB-separated columns, found {}",
                    cols.len()
                ),
            ));
        }
        let score: f32 = cols[4]
            .trim()
            .parse()
            .map_err(|_| bad_line(path, n + 1, format!("score '{}' is not a number", cols[4])))?;
        out.push(StsPair {
            sentence1: cols[5].to_string(),
            sentence2: cols[6].to_string(),
            score,
        });
    }
    Ok(out)
}

/// Writes STS pairs as training jsonl, one `{"label": score / 5, "texts": [s1, s2]}` per line
/// (what `read_examples` and `sbert fit` read), atomically.
pub fn write_training_jsonl(pairs: &[StsPair], path: &Path) -> Result<()> {
    let mut text = String::new();
    for p in pairs {
        text.push_str(
            &serde_json::json!({"texts": [p.sentence1, p.sentence2], "label": p.score / 5.0})
                .to_string(),
        );
        text.push('\n');
    }
    crate::core::fs::write_atomic(path, text.as_bytes())
}
