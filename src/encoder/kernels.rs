//! The fused, vectorised kernels of the encoder, forward and backward: GELU, softmax and
//! residual + LayerNorm over rows of f32, with a polynomial `exp` and a rational `erf` that vectorise. Each is
//! compiled three times, for AVX-512, for AVX2+FMA and for the baseline, and the one for
//! [`Isa::current`] runs.
//!
//! The fast CPU inference of [`super::cpu`] runs the forward kernels; the training ops of
//! [`super::ops`] run both.

use super::config::HiddenAct;
use crate::core::compute::lanes16;
use crate::core::isa::{dispatch, Isa};

/// `e^x`, Cephes-style polynomial, relative error ~1e-7; branch-free so loops vectorise.
#[inline(always)]
fn exp_approx(x_in: f32) -> f32 {
    let x = x_in.clamp(-87.0, 88.0);
    let n = (x * std::f32::consts::LOG2_E + 0.5).floor();
    let r = x - n * 0.693_359_4 + n * 2.121_944_4e-4;
    let mut y = 1.987_569_1e-4f32;
    y = y * r + 1.398_199_9e-3;
    y = y * r + 8.333_452e-3;
    y = y * r + 4.166_579_6e-2;
    y = y * r + 1.666_666_5e-1;
    y = y * r + 5.000_000_1e-1;
    y = y * r * r + r + 1.0;
    // 2ⁿ from n's bits: adding 1.5 · 2²³ puts the integer n in the low mantissa bits (|n| < 2²²),
    // pure arithmetic that vectorises (the checked `n as i32` does not).
    let ni = (n + 12_582_912.0).to_bits().wrapping_sub(0x4b40_0000) as i32;
    let v = y * f32::from_bits((ni.wrapping_add(127) as u32) << 23);
    // Exactly 0 below the clamp (masked attention scores: their gradient must be exactly 0).
    if x_in < -87.0 {
        0.0
    } else {
        v
    }
}

/// [`erf_approx`]'s numerator, `x · P(x²)`, and denominator, `Q(x²)`: coefficients from the
/// highest power down (shared with the AVX-512 GELU).
const ERF_P: [f32; 7] = [
    -2.726_142_3e-10,
    2.770_681_4e-8,
    -2.101_024e-6,
    -5.692_506_4e-5,
    -7.349_906_3e-4,
    -2.954_600_1e-3,
    -1.609_603_3e-2,
];
const ERF_Q: [f32; 5] = [
    -1.456_607_2e-5,
    -2.133_740_6e-4,
    -1.682_827e-3,
    -7.373_329_4e-3,
    -1.426_474e-2,
];

/// `erf(x)`: a rational minimax approximation on [−4, 4] (beyond, erf is ±1 in f32) — Eigen's
/// and XLA's float `erf`, within 5e-7 in f32 (tested) — with no `exp`: half the operations of the
/// Abramowitz & Stegun form PyTorch's vectorised CPU erf uses (within 1.5e-7 before f32 rounding).
#[inline(always)]
fn erf_approx(x: f32) -> f32 {
    let x = x.clamp(-4.0, 4.0);
    let x2 = x * x;
    let mut p = ERF_P[0];
    for &k in &ERF_P[1..] {
        p = p * x2 + k;
    }
    let mut q = ERF_Q[0];
    for &k in &ERF_Q[1..] {
        q = q * x2 + k;
    }
    x * p / q
}

#[inline(always)]
fn gelu_impl(xs: &mut [f32], act: HiddenAct) {
    match act {
        HiddenAct::Gelu => xs
            .iter_mut()
            .for_each(|v| *v = 0.5 * *v * (1.0 + erf_approx(*v * std::f32::consts::FRAC_1_SQRT_2))),
        HiddenAct::GeluApproximate => xs.iter_mut().for_each(|v| {
            let u = 0.797_884_6 * (*v + 0.044_715 * *v * *v * *v);
            // tanh(u) = 1 - 2 / (e^{2u} + 1)
            let th = 1.0 - 2.0 / (exp_approx(2.0 * u) + 1.0);
            *v = 0.5 * *v * (1.0 + th);
        }),
        HiddenAct::Relu => xs.iter_mut().for_each(|v| *v = v.max(0.0)),
    }
}

