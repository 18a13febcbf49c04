//! Fused training ops with gradients, for the trainable BERT on the CPU: LayerNorm, masked and
//! scaled softmax, GELU (erf) and dropout.
//!
//! Composed of elementary candle ops, each of these is 5–15 passes over memory forward and as many
//! backward (plus an allocation each). Here each is one pass forward and one backward, on both
//! cores, with the vectorised kernels of [`super::kernels`]. Gradients are checked against PyTorch in
//! `tests/train_grad.rs` and against the composed ops in this module's tests.
//!
//! Dropout draws its mask from a counter-based hash of (seed, call, element): the same `fit` seed
//! gives the same masks, so a training run is reproducible (candle's CPU `rand` cannot be seeded).

use candle_core::{CpuStorage, CustomOp1, CustomOp2, CustomOp3, Layout, Shape, Tensor};
use rayon::prelude::*;

use super::kernels;

/// Rows per parallel task.
const ROWS_PER_TASK: usize = 16;

fn slice<'a>(s: &'a CpuStorage, l: &Layout, what: &str) -> candle_core::Result<&'a [f32]> {
    let data = match s {
        CpuStorage::F32(v) => v.as_slice(),
        _ => candle_core::bail!("{what}: expected f32"),
    };
    match l.contiguous_offsets() {
        Some((a, b)) => Ok(&data[a..b]),
        None => candle_core::bail!("{what}: expected a contiguous tensor"),
    }
}

fn values(t: &Tensor) -> candle_core::Result<Vec<f32>> {
    t.flatten_all()?.to_vec1::<f32>()
}

// ---------- LayerNorm ----------

struct LayerNormOp {
    eps: f32,
}

impl CustomOp3 for LayerNormOp {
    fn name(&self) -> &'static str {
        "sbert-layer-norm"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (x, w, b) = (
            slice(s1, l1, "layer norm")?,
            slice(s2, l2, "layer norm")?,
            slice(s3, l3, "layer norm")?,
        );
        let h = w.len();
        if h == 0 || b.len() != h || x.len() % h != 0 {
            candle_core::bail!(
                "layer norm: weight {h}, bias {}, input {} do not match",
                b.len(),
                x.len()
            );
        }
        let mut y = x.to_vec();
        y.par_chunks_mut(h * ROWS_PER_TASK)
            .for_each(|c| kernels::layer_norm(c, None, w, b, self.eps));
        Ok((CpuStorage::F32(y), l1.shape().clone()))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _b: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (xs, ws, gs) = (values(x)?, values(w)?, values(grad)?);
        let h = ws.len();
        let mut dx = vec![0f32; xs.len()];
        let (dw, db) = dx
            .par_chunks_mut(h * ROWS_PER_TASK)
            .zip(xs.par_chunks(h * ROWS_PER_TASK))
            .zip(gs.par_chunks(h * ROWS_PER_TASK))
            .map(|((dx, x), g)| {
                let (mut dw, mut db) = (vec![0f32; h], vec![0f32; h]);
                kernels::layer_norm_backward(x, &ws, g, dx, &mut dw, &mut db, self.eps);
                (dw, db)
            })
            .reduce(
                || (vec![0f32; h], vec![0f32; h]),
                |(mut a, mut b), (c, d)| {
                    a.iter_mut().zip(c).for_each(|(a, c)| *a += c);
                    b.iter_mut().zip(d).for_each(|(b, d)| *b += d);
                    (a, b)
                },
            );
        let dev = x.device();
        Ok((
            Some(Tensor::from_vec(dx, x.shape(), dev)?),
            Some(Tensor::from_vec(dw, w.shape(), dev)?),
            Some(Tensor::from_vec(db, w.shape(), dev)?),
        ))
    }
}

/// `LayerNorm(x)` over the last dimension, with gradients for `x`, `weight` and `bias`.
pub(crate) fn layer_norm(
    x: &Tensor,
    weight: &Tensor,
    bias: &Tensor,
    eps: f32,
) -> candle_core::Result<Tensor> {
    if !x.device().is_cpu() {
        return candle_nn::ops::layer_norm_slow(x, weight, bias, eps);
    }
    x.contiguous()?.apply_op3(
        &weight.contiguous()?,
        &bias.contiguous()?,
        LayerNormOp { eps },
    )
}

// ---------- softmax(scale · scores + mask) ----------

struct MaskedSoftmaxOp {
    scale: f32,
}

