//! Embeddings on disk in numbered shards, for corpora that do not fit in memory: each shard a
//! float32 `.npy` written atomically, and a manifest (`sbert-shards.json`: what was encoded, with
//! which model and options, each shard's row range and sha256) rewritten atomically after each
//! shard. A run killed at any moment leaves whole shards and a manifest that lists only them, so
//! the next run resumes at the first missing shard. [`ShardedEmbeddings`] memory-maps the shards:
//! search streams them without loading the corpus.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::embeddings::Embeddings;
use super::error::{Error, Result};
use super::fs::{read_json, stall_point, write_atomic};
use super::npy::to_npy_bytes;

/// The manifest's file name in a shard folder.
pub const MANIFEST_FILE: &str = "sbert-shards.json";
const FORMAT: u32 = 1;

/// The manifest of a shard folder (`sbert-shards.json`), as on disk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardManifest {
    /// Format version (1).
    pub format: u32,
    /// The model as it was named (id or folder).
    pub model: String,
    /// A fingerprint of the model's weights and pipeline and of the options that change the
    /// numbers: a resumed run must have the same.
    pub fingerprint: String,
    /// Embedding dimension.
    pub dim: usize,
    /// Rows of the whole corpus.
    pub rows: usize,
    /// sha256 of the texts (each as its byte length, little-endian u64, then its bytes).
    pub texts_sha256: String,
    /// Rows per shard (the last one may have fewer).
    pub shard_size: usize,
    /// The shards written so far, in order.
    pub shards: Vec<ShardEntry>,
}

/// One shard of a [`ShardManifest`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardEntry {
    /// File name in the folder (`shard-00000.npy`, …).
    pub file: String,
    /// First row (of the whole corpus).
    pub start: usize,
    /// Rows in the shard.
    pub rows: usize,
    /// sha256 of the file, hex.
    pub sha256: String,
}

impl ShardEntry {
    /// An error unless `bytes` (this shard's file in `dir`) have the sha256 the manifest lists.
    fn check(&self, dir: &Path, bytes: &[u8]) -> Result<()> {
        if sha256_hex(bytes) != self.sha256 {
            return Err(Error::InvalidInput(format!(
                "{} changed since it was written (sha256 differs from {MANIFEST_FILE}): remove the folder to encode again",
                dir.join(&self.file).display()
            )));
        }
        Ok(())
    }
}

impl ShardManifest {
    /// Rows written so far.
    pub fn rows_written(&self) -> usize {
        self.shards.iter().map(|s| s.rows).sum()
    }
    /// Whether every row is written.
    pub fn is_complete(&self) -> bool {
        self.rows_written() == self.rows
    }
    /// Number of shards of the whole corpus.
    pub fn shard_count(&self) -> usize {
        self.rows.div_ceil(self.shard_size.max(1))
    }
}

