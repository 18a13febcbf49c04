//! Resolving a model id or path to a local folder, as Python's `SentenceTransformer(name)` does.
//!
//! Order: an existing directory → the Hugging Face cache
//! (`$HF_HUB_CACHE`, else `$HF_HOME/hub`, else `~/.cache/huggingface/hub`; folder
//! `models--ORG--NAME/snapshots/<revision>/`, revision from `refs/main`) → a download from the hub
//! (only with the `hub` cargo feature). A bare name such as `all-MiniLM-L6-v2` means
//! `sentence-transformers/all-MiniLM-L6-v2`, as in Python.

use std::path::{Path, PathBuf};

use crate::core::{Error, Result};

/// The Hugging Face hub cache folder this process uses.
pub fn hf_hub_cache() -> PathBuf {
    if let Some(p) =
        std::env::var_os("HF_HUB_CACHE").or_else(|| std::env::var_os("HUGGINGFACE_HUB_CACHE"))
    {
        return PathBuf::from(p);
    }
    if let Some(home) = std::env::var_os("HF_HOME") {
        return PathBuf::from(home).join("hub");
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    home.join(".cache").join("huggingface").join("hub")
}

/// `all-MiniLM-L6-v2` → `sentence-transformers/all-MiniLM-L6-v2`; `org/name` unchanged.
pub fn full_model_id(id: &str) -> String {
    if id.contains('/') {
        id.to_string()
    } else {
        format!("sentence-transformers/{id}")
    }
}

/// The snapshot folder of `repo_id` in `cache`, if present.
pub fn cached_snapshot(cache: &Path, repo_id: &str) -> Option<PathBuf> {
    let repo_dir = cache.join(format!("models--{}", repo_id.replace('/', "--")));
    let snapshots = repo_dir.join("snapshots");
    if let Ok(rev) = std::fs::read_to_string(repo_dir.join("refs").join("main")) {
        let dir = snapshots.join(rev.trim());
        if dir.is_dir() {
            return Some(dir);
        }
    }
    // No ref: take the only (or the newest) snapshot.
    let mut dirs: Vec<_> = std::fs::read_dir(&snapshots)
        .ok()?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .collect();
    dirs.sort();
    dirs.pop().map(|(_, p)| p)
}

/// Resolves `id_or_path` to a local model folder (see the module docs for the order).
pub fn resolve_model_dir(id_or_path: &str) -> Result<PathBuf> {
    let mut tried = Vec::new();
    let as_path = Path::new(id_or_path);
    if as_path.is_dir() {
        return Ok(as_path.to_path_buf());
    }
    tried.push(format!("directory {} (does not exist)", as_path.display()));
    if id_or_path.trim().is_empty() {
        return Err(Error::InvalidInput("model id or path is empty".into()));
    }
    let repo_id = full_model_id(id_or_path);
    let cache = hf_hub_cache();
    if let Some(dir) = cached_snapshot(&cache, &repo_id) {
        return Ok(dir);
    }
    tried.push(format!(
        "Hugging Face cache {} (set by HF_HUB_CACHE / HF_HOME; no snapshot)",
        cache
            .join(format!("models--{}", repo_id.replace('/', "--")))
            .display()
    ));
    match download(&repo_id) {
        Ok(dir) => Ok(dir),
        Err(why) => {
            tried.push(why);
            Err(Error::ModelNotFound {
                id: id_or_path.to_string(),
                tried,
                hint:
                    "Provision the offline copies of all-MiniLM-L6-v2 and all-mpnet-base-v2 with \
                       `bash scripts/provision-model.sh` and `bash scripts/provision-mpnet.sh`, \
                       or pass the path of a sentence-transformers model folder."
                        .into(),
            })
        }
    }
}

/// Whether a file of a hub repository belongs to what `load` needs: configs, tokenizer files
/// (`tokenizer.json`, `vocab.txt`, `vocab.json`, `merges.txt`, SentencePiece models), and weights
/// — `model.safetensors`, or `pytorch_model.bin` only where its folder has no safetensors (as
/// Python does). Exports for other runtimes (`onnx/`, `openvino/`, TF, Flax) are left out.
pub fn wanted_file(name: &str, all: &[String]) -> bool {
    if ["onnx/", "openvino/", "tf/", "flax/"]
        .iter()
        .any(|p| name.starts_with(p))
    {
        return false;
    }
    let (folder, file) = name.rsplit_once('/').unwrap_or(("", name));
    if file == "pytorch_model.bin" {
        let st = if folder.is_empty() {
            "model.safetensors".to_string()
        } else {
            format!("{folder}/model.safetensors")
        };
        return !all.iter().any(|n| *n == st);
    }
    file.ends_with(".json")
        || file.ends_with(".safetensors")
        || file.ends_with(".model")
        || file == "vocab.txt"
        || file == "merges.txt"
}

#[cfg(feature = "hub")]
fn download(repo_id: &str) -> std::result::Result<PathBuf, String> {
    use hf_hub::api::sync::ApiBuilder;
    if std::env::var_os("HF_HUB_OFFLINE").is_some_and(|v| v == "1" || v == "true") {
        return Err(format!(
            "hub download of {repo_id} (skipped: HF_HUB_OFFLINE is set)"
        ));
    }
    // HF_ENDPOINT (a mirror) and HF_HOME as Python reads them; the cache as hf_hub_cache() says.
    let api = ApiBuilder::from_env()
        .with_cache_dir(hf_hub_cache())
        .with_progress(false)
        .build()
        .map_err(|e| format!("hub download of {repo_id} (could not start: {e})"))?;
    let repo = api.model(repo_id.to_string());
    let info = repo
        .info()
        .map_err(|e| format!("hub download of {repo_id} (cannot list the repository: {e})"))?;
    let all: Vec<String> = info.siblings.into_iter().map(|s| s.rfilename).collect();
    if !all.iter().any(|f| f == "config.json") {
        return Err(format!(
            "hub download of {repo_id} (the repository has no config.json: not a model?)"
        ));
    }
    let mut dir = None;
    for file in all.iter().filter(|f| wanted_file(f, &all)) {
        let p = repo
            .get(file)
            .map_err(|e| format!("hub download of {repo_id}/{file} (failed: {e})"))?;
        if file == "config.json" {
            dir = p.parent().map(Path::to_path_buf);
        }
    }
    dir.ok_or_else(|| format!("hub download of {repo_id} (no files)"))
}

#[cfg(not(feature = "hub"))]
fn download(repo_id: &str) -> std::result::Result<PathBuf, String> {
    Err(format!(
        "hub download of {repo_id} (not compiled in: build sbert with `--features hub`)"
    ))
}

#[cfg(test)]
mod tests {
    use super::wanted_file;

    #[test]
    fn downloads_what_load_needs_and_one_copy_of_the_weights() {
        // (file of the repository, whether load needs it)
        let cases = [
            ("config.json", true),
            ("model.safetensors", true),
            ("pytorch_model.bin", false), // model.safetensors is beside it
            ("tokenizer.json", true),
            ("vocab.txt", true),
            ("merges.txt", true),
            ("sentencepiece.bpe.model", true),
            ("1_Pooling/config.json", true),
            ("2_Dense/pytorch_model.bin", true), // the only copy of the Dense weights
            ("onnx/model.onnx", false),
            ("openvino/openvino_model.xml", false),
            ("tf_model.h5", false),
            ("README.md", false),
        ];
        let all: Vec<String> = cases.iter().map(|(f, _)| f.to_string()).collect();
        for (file, wanted) in cases {
            assert_eq!(wanted_file(file, &all), wanted, "{file}");
        }
    }
}
