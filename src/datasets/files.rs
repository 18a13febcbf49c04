//! Reading sentences and id-tagged texts from files (the CLI's inputs).

use std::io::Read;
use std::path::Path;

use super::{beir, Document, Query};
use crate::core::{Error, Result};

/// Reads a whole file, or standard input for `-`.
pub fn read_text(path: &Path) -> Result<String> {
    if path.as_os_str() == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(|e| Error::io("reading standard input", e))?;
        Ok(super::io::strip_bom(s))
    } else {
        super::io::read_to_string(path)
    }
}

/// One sentence per line (a `\r` before the newline is dropped; a final newline adds no sentence).
pub fn read_lines(path: &Path) -> Result<Vec<String>> {
    Ok(read_text(path)?
        .lines()
        .map(|l| l.strip_suffix('\r').unwrap_or(l).to_string())
        .collect())
}

/// Reads a BEIR jsonl file (`{"_id", "title"?, "text"}` per line) or an `id<TAB>text` TSV file.
/// The format is taken from the first non-blank character (`{` → jsonl). Embed
/// [`Document::contents`] (`(title + " " + text).strip()`, as BEIR does).
pub fn read_records(path: &Path) -> Result<Vec<Document>> {
    let text = read_text(path)?;
    if text.trim_start().starts_with('{') {
        return beir::read_jsonl_documents(path);
    }
    let mut out = Vec::new();
    let mut lines = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim().is_empty() {
            continue;
        }
        lines.push(n + 1);
        let (id, body) = line.split_once('\t').ok_or_else(|| {
            Error::InvalidInput(format!(
                "{}:{}: expected id<TAB>text",
                path.display(),
                n + 1
            ))
        })?;
        out.push(Document {
            id: id.trim().to_string(),
            title: String::new(),
            text: body.to_string(),
        });
    }
    super::io::check_unique_ids(
        path,
        lines.into_iter().zip(out.iter().map(|d| d.id.as_str())),
        "line",
    )?;
    Ok(out)
}

/// Reads queries from the files [`read_records`] reads (BEIR jsonl `{"_id", "text"}` or
/// `id<TAB>text`); a record's text is its [`Document::contents`].
pub fn read_query_records(path: &Path) -> Result<Vec<Query>> {
    Ok(read_records(path)?
        .into_iter()
        .map(|q| Query {
            text: q.contents(),
            id: q.id,
        })
        .collect())
}

/// Reads qrels in TREC format (`qid iter docid grade`) or BEIR TSV (`query-id corpus-id score`,
/// with a header), told apart by the number of columns.
pub fn read_any_qrels(path: &Path) -> Result<super::qrels::Qrels> {
    let text = read_text(path)?;
    let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    if first.split_whitespace().count() == 4 {
        super::trec::read_qrels(path)
    } else {
        beir::read_qrels(path)
    }
}