impl CustomOp2 for MaskedSoftmaxOp {
    fn name(&self) -> &'static str {
        "sbert-masked-softmax"
    }

    /// `scores` `[b, h, s, t]`, `mask` `[b, 1, 1, t]` (additive).
    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (x, mask) = (slice(s1, l1, "softmax")?, slice(s2, l2, "softmax mask")?);
        let (b, h, s, t) = l1.shape().dims4()?;
        if mask.len() != b * t {
            candle_core::bail!(
                "softmax: mask of {} values for {b} sequences of {t}",
                mask.len()
            );
        }
        let mut y = vec![0f32; x.len()];
        // (`max(1)`: an empty tensor has no chunks, but a chunk size of 0 would panic.)
        let per_head = (s * t).max(1);
        y.par_chunks_mut(per_head)
            .zip(x.par_chunks(per_head))
            .enumerate()
            .for_each(|(bh, (y, x))| {
                let m = &mask[(bh / h) * t..(bh / h + 1) * t];
                for (yr, xr) in y.chunks_mut(t).zip(x.chunks(t)) {
                    for ((y, &x), &m) in yr.iter_mut().zip(xr).zip(m) {
                        *y = x * self.scale + m;
                    }
                }
                kernels::softmax(y, t);
            });
        Ok((CpuStorage::F32(y), l1.shape().clone()))
    }

    fn bwd(
        &self,
        x: &Tensor,
        _mask: &Tensor,
        res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>)> {
        let t = x.dim(candle_core::D::Minus1)?;
        let (ys, gs) = (values(res)?, values(grad)?);
        let mut dx = vec![0f32; ys.len()];
        let rows = t.max(1) * ROWS_PER_TASK;
        dx.par_chunks_mut(rows)
            .zip(ys.par_chunks(rows))
            .zip(gs.par_chunks(rows))
            .for_each(|((dx, y), g)| kernels::softmax_backward(y, g, dx, t, self.scale));
        Ok((Some(Tensor::from_vec(dx, x.shape(), x.device())?), None))
    }
}

/// Attention probabilities `softmax(scale · scores + mask)` over the last dimension; `scores`
/// `[b, heads, s, t]`, `mask` additive `[b, 1, 1, t]`. Gradients for `scores` only.
pub(crate) fn masked_softmax(
    scores: &Tensor,
    mask: &Tensor,
    scale: f64,
) -> candle_core::Result<Tensor> {
    if !scores.device().is_cpu() {
        return candle_nn::ops::softmax(
            &(scores * scale)?.broadcast_add(mask)?,
            candle_core::D::Minus1,
        );
    }
    scores.contiguous()?.apply_op2(
        &mask.contiguous()?,
        MaskedSoftmaxOp {
            scale: scale as f32,
        },
    )
}

// ---------- GELU (erf) ----------

struct GeluOp;

impl CustomOp1 for GeluOp {
    fn name(&self) -> &'static str {
        "sbert-gelu"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let mut y = slice(s, l, "gelu")?.to_vec();
        y.par_chunks_mut(4096)
            .for_each(|c| kernels::gelu(c, super::config::HiddenAct::Gelu));
        Ok((CpuStorage::F32(y), l.shape().clone()))
    }

    fn bwd(&self, x: &Tensor, _res: &Tensor, grad: &Tensor) -> candle_core::Result<Option<Tensor>> {
        let (xs, gs) = (values(x)?, values(grad)?);
        let mut dx = vec![0f32; xs.len()];
        dx.par_chunks_mut(4096)
            .zip(xs.par_chunks(4096))
            .zip(gs.par_chunks(4096))
            .for_each(|((d, x), g)| kernels::gelu_backward(x, g, d));
        Ok(Some(Tensor::from_vec(dx, x.shape(), x.device())?))
    }
}

/// GELU with the exact (erf) formula, as PyTorch's `nn.GELU()` and BERT's `"gelu"`.
pub(crate) fn gelu_erf(x: &Tensor) -> candle_core::Result<Tensor> {
    if !x.device().is_cpu() {
        return x.gelu_erf();
    }
    x.contiguous()?.apply_op1(GeluOp)
}

// ---------- dropout ----------

thread_local! {
    /// (seed, calls so far) of this thread's dropout masks.
    static DROPOUT_STATE: std::cell::Cell<(u64, u64)> = const { std::cell::Cell::new((0x5EED, 0)) };
}

/// Seeds the dropout masks of the training ops on this thread (called by `fit` with its seed): the
/// masks then depend only on the seed and the order of the dropout calls.
pub(crate) fn seed_dropout(seed: u64) {
    DROPOUT_STATE.with(|s| s.set((seed, 0)));
}