/// sha256 of a list of texts (each as its byte length, little-endian u64, then its bytes), hex.
pub fn texts_sha256<S: AsRef<str>>(texts: &[S]) -> String {
    let mut h = Sha256::new();
    for t in texts {
        let b = t.as_ref().as_bytes();
        h.update((b.len() as u64).to_le_bytes());
        h.update(b);
    }
    hex(&h.finalize())
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn shard_name(i: usize) -> String {
    format!("shard-{i:05}.npy")
}

/// Whether `name` is a file a shard folder owns (its manifest, its shards, their temporaries).
fn owned(name: &str) -> bool {
    name == MANIFEST_FILE
        || (name.starts_with("shard-") && name.ends_with(".npy"))
        || (name.starts_with('.') && (name.contains("shard-") || name.contains(MANIFEST_FILE)))
}

/// Writes a corpus's shards into a folder, resuming where an earlier run of the same corpus,
/// model and options stopped.
#[derive(Debug)]
pub struct ShardWriter {
    dir: PathBuf,
    manifest: ShardManifest,
}

impl ShardWriter {
    /// Opens `dir` for the corpus `header` describes (its `shards` is ignored). A new or empty
    /// folder starts at shard 0; a folder with a manifest of the same corpus, model, options and
    /// shard size resumes after its last whole shard (each one's sha256 checked); a folder with
    /// other files, or a manifest of something else, is refused and left as it is.
    pub fn open(dir: &Path, mut header: ShardManifest) -> Result<Self> {
        if header.shard_size == 0 {
            return Err(Error::InvalidInput("shard_size must be at least 1".into()));
        }
        header.format = FORMAT;
        header.shards.clear();
        if dir.exists() && !dir.is_dir() {
            return Err(Error::InvalidInput(format!(
                "{} is not a folder",
                dir.display()
            )));
        }
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
        let names: Vec<String> = std::fs::read_dir(dir)
            .map_err(|e| Error::io(format!("reading {}", dir.display()), e))?
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        if let Some(other) = names.iter().find(|n| !owned(n)) {
            return Err(Error::InvalidInput(format!(
                "{} holds files that are not sbert shards (e.g. {other}): choose an empty or new folder; nothing was changed",
                dir.display()
            )));
        }
        let manifest_path = dir.join(MANIFEST_FILE);
        if manifest_path.is_file() {
            let old: ShardManifest = read_json(&manifest_path)?;
            let same = old.format == FORMAT
                && old.fingerprint == header.fingerprint
                && old.texts_sha256 == header.texts_sha256
                && old.rows == header.rows
                && old.dim == header.dim
                && old.shard_size == header.shard_size;
            if !same {
                return Err(Error::InvalidInput(format!(
                    "{} holds the shards of another corpus, model, options or shard size ({} rows of {}, shard size {}): choose another folder; nothing was changed",
                    dir.display(),
                    old.rows,
                    old.model,
                    old.shard_size
                )));
            }
            for s in &old.shards {
                let bytes = std::fs::read(dir.join(&s.file)).map_err(|e| {
                    Error::io(format!("reading {}", dir.join(&s.file).display()), e)
                })?;
                s.check(dir, &bytes)?;
            }
            header.shards = old.shards;
            return Ok(Self {
                dir: dir.to_path_buf(),
                manifest: header,
            });
        }
        // A new folder gets its manifest (no shard yet) before any shard.
        let writer = Self {
            dir: dir.to_path_buf(),
            manifest: header,
        };
        writer.write_manifest()?;
        Ok(writer)
    }

    fn write_manifest(&self) -> Result<()> {
        let json =
            serde_json::to_vec_pretty(&self.manifest).map_err(|source| Error::Serialize {
                what: MANIFEST_FILE.into(),
                source,
            })?;
        write_atomic(&self.dir.join(MANIFEST_FILE), &json)
    }

    /// The manifest so far.
    pub fn manifest(&self) -> &ShardManifest {
        &self.manifest
    }

    /// The row range of the next shard to write (`None` when complete).
    pub fn next_range(&self) -> Option<std::ops::Range<usize>> {
        let start = self.manifest.rows_written();
        (start < self.manifest.rows)
            .then(|| start..(start + self.manifest.shard_size).min(self.manifest.rows))
    }

    /// Writes the next shard (atomically), then the manifest that lists it.
    pub fn append(&mut self, shard: &Embeddings) -> Result<()> {
        let range = self
            .next_range()
            .ok_or_else(|| Error::InvalidInput("every shard is written already".into()))?;
        if shard.len() != range.len() || shard.dim() != self.manifest.dim {
            return Err(Error::DimensionMismatch {
                what: format!("shard of rows {range:?}: rows × dim"),
                left: shard.len() * shard.dim(),
                right: range.len() * self.manifest.dim,
            });
        }
        let file = shard_name(self.manifest.shards.len());
        let bytes = to_npy_bytes(shard);
        write_atomic(&self.dir.join(&file), &bytes)?;
        stall_point("shard-written");
        self.manifest.shards.push(ShardEntry {
            file,
            start: range.start,
            rows: range.len(),
            sha256: sha256_hex(&bytes),
        });
        self.write_manifest()
    }
}

/// A complete shard folder, memory-mapped: the shards are read from the page cache as they are
/// used, never loaded whole.
#[derive(Debug)]
pub struct ShardedEmbeddings {
    dir: PathBuf,
    manifest: ShardManifest,
    maps: Vec<(memmap2::Mmap, usize)>,
}

impl ShardedEmbeddings {
    /// Opens a shard folder that `encode_to_shards` (or `sbert encode --output-dir`) completed.
    pub fn open(dir: &Path) -> Result<Self> {
        let path = dir.join(MANIFEST_FILE);
        if !path.is_file() {
            return Err(Error::InvalidInput(format!(
                "{} is not a shard folder (it has no {MANIFEST_FILE}); make one with `sbert encode --output-dir`",
                dir.display()
            )));
        }
        let manifest: ShardManifest = read_json(&path)?;
        if !manifest.is_complete() {
            return Err(Error::InvalidInput(format!(
                "{} is incomplete: {} of {} rows written; run the same encode again to resume it",
                dir.display(),
                manifest.rows_written(),
                manifest.rows
            )));
        }
        let mut maps = Vec::with_capacity(manifest.shards.len());
        for s in &manifest.shards {
            let p = dir.join(&s.file);
            let f = std::fs::File::open(&p)
                .map_err(|e| Error::io(format!("opening {}", p.display()), e))?;
            // SAFETY: the shard files are sbert's own, written once and never modified in place
            // (a rewrite renames a new file over them, which leaves this mapping intact).
            let map = unsafe { memmap2::Mmap::map(&f) }
                .map_err(|e| Error::io(format!("mapping {}", p.display()), e))?;
            let offset = npy_data_offset(&map, s.rows, manifest.dim).ok_or_else(|| {
                Error::InvalidInput(format!(
                    "{} is not the float32 .npy of {} × {} its manifest lists",
                    p.display(),
                    s.rows,
                    manifest.dim
                ))
            })?;
            maps.push((map, offset));
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            manifest,
            maps,
        })
    }

    /// The manifest.
    pub fn manifest(&self) -> &ShardManifest {
        &self.manifest
    }
    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
    /// Rows of the corpus.
    pub fn len(&self) -> usize {
        self.manifest.rows
    }
    /// Whether it has no row.
    pub fn is_empty(&self) -> bool {
        self.manifest.rows == 0
    }
    /// Embedding dimension.
    pub fn dim(&self) -> usize {
        self.manifest.dim
    }
    /// Number of shards.
    pub fn shard_count(&self) -> usize {
        self.maps.len()
    }
    /// Shard `i`: its first row and its values (`rows × dim`, row-major), read through the map.
    pub fn shard(&self, i: usize) -> Option<(usize, &[f32])> {
        let (map, offset) = self.maps.get(i)?;
        let s = &self.manifest.shards[i];
        let bytes = &map[*offset..*offset + s.rows * self.manifest.dim * 4];
        // SAFETY: the data starts at a multiple of 64 bytes of a page-aligned map (the .npy
        // header is padded to 64), so it is aligned for f32, and its length is whole f32s.
        let values =
            unsafe { std::slice::from_raw_parts(bytes.as_ptr().cast::<f32>(), bytes.len() / 4) };
        Some((s.start, values))
    }
    /// Checks every shard's sha256 against the manifest.
    pub fn verify(&self) -> Result<()> {
        for (s, (map, _)) in self.manifest.shards.iter().zip(&self.maps) {
            s.check(&self.dir, map)?;
        }
        Ok(())
    }
    /// Rows `range` as [`Embeddings`] (a copy of those rows only).
    pub fn rows(&self, range: std::ops::Range<usize>) -> Result<Embeddings> {
        if range.end > self.len() || range.start > range.end {
            return Err(Error::InvalidInput(format!(
                "rows {range:?} of {} sharded embeddings",
                self.len()
            )));
        }
        let d = self.dim();
        let mut out = Vec::with_capacity(range.len() * d);
        for i in 0..self.shard_count() {
            let (start, values) = self.shard(i).expect("shard in range");
            let end = start + values.len() / d.max(1);
            let (lo, hi) = (range.start.max(start), range.end.min(end));
            if lo < hi {
                out.extend_from_slice(&values[(lo - start) * d..(hi - start) * d]);
            }
        }
        Embeddings::from_flat(out, range.len(), d)
    }
}

/// Where a little-endian float32, C-order `.npy` of `rows × dim` starts its data (`None` if the
/// header says otherwise or the file is too short).
fn npy_data_offset(bytes: &[u8], rows: usize, dim: usize) -> Option<usize> {
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" || bytes[6] != 1 {
        return None;
    }
    let hlen = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    let header = std::str::from_utf8(bytes.get(10..10 + hlen)?).ok()?;
    let shape = format!("'shape': ({rows}, {dim}), ");
    let ok = header.contains("'descr': '<f4'")
        && header.contains("'fortran_order': False")
        && header.contains(&shape)
        && (10 + hlen).is_multiple_of(4)
        && bytes.len() == 10 + hlen + rows * dim * 4;
    ok.then_some(10 + hlen)
}
