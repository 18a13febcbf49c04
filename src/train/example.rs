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
    /// Whether the label is above 0: what losses that take positive pairs only keep
    /// ([`crate::losses::Loss::positives_only`]).
    pub fn is_positive(&self) -> bool {
        self.label > 0.0
    }
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

impl crate::datasets::RetrievalDataset {
    /// Training pairs from graded qrels, as the course projects build them: for every judged
    /// (query, document) of a query in `queries` (all judged queries when `None`), the pair
    /// (query text, document contents) labelled `label(grade)`; a `None` label leaves the pair
    /// out. [`RetrievalDataset::grade_over_max`](crate::datasets::RetrievalDataset::grade_over_max)
    /// is the usual mapping (grade 2 → 1.0, grade 1 → 0.5, 0 → 0.0). Train them with a loss that
    /// takes graded labels (`CosineSimilarityLoss`, `CoSENTLoss`). Query then document order.
    pub fn graded_examples(
        &self,
        queries: Option<&std::collections::BTreeSet<String>>,
        label: impl Fn(i32) -> Option<f32>,
    ) -> Vec<InputExample> {
        let contents: std::collections::HashMap<&str, String> = self
            .corpus
            .iter()
            .map(|d| (d.id.as_str(), d.contents()))
            .collect();
        let mut out = Vec::new();
        for q in &self.queries {
            if queries.is_some_and(|set| !set.contains(&q.id)) {
                continue;
            }
            let Some(judged) = self.qrels.get(&q.id) else {
                continue;
            };
            for (doc, &grade) in judged {
                if let (Some(text), Some(y)) = (contents.get(doc.as_str()), label(grade)) {
                    out.push(InputExample::pair(q.text.clone(), text.clone(), y));
                }
            }
        }
        out
    }

    /// The label mapping `grade / max grade` of this collection's qrels (grades below 0 count as
    /// 0): with grades 0–2, 2 → 1.0, 1 → 0.5, 0 → 0.0.
    pub fn grade_over_max(&self) -> impl Fn(i32) -> Option<f32> {
        let max = self
            .qrels
            .values()
            .flat_map(|j| j.values().copied())
            .max()
            .unwrap_or(1)
            .max(1);
        move |g| Some(g.max(0) as f32 / max as f32)
    }

    /// The lecture's training set from a collection, in one call: for every judged query not in
    /// `exclude` (e.g. the validation and test queries), a pair (query, document) labelled 1 for
    /// each document judged relevant (grade ≥ 1: the course counts grades 1 and 2 as relevant),
    /// then as many pairs (query, random document) labelled 0, drawn with `seed` from "all the
    /// possible candidates in your collection" but never one judged relevant to that query.
    /// Positives first, in query then document order. Texts: the query's, [`crate::datasets::Document::contents`].
    pub fn training_pairs(
        &self,
        exclude: &std::collections::BTreeSet<String>,
        seed: u64,
    ) -> Result<Vec<InputExample>> {
        if self.corpus.is_empty() {
            return Err(Error::InvalidInput(
                "no documents to draw negatives from".into(),
            ));
        }
        let contents: std::collections::HashMap<&str, String> = self
            .corpus
            .iter()
            .map(|d| (d.id.as_str(), d.contents()))
            .collect();
        let mut positives = Vec::new();
        for q in self.queries.iter().filter(|q| !exclude.contains(&q.id)) {
            let Some(judged) = self.qrels.get(&q.id) else {
                continue;
            };
            for (doc, _) in judged.iter().filter(|(_, &g)| g >= 1) {
                if let Some(text) = contents.get(doc.as_str()) {
                    positives.push((q, InputExample::pair(q.text.clone(), text.clone(), 1.0)));
                }
            }
        }
        let mut rng = Rng::new(seed);
        let mut all: Vec<InputExample> = positives.iter().map(|(_, e)| e.clone()).collect();
        for (q, _) in &positives {
            let judged = &self.qrels[&q.id];
            let relevant = |id: &str| judged.get(id).is_some_and(|&g| g >= 1);
            if self.corpus.iter().all(|d| relevant(&d.id)) {
                return Err(Error::InvalidInput(format!(
                    "query {}: every document is judged relevant, no negative to draw",
                    q.id
                )));
            }
            let negative = loop {
                let d = &self.corpus[rng.below(self.corpus.len())];
                if !relevant(&d.id) {
                    break d;
                }
            };
            all.push(InputExample::pair(q.text.clone(), negative.contents(), 0.0));
        }
        Ok(all)
    }
}
