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
}