#[inline(always)]
fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

pub(crate) struct DropoutOp {
    /// Per-call key: the mask of element `i` is `hash(key, i) < p`.
    key: u64,
    /// Drop probability, as a threshold on 24-bit uniform integers.
    threshold: u32,
    scale: f32,
}

impl DropoutOp {
    /// The mask of this thread's next dropout call with probability `p` (in `[0, 1)`): drawing
    /// it advances the call counter, as [`dropout`] does.
    pub(crate) fn next(p: f64) -> Self {
        let (seed, call) = DROPOUT_STATE.with(|s| {
            let (seed, call) = s.get();
            s.set((seed, call + 1));
            (seed, call)
        });
        DropoutOp {
            key: splitmix64(seed ^ splitmix64(call)),
            threshold: (p * (1u64 << 24) as f64).round() as u32,
            scale: (1.0 / (1.0 - p)) as f32,
        }
    }

    /// In place: `x[i] ·= (kept ? scale : 0)` for elements `offset..offset + x.len()`.
    pub(crate) fn apply_in_place(&self, x: &mut [f32], offset: usize) {
        for (i, x) in x.iter_mut().enumerate() {
            let r = (splitmix64(self.key ^ (offset + i) as u64) >> 40) as u32;
            *x = if r < self.threshold {
                0.0
            } else {
                *x * self.scale
            };
        }
    }

    /// `out[i] = x[i] · (kept ? scale : 0)` for elements `offset..offset + x.len()`.
    fn apply(&self, x: &[f32], out: &mut [f32], offset: usize) {
        for (i, (o, &x)) in out.iter_mut().zip(x).enumerate() {
            let r = (splitmix64(self.key ^ (offset + i) as u64) >> 40) as u32;
            *o = if r < self.threshold {
                0.0
            } else {
                x * self.scale
            };
        }
    }
    fn run(&self, x: &[f32]) -> Vec<f32> {
        let mut y = vec![0f32; x.len()];
        y.par_chunks_mut(4096)
            .zip(x.par_chunks(4096))
            .enumerate()
            .for_each(|(c, (y, x))| self.apply(x, y, c * 4096));
        y
    }
}

impl CustomOp1 for DropoutOp {
    fn name(&self) -> &'static str {
        "sbert-dropout"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        Ok((
            CpuStorage::F32(self.run(slice(s, l, "dropout")?)),
            l.shape().clone(),
        ))
    }

    fn bwd(&self, x: &Tensor, _res: &Tensor, grad: &Tensor) -> candle_core::Result<Option<Tensor>> {
        // The same mask and scale: the gradient of x ↦ x·m·scale is g·m·scale.
        Ok(Some(Tensor::from_vec(
            self.run(&values(grad)?),
            x.shape(),
            x.device(),
        )?))
    }
}

