//! BEIR: `corpus.jsonl` (`{"_id", "title", "text"}`), `queries.jsonl` (`{"_id", "text"}`),
//! `qrels/<split>.tsv` (`query-id<TAB>corpus-id<TAB>score` under a header line).

use std::path::{Path, PathBuf};

use super::io::check_unique_ids;
use super::qrels::Qrels;
use super::{bad_line, read_to_string, Document, Query, RetrievalDataset};
use crate::core::fs::{write_dir_atomic, DirOwnership};
use crate::core::{Error, Result};

fn id_of(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Reads jsonl objects with `_id`, `text` and optional `title` (documents or queries).
pub fn read_jsonl_documents(path: &Path) -> Result<Vec<Document>> {
    let text = read_to_string(path)?;
    let mut out = Vec::new();
    let mut lines = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        lines.push(n + 1);
        let v: serde_json::Value = serde_json::from_str(line)
            .map_err(|e| bad_line(path, n + 1, format!("invalid JSON: {e}")))?;
        let id = id_of(&v["_id"]).ok_or_else(|| bad_line(path, n + 1, "missing \"_id\""))?;
        let body = v["text"]
            .as_str()
            .ok_or_else(|| bad_line(path, n + 1, "missing \"text\""))?;
        let title = v.get("title").and_then(|t| t.as_str()).unwrap_or("");
        out.push(Document {
            id,
            title: title.to_string(),
            text: body.to_string(),
        });
    }
    check_unique_ids(
        path,
        lines.into_iter().zip(out.iter().map(|d| d.id.as_str())),
        "line",
    )?;
    Ok(out)
}

/// Reads `corpus.jsonl`.
pub fn read_corpus(path: &Path) -> Result<Vec<Document>> {
    read_jsonl_documents(path)
}

/// Reads `queries.jsonl` (a title, if any, is ignored).
pub fn read_queries(path: &Path) -> Result<Vec<Query>> {
    Ok(read_jsonl_documents(path)?
        .into_iter()
        .map(|d| Query {
            id: d.id,
            text: d.text,
        })
        .collect())
}

/// Reads a BEIR qrels TSV (`query-id corpus-id score`, header line first).
pub fn read_qrels(path: &Path) -> Result<Qrels> {
    let text = read_to_string(path)?;
    let mut qrels = Qrels::new();
    for (n, line) in text.lines().enumerate() {
        let cols: Vec<&str> = line.split('\t').map(str::trim).collect();
        if line.trim().is_empty()
            || (n == 0
                && cols
                    .first()
                    .is_some_and(|c| c.parse::<f64>().is_err() && c.contains("query")))
        {
            continue;
        }
        if cols.len() < 3 {
            return Err(bad_line(
                path,
                n + 1,
                "expected query-id<TAB>corpus-id<TAB>score",
            ));
        }
        let grade: i32 = cols[2]
            .parse::<f64>()
            .map_err(|_| bad_line(path, n + 1, format!("bad score '{}'", cols[2])))?
            as i32;
        qrels
            .entry(cols[0].to_string())
            .or_default()
            .insert(cols[1].to_string(), grade);
    }
    Ok(qrels)
}

/// Loads a BEIR folder: `corpus.jsonl`, `queries.jsonl`, `qrels/<split>.tsv`.
pub fn load_dir(dir: &Path, split: &str) -> Result<RetrievalDataset> {
    Ok(RetrievalDataset {
        corpus: read_corpus(&dir.join("corpus.jsonl"))?,
        queries: read_queries(&dir.join("queries.jsonl"))?,
        qrels: read_qrels(&dir.join("qrels").join(format!("{split}.tsv")))?,
    })
}

/// Writes a data set as a BEIR folder: `corpus.jsonl`, `queries.jsonl`, `qrels/{split}.tsv`, as
/// one atomic swap (the old or the new folder at every moment; other files, e.g. the qrels of
/// other splits, are kept).
pub fn write_dir(ds: &RetrievalDataset, dir: &Path, split: &str) -> Result<()> {
    let mut corpus = String::new();
    for d in &ds.corpus {
        corpus.push_str(
            &serde_json::json!({"_id": d.id, "title": d.title, "text": d.text}).to_string(),
        );
        corpus.push('\n');
    }
    let mut queries = String::new();
    for q in &ds.queries {
        queries.push_str(&serde_json::json!({"_id": q.id, "text": q.text}).to_string());
        queries.push('\n');
    }
    let mut qrels = String::from("query-id\tcorpus-id\tscore\n");
    for (q, docs) in &ds.qrels {
        for (d, g) in docs {
            qrels.push_str(&format!("{q}\t{d}\t{g}\n"));
        }
    }
    let qrels_file = format!("qrels/{split}.tsv");
    if split.is_empty() || split.contains(['/', '\\']) || split.starts_with('.') {
        return Err(Error::InvalidInput(format!(
            "split {split:?} is not a plain name (e.g. test)"
        )));
    }
    let owns = |rel: &str| matches!(rel, "corpus.jsonl" | "queries.jsonl") || rel == qrels_file;
    let ownership = DirOwnership {
        owns: &owns,
        markers: &["corpus.jsonl"],
    };
    write_dir_atomic(dir, &ownership, |tmp| {
        let io = |p: PathBuf| move |e| Error::io(format!("writing {}", p.display()), e);
        std::fs::create_dir_all(tmp.join("qrels")).map_err(io(tmp.join("qrels")))?;
        for (name, text) in [
            ("corpus.jsonl", &corpus),
            ("queries.jsonl", &queries),
            (qrels_file.as_str(), &qrels),
        ] {
            std::fs::write(tmp.join(name), text).map_err(io(tmp.join(name)))?;
        }
        Ok(())
    })
}

impl RetrievalDataset {
    /// Writes BEIR files into `dir`: `corpus.jsonl`, `queries.jsonl`, `qrels/test.tsv`.
    pub fn write_beir(&self, dir: &Path) -> Result<()> {
        write_dir(self, dir, "test")
    }
}
