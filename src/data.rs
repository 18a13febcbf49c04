//! Reading sentences, corpora and queries from files.

use std::io::Read;
use std::path::Path;

use crate::error::{Error, Result};

/// Reads a whole file, or standard input for `-`.
pub fn read_text(path: &Path) -> Result<String> {
    if path.as_os_str() == "-" {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s).map_err(|e| Error::io("reading standard input", e))?;
        Ok(s)
    } else {
        std::fs::read_to_string(path).map_err(|e| Error::io(format!("reading {}", path.display()), e))
    }
}

/// One sentence per line (a `\r` before the newline is dropped; a final newline adds no sentence).
pub fn read_lines(path: &Path) -> Result<Vec<String>> {
    Ok(read_text(path)?.lines().map(|l| l.strip_suffix('\r').unwrap_or(l).to_string()).collect())
}

/// A document or query with its id.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Record {
    /// The id (`_id` in BEIR).
    pub id: String,
    /// The text to embed.
    pub text: String,
}

/// Reads a BEIR jsonl file (`{"_id", "title"?, "text"}` per line; text = `(title + " " + text).strip()`,
/// as BEIR does) or an `id<TAB>text` TSV file. The format is taken from the first non-blank character.
pub fn read_records(path: &Path) -> Result<Vec<Record>> {
    let text = read_text(path)?;
    let jsonl = text.trim_start().starts_with('{');
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim().is_empty() {
            continue;
        }
        let at = || format!("{}:{}", path.display(), n + 1);
        if jsonl {
            let v: serde_json::Value = serde_json::from_str(line)
                .map_err(|e| Error::InvalidInput(format!("{}: invalid JSON: {e}", at())))?;
            let id = match &v["_id"] {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Number(x) => x.to_string(),
                _ => return Err(Error::InvalidInput(format!("{}: missing \"_id\"", at()))),
            };
            let body = v["text"].as_str().ok_or_else(|| Error::InvalidInput(format!("{}: missing \"text\"", at())))?;
            let text = match v.get("title").and_then(|t| t.as_str()) {
                Some(title) => format!("{title} {body}").trim().to_string(),
                None => body.trim().to_string(),
            };
            out.push(Record { id, text });
        } else {
            let (id, body) = line
                .split_once('\t')
                .ok_or_else(|| Error::InvalidInput(format!("{}: expected id<TAB>text", at())))?;
            out.push(Record { id: id.trim().to_string(), text: body.to_string() });
        }
    }
    Ok(out)
}
