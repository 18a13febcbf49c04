//! Numbered checkpoints during training (`checkpoint_path`, `checkpoint_save_steps`,
//! `checkpoint_save_total_limit`), the oldest removed past the limit.

use std::path::{Path, PathBuf};

use crate::core::{Error, Result};

/// Saves `checkpoint-STEP` in `dir` with `save` and keeps the newest `keep` (all with 0).
pub(crate) fn save_checkpoint(
    save: impl Fn(&Path) -> Result<()>,
    dir: &Path,
    step: usize,
    keep: usize,
) -> Result<()> {
    save(&dir.join(format!("checkpoint-{step}")))?;
    if keep > 0 {
        let mut existing: Vec<(usize, PathBuf)> = std::fs::read_dir(dir)
            .map_err(|e| Error::io(format!("reading {}", dir.display()), e))?
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().to_string();
                name.strip_prefix("checkpoint-")
                    .and_then(|n| n.parse().ok())
                    .map(|n| (n, e.path()))
            })
            .collect();
        existing.sort();
        while existing.len() > keep {
            let (_, p) = existing.remove(0);
            let _ = std::fs::remove_dir_all(p);
        }
    }
    Ok(())
}
