//! `--dtype`: loading the model a command names in the precision it asks for.

use clap::Args;
use sbert::cross_encoder::CrossEncoder;
use sbert::{Dtype, LoadOptions, SentenceTransformer};

/// The precision option of the commands that run a model.
#[derive(Args, Clone, Copy, Debug)]
pub struct DtypeArg {
    /// Compute the encoder's linear layers in f32 (exact), bf16 or int8 (dynamic quantization).
    #[arg(long = "dtype", value_name = "DTYPE", default_value = "f32")]
    pub dtype: Dtype,
}

impl DtypeArg {
    fn options(self) -> LoadOptions {
        LoadOptions {
            dtype: self.dtype,
            ..Default::default()
        }
    }

    /// Loads a bi-encoder.
    pub fn load(self, model: &str) -> sbert::Result<SentenceTransformer> {
        SentenceTransformer::load_with(model, &self.options())
    }

    /// Loads a cross-encoder.
    pub fn load_cross_encoder(self, model: &str) -> sbert::Result<CrossEncoder> {
        CrossEncoder::load_with(model, &self.options())
    }
}
