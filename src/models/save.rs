//! Saving a [`SentenceTransformer`] in the sentence-transformers format, atomically.

use std::path::Path;

use candle_core::{Device, Tensor};

use super::module::Module;
use super::sentence_transformer::SentenceTransformer;
use crate::core::fs::write_dir_atomic;
use crate::core::safetensors::save_safetensors;
use crate::core::{Error, Result};
use crate::encoder::load_weights;
use crate::encoder::weights::weights_file;

impl SentenceTransformer {
    /// Saves the model in the sentence-transformers format (loadable by `SentenceTransformer::load`
    /// and by Python's `SentenceTransformer(path)`). Written to a temporary folder beside `path`
    /// and renamed into place, so a crash never leaves a half-written model.
    pub fn save(&self, path: &Path) -> Result<()> {
        write_dir_atomic(path, |tmp| self.write_to(tmp))
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
        // Weights: the encoder's, plus any other tensor of the source file (e.g. the pooler).
        let mut tensors: std::collections::HashMap<String, Tensor> = self
            .transformer()
            .encoder
            .named_tensors()
            .into_iter()
            .map(|(k, t)| Ok((k, t.to_device(&Device::Cpu)?)))
            .collect::<Result<_>>()?;
        let family = self.transformer().encoder.family();
        if weights_file(&self.path).is_ok() {
            for (k, t) in load_weights(&self.path, family, &Device::Cpu)?.0 {
                tensors.entry(k).or_insert(t);
            }
        }
        save_safetensors(&tensors, &dir.join("model.safetensors"))?;
        for f in [
            "config.json",
            "tokenizer.json",
            "tokenizer_config.json",
            "special_tokens_map.json",
            "vocab.txt",
            "vocab.json",
            "merges.txt",
        ] {
            let from = self.path.join(f);
            if from.exists() {
                std::fs::copy(&from, dir.join(f)).map_err(io(&dir.join(f)))?;
            }
        }
        json(
            &dir.join("modules.json"),
            serde_json::to_string_pretty(&self.entries),
        )?;
        let mut sb = self.transformer().config.clone();
        sb.max_seq_length = Some(self.max_seq_length());
        json(
            &dir.join("sentence_bert_config.json"),
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
