//! The course's StackExchange collection: `Answers.json` (`[{"Id", "Text", …}]`, HTML),
//! `topics_N.json` (`[{"Id", "Title", "Body", "Tags"}]`, HTML bodies, `Tags` a Python list repr in
//! a string) and `qrel_N.tsv` (TREC qrels, grades 0/1/2).

use std::path::Path;

use super::text::{html_to_text, parse_str_list};
use super::{read_to_string, trec, Document, Query, RetrievalDataset};
use crate::core::fs::write_atomic;
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

/// Query templates for [`Topic::query_with`] and [`load_with_template`]: `{title}`, `{body}`,
/// `{tags}` (space-separated) and `{id}` are replaced by the topic's.
pub mod templates {
    /// The title only.
    pub const TITLE: &str = "{title}";
    /// The body only.
    pub const BODY: &str = "{body}";
    /// Title then body: the default ([`super::Topic::query_text`]).
    pub const TITLE_BODY: &str = "{title} {body}";
    /// Title, body and tags.
    pub const TITLE_BODY_TAGS: &str = "{title} {body} {tags}";
    /// Title and body marked with the special tokens students add to the tokenizer
    /// (`SentenceTransformer::add_tokens(&["[TITLE]", "[BODY]"])`).
    pub const MARKED: &str = "[TITLE] {title} [BODY] {body}";
}

impl Topic {
    /// The query text: title, then body ([`templates::TITLE_BODY`]).
    pub fn query_text(&self) -> String {
        format!("{} {}", self.title, self.body).trim().to_string()
    }

    /// The query text from a template (see [`templates`]): `{title}`, `{body}`, `{tags}`, `{id}`
    /// replaced, the result trimmed. Any other `{name}` is an error naming it.
    ///
    /// ```
    /// use sbert::datasets::stackexchange::{templates, Topic};
    /// let t = Topic { id: "7".into(), title: "Visa for Peru?".into(), body: "I am Dutch.".into(), tags: vec!["visas".into(), "peru".into()] };
    /// assert_eq!(t.query_with(templates::MARKED)?, "[TITLE] Visa for Peru? [BODY] I am Dutch.");
    /// assert_eq!(t.query_with("{tags}: {title}")?, "visas peru: Visa for Peru?");
    /// assert!(t.query_with("{author}").is_err());
    /// # Ok::<(), sbert::Error>(())
    /// ```
    pub fn query_with(&self, template: &str) -> Result<String> {
        let mut out = String::with_capacity(template.len() + self.title.len() + self.body.len());
        let mut rest = template;
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            let after = &rest[open + 1..];
            let close = after.find('}').ok_or_else(|| {
                Error::InvalidInput(format!(
                    "query template {template:?}: a '{{' without its '}}'"
                ))
            })?;
            match &after[..close] {
                "title" => out.push_str(&self.title),
                "body" => out.push_str(&self.body),
                "tags" => out.push_str(&self.tags.join(" ")),
                "id" => out.push_str(&self.id),
                other => {
                    return Err(Error::InvalidInput(format!(
                        "query template {template:?}: unknown field {{{other}}} (use {{title}}, {{body}}, {{tags}}, {{id}})"
                    )))
                }
            }
            rest = &after[close + 1..];
        }
        out.push_str(rest);
        Ok(out.trim().to_string())
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

/// Loads the collection: answers as the corpus, topics as queries (title then body), qrels if
/// given.
pub fn load(answers: &Path, topics: &Path, qrels: Option<&Path>) -> Result<RetrievalDataset> {
    load_with_template(answers, topics, qrels, templates::TITLE_BODY)
}

/// [`load`], with each topic's query text made by a template ([`Topic::query_with`]; e.g.
/// [`templates::TITLE`] or [`templates::MARKED`]).
pub fn load_with_template(
    answers: &Path,
    topics: &Path,
    qrels: Option<&Path>,
    template: &str,
) -> Result<RetrievalDataset> {
    let queries = read_topics(topics)?
        .into_iter()
        .map(|t| {
            Ok(Query {
                text: t.query_with(template)?,
                id: t.id,
            })
        })
        .collect::<Result<_>>()?;
    Ok(RetrievalDataset {
        corpus: read_answers(answers)?,
        queries,
        qrels: match qrels {
            Some(p) => trec::read_qrels(p)?,
            None => Default::default(),
        },
    })
}

/// `<`, `>`, `&` and `"` as HTML entities (what [`html_to_text`] decodes).
fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

/// Writes a collection in the course's layout, so a real collection (e.g. SciFact) runs through the
/// same cells as the course's Travel data: `dir/Answers.json` (each document's
/// [`Document::contents`] as an HTML paragraph), `dir/topics_{n}.json` (each query as a topic's
/// `Title`, empty `Body` and `Tags`) and `dir/qrel_{n}.tsv` (`topic 0 answer grade`). Each file
/// is written atomically; one already there with other contents is an error and nothing is written
/// (the same collection written again changes nothing). [`load`] reads them back (whitespace
/// collapsed, as HTML is read).
pub fn write_collection(dir: &Path, dataset: &RetrievalDataset, n: usize) -> Result<()> {
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
    let answers: Vec<serde_json::Value> = dataset
        .corpus
        .iter()
        .map(|d| serde_json::json!({"Id": d.id, "Text": format!("<p>{}</p>", escape_html(&d.contents()))}))
        .collect();
    let topics: Vec<serde_json::Value> = dataset
        .queries
        .iter()
        .map(|q| serde_json::json!({"Id": q.id, "Title": escape_html(&q.text), "Body": "", "Tags": "[]"}))
        .collect();
    let mut qrels = String::new();
    for (q, docs) in &dataset.qrels {
        for (d, g) in docs {
            qrels.push_str(&format!("{q}\t0\t{d}\t{g}\n"));
        }
    }
    let json = |v: &[serde_json::Value]| {
        serde_json::to_vec(v).map_err(|e| Error::InvalidInput(e.to_string()))
    };
    let files = [
        (dir.join("Answers.json"), json(&answers)?),
        (dir.join(format!("topics_{n}.json")), json(&topics)?),
        (dir.join(format!("qrel_{n}.tsv")), qrels.into_bytes()),
    ];
    // The course's own files may be in that folder: none is replaced by other contents.
    for (path, bytes) in &files {
        if path.exists() && std::fs::read(path).ok().as_ref() != Some(bytes) {
            return Err(Error::InvalidInput(format!(
                "{} exists with other contents: nothing was written (write the collection to another folder)",
                path.display()
            )));
        }
    }
    for (path, bytes) in &files {
        if !path.exists() {
            write_atomic(path, bytes)?;
        }
    }
    Ok(())
}