/// Softmax of each `len`-long row of `xs`.
///
/// Attention rows are short (a sentence's tokens), so the vector loops' scalar remainder would
/// cost more than the vectors: a row up to [`SOFTMAX_PADDED`] long is copied into whole 16-lane
/// vectors padded with −∞ (whose `exp_approx` is exactly 0, so sums and results are unchanged).
#[inline(always)]
fn softmax_impl(xs: &mut [f32], len: usize) {
    let whole = len.div_ceil(16) * 16;
    if len == 0 || whole > SOFTMAX_PADDED {
        xs.chunks_mut(len.max(1)).for_each(softmax_row);
        return;
    }
    let mut buf = [0f32; SOFTMAX_PADDED];
    let padded = &mut buf[..whole];
    for row in xs.chunks_mut(len) {
        padded[row.len()..].fill(f32::NEG_INFINITY);
        padded[..row.len()].copy_from_slice(row);
        softmax_row(padded);
        row.copy_from_slice(&padded[..row.len()]);
    }
}

/// Softmax down each column of `xs` (`rows` rows of `stride` values, `stride` a multiple of 16),
/// in place: the attention probabilities of `stride` queries (those past the real ones are
/// ignored) when the scores are laid out key by key. Every step runs along the rows — a running
/// maximum, the exponentials and their sums, the scaling — so short rows need no reductions
/// across lanes, which cost [`softmax_impl`] more than its arithmetic on a sentence's tokens.
#[inline(always)]
fn softmax_columns_impl(xs: &mut [f32], rows: usize, stride: usize) {
    if rows == 0 || stride == 0 || xs.len() < rows * stride {
        return;
    }
    let mut stack = [0f32; 2 * COLUMNS_ON_STACK];
    let mut heap = Vec::new();
    let (max, sum) = if stride <= COLUMNS_ON_STACK {
        stack[..2 * stride].split_at_mut(stride)
    } else {
        heap.resize(2 * stride, 0f32);
        heap.split_at_mut(stride)
    };
    let xs = &mut xs[..rows * stride];
    max.fill(f32::NEG_INFINITY);
    for row in xs.chunks_exact(stride) {
        max.iter_mut().zip(row).for_each(|(m, &v)| *m = m.max(v));
    }
    sum.fill(0.0);
    for row in xs.chunks_exact_mut(stride) {
        for ((v, &m), s) in row.iter_mut().zip(max.iter()).zip(sum.iter_mut()) {
            *v = exp_approx(*v - m);
            *s += *v;
        }
    }
    sum.iter_mut().for_each(|s| *s = 1.0 / *s);
    for row in xs.chunks_exact_mut(stride) {
        row.iter_mut()
            .zip(sum.iter())
            .for_each(|(v, &inv)| *v *= inv);
    }
}

/// The widest rows [`softmax_columns_impl`] keeps its sums for on the stack.
const COLUMNS_ON_STACK: usize = 1024;

/// The longest row [`softmax_impl`] pads (longer rows run unpadded).
const SOFTMAX_PADDED: usize = 1024;

#[inline(always)]
fn softmax_row(row: &mut [f32]) {
    let max = lanes16(row, f32::NEG_INFINITY, |v| v, f32::max);
    // The exponentials first, then their sum: a loop that also summed would not vectorise.
    row.iter_mut().for_each(|v| *v = exp_approx(*v - max));
    let sum = lanes16(row, 0.0, |v| v, |a, b| a + b);
    let inv = 1.0 / sum;
    row.iter_mut().for_each(|v| *v *= inv);
}

