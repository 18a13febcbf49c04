//! Files written so that a failure or a kill never loses, changes or half-writes a file the user
//! owns, and JSON read with the path in any error.
//!
//! - [`write_atomic`]: a file through a temporary sibling (created exclusively, one name per call),
//!   `fsync`, rename, `fsync` of the folder; a symlink is written through (its target is
//!   replaced, the link stays); a FIFO or a device is written into directly; a folder is refused.
//! - [`write_dir_atomic`]: a folder (a saved model, a BEIR data set) filled beside the target and
//!   swapped in with one atomic exchange (`renameat2(RENAME_EXCHANGE)` on Linux), so the path
//!   always holds either the old or the new folder; files in the old folder that the save does
//!   not own (a user's notes) are kept; an existing *file* at the path is refused, untouched.
//! - The temporaries a killed process left beside a path (`.NAME.sbert-PID-SEQ.tmp`) are removed
//!   by the next write of that path once their process is gone.
//! - [`check_writable`]: before long work (training, encoding a corpus), whether its output can be
//!   written at all.

use std::ffi::OsStr;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

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

/// The folder a path's file lives in (`.` for a bare name).
fn parent_of(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// `path` with its symlinks followed to the final target (which need not exist yet).
fn follow_links(path: &Path) -> Result<PathBuf> {
    let mut p = path.to_path_buf();
    for _ in 0..40 {
        match std::fs::symlink_metadata(&p) {
            Ok(m) if m.file_type().is_symlink() => {
                let target = std::fs::read_link(&p)
                    .map_err(|e| Error::io(format!("reading the link {}", p.display()), e))?;
                p = if target.is_absolute() {
                    target
                } else {
                    parent_of(&p).join(target)
                };
            }
            _ => return Ok(p),
        }
    }
    Err(Error::InvalidInput(format!(
        "{}: too many levels of symbolic links",
        path.display()
    )))
}

/// What a temporary beside `NAME` is called: `.NAME.sbert-PID-SEQ.tmp`, unique per call.
fn temp_name(name: &OsStr) -> String {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    format!(
        ".{}.sbert-{}-{}.tmp",
        name.to_string_lossy(),
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    )
}

/// Whether process `pid` still runs.
fn process_alive(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    #[cfg(unix)]
    {
        // SAFETY: kill with signal 0 sends nothing; it only checks that the process exists.
        let r = unsafe { libc::kill(pid as libc::pid_t, 0) };
        r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
    }
    #[cfg(not(unix))]
    {
        true
    }
}

/// Removes the temporaries that processes which no longer run left beside `name` in `dir`.
fn remove_stale_temps(dir: &Path, name: &OsStr) {
    let prefix = format!(".{}.sbert-", name.to_string_lossy());
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let file = e.file_name().to_string_lossy().to_string();
        let Some(rest) = file
            .strip_prefix(&prefix)
            .and_then(|r| r.strip_suffix(".tmp"))
        else {
            continue;
        };
        let pid = rest.split('-').next().and_then(|p| p.parse::<u32>().ok());
        if pid.is_some_and(|pid| !process_alive(pid)) {
            let p = e.path();
            if p.is_dir() {
                let _ = std::fs::remove_dir_all(&p);
            } else {
                let _ = std::fs::remove_file(&p);
            }
        }
    }
}

/// Makes a rename in `dir` durable (a power loss after it cannot bring back the old entry or
/// leave an empty file). Best effort where folders cannot be synced.
fn sync_dir(dir: &Path) {
    if let Ok(f) = std::fs::File::open(dir) {
        let _ = f.sync_all();
    }
}

/// Stops here (prints `sbert: stalled at POINT` on stderr, then sleeps) when the environment
/// variable `SBERT_STALL_AT` names `point`: the kill tests use it to kill a write at its most
/// delicate moment. Unset, it does nothing.
pub(crate) fn stall_point(point: &str) {
    if std::env::var("SBERT_STALL_AT").is_ok_and(|v| v == point) {
        eprintln!("sbert: stalled at {point}");
        std::thread::sleep(std::time::Duration::from_secs(120));
    }
}

