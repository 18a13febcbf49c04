//! The number format a model computes in: [`Dtype`].
//!
//! `f32` is exact (Python parity); `bf16` and `int8` trade a little accuracy for speed on CPUs
//! that have instructions for them (AVX512-BF16 `vdpbf16ps`, AVX512-VNNI `vpdpbusd`), with exact
//! fallbacks of the same math elsewhere. The encoder's linear layers change format (as in ONNX
//! Runtime's dynamic quantization), and on CPUs with AVX512-BF16 attention's two products (Q·Kᵀ,
//! P·V) run in bf16 with f32 accumulation in either format; embeddings, softmax, LayerNorm, GELU
//! and pooling stay f32.

use std::fmt;
use std::str::FromStr;

use super::error::{Error, Result};

/// The format of the encoder's linear layers at inference.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Dtype {
    /// 32-bit floats: the checkpoint's own numbers, Python's results to 1e-5.
    #[default]
    F32,
    /// bfloat16 weights and activations, f32 accumulation (torch's `model.to(torch.bfloat16)` on
    /// the matrix products only).
    Bf16,
    /// Dynamic quantization as ONNX Runtime's `quantize_dynamic`: int8 weights per output channel
    /// (symmetric), uint8 activations per row (asymmetric, computed at run time), i32 accumulation.
    Int8,
}

impl Dtype {
    /// Every format, widest first.
    pub const ALL: [Dtype; 3] = [Dtype::F32, Dtype::Bf16, Dtype::Int8];

    /// The name used by the CLI, the benchmarks and `LoadOptions`.
    pub fn name(self) -> &'static str {
        match self {
            Dtype::F32 => "f32",
            Dtype::Bf16 => "bf16",
            Dtype::Int8 => "int8",
        }
    }
}

impl fmt::Display for Dtype {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Dtype {
    type Err = Error;
    fn from_str(s: &str) -> Result<Dtype> {
        match s.trim().to_ascii_lowercase().as_str() {
            "f32" | "float32" | "fp32" => Ok(Dtype::F32),
            "bf16" | "bfloat16" => Ok(Dtype::Bf16),
            "int8" | "i8" | "qint8" => Ok(Dtype::Int8),
            _ => Err(Error::InvalidInput(format!(
                "unknown dtype {s:?}: expected f32, bf16 or int8"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_back() {
        for d in Dtype::ALL {
            assert_eq!(d.name().parse::<Dtype>().unwrap(), d);
        }
        assert_eq!("BFloat16".parse::<Dtype>().unwrap(), Dtype::Bf16);
        assert!("f16".parse::<Dtype>().is_err());
        assert_eq!(Dtype::default(), Dtype::F32);
    }
}
