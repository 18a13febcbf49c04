//! [`LoadOptions`]: how a model is loaded — the device and the [`Dtype`] it computes in.

use candle_core::Device;

use crate::core::{Dtype, Error, Result};

/// Options of [`crate::SentenceTransformer::load_with`] and
/// [`crate::cross_encoder::CrossEncoder::load_with`].
///
/// ```no_run
/// use sbert::{Dtype, LoadOptions, SentenceTransformer};
/// let model = SentenceTransformer::load_with(
///     "all-MiniLM-L6-v2",
///     &LoadOptions { dtype: Dtype::Int8, ..Default::default() },
/// )?;
/// assert_eq!(model.dtype(), Dtype::Int8);
/// # Ok::<(), sbert::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct LoadOptions {
    /// Where the weights live (default: the CPU).
    pub device: Device,
    /// The format of the encoder's linear layers at inference (default f32; bf16 and int8 on the
    /// CPU only). Training always runs in f32.
    pub dtype: Dtype,
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self {
            device: Device::Cpu,
            dtype: Dtype::F32,
        }
    }
}

/// The error of training a model that computes in a reduced precision.
pub(crate) fn check_trainable(dtype: Dtype) -> Result<()> {
    if dtype == Dtype::F32 {
        return Ok(());
    }
    Err(Error::InvalidInput(format!(
        "this model computes in {dtype}; fine-tuning runs in f32: call set_dtype(Dtype::F32) before fit (and set {dtype} again after)"
    )))
}
