//! BEIR: `corpus.jsonl` (`{"_id", "title", "text"}`), `queries.jsonl` (`{"_id", "text"}`),
//! `qrels/<split>.tsv` (`query-id<TAB>corpus-id<TAB>score` under a header line).

use std::path::Path;

use super::qrels::Qrels;
use super::{bad_line, read_to_string, Document, Query, RetrievalDataset};
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
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
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

/// Writes a data set as a BEIR folder (each file atomically).
pub fn write_dir(ds: &RetrievalDataset, dir: &Path, split: &str) -> Result<()> {
    std::fs::create_dir_all(dir.join("qrels"))
        .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
    let mut corpus = String::new();
    for d in &ds.corpus {
        corpus.push_str(
            &serde_json::json!({"_id": d.id, "title": d.title, "text": d.text}).to_string(),
        );
        corpus.push('\n');
    }
    crate::core::fs::write_atomic(&dir.join("corpus.jsonl"), corpus.as_bytes())?;
    let mut queries = String::new();
    for q in &ds.queries {
        queries.push_str(&serde_json::json!({"_id": q.id, "text": q.text}).to_string());
        queries.push('\n');
    }
    crate::core::fs::write_atomic(&dir.join("queries.jsonl"), queries.as_bytes())?;
    let mut qrels = String::from("query-id\tcorpus-id\tscore\n");
    for (q, docs) in &ds.qrels {
        for (d, g) in docs {
            qrels.push_str(&format!("{q}\t{d}\t{g}\n"));
        }
    }
    crate::core::fs::write_atomic(
        &dir.join("qrels").join(format!("{split}.tsv")),
        qrels.as_bytes(),
    )
}

impl RetrievalDataset {
    /// Writes BEIR files into `dir`: `corpus.jsonl`, `queries.jsonl`, `qrels/test.tsv`.
    pub fn write_beir(&self, dir: &Path) -> Result<()> {
        write_dir(self, dir, "test")
    }
}