/// `x = LayerNorm(x + residual)` on each `h`-long row (`residual` may be absent).
#[inline(always)]
fn layer_norm_impl(x: &mut [f32], residual: Option<&[f32]>, w: &[f32], b: &[f32], eps: f32) {
    let h = w.len();
    for (r, row) in x.chunks_mut(h).enumerate() {
        if let Some(res) = residual {
            row.iter_mut()
                .zip(&res[r * h..(r + 1) * h])
                .for_each(|(a, b)| *a += b);
        }
        let mean = lanes16(row, 0.0, |v| v, |a, b| a + b) / h as f32;
        let var = lanes16(row, 0.0, |v| (v - mean) * (v - mean), |a, b| a + b) / h as f32;
        let inv = 1.0 / (var + eps).sqrt();
        for ((v, g), bb) in row.iter_mut().zip(w).zip(b) {
            *v = (*v - mean) * inv * g + bb;
        }
    }
}

// ---------- backward kernels (training: the ops of `super::ops`) ----------

/// GELU (erf) gradient: `out = g · (Φ(x) + x·φ(x))`.
#[inline(always)]
fn gelu_backward_impl(x: &[f32], g: &[f32], out: &mut [f32]) {
    for ((o, &x), &g) in out.iter_mut().zip(x).zip(g) {
        let cdf = 0.5 * (1.0 + erf_approx(x * std::f32::consts::FRAC_1_SQRT_2));
        let pdf = exp_approx(-0.5 * x * x) * 0.398_942_3;
        *o = g * (cdf + x * pdf);
    }
}

/// Softmax gradient on `len`-long rows, given the softmax output `y`: `out = scale · y ⊙ (g − Σ g⊙y)`.
#[inline(always)]
fn softmax_backward_impl(y: &[f32], g: &[f32], out: &mut [f32], len: usize, scale: f32) {
    for ((o, y), g) in out.chunks_mut(len).zip(y.chunks(len)).zip(g.chunks(len)) {
        let dot = y.iter().zip(g).map(|(a, b)| a * b).sum::<f32>();
        for ((o, &y), &g) in o.iter_mut().zip(y).zip(g) {
            *o = scale * y * (g - dot);
        }
    }
}

/// LayerNorm gradient of `h`-long rows (`h = w.len()`): writes `dx`, adds to `dw` and `db`.
#[inline(always)]
fn layer_norm_backward_impl(
    x: &[f32],
    w: &[f32],
    g: &[f32],
    dx: &mut [f32],
    dw: &mut [f32],
    db: &mut [f32],
    eps: f32,
) {
    let h = w.len();
    let mut xhat = vec![0f32; h];
    for ((x, g), dx) in x.chunks(h).zip(g.chunks(h)).zip(dx.chunks_mut(h)) {
        let mean = x.iter().sum::<f32>() / h as f32;
        let var = x.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / h as f32;
        let inv = 1.0 / (var + eps).sqrt();
        let (mut a, mut c) = (0f32, 0f32);
        for (((xh, &x), &g), &w) in xhat.iter_mut().zip(x).zip(g).zip(w) {
            *xh = (x - mean) * inv;
            let gh = g * w;
            a += gh;
            c += gh * *xh;
        }
        let (a, c) = (a / h as f32, c / h as f32);
        for (((((d, &xh), &g), &w), dw), db) in dx
            .iter_mut()
            .zip(&xhat)
            .zip(g)
            .zip(w)
            .zip(dw.iter_mut())
            .zip(db.iter_mut())
        {
            *d = inv * (g * w - a - xh * c);
            *dw += g * xh;
            *db += g;
        }
    }
}

dispatch!(gelu_compiled, gelu_avx2, gelu_avx512, gelu_impl, (xs: &mut [f32], act: HiddenAct));

