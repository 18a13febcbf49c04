//! Self-attention of one sequence on the CPU, every head: `softmax(Q·Kᵀ/√d + bias)·V`, for the
//! fast inference path of [`super::cpu`].
//!
//! The scores are laid out key by key (`[keys, queries]`, rows padded to whole 16-lane vectors),
//! so softmax runs down the columns with no reductions across lanes
//! ([`super::kernels::softmax_columns`]), and the context reads the probabilities transposed.
//!
//! - **AVX-512** (head sizes a multiple of 16, as every model's are): register-tiled kernels for a
//!   sentence's small products. Q is transposed once per sequence (scaled by 1/√d on the way), so
//!   the scores are 8 keys × 48 queries of broadcast-FMAs per step and the context 6 (or 12)
//!   queries × a whole head; no packing, no dispatch per product. The `gemm` crate's general
//!   path spent about twice the arithmetic's time on 40 × 40 × 64 products.
//! - **AVX512-BF16, in the reduced-precision dtypes** ([`Sequence::bf16`]): the same kernels on
//!   bf16 pairs (`vdpbf16ps`, f32 accumulation), half the instructions; Q, K, V and the
//!   probabilities rounded to bf16 as they are laid out.
//! - **Otherwise**: the same layout through the `gemm` crate ([`sgemm`], [`sgemm_strided`]).

use std::cell::RefCell;

use super::kernels::softmax_columns;
use crate::core::compute::{sgemm, sgemm_strided};
use crate::core::isa::Isa;

/// One sequence's attention inputs: its `len` rows of Q, K and V (`h` values each, `heads` heads
/// of `head_dim` side by side), and MPNet's relative bias, per head indexed by query − key + `longest` − 1.
pub(super) struct Sequence<'a> {
    pub q: &'a [f32],
    pub k: &'a [f32],
    pub v: &'a [f32],
    pub len: usize,
    pub h: usize,
    pub heads: usize,
    pub head_dim: usize,
    pub bias: Option<(&'a [Vec<f32>], usize)>,
    /// Whether the two products may run in bf16 (f32 accumulation), as the reduced-precision
    /// dtypes allow: they do where the CPU has AVX512-BF16.
    pub bf16: bool,
}

thread_local! {
    /// Per-thread scores, transposed queries and values (f32), and bf16 pairs, reused across
    /// sequences, heads and batches.
    static BUFFERS: RefCell<(Vec<f32>, Vec<f32>, Vec<u32>)> =
        const { RefCell::new((Vec::new(), Vec::new(), Vec::new())) };
}

/// Extra values past the scores, which the context kernel's last block of queries may read
/// (and ignore).
const SLACK: usize = 32;

/// Writes the attention context of `s` (`len × h`, heads side by side) into `ctx` on `isa`'s
/// kernels.
pub(super) fn attend(isa: Isa, s: &Sequence<'_>, ctx: &mut [f32]) {
    let (len, h) = (s.len, s.h);
    let d = s.head_dim;
    if len == 0 || s.heads == 0 || d == 0 {
        return;
    }
    debug_assert!(s.heads * d <= h);
    debug_assert!(s.q.len() >= len * h && s.k.len() >= len * h && s.v.len() >= len * h);
    debug_assert!(ctx.len() >= len * h);
    let stride = len.div_ceil(16) * 16;
    BUFFERS.with(|b| {
        let (scores, qt, pairs) = &mut *b.borrow_mut();
        if scores.len() < len * stride + SLACK {
            scores.resize(len * stride + SLACK, 0.0);
        }
        #[cfg(target_arch = "x86_64")]
        if s.bf16 && isa.uses_bf16() && d.is_multiple_of(16) && d <= 128 {
            let hd = s.heads * d;
            let half = len.div_ceil(2);
            let need = hd / 2 * stride + len * hd / 2 + hd * half + half * stride + SLACK;
            if pairs.len() < need {
                pairs.resize(need, 0);
            }
            // SAFETY: AVX-512 F/BW and AVX512-BF16 detected (`isa` never exceeds them); the
            // slices hold what the kernels read and write (the inputs and context len·h, the
            // scores len·stride + SLACK, the pairs as `x86::attend_bf16` lays them out).
            unsafe { x86::attend_bf16(s, d, stride, scores, pairs, ctx) };
            return;
        }
        #[cfg(target_arch = "x86_64")]
        if isa >= Isa::Avx512 && d.is_multiple_of(16) && d <= 128 {
            // Q transposed, then V head by head.
            if qt.len() < s.heads * d * (stride + len) {
                qt.resize(s.heads * d * (stride + len), 0.0);
            }
            // SAFETY: AVX-512 detected (`isa` never exceeds it); the slices hold what the kernels
            // read and write (checked above: len·h inputs and context, len·stride + SLACK scores,
            // heads·d·stride transposed queries).
            unsafe { x86::attend(s, d, stride, scores, qt, ctx) };
            return;
        }
        let _ = (qt, pairs);
        attend_portable(s, d, stride, scores, ctx);
    });
}