/// Writes `bytes` to `path` so that a failure or a kill never leaves a half-written `path`: a
/// temporary sibling created exclusively, synced, renamed over `path`, and the folder synced. An
/// existing file keeps its permissions. A symlink is written through (its target is replaced);
/// a FIFO or a device (`/dev/stdout`) is written into directly; a folder is an error.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let err = |e| Error::io(format!("writing {}", path.display()), e);
    // What the path is, as the kernel resolves it (this also follows /proc's magic links, e.g.
    // /dev/stdout → /proc/self/fd/1 → a pipe).
    let existing = std::fs::metadata(path).ok();
    if let Some(m) = &existing {
        if m.is_dir() {
            return Err(Error::InvalidInput(format!(
                "{} is a folder, not a file: nothing was written",
                path.display()
            )));
        }
        if !m.is_file() {
            // A FIFO, a pipe, a terminal, /dev/null: there is nothing to replace atomically.
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .open(path)
                .map_err(err)?;
            return f.write_all(bytes).and_then(|_| f.flush()).map_err(err);
        }
    }
    let real = follow_links(path)?;
    let name = real
        .file_name()
        .ok_or_else(|| Error::InvalidInput(format!("{} is not a file path", path.display())))?
        .to_os_string();
    let dir = parent_of(&real).to_path_buf();
    remove_stale_temps(&dir, &name);
    let tmp = dir.join(temp_name(&name));
    let result = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        f.write_all(bytes)?;
        if let Some(m) = &existing {
            f.set_permissions(m.permissions())?;
        }
        f.sync_all()?;
        drop(f);
        stall_point("write-file");
        std::fs::rename(&tmp, &real)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(err(e));
    }
    sync_dir(&dir);
    Ok(())
}

/// What a folder write owns in an existing folder at its path.
pub(crate) struct DirOwnership<'a> {
    /// Whether the entry at this relative path (`config.json`, `qrels/test.tsv`) is the writer's
    /// (replaced or removed); every other entry is the user's and is kept.
    pub owns: &'a dyn Fn(&str) -> bool,
    /// Files whose presence marks the folder as one this writer wrote (a model's `config.json`).
    /// A folder with none of them that holds entries the writer owns is refused.
    pub markers: &'a [&'a str],
}

