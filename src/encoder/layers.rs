//! The encoder's building blocks: [`Linear`], LayerNorm, dropout, and the [`Mode`] a forward
//! pass runs in.

use std::sync::Arc;

use candle_core::Tensor;
use candle_nn::VarBuilder;

use crate::core::qgemm::PackedLinear;
use crate::core::{Dtype, Result};

/// `y = x Wᵀ + b` over the last dimension of a 2-D or 3-D input.
#[derive(Debug, Clone)]
pub(crate) struct Linear {
    pub(crate) weight: Tensor,
    pub(crate) bias: Option<Tensor>,
    /// The weights packed for a reduced-precision inference [`Dtype`] (set by
    /// [`super::Encoder::set_dtype`]); the candle ops above always use `weight` in f32.
    pub(crate) packed: Option<Arc<PackedLinear>>,
}

impl Linear {
    pub(crate) fn new(in_dim: usize, out_dim: usize, vb: VarBuilder) -> Result<Self> {
        let weight = vb.get((out_dim, in_dim), "weight")?;
        let bias = Some(vb.get(out_dim, "bias")?);
        Ok(Self {
            weight,
            bias,
            packed: None,
        })
    }
    pub(crate) fn from_parts(weight: Tensor, bias: Option<Tensor>) -> Self {
        Self {
            weight,
            bias,
            packed: None,
        }
    }
    /// Packs (or, for f32, unpacks) the weights for `dtype`.
    pub(crate) fn set_dtype(&mut self, dtype: Dtype) -> Result<()> {
        if dtype == Dtype::F32 {
            self.packed = None;
            return Ok(());
        }
        let (n, k) = self.weight.dims2()?;
        let w = self.weight.flatten_all()?.to_vec1::<f32>()?;
        let b = match &self.bias {
            Some(b) => b.to_vec1::<f32>()?,
            None => vec![0.0; n],
        };
        self.packed = Some(Arc::new(PackedLinear::new(&w, n, k, &b, dtype)?));
        Ok(())
    }
    pub(crate) fn out_dim(&self) -> usize {
        self.weight.dims().first().copied().unwrap_or(0)
    }
    pub(crate) fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let dims = x.dims().to_vec();
        let in_dim = *dims.last().unwrap_or(&0);
        let rows = x.elem_count() / in_dim.max(1);
        let x2 = x.reshape((rows, in_dim))?;
        let mut y = x2.matmul(&self.weight.t()?)?;
        if let Some(b) = &self.bias {
            y = y.broadcast_add(b)?;
        }
        let mut out_dims = dims;
        let last = out_dims.len() - 1;
        out_dims[last] = self.weight.dim(0)?;
        Ok(y.reshape(out_dims)?)
    }
}

/// LayerNorm with weight and bias, fused in inference and differentiable in training.
#[derive(Debug, Clone)]
pub(super) struct LayerNorm {
    pub(super) weight: Tensor,
    pub(super) bias: Tensor,
    pub(super) eps: f64,
}

impl LayerNorm {
    pub(super) fn new(size: usize, eps: f64, vb: VarBuilder) -> Result<Self> {
        // Old TF-converted checkpoints name these gamma/beta.
        let weight = vb.get(size, "weight").or_else(|_| vb.get(size, "gamma"))?;
        let bias = vb.get(size, "bias").or_else(|_| vb.get(size, "beta"))?;
        Ok(Self { weight, bias, eps })
    }
    pub(super) fn forward_t(&self, x: &Tensor, differentiable: bool) -> Result<Tensor> {
        if differentiable {
            Ok(super::ops::layer_norm(
                x,
                &self.weight,
                &self.bias,
                self.eps as f32,
            )?)
        } else if !x.is_contiguous() {
            Ok(candle_nn::ops::layer_norm_slow(
                x,
                &self.weight,
                &self.bias,
                self.eps as f32,
            )?)
        } else {
            Ok(candle_nn::ops::layer_norm(
                x,
                &self.weight,
                &self.bias,
                self.eps as f32,
            )?)
        }
    }
}

/// How a forward pass runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mode {
    /// Use only ops that have gradients (LayerNorm, softmax and GELU of [`super::ops`]).
    pub differentiable: bool,
    /// Apply dropout (training).
    pub dropout: bool,
}

impl Mode {
    /// Inference: fused kernels, no dropout.
    pub const INFERENCE: Mode = Mode {
        differentiable: false,
        dropout: false,
    };
    /// Training: gradients and dropout.
    pub const TRAIN: Mode = Mode {
        differentiable: true,
        dropout: true,
    };
    /// Gradients without dropout (PyTorch's `eval()` mode under autograd; used by gradient checks).
    pub const EVAL_GRAD: Mode = Mode {
        differentiable: true,
        dropout: false,
    };
}

/// Dropout with probability `p` when `train` (seeded, see [`super::ops::seed_dropout`]); the input
/// itself otherwise.
pub(crate) fn dropout(x: &Tensor, p: f64, train: bool) -> Result<Tensor> {
    if train && p > 0.0 {
        Ok(super::ops::dropout(x, p)?)
    } else {
        Ok(x.clone())
    }
}
