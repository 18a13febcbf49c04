//! One step of a sentence-transformers pipeline, chosen by its `type` in `modules.json`.

use std::path::Path;

use candle_core::Device;

use super::config::ModuleEntry;
use super::dense::Dense;
use super::normalize::Normalize;
use super::pooling::Pooling;
use super::transformer::Transformer;
use crate::core::fs::read_json;
use crate::core::{Error, Result};

/// One step of the pipeline, keyed by the `type` in `modules.json`.
#[derive(Debug, Clone)]
pub enum Module {
    /// `sentence_transformers.models.Transformer`.
    Transformer(Transformer),
    /// `sentence_transformers.models.Pooling`.
    Pooling(Pooling),
    /// `sentence_transformers.models.Dense`.
    Dense(Dense),
    /// `sentence_transformers.models.Normalize`.
    Normalize(Normalize),
}

impl Module {
    pub(crate) fn load(entry: &ModuleEntry, root: &Path, device: &Device) -> Result<Self> {
        let dir = root.join(&entry.path);
        let kind = entry.type_.rsplit('.').next().unwrap_or("");
        match kind {
            "Transformer" => Ok(Module::Transformer(Transformer::load(&dir, device)?)),
            "Pooling" => Ok(Module::Pooling(Pooling::new(read_json(
                &dir.join("config.json"),
            )?)?)),
            "Dense" => Ok(Module::Dense(Dense::load(&dir, device)?)),
            // The folder of Normalize is often absent (it has no files): nothing to read.
            "Normalize" => Ok(Module::Normalize(Normalize)),
            _ => Err(Error::UnsupportedModule {
                type_: entry.type_.clone(),
            }),
        }
    }
}
