//! Files written so that a failure or a kill never leaves a half-written one, and JSON read with
//! the path in any error.

use std::io::Write;
use std::path::Path;

use serde::de::DeserializeOwned;

use super::error::{Error, Result};

/// Reads and parses a JSON file, with the path in any error.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
    serde_json::from_str(&text).map_err(|source| Error::Json {
        path: path.to_path_buf(),
        source,
    })
}

/// Writes `bytes` to `path` atomically: a temporary file in the same folder, then a rename. A
/// failure or a kill never leaves a half-written `path`.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .ok_or_else(|| Error::InvalidInput(format!("{} is not a file path", path.display())))?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io(format!("writing {}", path.display()), e)
    })
}

/// Writes a folder atomically: `write` fills a temporary sibling folder, which then replaces
/// `path` by renames. A failure or a kill never leaves a half-written `path` (at worst a hidden
/// `.NAME.tmp-PID` folder beside it).
pub(crate) fn write_dir_atomic(path: &Path, write: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let name = path
        .file_name()
        .ok_or_else(|| Error::InvalidInput(format!("{} is not a folder path", path.display())))?;
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)
        .map_err(|e| Error::io(format!("creating {}", parent.display()), e))?;
    let tmp = parent.join(format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&tmp);
    let result = std::fs::create_dir_all(&tmp)
        .map_err(|e| Error::io(format!("creating {}", tmp.display()), e))
        .and_then(|_| write(&tmp))
        .and_then(|_| {
            let old = parent.join(format!(
                ".{}.old-{}",
                name.to_string_lossy(),
                std::process::id()
            ));
            if path.exists() {
                std::fs::rename(path, &old)
                    .map_err(|e| Error::io(format!("replacing {}", path.display()), e))?;
            }
            std::fs::rename(&tmp, path)
                .map_err(|e| Error::io(format!("writing {}", path.display()), e))?;
            let _ = std::fs::remove_dir_all(&old);
            Ok(())
        });
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    result
}