/// The checks a folder write makes before writing anything: `path` (links followed) is a folder
/// or absent, and an existing folder is one this writer wrote or holds nothing it would replace.
/// Returns the real path, its name, and whether it exists.
fn check_dir_target(
    path: &Path,
    ownership: &DirOwnership,
) -> Result<(PathBuf, std::ffi::OsString, bool)> {
    let real = follow_links(path)?;
    let name = real
        .file_name()
        .filter(|n| *n != ".." && *n != ".")
        .ok_or_else(|| Error::InvalidInput(format!("{} is not a folder path", path.display())))?
        .to_os_string();
    let existing = match std::fs::metadata(&real) {
        Ok(m) if m.is_dir() => true,
        Ok(_) => {
            return Err(Error::InvalidInput(format!(
                "{} exists and is not a folder: nothing was written (sbert does not replace a file with a folder)",
                path.display()
            )))
        }
        Err(_) => false,
    };
    let marked = ownership.markers.iter().any(|m| real.join(m).exists());
    if existing && !marked {
        let mut entries = Vec::new();
        list_tree(&real, "", 3, &mut entries)?;
        let clashes: Vec<&String> = entries.iter().filter(|n| (ownership.owns)(n)).collect();
        if !clashes.is_empty() {
            return Err(Error::InvalidInput(format!(
                "{} is a folder that holds no saved model or data set but has entries a save would replace ({}): nothing was written",
                path.display(),
                clashes
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    }
    Ok((real, name, existing))
}

/// Checks, before long work (training), that a folder write to `path` will be able to happen:
/// [`check_writable`] plus the refusals of [`write_dir_atomic`]. Writes nothing that stays.
pub(crate) fn check_dir_writable(path: &Path, ownership: &DirOwnership) -> Result<()> {
    check_dir_target(path, ownership)?;
    check_writable(path, true)
}

/// Writes a folder atomically: `write` fills a temporary sibling folder, the user's own entries
/// of an existing folder at `path` are carried into it (hard links, else copies), and it is
/// swapped with `path` in one atomic exchange. At every moment `path` holds the whole old or the
/// whole new folder; a kill leaves at most a hidden `.NAME.sbert-PID-SEQ.tmp` beside it, removed
/// by the next write. An existing file at `path` is refused and left as it is.
pub(crate) fn write_dir_atomic(
    path: &Path,
    ownership: &DirOwnership,
    write: impl FnOnce(&Path) -> Result<()>,
) -> Result<()> {
    let (real, name, existing) = check_dir_target(path, ownership)?;
    let parent = parent_of(&real).to_path_buf();
    std::fs::create_dir_all(&parent)
        .map_err(|e| Error::io(format!("creating {}", parent.display()), e))?;
    remove_stale_temps(&parent, &name);
    let tmp = parent.join(temp_name(&name));
    let result = (|| {
        std::fs::create_dir(&tmp)
            .map_err(|e| Error::io(format!("creating {}", tmp.display()), e))?;
        write(&tmp)?;
        if existing {
            carry(&real, &tmp, "", ownership.owns)?;
        }
        sync_tree(&tmp);
        stall_point("write-dir");
        if existing {
            exchange(&tmp, &real)
                .map_err(|e| Error::io(format!("replacing {}", path.display()), e))?;
            // `tmp` now holds the old folder: entries the user added while we wrote move over.
            for entry in list_dir(&tmp)? {
                let new = real.join(&entry);
                if !(ownership.owns)(&entry.to_string_lossy())
                    && std::fs::symlink_metadata(&new).is_err()
                {
                    let _ = std::fs::rename(tmp.join(&entry), &new);
                }
            }
        } else {
            std::fs::rename(&tmp, &real)
                .map_err(|e| Error::io(format!("writing {}", path.display()), e))?;
        }
        sync_dir(&parent);
        Ok(())
    })();
    let _ = std::fs::remove_dir_all(&tmp);
    result
}

fn list_dir(dir: &Path) -> Result<Vec<std::ffi::OsString>> {
    let mut names = Vec::new();
    for e in
        std::fs::read_dir(dir).map_err(|e| Error::io(format!("reading {}", dir.display()), e))?
    {
        let e = e.map_err(|e| Error::io(format!("reading {}", dir.display()), e))?;
        names.push(e.file_name());
    }
    names.sort();
    Ok(names)
}

/// The relative paths of the entries under `dir`, `depth` levels deep.
fn list_tree(dir: &Path, prefix: &str, depth: usize, out: &mut Vec<String>) -> Result<()> {
    for name in list_dir(dir)? {
        let rel = format!("{prefix}{}", name.to_string_lossy());
        let p = dir.join(&name);
        let is_dir = std::fs::symlink_metadata(&p).is_ok_and(|m| m.is_dir());
        out.push(rel.clone());
        if is_dir && depth > 1 {
            list_tree(&p, &format!("{rel}/"), depth - 1, out)?;
        }
    }
    Ok(())
}

/// Carries the entries of `old` that the writer does not own into `new` (which the writer
/// filled): missing ones as links, folders present in both entry by entry.
fn carry(old: &Path, new: &Path, prefix: &str, owns: &dyn Fn(&str) -> bool) -> Result<()> {
    for name in list_dir(old)? {
        let rel = format!("{prefix}{}", name.to_string_lossy());
        if owns(&rel) {
            continue;
        }
        let (from, to) = (old.join(&name), new.join(&name));
        match std::fs::symlink_metadata(&to) {
            Err(_) => link_tree(&from, &to)?,
            Ok(m) if m.is_dir() && std::fs::symlink_metadata(&from).is_ok_and(|f| f.is_dir()) => {
                carry(&from, &to, &format!("{rel}/"), owns)?
            }
            Ok(_) => {} // the writer wrote this entry: its version wins
        }
    }
    Ok(())
}

/// Recreates `from` at `to`: files as hard links (copies where links cannot be made), folders
/// entry by entry, symlinks as symlinks.
fn link_tree(from: &Path, to: &Path) -> Result<()> {
    let err = |e| Error::io(format!("keeping {}", from.display()), e);
    let m = std::fs::symlink_metadata(from).map_err(err)?;
    if m.file_type().is_symlink() {
        #[cfg(unix)]
        {
            let target = std::fs::read_link(from).map_err(err)?;
            return std::os::unix::fs::symlink(target, to).map_err(err);
        }
        #[cfg(not(unix))]
        return std::fs::copy(from, to).map(|_| ()).map_err(err);
    }
    if m.is_dir() {
        std::fs::create_dir(to).map_err(err)?;
        for e in std::fs::read_dir(from).map_err(err)? {
            let e = e.map_err(err)?;
            link_tree(&e.path(), &to.join(e.file_name()))?;
        }
        return std::fs::set_permissions(to, m.permissions()).map_err(err);
    }
    if std::fs::hard_link(from, to).is_err() {
        std::fs::copy(from, to).map_err(err)?;
    }
    Ok(())
}

/// Syncs every file and folder under `dir` (a saved model is durable before it is swapped in).
fn sync_tree(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            match e.file_type() {
                Ok(t) if t.is_dir() => sync_tree(&e.path()),
                Ok(t) if t.is_file() => {
                    if let Ok(f) = std::fs::File::open(e.path()) {
                        let _ = f.sync_all();
                    }
                }
                _ => {}
            }
        }
    }
    sync_dir(dir);
}

/// Swaps two paths atomically (Linux `renameat2(RENAME_EXCHANGE)`). Where the file system or the
/// OS has no exchange: `b` moves aside, `a` takes its place, and a failure moves `b` back.
fn exchange(a: &Path, b: &Path) -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::ffi::OsStrExt;
        let ca = std::ffi::CString::new(a.as_os_str().as_bytes())?;
        let cb = std::ffi::CString::new(b.as_os_str().as_bytes())?;
        // SAFETY: both are valid NUL-terminated paths; renameat2 only reads them.
        let r = unsafe {
            libc::syscall(
                libc::SYS_renameat2,
                libc::AT_FDCWD,
                ca.as_ptr(),
                libc::AT_FDCWD,
                cb.as_ptr(),
                libc::RENAME_EXCHANGE,
            )
        };
        if r == 0 {
            return Ok(());
        }
        let e = std::io::Error::last_os_error();
        if !matches!(e.raw_os_error(), Some(libc::EINVAL) | Some(libc::ENOSYS)) {
            return Err(e);
        }
    }
    // Two renames: `b` is absent between them (a kill there leaves the old folder at `aside`).
    let aside = parent_of(b).join(temp_name(b.file_name().unwrap_or_default()));
    std::fs::rename(b, &aside)?;
    if let Err(e) = std::fs::rename(a, b) {
        let _ = std::fs::rename(&aside, b);
        return Err(e);
    }
    std::fs::rename(&aside, a)
}

