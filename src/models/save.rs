//! Saving a [`SentenceTransformer`] in the sentence-transformers format, atomically.

use std::path::Path;

use candle_core::{Device, Tensor};

use super::module::Module;
use super::sentence_transformer::SentenceTransformer;
use crate::core::fs::{read_json, write_dir_atomic, DirOwnership};
use crate::core::safetensors::save_safetensors;
use crate::core::{Error, Result};
use crate::encoder::load_weights;
use crate::encoder::weights::weights_file;

/// The top-level files a saved model consists of (sentence-transformers' and Hugging Face's).
const MODEL_FILES: &[&str] = &[
    "config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.txt",
    "vocab.json",
    "merges.txt",
    "sentencepiece.bpe.model",
    "model.safetensors",
    "pytorch_model.bin",
    "modules.json",
    "sentence_bert_config.json",
    "config_sentence_transformers.json",
];

/// Whether a model save owns the entry at this relative path of an existing folder: the model
/// files and the module folders (`1_Pooling`, `2_Dense`, …: digits, `_`, a name) with all they
/// hold. Everything else (a user's notes, a README) is kept.
fn owns_model_entry(rel: &str) -> bool {
    let top = rel.split('/').next().unwrap_or(rel);
    MODEL_FILES.contains(&top)
        || top.split_once('_').is_some_and(|(i, rest)| {
            !i.is_empty() && !rest.is_empty() && i.bytes().all(|b| b.is_ascii_digit())
        })
}

/// What a model save (a SentenceTransformer's or a cross-encoder's) owns in an existing folder.
pub(crate) const MODEL_OWNERSHIP: DirOwnership<'static> = DirOwnership {
    owns: &owns_model_entry,
    markers: &["modules.json", "config.json", "model.safetensors"],
};

impl SentenceTransformer {
    /// Saves the model in the sentence-transformers format (loadable by `SentenceTransformer::load`
    /// and by Python's `SentenceTransformer(path)`).
    ///
    /// Written into a temporary folder beside `path` and swapped in atomically: `path` holds the
    /// whole old or the whole new model at every moment, even if the process is killed. In an
    /// existing folder only the model's files are replaced; other files (notes, a README) stay.
    /// An existing file at `path` is an error and stays as it is.
    pub fn save(&self, path: &Path) -> Result<()> {
        write_dir_atomic(path, &MODEL_OWNERSHIP, |tmp| self.write_to(tmp))
    }

    fn write_to(&self, dir: &Path) -> Result<()> {
        let io = |what: &Path| {
            let what = what.display().to_string();
            move |e| Error::io(format!("writing {what}"), e)
        };
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let json = |p: &Path, v: serde_json::Result<String>| -> Result<()> {
            let text = v.map_err(Error::serialize(p.display().to_string()))?;
            std::fs::write(p, text).map_err(io(p))
        };
        // The Transformer's files go where modules.json says (the root, or e.g. `0_Transformer`).
        let src = self.transformer_dir();
        let out = dir.join(&self.entries[0].path);
        std::fs::create_dir_all(&out).map_err(io(&out))?;
        // Weights: the encoder's, plus any other tensor of the source file (e.g. the pooler).
        let mut tensors: std::collections::HashMap<String, Tensor> = self
            .transformer()
            .encoder
            .named_tensors()
            .into_iter()
            .map(|(k, t)| Ok((k, t.to_device(&Device::Cpu)?)))
            .collect::<Result<_>>()?;
        let family = self.transformer().encoder.family();
        if weights_file(&src).is_ok() {
            for (k, t) in load_weights(&src, family, &Device::Cpu)?.0 {
                tensors.entry(k).or_insert(t);
            }
        }
        save_safetensors(&tensors, &out.join("model.safetensors"))?;
        for f in [
            "config.json",
            "tokenizer.json",
            "tokenizer_config.json",
            "special_tokens_map.json",
            "vocab.txt",
            "vocab.json",
            "merges.txt",
        ] {
            let from = src.join(f);
            if from.exists() {
                std::fs::copy(&from, out.join(f)).map_err(io(&out.join(f)))?;
            }
        }
        self.write_resized_vocabulary(&out)?;
        json(
            &dir.join("modules.json"),
            serde_json::to_string_pretty(&self.entries),
        )?;
        let mut sb = self.transformer().config.clone();
        sb.max_seq_length = Some(self.max_seq_length());
        json(
            &out.join("sentence_bert_config.json"),
            serde_json::to_string_pretty(&sb),
        )?;
        json(
            &dir.join("config_sentence_transformers.json"),
            serde_json::to_string_pretty(&self.config),
        )?;
        for (e, m) in self.entries.iter().zip(&self.modules) {
            let sub = dir.join(&e.path);
            match m {
                Module::Transformer(_) => {}
                Module::Pooling(p) => {
                    std::fs::create_dir_all(&sub).map_err(io(&sub))?;
                    json(
                        &sub.join("config.json"),
                        serde_json::to_string_pretty(&p.config),
                    )?;
                }
                Module::Dense(d) => {
                    // Its current weights (trained by fit), and its config as loaded.
                    std::fs::create_dir_all(&sub).map_err(io(&sub))?;
                    let tensors = d
                        .named_tensors()
                        .into_iter()
                        .map(|(k, t)| Ok((k, t.to_device(&Device::Cpu)?)))
                        .collect::<Result<std::collections::HashMap<_, _>>>()?;
                    save_safetensors(&tensors, &sub.join("model.safetensors"))?;
                    std::fs::copy(
                        self.path.join(&e.path).join("config.json"),
                        sub.join("config.json"),
                    )
                    .map_err(io(&sub.join("config.json")))?;
                }
                Module::Normalize(_) => std::fs::create_dir_all(&sub).map_err(io(&sub))?,
            }
        }
        Ok(())
    }
}

impl SentenceTransformer {
    /// After `add_tokens` / `resize_token_embeddings`: the tokenizer as it is now (its added
    /// tokens; no truncation or padding, which Python sets per call) and `config.json` with the
    /// embedding matrix's `vocab_size`, so Python's `SentenceTransformer(dir)` loads both.
    fn write_resized_vocabulary(&self, out: &Path) -> Result<()> {
        let transformer = self.transformer();
        if transformer.tokens_added {
            let mut tokenizer = transformer.tokenizer.clone();
            tokenizer
                .with_truncation(None)
                .map_err(|e| Error::Tokenizer(e.to_string()))?;
            tokenizer.with_padding(None);
            let path = out.join("tokenizer.json");
            tokenizer
                .save(&path, true)
                .map_err(|e| Error::Tokenizer(format!("writing {}: {e}", path.display())))?;
        }
        let config_path = out.join("config.json");
        let vocab_size = transformer.encoder.config().vocab_size;
        if config_path.exists() {
            let mut config: serde_json::Value = read_json(&config_path)?;
            if config.get("vocab_size").and_then(|v| v.as_u64()) != Some(vocab_size as u64) {
                config["vocab_size"] = vocab_size.into();
                let text = serde_json::to_string_pretty(&config)
                    .map_err(Error::serialize(config_path.display().to_string()))?;
                std::fs::write(&config_path, text)
                    .map_err(|e| Error::io(format!("writing {}", config_path.display()), e))?;
            }
        }
        Ok(())
    }
}
