//! The course's StackExchange collection: `Answers.json` (`[{"Id", "Text", …}]`, HTML),
//! `topics_N.json` (`[{"Id", "Title", "Body", "Tags"}]`, HTML bodies, `Tags` a Python list repr in
//! a string) and `qrel_N.tsv` (TREC qrels, grades 0/1/2).

use std::path::Path;

use super::text::{html_to_text, parse_str_list};
use super::{read_to_string, trec, Document, Query, RetrievalDataset};
use crate::core::{Error, Result};

/// A topic (question) of the collection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topic {
    /// Topic id.
    pub id: String,
    /// Question title.
    pub title: String,
    /// Question body, HTML stripped.
    pub body: String,
    /// Tags.
    pub tags: Vec<String>,
}

impl Topic {
    /// The query text: title, then body.
    pub fn query_text(&self) -> String {
        format!("{} {}", self.title, self.body).trim().to_string()
    }
}

fn field(v: &serde_json::Value, key: &str, path: &Path, i: usize) -> Result<String> {
    match &v[key] {
        serde_json::Value::String(s) => Ok(s.clone()),
        serde_json::Value::Number(n) => Ok(n.to_string()),
        _ => Err(Error::InvalidInput(format!(
            "{}: entry {i}: missing \"{key}\"",
            path.display()
        ))),
    }
}

fn read_array(path: &Path) -> Result<Vec<serde_json::Value>> {
    serde_json::from_str(&read_to_string(path)?).map_err(|source| Error::Json {
        path: path.to_path_buf(),
        source,
    })
}

/// Reads `Answers.json`: each answer's HTML `Text` becomes plain text.
pub fn read_answers(path: &Path) -> Result<Vec<Document>> {
    let docs = read_array(path)?
        .iter()
        .enumerate()
        .map(|(i, v)| {
            Ok(Document {
                id: field(v, "Id", path, i)?,
                title: String::new(),
                text: html_to_text(&field(v, "Text", path, i)?),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    super::io::check_unique_ids(
        path,
        docs.iter().map(|d| d.id.as_str()).enumerate(),
        "entry",
    )?;
    Ok(docs)
}

/// Reads `topics_N.json`.
pub fn read_topics(path: &Path) -> Result<Vec<Topic>> {
    read_array(path)?
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let tags = match v.get("Tags") {
                Some(serde_json::Value::String(s)) => parse_str_list(s).ok_or_else(|| {
                    Error::InvalidInput(format!(
                        "{}: entry {i}: Tags {s:?} is not a list of quoted strings",
                        path.display()
                    ))
                })?,
                Some(serde_json::Value::Array(a)) => a
                    .iter()
                    .filter_map(|t| t.as_str().map(str::to_string))
                    .collect(),
                _ => Vec::new(),
            };
            Ok(Topic {
                id: field(v, "Id", path, i)?,
                title: html_to_text(&field(v, "Title", path, i)?),
                body: html_to_text(&field(v, "Body", path, i)?),
                tags,
            })
        })
        .collect()
}

/// Loads the collection: answers as the corpus, topics as queries, qrels if given.
pub fn load(answers: &Path, topics: &Path, qrels: Option<&Path>) -> Result<RetrievalDataset> {
    let queries = read_topics(topics)?
        .into_iter()
        .map(|t| Query {
            text: t.query_text(),
            id: t.id,
        })
        .collect();
    Ok(RetrievalDataset {
        corpus: read_answers(answers)?,
        queries,
        qrels: match qrels {
            Some(p) => trec::read_qrels(p)?,
            None => Default::default(),
        },
    })
}