/// MPNet's bias of head `head` added to the scores (`len` key rows of `stride`).
fn add_bias(s: &Sequence<'_>, head: usize, scores: &mut [f32], stride: usize) {
    let Some((bias, longest)) = s.bias else {
        return;
    };
    // bias[query − key + longest − 1]: key j's row reads it from longest − 1 − j on.
    let row_bias = &bias[head];
    for (j, row) in scores.chunks_mut(stride).take(s.len).enumerate() {
        let from = longest - 1 - j;
        row[..s.len]
            .iter_mut()
            .zip(&row_bias[from..from + s.len])
            .for_each(|(x, b)| *x += b);
    }
}

fn attend_portable(s: &Sequence<'_>, d: usize, stride: usize, scores: &mut [f32], ctx: &mut [f32]) {
    let (len, h) = (s.len, s.h);
    let scale = 1.0 / (d as f32).sqrt();
    for head in 0..s.heads {
        let col = head * d;
        // SAFETY: Q, K, V hold len×h values; columns col..col+d are in range; ctx holds len×h
        // values; scores holds len rows of `stride` ≥ len.
        unsafe {
            sgemm(
                len,
                len,
                d,
                scores.as_mut_ptr(),
                stride,
                s.k.as_ptr().add(col),
                h,
                s.q.as_ptr().add(col),
                1,
                h,
                false,
                scale,
                false,
            );
        }
        add_bias(s, head, scores, stride);
        softmax_columns(&mut scores[..len * stride], len, stride);
        // The probabilities of query q are column q: read transposed.
        unsafe {
            sgemm_strided(
                len,
                d,
                len,
                ctx.as_mut_ptr().add(col),
                h,
                scores.as_ptr(),
                1,
                stride,
                s.v.as_ptr().add(col),
                h,
                1,
                false,
                1.0,
                false,
            );
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{add_bias, softmax_columns, Sequence};
    use std::arch::x86_64::*;

    /// Keys per step of the scores kernel.
    const KEYS: usize = 8;
    /// Queries per step of the scores kernel, in 16-lane vectors.
    const QUERY_VECTORS: usize = 3;

    /// # Safety
    /// AVX-512F; `d` a multiple of 16 up to 128; `scores` ≥ len·stride + SLACK values, `qt` ≥
    /// heads·d·(stride + len), `ctx` ≥ len·h, the inputs ≥ len·h.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn attend(
        s: &Sequence<'_>,
        d: usize,
        stride: usize,
        scores: &mut [f32],
        qt: &mut [f32],
        ctx: &mut [f32],
    ) {
        let (len, h) = (s.len, s.h);
        transpose_scaled(
            s.q,
            len,
            h,
            s.heads * d,
            stride,
            1.0 / (d as f32).sqrt(),
            qt,
        );
        // The values head by head (`[heads][len][d]`): rows `h` apart share a few cache sets
        // (3 KB apart in a 768-wide model) and evicted each other between blocks of queries.
        // Vector by vector to a computed place (a plain row copy becomes a `memcpy` call per row).
        let vh = qt.as_mut_ptr().add(s.heads * d * stride);
        for j in 0..len {
            for c in (0..s.heads * d).step_by(16) {
                let (head, within) = (c / d, c % d);
                let x = _mm512_loadu_ps(s.v.as_ptr().add(j * h + c));
                _mm512_storeu_ps(vh.add((head * len + j) * d + within), x);
            }
        }
        for head in 0..s.heads {
            let col = head * d;
            scores_kernel(
                s.k.as_ptr().add(col),
                h,
                qt.as_ptr().add(col * stride),
                stride,
                len,
                d,
                scores.as_mut_ptr(),
            );
            add_bias(s, head, scores, stride);
            softmax_columns(&mut scores[..len * stride], len, stride);
            let vh = qt.as_ptr().add(s.heads * d * stride + head * len * d);
            let (p, v, out, h) = (scores.as_ptr(), vh, ctx.as_mut_ptr().add(col), (d, h));
            match d / 16 {
                1 => context::<1, 24>(p, stride, len, v, h, out),
                2 => context::<2, 12>(p, stride, len, v, h, out),
                3 => context::<3, 8>(p, stride, len, v, h, out),
                4 => context::<4, 6>(p, stride, len, v, h, out),
                5 => context::<5, 4>(p, stride, len, v, h, out),
                6 => context::<6, 4>(p, stride, len, v, h, out),
                7 => context::<7, 3>(p, stride, len, v, h, out),
                _ => context::<8, 3>(p, stride, len, v, h, out),
            }
        }
    }

    /// `qt[c·stride + i] = q[i·h + c] · scale` for every column `c < cols` (a multiple of 16) and
    /// query `i < len`; zero for `len ≤ i < stride` (their scores stay finite, and are never
    /// read). In blocks of 16 × 16 through registers.
    #[target_feature(enable = "avx512f")]
    unsafe fn transpose_scaled(
        q: &[f32],
        len: usize,
        h: usize,
        cols: usize,
        stride: usize,
        scale: f32,
        qt: &mut [f32],
    ) {
        debug_assert!(
            cols.is_multiple_of(16) && cols <= h && q.len() >= len * h && qt.len() >= cols * stride
        );
        let scale = _mm512_set1_ps(scale);
        for i0 in (0..stride).step_by(16) {
            let rows = len.saturating_sub(i0).min(16);
            for c0 in (0..cols).step_by(16) {
                let block: [__m512; 16] = std::array::from_fn(|i| {
                    if i < rows {
                        _mm512_loadu_ps(q.as_ptr().add((i0 + i) * h + c0))
                    } else {
                        _mm512_setzero_ps()
                    }
                });
                for (c, col) in transpose16(block).into_iter().enumerate() {
                    _mm512_storeu_ps(
                        qt.as_mut_ptr().add((c0 + c) * stride + i0),
                        _mm512_mul_ps(col, scale),
                    );
                }
            }
        }
    }

    /// The transpose of a 16 × 16 block held as 16 rows: 32-bit, 64-bit, then two 128-bit
    /// interleaving stages.
    #[inline(always)]
    pub(super) unsafe fn transpose16(r: [__m512; 16]) -> [__m512; 16] {
        let t: [__m512; 16] = std::array::from_fn(|i| {
            let (a, b) = (r[i & !1], r[i | 1]);
            if i % 2 == 0 {
                _mm512_unpacklo_ps(a, b)
            } else {
                _mm512_unpackhi_ps(a, b)
            }
        });
        // Within each group of 4: (t0, t2), (t1, t3) interleaved by 64 bits.
        let u: [__m512; 16] = std::array::from_fn(|i| {
            let g = i & !3;
            let (a, b) = (
                _mm512_castps_pd(t[g + (i >> 1 & 1)]),
                _mm512_castps_pd(t[g + 2 + (i >> 1 & 1)]),
            );
            _mm512_castpd_ps(if i % 2 == 0 {
                _mm512_unpacklo_pd(a, b)
            } else {
                _mm512_unpackhi_pd(a, b)
            })
        });
        // Groups 0-3 with 4-7 (and 8-11 with 12-15): even then odd 128-bit lanes.
        let v: [__m512; 16] = std::array::from_fn(|i| {
            let g = i & 8;
            let (a, b) = (u[g + (i & 3)], u[g + 4 + (i & 3)]);
            if i & 4 == 0 {
                _mm512_shuffle_f32x4::<0x88>(a, b)
            } else {
                _mm512_shuffle_f32x4::<0xdd>(a, b)
            }
        });
        std::array::from_fn(|i| {
            let (a, b) = (v[i & 7], v[8 + (i & 7)]);
            if i & 8 == 0 {
                _mm512_shuffle_f32x4::<0x88>(a, b)
            } else {
                _mm512_shuffle_f32x4::<0xdd>(a, b)
            }
        })
    }

    /// `scores[j·stride + i] = Σ_c k[j·h + c] · qt[c·stride + i]` for keys `j < len` and every
    /// query lane `i < stride`: [`KEYS`] keys × up to [`QUERY_VECTORS`] vectors per step.
    #[target_feature(enable = "avx512f")]
    unsafe fn scores_kernel(
        k: *const f32,
        h: usize,
        qt: *const f32,
        stride: usize,
        len: usize,
        d: usize,
        out: *mut f32,
    ) {
        for j0 in (0..len).step_by(KEYS) {
            let rows = KEYS.min(len - j0);
            // Past the last key, the last key again (computed, not stored).
            let keys: [*const f32; KEYS] =
                std::array::from_fn(|r| k.add((j0 + r).min(len - 1) * h));
            let out = out.add(j0 * stride);
            let mut i0 = 0;
            while i0 < stride {
                match ((stride - i0) / 16).min(QUERY_VECTORS) {
                    3 => scores_step::<3>(&keys, rows, qt.add(i0), stride, d, out.add(i0)),
                    2 => scores_step::<2>(&keys, rows, qt.add(i0), stride, d, out.add(i0)),
                    _ => scores_step::<1>(&keys, rows, qt.add(i0), stride, d, out.add(i0)),
                }
                i0 += 16 * QUERY_VECTORS;
            }
        }
    }

    #[inline(always)]
    unsafe fn scores_step<const NZ: usize>(
        keys: &[*const f32; KEYS],
        rows: usize,
        qt: *const f32,
        stride: usize,
        d: usize,
        out: *mut f32,
    ) {
        let mut acc = [[_mm512_setzero_ps(); NZ]; KEYS];
        for c in 0..d {
            let qv: [__m512; NZ] =
                std::array::from_fn(|z| _mm512_loadu_ps(qt.add(c * stride + 16 * z)));
            for (r, a) in acc.iter_mut().enumerate() {
                let kv = _mm512_set1_ps(*keys[r].add(c));
                for z in 0..NZ {
                    a[z] = _mm512_fmadd_ps(kv, qv[z], a[z]);
                }
            }
        }
        for (r, a) in acc.iter().enumerate().take(rows) {
            for (z, v) in a.iter().enumerate() {
                _mm512_storeu_ps(out.add(r * stride + 16 * z), *v);
            }
        }
    }

    /// `out[i·ho + c] = Σ_j p[j·stride + i] · v[j·hv + c]` for queries `i < len` and the head's
    /// `16·DZ` columns: `IR` queries per step.
    #[target_feature(enable = "avx512f")]
    unsafe fn context<const DZ: usize, const IR: usize>(
        p: *const f32,
        stride: usize,
        len: usize,
        v: *const f32,
        (hv, ho): (usize, usize),
        out: *mut f32,
    ) {
        for i0 in (0..len).step_by(IR) {
            let rows = IR.min(len - i0);
            let mut acc = [[_mm512_setzero_ps(); DZ]; IR];
            for j in 0..len {
                let vv: [__m512; DZ] =
                    std::array::from_fn(|z| _mm512_loadu_ps(v.add(j * hv + 16 * z)));
                // Past the last query: lanes of the padded row (or the slack), never stored.
                let pj = p.add(j * stride + i0);
                for (r, a) in acc.iter_mut().enumerate() {
                    let pv = _mm512_set1_ps(*pj.add(r));
                    for z in 0..DZ {
                        a[z] = _mm512_fmadd_ps(pv, vv[z], a[z]);
                    }
                }
            }
            for (r, a) in acc.iter().enumerate().take(rows) {
                for (z, x) in a.iter().enumerate() {
                    _mm512_storeu_ps(out.add((i0 + r) * ho + 16 * z), *x);
                }
            }
        }
    }

    /// 16 words `lo[l] | hi[l] << 16` of bf16 (rounded to nearest even): the pairs `vdpbf16ps`
    /// multiplies, from two vectors of f32.
    #[inline(always)]
    unsafe fn pairs16(lo: __m512, hi: __m512) -> __m512i {
        // [lo₀ … lo₁₅, hi₀ … hi₁₅] as 16-bit values, then interleaved.
        let both: __m512i = std::mem::transmute(_mm512_cvtne2ps_pbh(hi, lo));
        let order = _mm512_set_epi16(
            31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8, 23, 7, 22, 6, 21, 5, 20,
            4, 19, 3, 18, 2, 17, 1, 16, 0,
        );
        _mm512_permutexvar_epi16(order, both)
    }

    /// [`attend`] with both products in bf16 (`vdpbf16ps`, f32 accumulation): half the
    /// instructions. The pairs are laid out in `pairs`, in this order:
    /// - Q transposed, scaled: word `(g, i)` = (Q[i][2g], Q[i][2g+1]) · 1/√d, `heads·d/2` rows
    ///   of `stride`;
    /// - K by rows: word `(j, g)` = (K[j][2g], K[j][2g+1]), `len` rows of `heads·d/2`;
    /// - V head by head, rows in pairs: word `(head, g, c)` = (V[2g][c], V[2g+1][c]) of the
    ///   head's column c, `⌈len/2⌉` rows of `d` per head (a missing last row is 0);
    /// - P, rows in pairs: word `(g, i)` = (P[2g][i], P[2g+1][i]), `⌈len/2⌉` rows of `stride`
    ///   (+ slack the last block of queries reads and ignores).
    ///
    /// # Safety
    /// AVX-512 F/BW and AVX512-BF16; `d` a multiple of 16 up to 128; `scores` ≥ len·stride +
    /// SLACK values, `pairs` ≥ heads·d·(stride + len)/2 + heads·d·⌈len/2⌉ + ⌈len/2⌉·stride +
    /// SLACK words, `ctx` ≥ len·h, the inputs ≥ len·h.
    #[target_feature(enable = "avx512f,avx512bw,avx512bf16")]
    pub(super) unsafe fn attend_bf16(
        s: &Sequence<'_>,
        d: usize,
        stride: usize,
        scores: &mut [f32],
        pairs: &mut [u32],
        ctx: &mut [f32],
    ) {
        let (len, h, heads) = (s.len, s.h, s.heads);
        let (hd, half) = (heads * d, len.div_ceil(2));
        let qp = pairs.as_mut_ptr();
        let kp = qp.add(hd / 2 * stride);
        let vp = kp.add(len * hd / 2);
        let pp = vp.add(hd * half);
        let scale = _mm512_set1_ps(1.0 / (d as f32).sqrt());
        // Q: 16 × 16 blocks transposed, then each two columns paired.
        for i0 in (0..stride).step_by(16) {
            let rows = len.saturating_sub(i0).min(16);
            for c0 in (0..hd).step_by(16) {
                let block: [__m512; 16] = std::array::from_fn(|i| {
                    if i < rows {
                        _mm512_loadu_ps(s.q.as_ptr().add((i0 + i) * h + c0))
                    } else {
                        _mm512_setzero_ps()
                    }
                });
                let cols = transpose16(block);
                for m in 0..8 {
                    let (lo, hi) = (
                        _mm512_mul_ps(cols[2 * m], scale),
                        _mm512_mul_ps(cols[2 * m + 1], scale),
                    );
                    _mm512_storeu_si512(qp.add((c0 / 2 + m) * stride + i0).cast(), pairs16(lo, hi));
                }
            }
        }
        // K: each row to bf16 in place order (adjacent values are a pair).
        for j in 0..len {
            for c in (0..hd).step_by(16) {
                let b = _mm512_cvtneps_pbh(_mm512_loadu_ps(s.k.as_ptr().add(j * h + c)));
                _mm256_storeu_si256(
                    kp.add(j * hd / 2 + c / 2).cast(),
                    std::mem::transmute::<__m256bh, __m256i>(b),
                );
            }
        }
        // V: head by head, rows in pairs.
        for g in 0..half {
            let (r0, r1) = (2 * g, 2 * g + 1);
            for c in (0..hd).step_by(16) {
                let lo = _mm512_loadu_ps(s.v.as_ptr().add(r0 * h + c));
                let hi = if r1 < len {
                    _mm512_loadu_ps(s.v.as_ptr().add(r1 * h + c))
                } else {
                    _mm512_setzero_ps()
                };
                let (head, within) = (c / d, c % d);
                _mm512_storeu_si512(
                    vp.add((head * half + g) * d + within).cast(),
                    pairs16(lo, hi),
                );
            }
        }
        for head in 0..heads {
            let col = head * d;
            let keys = kp.add(col / 2);
            let queries = qp.add(col / 2 * stride);
            for j0 in (0..len).step_by(KEYS) {
                let rows = KEYS.min(len - j0);
                let kr: [*const u32; KEYS] =
                    std::array::from_fn(|r| keys.add((j0 + r).min(len - 1) * hd / 2).cast_const());
                let out = scores.as_mut_ptr().add(j0 * stride);
                let mut i0 = 0;
                while i0 < stride {
                    match ((stride - i0) / 16).min(QUERY_VECTORS) {
                        3 => {
                            scores_bf16::<3>(&kr, rows, queries.add(i0), stride, d / 2, out.add(i0))
                        }
                        2 => {
                            scores_bf16::<2>(&kr, rows, queries.add(i0), stride, d / 2, out.add(i0))
                        }
                        _ => {
                            scores_bf16::<1>(&kr, rows, queries.add(i0), stride, d / 2, out.add(i0))
                        }
                    }
                    i0 += 16 * QUERY_VECTORS;
                }
            }
            add_bias(s, head, scores, stride);
            softmax_columns(&mut scores[..len * stride], len, stride);
            // P: rows in pairs.
            for g in 0..half {
                let (r0, r1) = (2 * g, 2 * g + 1);
                for i in (0..stride).step_by(16) {
                    let lo = _mm512_loadu_ps(scores.as_ptr().add(r0 * stride + i));
                    let hi = if r1 < len {
                        _mm512_loadu_ps(scores.as_ptr().add(r1 * stride + i))
                    } else {
                        _mm512_setzero_ps()
                    };
                    _mm512_storeu_si512(pp.add(g * stride + i).cast(), pairs16(lo, hi));
                }
            }
            let (p, v, out) = (
                pp.cast_const(),
                vp.add(head * half * d).cast_const(),
                ctx.as_mut_ptr().add(col),
            );
            match d / 16 {
                1 => context_bf16::<1, 24>(p, stride, len, v, d, h, out),
                2 => context_bf16::<2, 12>(p, stride, len, v, d, h, out),
                3 => context_bf16::<3, 8>(p, stride, len, v, d, h, out),
                4 => context_bf16::<4, 6>(p, stride, len, v, d, h, out),
                5 => context_bf16::<5, 4>(p, stride, len, v, d, h, out),
                6 => context_bf16::<6, 4>(p, stride, len, v, d, h, out),
                7 => context_bf16::<7, 3>(p, stride, len, v, d, h, out),
                _ => context_bf16::<8, 3>(p, stride, len, v, d, h, out),
            }
        }
    }

    /// [`scores_step`] on bf16 pairs: `g` pairs per key.
    #[inline(always)]
    unsafe fn scores_bf16<const NZ: usize>(
        keys: &[*const u32; KEYS],
        rows: usize,
        qp: *const u32,
        stride: usize,
        g: usize,
        out: *mut f32,
    ) {
        let mut acc = [[_mm512_setzero_ps(); NZ]; KEYS];
        for w in 0..g {
            let qv: [__m512bh; NZ] = std::array::from_fn(|z| {
                std::mem::transmute(_mm512_loadu_si512(qp.add(w * stride + 16 * z).cast()))
            });
            for (r, a) in acc.iter_mut().enumerate() {
                let kv: __m512bh = std::mem::transmute(_mm512_set1_epi32(*keys[r].add(w) as i32));
                for z in 0..NZ {
                    a[z] = _mm512_dpbf16_ps(a[z], kv, qv[z]);
                }
            }
        }
        for (r, a) in acc.iter().enumerate().take(rows) {
            for (z, v) in a.iter().enumerate() {
                _mm512_storeu_ps(out.add(r * stride + 16 * z), *v);
            }
        }
    }

    /// [`context`] on bf16 pairs of rows: `out[i·ho + c] = Σ_j P[j][i] · V[j][c]`.
    #[inline(always)]
    unsafe fn context_bf16<const DZ: usize, const IR: usize>(
        pp: *const u32,
        stride: usize,
        len: usize,
        vp: *const u32,
        d: usize,
        ho: usize,
        out: *mut f32,
    ) {
        for i0 in (0..len).step_by(IR) {
            let rows = IR.min(len - i0);
            let mut acc = [[_mm512_setzero_ps(); DZ]; IR];
            for g in 0..len.div_ceil(2) {
                let vv: [__m512bh; DZ] = std::array::from_fn(|z| {
                    std::mem::transmute(_mm512_loadu_si512(vp.add(g * d + 16 * z).cast()))
                });
                let pg = pp.add(g * stride + i0);
                for (r, a) in acc.iter_mut().enumerate() {
                    let pv: __m512bh = std::mem::transmute(_mm512_set1_epi32(*pg.add(r) as i32));
                    for z in 0..DZ {
                        a[z] = _mm512_dpbf16_ps(a[z], pv, vv[z]);
                    }
                }
            }
            for (r, a) in acc.iter().enumerate().take(rows) {
                for (z, x) in a.iter().enumerate() {
                    _mm512_storeu_ps(out.add((i0 + r) * ho + 16 * z), *x);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::Rng;

    /// `x` rounded to bf16 (to nearest even).
    fn bf16(x: f32) -> f32 {
        f32::from_bits((crate::core::qgemm::to_bf16(x) as u32) << 16)
    }

    /// The attention of one head in f64, query by query (the definition); with `rounded`, of the
    /// bf16 products' inputs: Q·1/√d, K and V rounded to bf16 (P is not).
    fn oracle(s: &Sequence<'_>, ctx: &mut [f64], rounded: bool) {
        let (len, h, d) = (s.len, s.h, s.head_dim);
        let scale32 = 1.0 / (d as f32).sqrt();
        let (qs, ks, vs): (Vec<f32>, Vec<f32>, Vec<f32>) = if rounded {
            (
                s.q.iter().map(|&x| bf16(x * scale32)).collect(),
                s.k.iter().map(|&x| bf16(x)).collect(),
                s.v.iter().map(|&x| bf16(x)).collect(),
            )
        } else {
            (s.q.to_vec(), s.k.to_vec(), s.v.to_vec())
        };
        let s = &Sequence {
            q: &qs,
            k: &ks,
            v: &vs,
            ..*s
        };
        let scale = if rounded {
            1.0
        } else {
            1.0 / (d as f64).sqrt()
        };
        for head in 0..s.heads {
            let col = head * d;
            for i in 0..len {
                let mut p: Vec<f64> = (0..len)
                    .map(|j| {
                        let dot: f64 = (0..d)
                            .map(|c| s.q[i * h + col + c] as f64 * s.k[j * h + col + c] as f64)
                            .sum();
                        let b = s
                            .bias
                            .map_or(0.0, |(b, longest)| b[head][i + longest - 1 - j] as f64);
                        dot * scale + b
                    })
                    .collect();
                let max = p.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                p.iter_mut().for_each(|x| *x = (*x - max).exp());
                let sum: f64 = p.iter().sum();
                for c in 0..d {
                    ctx[i * h + col + c] = (0..len)
                        .map(|j| p[j] / sum * s.v[j * h + col + c] as f64)
                        .sum();
                }
            }
        }
    }

    #[test]
    fn every_path_equals_the_definition() {
        let mut rng = Rng::new(3);
        for &(heads, d) in &[(2, 16), (3, 32), (2, 48), (2, 64), (1, 128), (2, 8)] {
            for &len in &[1, 2, 7, 16, 17, 38, 48, 49, 100] {
                for with_bias in [false, true] {
                    let h = heads * d;
                    let mut data = |n: usize| -> Vec<f32> {
                        (0..n).map(|_| rng.normal() as f32 * 1.5).collect()
                    };
                    let (q, k, v) = (data(len * h), data(len * h), data(len * h));
                    let longest = len + 3;
                    let table: Vec<Vec<f32>> = (0..heads).map(|_| data(2 * longest - 1)).collect();
                    let s = Sequence {
                        q: &q,
                        k: &k,
                        v: &v,
                        len,
                        h,
                        heads,
                        head_dim: d,
                        bias: with_bias.then_some((table.as_slice(), longest)),
                        bf16: false,
                    };
                    let mut want = vec![0f64; len * h];
                    oracle(&s, &mut want, false);
                    for isa in Isa::supported() {
                        let mut got = vec![f32::NAN; len * h];
                        attend(isa, &s, &mut got);
                        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                            assert!(
                                (*g as f64 - w).abs() < 2e-5 * (1.0 + w.abs()),
                                "{isa} heads {heads} d {d} len {len} bias {with_bias}: [{i}] {g} vs {w}"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn bf16_products_equal_the_definition_on_rounded_inputs() {
        if !Isa::current().uses_bf16() {
            return;
        }
        let mut rng = Rng::new(4);
        for &(heads, d) in &[(2, 16), (3, 32), (2, 48), (2, 64), (1, 128)] {
            for &len in &[1, 2, 3, 7, 16, 17, 38, 49, 100] {
                for with_bias in [false, true] {
                    let h = heads * d;
                    let mut data = |n: usize| -> Vec<f32> {
                        (0..n).map(|_| rng.normal() as f32 * 1.5).collect()
                    };
                    let (q, k, v) = (data(len * h), data(len * h), data(len * h));
                    let longest = len + 3;
                    let table: Vec<Vec<f32>> = (0..heads).map(|_| data(2 * longest - 1)).collect();
                    let s = Sequence {
                        q: &q,
                        k: &k,
                        v: &v,
                        len,
                        h,
                        heads,
                        head_dim: d,
                        bias: with_bias.then_some((table.as_slice(), longest)),
                        bf16: true,
                    };
                    let mut want = vec![0f64; len * h];
                    oracle(&s, &mut want, true);
                    let mut got = vec![f32::NAN; len * h];
                    attend(Isa::current(), &s, &mut got);
                    // P's rounding moves a context value by at most 2⁻⁹ · Σ P |V| ≤ 2⁻⁹ · max |V|.
                    let vmax = v.iter().fold(0f32, |m, x| m.max(x.abs())) as f64;
                    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                        assert!(
                            (*g as f64 - w).abs() <= vmax / 512.0 + 1e-5,
                            "heads {heads} d {d} len {len} bias {with_bias}: [{i}] {g} vs {w}"
                        );
                    }
                }
            }
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn register_transpose_is_the_transpose() {
        if !Isa::Avx512.is_supported() {
            return;
        }
        use std::arch::x86_64::*;
        let m: Vec<f32> = (0..256).map(|i| i as f32).collect();
        let mut out = [0f32; 256];
        // SAFETY: AVX-512 detected above; 16 loads and stores of 16 values inside 256.
        unsafe {
            let rows = std::array::from_fn(|i| _mm512_loadu_ps(m.as_ptr().add(16 * i)));
            for (i, r) in x86::transpose16(rows).into_iter().enumerate() {
                _mm512_storeu_ps(out.as_mut_ptr().add(16 * i), r);
            }
        }
        for i in 0..16 {
            for j in 0..16 {
                assert_eq!(out[i * 16 + j], m[j * 16 + i], "({i}, {j})");
            }
        }
    }
}