/// Checks, before long work, that its output can be written at `path`: the nearest existing
/// folder above it is a writable folder, and `path` itself is not of the wrong kind (a folder
/// where a file goes, or a file where a folder goes). Creates nothing that stays.
pub fn check_writable(path: &Path, folder: bool) -> Result<()> {
    // What the path is, as the kernel resolves it (links, and /proc's magic links too).
    if let Ok(m) = std::fs::metadata(path) {
        if folder && !m.is_dir() {
            return Err(Error::InvalidInput(format!(
                "{} exists and is not a folder",
                path.display()
            )));
        }
        if !folder && m.is_dir() {
            return Err(Error::InvalidInput(format!(
                "{} is a folder, not a file",
                path.display()
            )));
        }
        if !m.is_file() && !m.is_dir() {
            return Ok(()); // a FIFO, a pipe or a device (/dev/stdout): written into directly
        }
    }
    let real = follow_links(path)?;
    let mut dir = parent_of(&real).to_path_buf();
    loop {
        match std::fs::metadata(&dir) {
            Ok(m) if m.is_dir() => break,
            Ok(_) => {
                return Err(Error::InvalidInput(format!(
                    "cannot write {}: {} is not a folder",
                    path.display(),
                    dir.display()
                )))
            }
            Err(e) => match dir.parent() {
                Some(p) if !p.as_os_str().is_empty() => dir = p.to_path_buf(),
                _ if dir != Path::new(".") && dir.is_relative() => dir = PathBuf::from("."),
                _ => return Err(Error::io(format!("cannot write {}", path.display()), e)),
            },
        }
    }
    let probe = dir.join(temp_name(OsStr::new("write-check")));
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
    {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            Ok(())
        }
        Err(e) => Err(Error::io(
            format!("cannot write {} (in {})", path.display(), dir.display()),
            e,
        )),
    }
}
