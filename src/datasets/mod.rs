//! Readers (and a few writers) for the real evaluation data of the course: BEIR, TREC qrels/runs/
//! topics, SciFact as shipped, STS Benchmark, and the course's StackExchange format.
//!
//! Every reader returns an [`Error`](crate::Error) naming the file and line for malformed input;
//! none panics.

pub mod beir;
pub mod files;
pub mod run;
pub mod scifact;
pub mod stackexchange;
pub mod sts;
pub mod text;
pub mod trec;

use std::path::{Path, PathBuf};

use crate::core::{Error, Result};
pub use run::{to_run, Qrels, RankedRun, Run};

/// The course's shared data folder (`golden/`, `data/`): `$SBERT_SHARED` when set (the lab's
/// kernel sets it), else the first `shared` folder found beside the current directory or one of
/// its parents (`../shared` from the repository root, `../../shared` from `notebooks/`).
pub fn shared_dir() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("SBERT_SHARED") {
        let p = PathBuf::from(p);
        return if p.is_dir() {
            Ok(p)
        } else {
            Err(Error::InvalidInput(format!(
                "SBERT_SHARED={} is not a folder",
                p.display()
            )))
        };
    }
    let cwd = std::env::current_dir().map_err(|e| Error::io("reading the current directory", e))?;
    cwd.ancestors()
        .map(|a| a.join("shared"))
        .find(|p| p.join("data").is_dir())
        .ok_or_else(|| {
            Error::InvalidInput(format!(
                "no shared data folder (shared/data) beside {} or its parents; set SBERT_SHARED",
                cwd.display()
            ))
        })
}

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
    /// Writes BEIR files into `dir`: `corpus.jsonl`, `queries.jsonl`, `qrels/test.tsv`.
    pub fn write_beir(&self, dir: &Path) -> Result<()> {
        beir::write_dir(self, dir, "test")
    }
}

/// Reads a whole file as text, naming the path on error.
pub(crate) fn read_to_string(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| Error::io(format!("reading {}", path.display()), e))
}

/// Reads a text file, gunzipping it when its name ends in `.gz`.
pub(crate) fn read_maybe_gz(path: &Path) -> Result<String> {
    if path.extension().is_some_and(|e| e == "gz") {
        use std::io::Read;
        let f = std::fs::File::open(path)
            .map_err(|e| Error::io(format!("opening {}", path.display()), e))?;
        let mut s = String::new();
        flate2::read::GzDecoder::new(f)
            .read_to_string(&mut s)
            .map_err(|e| Error::io(format!("gunzipping {}", path.display()), e))?;
        Ok(s)
    } else {
        read_to_string(path)
    }
}

pub(crate) fn bad_line(path: &Path, line: usize, why: impl std::fmt::Display) -> Error {
    Error::InvalidInput(format!("{}:{line}: {why}", path.display()))
}
