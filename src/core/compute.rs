//! The one GEMM entry point of the crate ([`sgemm`]; [`matmul_nt`] for `A·Bᵀ`), row normalisation,
//! the vectorising reduction of the kernels ([`lanes16`]), and the lock that serialises
//! multi-threaded compute.

use super::isa::Isa;

/// Serialises the multi-threaded compute sections of the process (a batch through BERT, a block of
/// search scores). Two callers sharing the one thread pool at the same time make each other many
/// times slower (measured: 3× in total); taking turns block by block keeps the total throughput of
/// the pool, and interleaves fairly.
pub(crate) fn compute_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// `dst[m×n] (row stride dst_rs) (+)= scale · lhs[m×k] (row stride lhs_rs) · rhs[k×n] (strides rhs_rs, rhs_cs)`.
///
/// # Safety
/// Every addressed element must lie inside the allocations behind the pointers.
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn sgemm(
    m: usize,
    n: usize,
    k: usize,
    dst: *mut f32,
    dst_rs: usize,
    lhs: *const f32,
    lhs_rs: usize,
    rhs: *const f32,
    rhs_rs: usize,
    rhs_cs: usize,
    accumulate: bool,
    scale: f32,
    parallel: bool,
) {
    sgemm_strided(
        m, n, k, dst, dst_rs, lhs, lhs_rs, 1, rhs, rhs_rs, rhs_cs, accumulate, scale, parallel,
    )
}

/// [`sgemm`] with a column stride for `lhs` too (`lhs_cs`; a transposed left-hand side is
/// `lhs_rs = 1, lhs_cs = its row length`), as training's weight gradients `dYᵀ·X` need.
///
/// # Safety
/// Every addressed element must lie inside the allocations behind the pointers.
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn sgemm_strided(
    m: usize,
    n: usize,
    k: usize,
    dst: *mut f32,
    dst_rs: usize,
    lhs: *const f32,
    lhs_rs: usize,
    lhs_cs: usize,
    rhs: *const f32,
    rhs_rs: usize,
    rhs_cs: usize,
    accumulate: bool,
    scale: f32,
    parallel: bool,
) {
    let par = if parallel && rayon::current_num_threads() > 1 {
        gemm::Parallelism::Rayon(rayon::current_num_threads())
    } else {
        gemm::Parallelism::None
    };
    let isa = Isa::current();
    if isa == Isa::detected() || isa >= Isa::Avx512 {
        // gemm picks the same level itself (AVX-512 through its `x86-v4` kernels, else AVX2+FMA);
        // f32 has no AMX kernels, so `Isa::Amx` runs AVX-512 here.
        gemm::gemm(
            m,
            n,
            k,
            dst,
            1,
            dst_rs as isize,
            accumulate,
            lhs,
            lhs_cs as isize,
            lhs_rs as isize,
            rhs,
            rhs_cs as isize,
            rhs_rs as isize,
            1.0f32,
            scale,
            false,
            false,
            false,
            par,
        );
        return;
    }
    // A lower level than the CPU's best was asked for: call that level's kernels by name, as
    // gemm's own dispatch does for a CPU that has nothing better.
    macro_rules! generic {
        ($simd:ty, $ukr:path, $n:expr) => {{
            use $ukr as k_;
            gemm_common::gemm::gemm_basic_generic::<
                _,
                f32,
                { $n },
                { k_::MR_DIV_N * $n },
                { k_::NR },
                { k_::MR_DIV_N },
                { k_::H_M },
                { k_::H_N },
            >(
                <$simd as gemm_common::simd::MixedSimd<f32, f32, f32, f32>>::try_new()
                    .expect("the CPU runs the level Isa::current() returned"),
                m,
                n,
                k,
                dst,
                1,
                dst_rs as isize,
                accumulate,
                lhs,
                lhs_cs as isize,
                lhs_rs as isize,
                rhs,
                rhs_cs as isize,
                rhs_rs as isize,
                1.0f32,
                scale,
                false,
                false,
                false,
                |a, b, c| a * b + c,
                &k_::UKR,
                &k_::H_UKR,
                false,
                par,
            )
        }};
    }
    match isa {
        #[cfg(any(target_arch = "x86_64", target_arch = "x86"))]
        Isa::Avx2 => generic!(gemm_common::simd::V3, gemm_f32::microkernel::fma::f32, 8),
        _ => generic!(
            gemm_common::simd::Scalar,
            gemm_f32::microkernel::scalar::f32,
            1
        ),
    }
}

/// `out[m×n] = a[m×k] · b[n×k]ᵀ`, row-major, multi-threaded for products past 64³.
pub(crate) fn matmul_nt(a: &[f32], m: usize, b: &[f32], n: usize, k: usize, out: &mut [f32]) {
    assert!(a.len() >= m * k && b.len() >= n * k && out.len() >= m * n);
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        out[..m * n].iter_mut().for_each(|v| *v = 0.0);
        return;
    }
    // SAFETY: the slices were checked to hold the m×k, n×k and m×n elements the strides address
    // (b is read as its transpose: element (kk, j) at j·k + kk).
    unsafe {
        sgemm(
            m,
            n,
            k,
            out.as_mut_ptr(),
            n,
            a.as_ptr(),
            k,
            b.as_ptr(),
            1,
            k,
            false,
            1.0,
            m * n * k > 64 * 64 * 64,
        );
    }
}

/// Reduces `map` of each value of `xs` with `op` in 16 running lanes, then across them: the order
/// differs from a plain left fold (within rounding), but the loop vectorises.
#[inline(always)]
pub(crate) fn lanes16(
    xs: &[f32],
    init: f32,
    map: impl Fn(f32) -> f32,
    op: impl Fn(f32, f32) -> f32,
) -> f32 {
    let mut acc = [init; 16];
    let chunks = xs.chunks_exact(16);
    let tail = chunks.remainder();
    for c in chunks {
        for i in 0..16 {
            acc[i] = op(acc[i], map(c[i]));
        }
    }
    for (a, &v) in acc.iter_mut().zip(tail) {
        *a = op(*a, map(v));
    }
    // Across the lanes as a tree (four dependent steps, not sixteen): short rows — attention's
    // softmax over a sentence's tokens — spend more time here than in the loop above.
    let mut width = 16;
    while width > 1 {
        width /= 2;
        for i in 0..width {
            acc[i] = op(acc[i], acc[i + width]);
        }
    }
    acc[0]
}

/// L2-normalises the rows of a row-major `[n, dim]` buffer in place (the math of `models::Normalize`).
pub(crate) fn normalize_rows(data: &mut [f32], dim: usize) {
    if dim == 0 {
        return;
    }
    for row in data.chunks_mut(dim) {
        let norm = row.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12);
        row.iter_mut().for_each(|v| *v /= norm);
    }
}
