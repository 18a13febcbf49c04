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

    /// What the two products multiply: f32 values ([`F32`]), or bf16 pairs in 32-bit words
    /// ([`Bf16`]); the kernels below are written once for both.
    trait Format {
        type Word: Copy;
        type Vector: Copy;
        /// Values of the summed dimension per word.
        const PER_WORD: usize;
        unsafe fn load(p: *const Self::Word) -> Self::Vector;
        unsafe fn splat(p: *const Self::Word) -> Self::Vector;
        /// `acc + a · b` (bf16: both products of each pair).
        unsafe fn mul_add(acc: __m512, a: Self::Vector, b: Self::Vector) -> __m512;
    }

    struct F32;
    struct Bf16;

    impl Format for F32 {
        type Word = f32;
        type Vector = __m512;
        const PER_WORD: usize = 1;
        #[inline(always)]
        unsafe fn load(p: *const f32) -> __m512 {
            _mm512_loadu_ps(p)
        }
        #[inline(always)]
        unsafe fn splat(p: *const f32) -> __m512 {
            _mm512_set1_ps(*p)
        }
        #[inline(always)]
        unsafe fn mul_add(acc: __m512, a: __m512, b: __m512) -> __m512 {
            _mm512_fmadd_ps(a, b, acc)
        }
    }

    impl Format for Bf16 {
        type Word = u32;
        type Vector = __m512bh;
        const PER_WORD: usize = 2;
        #[inline(always)]
        unsafe fn load(p: *const u32) -> __m512bh {
            std::mem::transmute(_mm512_loadu_si512(p.cast()))
        }
        #[inline(always)]
        unsafe fn splat(p: *const u32) -> __m512bh {
            std::mem::transmute(_mm512_set1_epi32(*p as i32))
        }
        #[inline(always)]
        unsafe fn mul_add(acc: __m512, a: __m512bh, b: __m512bh) -> __m512 {
            _mm512_dpbf16_ps(acc, a, b)
        }
    }

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
        let (len, h, hd) = (s.len, s.h, s.heads * d);
        debug_assert!(qt.len() >= hd * (stride + len));
        let q_t = qt.as_mut_ptr();
        transposed_queries(s, d, stride, |c0, i0, cols| {
            for (c, col) in cols.into_iter().enumerate() {
                _mm512_storeu_ps(q_t.add((c0 + c) * stride + i0), col);
            }
        });
        // The values head by head (`[heads][len][d]`): rows `h` apart share a few cache sets
        // (3 KB apart in a 768-wide model) and evicted each other between blocks of queries.
        // Vector by vector to a computed place (a plain row copy becomes a `memcpy` call per row).
        let vh = q_t.add(hd * stride);
        for j in 0..len {
            for c in (0..hd).step_by(16) {
                let (head, within) = (c / d, c % d);
                let x = _mm512_loadu_ps(s.v.as_ptr().add(j * h + c));
                _mm512_storeu_ps(vh.add((head * len + j) * d + within), x);
            }
        }
        for head in 0..s.heads {
            let col = head * d;
            let out = scores.as_mut_ptr();
            scores_kernel::<F32>(
                s.k.as_ptr().add(col),
                h,
                q_t.add(col * stride),
                stride,
                len,
                d,
                out,
            );
            add_bias(s, head, scores, stride);
            softmax_columns(&mut scores[..len * stride], len, stride);
            let v = vh.add(head * len * d);
            context::<F32>(
                scores.as_ptr(),
                stride,
                len,
                v,
                d,
                h,
                ctx.as_mut_ptr().add(col),
            );
        }
    }

    /// The queries transposed, in 16 × 16 blocks through registers: `put(c0, i0, cols)` receives
    /// columns `c0 .. c0 + 16` of Q · 1/√d over queries `i0 .. i0 + 16` (zero for `len ≤ i <
    /// stride`: their scores stay finite, and are never read), for every block.
    #[inline(always)]
    unsafe fn transposed_queries(
        s: &Sequence<'_>,
        d: usize,
        stride: usize,
        mut put: impl FnMut(usize, usize, [__m512; 16]),
    ) {
        let (len, h, hd) = (s.len, s.h, s.heads * d);
        debug_assert!(hd.is_multiple_of(16) && hd <= h && s.q.len() >= len * h);
        let scale = _mm512_set1_ps(1.0 / (d as f32).sqrt());
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
                // A plain loop: `array::map`'s closure is compiled without AVX-512, and called.
                let mut cols = transpose16(block);
                for col in cols.iter_mut() {
                    *col = _mm512_mul_ps(*col, scale);
                }
                put(c0, i0, cols);
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

    /// `scores[j·stride + i] = Σ_w keys[j·key_stride + w] · qt[w·stride + i]` over the `d`
    /// values of a head for keys `j < len` and every query lane `i < stride`: [`KEYS`] keys × up
    /// to [`QUERY_VECTORS`] vectors per step.
    #[inline(always)]
    unsafe fn scores_kernel<F: Format>(
        keys: *const F::Word,
        key_stride: usize,
        qt: *const F::Word,
        stride: usize,
        len: usize,
        d: usize,
        out: *mut f32,
    ) {
        let words = d / F::PER_WORD;
        for j0 in (0..len).step_by(KEYS) {
            let rows = KEYS.min(len - j0);
            // Past the last key, the last key again (computed, not stored).
            let kr: [*const F::Word; KEYS] =
                std::array::from_fn(|r| keys.add((j0 + r).min(len - 1) * key_stride));
            let out = out.add(j0 * stride);
            let mut i0 = 0;
            while i0 < stride {
                let (q, o) = (qt.add(i0), out.add(i0));
                match ((stride - i0) / 16).min(QUERY_VECTORS) {
                    3 => scores_step::<F, 3>(&kr, rows, q, stride, words, o),
                    2 => scores_step::<F, 2>(&kr, rows, q, stride, words, o),
                    _ => scores_step::<F, 1>(&kr, rows, q, stride, words, o),
                }
                i0 += 16 * QUERY_VECTORS;
            }
        }
    }

    #[inline(always)]
    unsafe fn scores_step<F: Format, const NZ: usize>(
        keys: &[*const F::Word; KEYS],
        rows: usize,
        qt: *const F::Word,
        stride: usize,
        words: usize,
        out: *mut f32,
    ) {
        let mut acc = [[_mm512_setzero_ps(); NZ]; KEYS];
        for w in 0..words {
            let qv: [F::Vector; NZ] = std::array::from_fn(|z| F::load(qt.add(w * stride + 16 * z)));
            for (r, a) in acc.iter_mut().enumerate() {
                let kv = F::splat(keys[r].add(w));
                for z in 0..NZ {
                    a[z] = F::mul_add(a[z], kv, qv[z]);
                }
            }
        }
        for (r, a) in acc.iter().enumerate().take(rows) {
            for (z, v) in a.iter().enumerate() {
                _mm512_storeu_ps(out.add(r * stride + 16 * z), *v);
            }
        }
    }

    /// `out[i·ho + c] = Σ_j p[j][i] · v[j][c]` for queries `i < len` and the head's `d` columns,
    /// with the probabilities `p` in rows of `stride` (bf16: rows in pairs) and the head's values
    /// in rows of `d` (likewise): `16·DZ` columns × `IR` queries per step.
    #[inline(always)]
    unsafe fn context<F: Format>(
        p: *const F::Word,
        stride: usize,
        len: usize,
        v: *const F::Word,
        d: usize,
        ho: usize,
        out: *mut f32,
    ) {
        match d / 16 {
            1 => context_step::<F, 1, 24>(p, stride, len, v, d, ho, out),
            2 => context_step::<F, 2, 12>(p, stride, len, v, d, ho, out),
            3 => context_step::<F, 3, 8>(p, stride, len, v, d, ho, out),
            4 => context_step::<F, 4, 6>(p, stride, len, v, d, ho, out),
            5 => context_step::<F, 5, 4>(p, stride, len, v, d, ho, out),
            6 => context_step::<F, 6, 4>(p, stride, len, v, d, ho, out),
            7 => context_step::<F, 7, 3>(p, stride, len, v, d, ho, out),
            _ => context_step::<F, 8, 3>(p, stride, len, v, d, ho, out),
        }
    }

    #[inline(always)]
    unsafe fn context_step<F: Format, const DZ: usize, const IR: usize>(
        p: *const F::Word,
        stride: usize,
        len: usize,
        v: *const F::Word,
        d: usize,
        ho: usize,
        out: *mut f32,
    ) {
        for i0 in (0..len).step_by(IR) {
            let rows = IR.min(len - i0);
            let mut acc = [[_mm512_setzero_ps(); DZ]; IR];
            for g in 0..len.div_ceil(F::PER_WORD) {
                let vv: [F::Vector; DZ] = std::array::from_fn(|z| F::load(v.add(g * d + 16 * z)));
                // Past the last query: lanes of the padded row (or the slack), never stored.
                let pg = p.add(g * stride + i0);
                for (r, a) in acc.iter_mut().enumerate() {
                    let pv = F::splat(pg.add(r));
                    for z in 0..DZ {
                        a[z] = F::mul_add(a[z], pv, vv[z]);
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

    /// Rows `2g` and `2g + 1` of `rows` (`len` rows `row_stride` apart; a missing last row is 0)
    /// as bf16 pairs: `put(g, c, words)` receives the 16 words of columns `c .. c + 16`, for
    /// every `c < cols` in steps of 16.
    #[inline(always)]
    unsafe fn row_pairs(
        rows: *const f32,
        len: usize,
        row_stride: usize,
        cols: usize,
        mut put: impl FnMut(usize, usize, __m512i),
    ) {
        for g in 0..len.div_ceil(2) {
            let (r0, r1) = (2 * g, 2 * g + 1);
            for c in (0..cols).step_by(16) {
                let lo = _mm512_loadu_ps(rows.add(r0 * row_stride + c));
                let hi = if r1 < len {
                    _mm512_loadu_ps(rows.add(r1 * row_stride + c))
                } else {
                    _mm512_setzero_ps()
                };
                put(g, c, pairs16(lo, hi));
            }
        }
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
        // Q: each two transposed columns paired.
        transposed_queries(s, d, stride, |c0, i0, cols| {
            for m in 0..8 {
                let words = pairs16(cols[2 * m], cols[2 * m + 1]);
                _mm512_storeu_si512(qp.add((c0 / 2 + m) * stride + i0).cast(), words);
            }
        });
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
        row_pairs(s.v.as_ptr(), len, h, hd, |g, c, words| {
            let (head, within) = (c / d, c % d);
            _mm512_storeu_si512(vp.add((head * half + g) * d + within).cast(), words);
        });
        for head in 0..heads {
            let col = head * d;
            let (keys, queries) = (kp.add(col / 2), qp.add(col / 2 * stride));
            scores_kernel::<Bf16>(keys, hd / 2, queries, stride, len, d, scores.as_mut_ptr());
            add_bias(s, head, scores, stride);
            softmax_columns(&mut scores[..len * stride], len, stride);
            // P: rows in pairs.
            row_pairs(scores.as_ptr(), len, stride, stride, |g, i, words| {
                _mm512_storeu_si512(pp.add(g * stride + i).cast(), words);
            });
            let v = vp.add(head * half * d);
            context::<Bf16>(pp, stride, len, v, d, h, ctx.as_mut_ptr().add(col));
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

    /// Random sequences (N(0, 1.5²) values) of every `(heads, head_dim)` in `shapes` and length
    /// in `lens`, with and without a relative bias, each handed to `check` with its label.
    fn each_case(
        seed: u64,
        shapes: &[(usize, usize)],
        lens: &[usize],
        bf16: bool,
        mut check: impl FnMut(&Sequence<'_>, &str),
    ) {
        let mut rng = Rng::new(seed);
        for &(heads, d) in shapes {
            for &len in lens {
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
                        bf16,
                    };
                    check(
                        &s,
                        &format!("heads {heads} d {d} len {len} bias {with_bias}"),
                    );
                }
            }
        }
    }

    #[test]
    fn every_path_equals_the_definition() {
        let shapes = [(2, 16), (3, 32), (2, 48), (2, 64), (1, 128), (2, 8)];
        each_case(
            3,
            &shapes,
            &[1, 2, 7, 16, 17, 38, 48, 49, 100],
            false,
            |s, case| {
                let mut want = vec![0f64; s.len * s.h];
                oracle(s, &mut want, false);
                for isa in Isa::supported() {
                    let mut got = vec![f32::NAN; s.len * s.h];
                    attend(isa, s, &mut got);
                    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                        assert!(
                            (*g as f64 - w).abs() < 2e-5 * (1.0 + w.abs()),
                            "{isa} {case}: [{i}] {g} vs {w}"
                        );
                    }
                }
            },
        );
    }

    #[test]
    fn bf16_products_equal_the_definition_on_rounded_inputs() {
        if !Isa::current().uses_bf16() {
            return;
        }
        let shapes = [(2, 16), (3, 32), (2, 48), (2, 64), (1, 128)];
        each_case(
            4,
            &shapes,
            &[1, 2, 3, 7, 16, 17, 38, 49, 100],
            true,
            |s, case| {
                let mut want = vec![0f64; s.len * s.h];
                oracle(s, &mut want, true);
                let mut got = vec![f32::NAN; s.len * s.h];
                attend(Isa::current(), s, &mut got);
                // P's rounding moves a context value by at most 2⁻⁹ · Σ P |V| ≤ 2⁻⁹ · max |V|.
                let vmax = s.v.iter().fold(0f32, |m, x| m.max(x.abs())) as f64;
                for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                    assert!(
                        (*g as f64 - w).abs() <= vmax / 512.0 + 1e-5,
                        "{case}: [{i}] {g} vs {w}"
                    );
                }
            },
        );
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
