//! Where the course's data is, and reading its files with errors that name the path and line.

use std::path::{Path, PathBuf};

use crate::core::{Error, Result};

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

/// The lab's data folder, the one place notebooks and examples read data sets from:
/// `$SBERT_DATA` when set, else `${XDG_DATA_HOME:-~/.local/share}/sbert/data`. The lab's set-up
/// (`scripts/fetch-data.py`) fills it: `stsbenchmark/`, `beir-scifact/`, copied from the course's
/// shared folder where there is one, else downloaded from their public sources and checked.
pub fn data_dir() -> Result<PathBuf> {
    let dir = match std::env::var_os("SBERT_DATA") {
        Some(p) => PathBuf::from(p),
        None => {
            let base = std::env::var_os("XDG_DATA_HOME")
                .map(PathBuf::from)
                .filter(|p| p.is_absolute())
                .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
                .ok_or_else(|| {
                    Error::InvalidInput("neither SBERT_DATA nor HOME is set: no data folder".into())
                })?;
            base.join("sbert").join("data")
        }
    };
    if dir.is_dir() {
        Ok(dir)
    } else {
        Err(Error::InvalidInput(format!(
            "no data folder at {}: run `python3 scripts/fetch-data.py` (the lab's set-up does), or set SBERT_DATA",
            dir.display()
        )))
    }
}

/// Reads a whole file as text, naming the path on error.
pub(crate) fn read_to_string(path: &Path) -> Result<String> {
    std::fs::read_to_string(path)
        .map(strip_bom)
        .map_err(|e| Error::io(format!("reading {}", path.display()), e))
}

/// Drops a UTF-8 byte-order mark at the start of a file's text (editors on Windows write one; it
/// would otherwise become part of the first id).
pub(crate) fn strip_bom(s: String) -> String {
    match s.strip_prefix('\u{feff}') {
        Some(rest) => rest.to_string(),
        None => s,
    }
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
        Ok(strip_bom(s))
    } else {
        read_to_string(path)
    }
}

pub(crate) fn bad_line(path: &Path, line: usize, why: impl std::fmt::Display) -> Error {
    Error::InvalidInput(format!("{}:{line}: {why}", path.display()))
}

/// Refuses an id that appears twice (`(line, id)` pairs; `what` names the unit: "line",
/// "entry"): a corpus with a repeated id listed one document twice in a run and re-ranked with
/// the last text.
pub(crate) fn check_unique_ids<'a>(
    path: &Path,
    ids: impl IntoIterator<Item = (usize, &'a str)>,
    what: &str,
) -> crate::core::Result<()> {
    match first_repeat(ids) {
        Some((first, n, id)) => Err(Error::InvalidInput(format!(
            "{}: {what} {n}: id {id:?} is already used on {what} {first} (ids must be unique)",
            path.display()
        ))),
        None => Ok(()),
    }
}

/// The first id seen twice among `(position, id)` pairs: (first position, second, id).
pub(crate) fn first_repeat<'a>(
    ids: impl IntoIterator<Item = (usize, &'a str)>,
) -> Option<(usize, usize, &'a str)> {
    let mut seen = std::collections::HashMap::new();
    ids.into_iter()
        .find_map(|(n, id)| seen.insert(id, n).map(|first| (first, n, id)))
}
