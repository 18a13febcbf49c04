//! A model folder's weights as the hub has them: `model.safetensors`, or only `pytorch_model.bin`
//! (read safely, see [`crate::core::pth`]), with the family's key prefix removed.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};

use super::family::Family;
use crate::core::pth::load_pth;
use crate::core::safetensors::load_safetensors;
use crate::core::{Error, Result};

/// The weights file of `dir`: `model.safetensors` when present, else `pytorch_model.bin`.
pub fn weights_file(dir: &Path) -> Result<PathBuf> {
    let safetensors = dir.join("model.safetensors");
    if safetensors.exists() {
        return Ok(safetensors);
    }
    let pth = dir.join("pytorch_model.bin");
    if pth.exists() {
        return Ok(pth);
    }
    Err(Error::invalid_model(
        &safetensors,
        "no weights: neither model.safetensors nor pytorch_model.bin is in the folder",
    ))
}

/// Loads the weights of `dir` (see [`weights_file`]) as F32 on `device`, keys under the bare
/// model's names ([`Family::strip_prefix`]), and the file they came from.
pub fn load_weights(
    dir: &Path,
    family: Family,
    device: &Device,
) -> Result<(HashMap<String, Tensor>, PathBuf)> {
    let path = weights_file(dir)?;
    let tensors = load_file(&path, device)?;
    Ok((family.strip_prefix(tensors), path))
}

/// The tensors of one weights file, `.safetensors` or a PyTorch `.bin`, as F32 on `device`.
pub fn load_file(path: &Path, device: &Device) -> Result<HashMap<String, Tensor>> {
    if path.extension().is_some_and(|e| e == "bin") {
        load_pth(path, device)
    } else {
        load_safetensors(path, device)
    }
}