/// The activation `act` applied to `xs` in place. On AVX-512, GELU (erf) runs [`x86::gelu_erf`]:
/// the same rational `erf` with fused multiply-adds and a refined reciprocal instead of a
/// division (which took half of the compiled loop's time), within 3e-7 of it.
pub(crate) fn gelu(xs: &mut [f32], act: HiddenAct) {
    #[cfg(target_arch = "x86_64")]
    if act == HiddenAct::Gelu && Isa::current() >= Isa::Avx512 {
        // SAFETY: AVX-512 detected (`Isa::current` never exceeds it).
        unsafe { x86::gelu_erf(xs) };
        return;
    }
    gelu_compiled(xs, act)
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{ERF_P, ERF_Q};
    use std::arch::x86_64::*;

    /// GELU (erf) of 16 values: [`super::erf_approx`]'s polynomials by FMA, `1 / q` by `vrcp14ps`
    /// and one Newton step. NaN stays NaN (the clamp passes it through), as in the portable code.
    #[inline(always)]
    unsafe fn gelu16(v: __m512) -> __m512 {
        let x = _mm512_mul_ps(v, _mm512_set1_ps(std::f32::consts::FRAC_1_SQRT_2));
        // max/min return their second operand when either is NaN.
        let x = _mm512_min_ps(_mm512_set1_ps(4.0), _mm512_max_ps(_mm512_set1_ps(-4.0), x));
        let x2 = _mm512_mul_ps(x, x);
        let c = _mm512_set1_ps;
        let mut p = c(ERF_P[0]);
        for &k in &ERF_P[1..] {
            p = _mm512_fmadd_ps(p, x2, c(k));
        }
        let mut q = c(ERF_Q[0]);
        for &k in &ERF_Q[1..] {
            q = _mm512_fmadd_ps(q, x2, c(k));
        }
        // |q| ≥ 0.0142 on [−4, 4]: the reciprocal is never of zero.
        let r = _mm512_rcp14_ps(q);
        let r = _mm512_mul_ps(r, _mm512_fnmadd_ps(q, r, c(2.0)));
        let erf = _mm512_mul_ps(_mm512_mul_ps(x, p), r);
        _mm512_mul_ps(_mm512_mul_ps(c(0.5), v), _mm512_add_ps(c(1.0), erf))
    }

    /// # Safety
    /// AVX-512F.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn gelu_erf(xs: &mut [f32]) {
        // Four independent vectors per step: one vector's chain of ~20 dependent operations
        // left the FMA units idle between steps.
        let mut fours = xs.chunks_exact_mut(64);
        for c in &mut fours {
            let p = c.as_mut_ptr();
            let v: [__m512; 4] = std::array::from_fn(|i| gelu16(_mm512_loadu_ps(p.add(16 * i))));
            for (i, v) in v.into_iter().enumerate() {
                _mm512_storeu_ps(p.add(16 * i), v);
            }
        }
        let mut chunks = fours.into_remainder().chunks_exact_mut(16);
        for c in &mut chunks {
            _mm512_storeu_ps(c.as_mut_ptr(), gelu16(_mm512_loadu_ps(c.as_ptr())));
        }
        let tail = chunks.into_remainder();
        if !tail.is_empty() {
            let m = ((1u32 << tail.len()) - 1) as u16;
            let v = _mm512_maskz_loadu_ps(m, tail.as_ptr());
            _mm512_mask_storeu_ps(tail.as_mut_ptr(), m, gelu16(v));
        }
    }
}
dispatch!(softmax, softmax_avx2, softmax_avx512, softmax_impl, (xs: &mut [f32], len: usize));
dispatch!(softmax_columns, softmax_columns_avx2, softmax_columns_avx512, softmax_columns_impl, (xs: &mut [f32], rows: usize, stride: usize));
dispatch!(layer_norm, layer_norm_avx2, layer_norm_avx512, layer_norm_impl, (x: &mut [f32], residual: Option<&[f32]>, w: &[f32], b: &[f32], eps: f32));
dispatch!(gelu_backward, gelu_backward_avx2, gelu_backward_avx512, gelu_backward_impl, (x: &[f32], g: &[f32], out: &mut [f32]));
dispatch!(softmax_backward, softmax_backward_avx2, softmax_backward_avx512, softmax_backward_impl, (y: &[f32], g: &[f32], out: &mut [f32], len: usize, scale: f32));
dispatch!(layer_norm_backward, layer_norm_backward_avx2, layer_norm_backward_avx512, layer_norm_backward_impl, (x: &[f32], w: &[f32], g: &[f32], dx: &mut [f32], dw: &mut [f32], db: &mut [f32], eps: f32));

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_and_erf_are_accurate() {
        let mut worst_exp = 0f64;
        let mut worst_erf = 0f64;
        for i in -20000..=20000 {
            let x = i as f32 * 0.004; // -80 … 80
            let e = exp_approx(x) as f64;
            let want = (x as f64).exp();
            worst_exp = worst_exp.max(((e - want) / want).abs());
            let y = x / 10.0;
            worst_erf = worst_erf.max((erf_approx(y) as f64 - libm_erf(y as f64)).abs());
        }
        assert!(worst_exp < 3e-7, "exp relative error {worst_exp}");
        // The rational form evaluated in f32: worst 4.4e-7 on this grid.
        assert!(worst_erf < 5e-7, "erf abs error {worst_erf}");
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn avx512_gelu_equals_the_portable_one() {
        if !Isa::Avx512.is_supported() {
            return;
        }
        // 24,001 values, then the specials: 64·k + 9, so the masked tail runs too.
        let mut xs: Vec<f32> = (-12000..=12000).map(|i| i as f32 * 1e-3).collect();
        xs.extend([
            0.0,
            -0.0,
            1e-30,
            -1e-30,
            80.0,
            -80.0,
            f32::INFINITY,
            f32::NAN,
        ]);
        let mut want = xs.clone();
        gelu_impl(&mut want, HiddenAct::Gelu);
        let mut got = xs.clone();
        // SAFETY: AVX-512 detected above.
        unsafe { x86::gelu_erf(&mut got) };
        // A shorter slice (the same values) runs the single-vector steps too: 64·k + 2·16 + 1.
        let short = xs.len() - 40;
        assert_eq!(short % 64, 33);
        let mut got_short = xs[..short].to_vec();
        unsafe { x86::gelu_erf(&mut got_short) };
        assert!(got_short
            .iter()
            .zip(&got)
            .all(|(a, b)| a.to_bits() == b.to_bits()));
        let mut worst = 0f64;
        for ((x, g), w) in xs.iter().zip(&got).zip(&want) {
            if w.is_nan() {
                assert!(g.is_nan(), "gelu({x}): {g}, portable NaN");
                continue;
            }
            let exact =
                0.5 * *x as f64 * (1.0 + libm_erf(*x as f64 * std::f64::consts::FRAC_1_SQRT_2));
            let err = if g == w {
                0.0
            } else {
                (*g as f64 - *w as f64).abs() / (1.0 + x.abs() as f64)
            };
            worst = worst.max(err);
            assert!(err < 3e-7, "gelu({x}): {g} vs portable {w}");
            if x.is_finite() {
                assert!(
                    (*g as f64 - exact).abs() < 6e-7 * (1.0 + x.abs() as f64),
                    "gelu({x}): {g} vs {exact}"
                );
            }
        }
        assert!(
            worst > 0.0,
            "the two paths are expected to round differently somewhere"
        );
    }

    /// erf by its Taylor series / continued fraction, in f64 (reference only).
    fn libm_erf(x: f64) -> f64 {
        // High-precision reference via the series for |x| < 3 and the asymptotic complement beyond.
        if x.abs() < 3.0 {
            let mut sum = x;
            let mut term = x;
            let x2 = x * x;
            for n in 1..200 {
                term *= -x2 / n as f64;
                sum += term / (2 * n + 1) as f64;
            }
            sum * 2.0 / std::f64::consts::PI.sqrt()
        } else {
            let erfc = (-x * x).exp() / (x.abs() * std::f64::consts::PI.sqrt())
                * (1.0 - 1.0 / (2.0 * x * x) + 3.0 / (4.0 * x.powi(4)));
            (1.0 - erfc).copysign(x)
        }
    }

    /// Softmax down the columns equals the row softmax of the transposed scores (to rounding),
    /// for every length around the vectors and past the stack buffer, on every path.
    #[test]
    fn column_softmax_equals_the_row_softmax_of_the_transpose() {
        use crate::core::isa::Isa;
        for len in (1..=40usize).chain([1030]) {
            let stride = len.div_ceil(16) * 16;
            // Scores of `len` queries (rows) × `len` keys, and their transpose padded to `stride`.
            let s: Vec<f32> = (0..len * len)
                .map(|i| ((i * 37 % 23) as f32 - 11.0) * 0.7)
                .collect();
            let mut t = vec![0f32; len * stride];
            for q in 0..len {
                for j in 0..len {
                    t[j * stride + q] = s[q * len + j];
                }
            }
            for isa in Isa::supported() {
                let mut want = s.clone();
                let mut got = t.clone();
                // SAFETY: each build runs only on a CPU that has its level.
                match isa {
                    Isa::Scalar => {
                        softmax_impl(&mut want, len);
                        softmax_columns_impl(&mut got, len, stride);
                    }
                    Isa::Avx2 => unsafe {
                        softmax_avx2(&mut want, len);
                        softmax_columns_avx2(&mut got, len, stride);
                    },
                    Isa::Avx512 | Isa::Amx => unsafe {
                        softmax_avx512(&mut want, len);
                        softmax_columns_avx512(&mut got, len, stride);
                    },
                }
                for q in 0..len {
                    for j in 0..len {
                        let (w, g) = (want[q * len + j], got[j * stride + q]);
                        assert!(
                            (w - g).abs() <= 1e-6 * w.max(1e-3),
                            "{isa} len {len}: {g} vs {w}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn softmax_rows_of_every_length() {
        // Lengths around the 16-lane vectors, and past the padded buffer (the unpadded loop).
        for len in (1..=40).chain([1030]) {
            let xs: Vec<f32> = (0..3 * len)
                .map(|i| ((i * 37 % 23) as f32 - 11.0) * 0.7)
                .collect();
            for isa in crate::core::isa::Isa::supported() {
                use crate::core::isa::Isa;
                let mut got = xs.clone();
                // SAFETY: each build runs only on a CPU that has its level.
                match isa {
                    Isa::Scalar => softmax_impl(&mut got, len),
                    Isa::Avx2 => unsafe { softmax_avx2(&mut got, len) },
                    Isa::Avx512 | Isa::Amx => unsafe { softmax_avx512(&mut got, len) },
                }
                for (row, out) in xs.chunks(len).zip(got.chunks(len)) {
                    let max = row.iter().fold(f64::MIN, |m, &v| m.max(v as f64));
                    let z: f64 = row.iter().map(|&v| (v as f64 - max).exp()).sum();
                    for (&v, &o) in row.iter().zip(out) {
                        let want = (v as f64 - max).exp() / z;
                        assert!(
                            (o as f64 - want).abs() < 1e-6 * want.max(1e-3),
                            "{isa} len {len}: {o} vs {want}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn softmax_and_layer_norm() {
        let mut s = vec![1.0f32, 2.0, 3.0, 0.0, 0.0, 0.0];
        softmax(&mut s, 3);
        let e: Vec<f32> = [1f32, 2., 3.].iter().map(|v| v.exp()).collect();
        let z: f32 = e.iter().sum();
        for k in 0..3 {
            assert!((s[k] - e[k] / z).abs() < 1e-7);
            assert!((s[3 + k] - 1.0 / 3.0).abs() < 1e-7);
        }
        let mut x = vec![1.0f32, 2.0, 3.0, 4.0];
        layer_norm(
            &mut x,
            Some(&[1.0, 1.0, 1.0, 1.0]),
            &[1.0; 4],
            &[0.5; 4],
            0.0,
        );
        let inv = 1.0 / 1.25f32.sqrt();
        let want = [
            -1.5 * inv + 0.5,
            -0.5 * inv + 0.5,
            0.5 * inv + 0.5,
            1.5 * inv + 0.5,
        ];
        for k in 0..4 {
            assert!((x[k] - want[k]).abs() < 1e-6);
        }
    }
}
