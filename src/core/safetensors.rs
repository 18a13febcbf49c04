//! Reading `model.safetensors` tensor by tensor, with clear errors for corrupt or truncated files.
//!
//! The whole file is never held in memory: the header is parsed and checked against the file's
//! length first, then each tensor is read into its own buffer. Peak memory is the weights plus one
//! tensor, not twice the file.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use candle_core::{DType, Device, Tensor};

use super::error::{Error, Result};

#[derive(serde::Deserialize)]
struct TensorInfo {
    dtype: String,
    shape: Vec<usize>,
    data_offsets: (u64, u64),
}

fn dtype_of(name: &str) -> Option<(DType, usize)> {
    Some(match name {
        "F32" => (DType::F32, 4),
        "F16" => (DType::F16, 2),
        "BF16" => (DType::BF16, 2),
        "F64" => (DType::F64, 8),
        "I64" => (DType::I64, 8),
        "U32" => (DType::U32, 4),
        "U8" => (DType::U8, 1),
        _ => return None,
    })
}

/// Loads every floating-point tensor of a safetensors file as F32 on `device`.
///
/// Integer tensors (such as BERT's `embeddings.position_ids` buffer) are skipped. Keys are the
/// file's own (an encoder's family prefix is removed by [`crate::encoder::weights::load_weights`]).
pub fn load_safetensors(path: &Path, device: &Device) -> Result<HashMap<String, Tensor>> {
    let bad = |reason: String| Error::invalid_model(path, reason);
    let mut file =
        File::open(path).map_err(|e| Error::io(format!("opening {}", path.display()), e))?;
    let file_len = file
        .metadata()
        .map_err(|e| Error::io(format!("reading {}", path.display()), e))?
        .len();
    if file_len < 8 {
        return Err(bad(format!(
            "file is {file_len} bytes, too short for a safetensors header"
        )));
    }
    let mut len_bytes = [0u8; 8];
    file.read_exact(&mut len_bytes)
        .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
    let header_len = u64::from_le_bytes(len_bytes);
    if header_len > file_len - 8 || header_len > 100_000_000 {
        return Err(bad(format!(
            "header length {header_len} does not fit in a file of {file_len} bytes (corrupt or not a safetensors file)"
        )));
    }
    let mut header = vec![0u8; header_len as usize];
    file.read_exact(&mut header)
        .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
    let header: HashMap<String, serde_json::Value> =
        serde_json::from_slice(&header).map_err(|e| {
            bad(format!(
                "header is not valid JSON ({e}); the file is corrupt"
            ))
        })?;
    let data_start = 8 + header_len;
    let data_len = file_len - data_start;

    let mut entries: Vec<(String, TensorInfo)> = Vec::with_capacity(header.len());
    for (name, value) in header {
        if name == "__metadata__" {
            continue;
        }
        let info: TensorInfo = serde_json::from_value(value)
            .map_err(|e| bad(format!("bad header entry for tensor '{name}': {e}")))?;
        entries.push((name, info));
    }
    entries.sort_by_key(|(_, info)| info.data_offsets.0);

    let mut tensors = HashMap::with_capacity(entries.len());
    for (name, info) in entries {
        let (dtype, size) = dtype_of(&info.dtype).ok_or_else(|| {
            bad(format!(
                "tensor '{name}' has unsupported dtype {}",
                info.dtype
            ))
        })?;
        let (begin, end) = info.data_offsets;
        let elems: usize = info.shape.iter().product();
        if end < begin || end > data_len {
            return Err(bad(format!(
                "tensor '{name}' needs bytes {begin}..{end} but the file holds only {data_len} bytes of data (truncated?)"
            )));
        }
        if (end - begin) as usize != elems * size {
            return Err(bad(format!(
                "tensor '{name}' of shape {:?} and dtype {} should take {} bytes, header says {}",
                info.shape,
                info.dtype,
                elems * size,
                end - begin
            )));
        }
        if !matches!(dtype, DType::F32 | DType::F16 | DType::BF16 | DType::F64) {
            continue;
        }
        let mut buf = vec![0u8; (end - begin) as usize];
        file.seek(SeekFrom::Start(data_start + begin))
            .and_then(|_| file.read_exact(&mut buf))
            .map_err(|e| {
                Error::io(
                    format!("reading tensor '{name}' from {}", path.display()),
                    e,
                )
            })?;
        let t = Tensor::from_raw_buffer(&buf, dtype, &info.shape, &Device::Cpu)?;
        drop(buf);
        let t = if dtype == DType::F32 {
            t
        } else {
            t.to_dtype(DType::F32)?
        };
        let t = t.to_device(device)?;
        tensors.insert(name, t);
    }
    Ok(tensors)
}

/// Saves tensors as `model.safetensors`-style file. The safetensors crate writes through a private
/// temporary file (mode 0600); the saved model gets a normal file's permissions (0644), like the
/// other files of the folder, so that other users (a shared course machine) can load it.
pub(crate) fn save_safetensors(
    tensors: &std::collections::HashMap<String, candle_core::Tensor>,
    path: &Path,
) -> Result<()> {
    candle_core::safetensors::save(tensors, path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644))
            .map_err(|e| Error::io(format!("writing {}", path.display()), e))?;
    }
    Ok(())
}
