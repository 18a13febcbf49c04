//! Saving a cross-encoder in the Hugging Face sequence-classification format, atomically.

use std::path::Path;

use candle_core::{Device, Tensor};

use super::head::Head;
use super::model::CrossEncoder;
use crate::core::fs::{read_json, write_dir_atomic};
use crate::core::safetensors::save_safetensors;
use crate::core::{Error, Result};
use crate::models::save::MODEL_OWNERSHIP;

impl CrossEncoder {
    /// Saves in the Hugging Face sequence-classification format (what Python's
    /// `CrossEncoder(path)` and `AutoModelForSequenceClassification` load): `config.json` with
    /// `architectures`/`num_labels`/`id2label`, the tokenizer files, and `model.safetensors` with
    /// `bert.`-prefixed encoder and pooler weights and the `classifier`. Written atomically as
    /// [`crate::SentenceTransformer::save`]: the old or the new model at every moment, other
    /// files in the folder kept, an existing file at `path` refused.
    pub fn save(&self, path: &Path) -> Result<()> {
        write_dir_atomic(path, &MODEL_OWNERSHIP, |dir| self.write_to(dir))
    }

    fn write_to(&self, dir: &Path) -> Result<()> {
        let io = |p: &Path| {
            let p = p.display().to_string();
            move |e| Error::io(format!("writing {p}"), e)
        };
        let cpu = |t: &Tensor| t.to_device(&Device::Cpu);
        let mut tensors: std::collections::HashMap<String, Tensor> =
            std::collections::HashMap::new();
        let family = self.encoder.family();
        for (k, t) in self.encoder.named_tensors() {
            tensors.insert(format!("{}.{k}", family.prefix()), cpu(&t)?);
        }
        for (k, t) in self.head.named_tensors()? {
            tensors.insert(Head::checkpoint_name(family, &k), cpu(&t)?);
        }
        save_safetensors(&tensors, &dir.join("model.safetensors"))?;

        let src_config = self.path.join("config.json");
        let mut config: serde_json::Value = read_json(&src_config)?;
        let obj = config
            .as_object_mut()
            .ok_or_else(|| Error::invalid_model(&src_config, "config.json is not an object"))?;
        let labels: serde_json::Map<String, serde_json::Value> = (0..self.num_labels)
            .map(|i| (i.to_string(), serde_json::Value::from(format!("LABEL_{i}"))))
            .collect();
        let ids: serde_json::Map<String, serde_json::Value> = (0..self.num_labels)
            .map(|i| (format!("LABEL_{i}"), serde_json::Value::from(i)))
            .collect();
        obj.insert(
            "architectures".into(),
            serde_json::json!([family.classification_class()]),
        );
        obj.insert("num_labels".into(), self.num_labels.into());
        obj.insert("id2label".into(), labels.into());
        obj.insert("label2id".into(), ids.into());
        obj.insert("model_type".into(), family.model_type().into());
        let text =
            serde_json::to_string_pretty(&config).map_err(Error::serialize("config.json"))?;
        std::fs::write(dir.join("config.json"), text).map_err(io(&dir.join("config.json")))?;
        for f in [
            "tokenizer.json",
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
        // The truncation length travels as the tokenizer's model_max_length, which Python's
        // CrossEncoder and `from_dir` both read.
        let tc_path = self.path.join("tokenizer_config.json");
        let mut tc: serde_json::Value = if tc_path.exists() {
            read_json(&tc_path)?
        } else {
            serde_json::json!({})
        };
        if let Some(o) = tc.as_object_mut() {
            o.insert("model_max_length".into(), self.max_length.into());
        }
        let text =
            serde_json::to_string_pretty(&tc).map_err(Error::serialize("tokenizer_config.json"))?;
        std::fs::write(dir.join("tokenizer_config.json"), text)
            .map_err(io(&dir.join("tokenizer_config.json")))?;
        Ok(())
    }
}
