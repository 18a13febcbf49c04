//! `InputExample` (Python's `InputExample(texts=[…], label=…)`), jsonl reading, and the lecture's
//! training set of (question, answer) pairs with random negatives.

use std::path::Path;

use crate::core::{Error, Result, Rng};

/// One training example: texts (anchor, positive[, negative] or a pair) and a label.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct InputExample {
    /// The texts, one per column.
    pub texts: Vec<String>,
    /// The label (1.0 similar / 0.0 dissimilar, or a similarity score).
    #[serde(default = "one")]
    pub label: f32,
}

fn one() -> f32 {
    1.0
}

impl InputExample {
    /// A pair with a label.
    pub fn pair(a: impl Into<String>, b: impl Into<String>, label: f32) -> Self {
        Self {
            texts: vec![a.into(), b.into()],
            label,
        }
    }
}

/// Reads jsonl `InputExample`s (`{"texts": ["anchor", "other"], "label": 1.0}` per line).
pub fn read_examples(path: &Path) -> Result<Vec<InputExample>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let ex: InputExample = serde_json::from_str(line).map_err(|e| {
            Error::InvalidInput(format!(
                "{}:{}: not an InputExample: {e}",
                path.display(),
                n + 1
            ))
        })?;
        if ex.texts.len() < 2 {
            return Err(Error::InvalidInput(format!(
                "{}:{}: an example needs at least 2 texts",
                path.display(),
                n + 1
            )));
        }
        out.push(ex);
    }
    Ok(out)
}

/// The lecture's training set: every (query, positive) pair with label 1, plus one random
/// negative per positive (label 0, never one of the query's positives), drawn with `seed`.
/// Queries in `exclude` (e.g. test queries) are left out. Returns (positives, positives + negatives).
pub fn build_training_pairs(
    positives: &[(String, String)],
    documents: &[String],
    is_positive: impl Fn(&str, &str) -> bool,
    exclude: &std::collections::BTreeSet<String>,
    seed: u64,
) -> Result<(Vec<InputExample>, Vec<InputExample>)> {
    if documents.is_empty() {
        return Err(Error::InvalidInput(
            "no documents to draw negatives from".into(),
        ));
    }
    let mut rng = Rng::new(seed);
    let mut pos = Vec::new();
    let mut all = Vec::new();
    for (q, d) in positives.iter().filter(|(q, _)| !exclude.contains(q)) {
        pos.push(InputExample::pair(q.clone(), d.clone(), 1.0));
        all.push(InputExample::pair(q.clone(), d.clone(), 1.0));
    }
    let n = pos.len();
    for ex in pos.iter().take(n) {
        let q = &ex.texts[0];
        let mut tries = 0;
        let neg = loop {
            let cand = &documents[rng.below(documents.len())];
            tries += 1;
            if !is_positive(q, cand) || tries > 1000 {
                break cand.clone();
            }
        };
        all.push(InputExample::pair(q.clone(), neg, 0.0));
    }
    Ok((pos, all))
}
