//! TREC formats: qrels (`qid iter docid grade`), runs (`qid Q0 docid rank score tag`), topic TSVs
//! (`qid<TAB>text`, optionally gzipped).

use std::path::Path;

use super::qrels::Qrels;
use super::run::Run;
use super::{bad_line, read_maybe_gz, read_to_string, Query};
use crate::core::{Error, Result};

/// Reads TREC qrels: whitespace-separated `qid iter docid grade` (the course's TAB-separated
/// `qrel_N.tsv` too).
pub fn read_qrels(path: &Path) -> Result<Qrels> {
    let text = read_to_string(path)?;
    let mut qrels = Qrels::new();
    for (n, line) in text.lines().enumerate() {
        let cols: Vec<&str> = line.split_whitespace().collect();
        if cols.is_empty() {
            continue;
        }
        if cols.len() != 4 {
            return Err(bad_line(
                path,
                n + 1,
                format!(
                    "expected 4 columns (qid iter docid grade), found {}",
                    cols.len()
                ),
            ));
        }
        let grade: i32 = cols[3].parse().map_err(|_| {
            bad_line(
                path,
                n + 1,
                format!("grade '{}' is not an integer", cols[3]),
            )
        })?;
        qrels
            .entry(cols[0].to_string())
            .or_default()
            .insert(cols[2].to_string(), grade);
    }
    Ok(qrels)
}

/// Reads a TREC run: `qid Q0 docid rank score [tag]`.
pub fn read_run(path: &Path) -> Result<Run> {
    let text = read_to_string(path)?;
    let mut run = Run::new();
    for (n, line) in text.lines().enumerate() {
        let cols: Vec<&str> = line.split_whitespace().collect();
        if cols.is_empty() {
            continue;
        }
        if cols.len() < 5 {
            return Err(bad_line(
                path,
                n + 1,
                "expected qid Q0 docid rank score tag",
            ));
        }
        let score: f64 = cols[4]
            .parse()
            .map_err(|_| bad_line(path, n + 1, format!("score '{}' is not a number", cols[4])))?;
        if !score.is_finite() {
            return Err(bad_line(path, n + 1, "score is not finite"));
        }
        run.entry(cols[0].to_string())
            .or_default()
            .push((cols[2].to_string(), score));
    }
    Ok(run)
}

/// Formats a run in TREC format, each query's documents in the given order, ranks from 1.
pub fn format_run(run: &[(String, Vec<(String, f32)>)], tag: &str) -> String {
    let mut out = String::new();
    for (qid, docs) in run {
        for (rank, (doc, score)) in docs.iter().enumerate() {
            out.push_str(&format!("{qid} Q0 {doc} {} {score} {tag}\n", rank + 1));
        }
    }
    out
}

/// Checks that a run with this tag and these query / document ids can be written as TREC text
/// (each a single non-empty word), before any work is done.
pub fn check_run_ids<'a>(tag: &str, ids: impl IntoIterator<Item = &'a str>) -> Result<()> {
    let word = |s: &str| !s.is_empty() && !s.chars().any(char::is_whitespace);
    if !word(tag) {
        return Err(Error::InvalidInput(format!(
            "run tag {tag:?} must be one word"
        )));
    }
    match ids.into_iter().find(|s| !word(s)) {
        Some(bad) => Err(Error::InvalidInput(format!(
            "id {bad:?} cannot be written to a TREC run (empty or has spaces)"
        ))),
        None => Ok(()),
    }
}

/// Writes a run atomically (see [`format_run`]); ids and tag must be single words.
pub fn write_run(path: &Path, run: &[(String, Vec<(String, f32)>)], tag: &str) -> Result<()> {
    check_run_ids(
        tag,
        run.iter().flat_map(|(q, docs)| {
            std::iter::once(q.as_str()).chain(docs.iter().map(|(d, _)| d.as_str()))
        }),
    )?;
    crate::core::fs::write_atomic(path, format_run(run, tag).as_bytes())
}

/// Reads a topics TSV (`qid<TAB>text`), gunzipping `.gz` files.
pub fn read_topics_tsv(path: &Path) -> Result<Vec<Query>> {
    let text = read_maybe_gz(path)?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let (id, t) = line
            .split_once('\t')
            .ok_or_else(|| bad_line(path, n + 1, "expected qid<TAB>text"))?;
        out.push(Query {
            id: id.trim().to_string(),
            text: t.to_string(),
        });
    }
    Ok(out)
}
