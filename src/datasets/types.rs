//! The data of a retrieval test collection: [`Document`], [`Query`], [`RetrievalDataset`].

use super::qrels::Qrels;

/// A document of a collection.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Document {
    /// Document id (`_id` in BEIR).
    pub id: String,
    /// Title (may be empty).
    pub title: String,
    /// Body text.
    pub text: String,
}

impl Document {
    /// The text to embed: `(title + " " + text).strip()`, as BEIR builds it.
    pub fn contents(&self) -> String {
        if self.title.is_empty() {
            self.text.trim().to_string()
        } else {
            format!("{} {}", self.title, self.text).trim().to_string()
        }
    }
}

/// A query (topic) with its id.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Query {
    /// Query id.
    pub id: String,
    /// Query text.
    pub text: String,
}

/// A retrieval test collection: documents, queries and relevance judgements.
#[derive(Debug, Clone, PartialEq)]
pub struct RetrievalDataset {
    /// The documents, in file order.
    pub corpus: Vec<Document>,
    /// The queries, in file order.
    pub queries: Vec<Query>,
    /// Judgements: query id → doc id → grade.
    pub qrels: Qrels,
}

impl RetrievalDataset {
    /// Refuses a document or query id used twice (a run would list one document twice, and its
    /// text would be the last one's).
    pub fn check_unique_ids(&self) -> crate::core::Result<()> {
        let docs = self.corpus.iter().map(|d| d.id.as_str());
        let queries = self.queries.iter().map(|q| q.id.as_str());
        for (what, repeat) in [
            ("document", super::io::first_repeat(docs.enumerate())),
            ("query", super::io::first_repeat(queries.enumerate())),
        ] {
            if let Some((_, _, id)) = repeat {
                return Err(crate::core::Error::InvalidInput(format!(
                    "{what} id {id:?} is used twice in the data set (ids must be unique)"
                )));
            }
        }
        Ok(())
    }
    /// The texts to embed for the corpus (see [`Document::contents`]).
    pub fn corpus_texts(&self) -> Vec<String> {
        self.corpus.iter().map(Document::contents).collect()
    }
    /// The query texts.
    pub fn query_texts(&self) -> Vec<String> {
        self.queries.iter().map(|q| q.text.clone()).collect()
    }
    /// Keeps only the queries that have judgements (as BEIR evaluates).
    pub fn judged_queries_only(mut self) -> Self {
        let qrels = &self.qrels;
        self.queries.retain(|q| qrels.contains_key(&q.id));
        self
    }

    /// Python's (and the course's) split of the judged queries into parts of the given
    /// `fractions` (e.g. `[0.8, 0.1, 0.1]` for train / validation / test), by query, shuffled
    /// with `seed`: each part has its queries and their qrels, and the whole corpus. Part sizes are
    /// the fractions of the number of judged queries, rounded; the last part takes what remains
    /// when the fractions add up to 1.
    pub fn split_by_query(&self, fractions: &[f64], seed: u64) -> crate::core::Result<Vec<Self>> {
        let total: f64 = fractions.iter().sum();
        if fractions.is_empty()
            || fractions.iter().any(|f| !f.is_finite() || *f <= 0.0)
            || total > 1.0 + 1e-9
        {
            return Err(crate::core::Error::InvalidInput(format!(
                "split fractions must be positive and add up to at most 1, got {fractions:?}"
            )));
        }
        let mut ids: Vec<&Query> = self
            .queries
            .iter()
            .filter(|q| self.qrels.contains_key(&q.id))
            .collect();
        crate::core::Rng::new(seed).shuffle(&mut ids);
        let n = ids.len();
        let mut parts = Vec::with_capacity(fractions.len());
        let mut start = 0;
        for (k, f) in fractions.iter().enumerate() {
            let end = if k + 1 == fractions.len() && (total - 1.0).abs() < 1e-9 {
                n
            } else {
                (start + (f * n as f64).round() as usize).min(n)
            };
            let queries: Vec<Query> = ids[start..end].iter().map(|q| (*q).clone()).collect();
            let qrels = queries
                .iter()
                .map(|q| (q.id.clone(), self.qrels[&q.id].clone()))
                .collect();
            parts.push(Self {
                corpus: self.corpus.clone(),
                queries,
                qrels,
            });
            start = end;
        }
        Ok(parts)
    }
}