/// Inverted dropout (PyTorch's `nn.Dropout` in training): each element is zeroed with probability
/// `p`, the others are scaled by `1 / (1 − p)`.
pub(crate) fn dropout(x: &Tensor, p: f64) -> candle_core::Result<Tensor> {
    if !(0.0..1.0).contains(&p) {
        candle_core::bail!("dropout probability {p} is not in [0, 1)");
    }
    if !x.device().is_cpu() {
        return candle_nn::ops::dropout(x, p as f32);
    }
    x.contiguous()?.apply_op1(DropoutOp::next(p))
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var, D};

    fn rand(shape: &[usize], seed: u64) -> Tensor {
        let n: usize = shape.iter().product();
        let v: Vec<f32> = (0..n)
            .map(|i| ((splitmix64(seed ^ i as u64) >> 40) as f32 / (1u64 << 24) as f32) * 4.0 - 2.0)
            .collect();
        Tensor::from_vec(v, shape, &Device::Cpu).unwrap()
    }

    fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
        (a - b)
            .unwrap()
            .abs()
            .unwrap()
            .flatten_all()
            .unwrap()
            .max(0)
            .unwrap()
            .to_scalar::<f32>()
            .unwrap()
    }

    /// Value and gradients of `f(x…) · r` (a fixed random projection) for the fused op and the
    /// composed reference, on the same inputs.
    fn check(
        inputs: &[Tensor],
        fused: impl Fn(&[Tensor]) -> Tensor,
        reference: impl Fn(&[Tensor]) -> Tensor,
        tol: f32,
    ) {
        let run = |f: &dyn Fn(&[Tensor]) -> Tensor| {
            let vars: Vec<Var> = inputs
                .iter()
                .map(|t| Var::from_tensor(t).unwrap())
                .collect();
            let ts: Vec<Tensor> = vars.iter().map(|v| v.as_tensor().clone()).collect();
            let y = f(&ts);
            let r = rand(y.dims(), 99);
            let grads = (&y * &r).unwrap().sum_all().unwrap().backward().unwrap();
            let g: Vec<Tensor> = vars
                .iter()
                .map(|v| {
                    grads
                        .get(v.as_tensor())
                        .cloned()
                        .unwrap_or_else(|| v.zeros_like().unwrap())
                })
                .collect();
            (y, g)
        };
        let (y1, g1) = run(&fused);
        let (y2, g2) = run(&reference);
        assert!(
            max_diff(&y1, &y2) < tol,
            "values differ by {}",
            max_diff(&y1, &y2)
        );
        for (k, (a, b)) in g1.iter().zip(&g2).enumerate() {
            assert!(
                max_diff(a, b) < tol,
                "gradient {k} differs by {}",
                max_diff(a, b)
            );
        }
    }

    #[test]
    fn layer_norm_matches_composed_ops() {
        let inputs = [
            rand(&[3, 5, 40], 1),
            (rand(&[40], 2) + 1.0).unwrap(),
            rand(&[40], 3),
        ];
        check(
            &inputs,
            |t| layer_norm(&t[0], &t[1], &t[2], 1e-12).unwrap(),
            |t| candle_nn::ops::layer_norm_slow(&t[0], &t[1], &t[2], 1e-12).unwrap(),
            2e-5,
        );
    }

    #[test]
    fn masked_softmax_matches_composed_ops() {
        // Two sequences, the second with its last 3 positions masked.
        let mut m = vec![0f32; 14];
        m[11..].iter_mut().for_each(|v| *v = f32::MIN);
        let mask = Tensor::from_vec(m, (2, 1, 1, 7), &Device::Cpu).unwrap();
        let scores = rand(&[2, 3, 7, 7], 4);
        let reference = |t: &[Tensor]| {
            candle_nn::ops::softmax(
                &(&t[0] * 0.125).unwrap().broadcast_add(&mask).unwrap(),
                D::Minus1,
            )
            .unwrap()
        };
        check(
            &[scores],
            |t| masked_softmax(&t[0], &mask, 0.125).unwrap(),
            reference,
            1e-5,
        );
    }

    #[test]
    fn gelu_matches_composed_ops() {
        check(
            &[(rand(&[5000], 5) * 3.0).unwrap()],
            |t| gelu_erf(&t[0]).unwrap(),
            |t| t[0].gelu_erf().unwrap(),
            1e-5,
        );
    }

    #[test]
    fn dropout_is_seeded_scaled_and_has_the_masks_gradient() {
        let x = (rand(&[64, 1000], 6).abs().unwrap() + 0.5).unwrap();
        seed_dropout(7);
        let a = dropout(&x, 0.1).unwrap();
        let b = dropout(&x, 0.1).unwrap();
        seed_dropout(7);
        let a2 = dropout(&x, 0.1).unwrap();
        assert_eq!(
            a.to_vec2::<f32>().unwrap(),
            a2.to_vec2::<f32>().unwrap(),
            "same seed, same call: same mask"
        );
        assert!(
            max_diff(&a, &b) > 0.0,
            "successive calls draw different masks"
        );
        let (xv, av) = (values(&x).unwrap(), values(&a).unwrap());
        let dropped = av.iter().filter(|&&v| v == 0.0).count() as f64 / av.len() as f64;
        assert!((dropped - 0.1).abs() < 0.005, "dropped fraction {dropped}");
        assert!(
            xv.iter()
                .zip(&av)
                .all(|(x, a)| *a == 0.0 || (a - x / 0.9).abs() < 1e-5),
            "kept elements scaled by 1/(1-p)"
        );
        // Gradient: the mask times the scale.
        let var = Var::from_tensor(&x).unwrap();
        seed_dropout(7);
        let y = dropout(var.as_tensor(), 0.1).unwrap();
        let g = values(
            y.sum_all()
                .unwrap()
                .backward()
                .unwrap()
                .get(var.as_tensor())
                .unwrap(),
        )
        .unwrap();
        assert!(g.iter().zip(&av).all(|(g, a)| if *a == 0.0 {
            *g == 0.0
        } else {
            (g - 1.0 / 0.9).abs() < 1e-6
        }));
        assert!(dropout(&x, 1.0).is_err());
    }
}
