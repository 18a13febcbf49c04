//! Writing and reading float32 `.npy` files (NumPy format 1.0), atomically; writing int8 / uint8
//! ones (quantized embeddings).

use std::path::Path;

use super::embeddings::Embeddings;
use super::error::{Error, Result};
use super::fs::write_atomic;

/// The bytes of a float32 `.npy` file of shape `[n, dim]`.
pub fn to_npy_bytes(e: &Embeddings) -> Vec<u8> {
    let (n, d) = e.shape();
    let mut out = npy_header("<f4", n, d, n * d * 4);
    for v in e.as_slice() {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}

/// The bytes of a 2-D `.npy` file of one-byte values (`signed`: NumPy int8, else uint8), `data`
/// row-major `n × d`.
pub fn byte_npy_bytes(data: &[u8], n: usize, d: usize, signed: bool) -> Vec<u8> {
    let mut out = npy_header(if signed { "|i1" } else { "|u1" }, n, d, data.len());
    out.extend_from_slice(data);
    out
}

/// Magic (6) + version (2) + header length (2) + header, padded with spaces to a multiple of 64,
/// ending in \n; capacity for `payload` bytes after it.
fn npy_header(descr: &str, n: usize, d: usize, payload: usize) -> Vec<u8> {
    let mut header =
        format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': ({n}, {d}), }}");
    let total = 10 + header.len() + 1;
    header.push_str(&" ".repeat((64 - total % 64) % 64));
    header.push('\n');
    let mut out = Vec::with_capacity(10 + header.len() + payload);
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out
}

/// Writes embeddings as a float32 `.npy` `[n, dim]`, atomically.
pub fn write_npy(path: &Path, e: &Embeddings) -> Result<()> {
    write_atomic(path, &to_npy_bytes(e))
}

/// Reads a float32, C-order, 2-D `.npy` file.
pub fn read_npy(path: &Path) -> Result<Embeddings> {
    let bytes =
        std::fs::read(path).map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
    let bad = |why: &str| {
        Error::InvalidInput(format!(
            "{}: not a float32 2-D .npy file ({why})",
            path.display()
        ))
    };
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err(bad("no NUMPY magic"));
    }
    let (hlen, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        _ => return Err(bad("unknown version")),
    };
    let header = std::str::from_utf8(
        bytes
            .get(start..start + hlen)
            .ok_or_else(|| bad("truncated header"))?,
    )
    .map_err(|_| bad("header is not text"))?;
    if !header.contains("'<f4'") || header.contains("'fortran_order': True") {
        return Err(bad("dtype must be '<f4' in C order"));
    }
    let shape = header
        .split("'shape':")
        .nth(1)
        .and_then(|s| s.split(')').next())
        .ok_or_else(|| bad("no shape"))?;
    let dims: Vec<usize> = shape
        .trim()
        .trim_start_matches('(')
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.trim().parse().map_err(|_| bad("bad shape")))
        .collect::<Result<_>>()?;
    let (n, d) = match dims.as_slice() {
        [n, d] => (*n, *d),
        _ => return Err(bad("shape must be 2-D")),
    };
    let data = &bytes[start + hlen..];
    let want = super::embeddings::checked_len(n, d)
        .ok()
        .and_then(|len| len.checked_mul(4))
        .ok_or_else(|| bad("the shape is too large"))?;
    if data.len() != want {
        return Err(bad("data length does not match the shape"));
    }
    let values = data
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    Embeddings::from_flat(values, n, d)
}
