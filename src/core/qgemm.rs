//! Reduced-precision linear layers for inference: `y = x · Wᵀ + b` with `W` packed once in bf16 or
//! int8 ([`PackedLinear`]) and the activations converted on each call.
//!
//! **Layout.** The output channels are cut into panels of 16. Inside a panel, each group of 4
//! (int8) or 2 (bf16) consecutive inputs of a channel is one 32-bit word, stored group by group,
//! 16 channels each: one 64-byte load is exactly the operand of one `vpdpbusd` (int8) or
//! `vdpbf16ps` (bf16) over 16 lanes. The activations are converted into the same words, tile by
//! tile of [`MR`] rows, so a micro-kernel broadcasts one word of a row against one load of the panel.
//!
//! **int8** is ONNX Runtime's dynamic quantization (`MatMulInteger`, per-channel weights):
//! `w ≈ s_c · q_w` (symmetric, `q_w ∈ [−127, 127]`), `x ≈ s_r · (q_x − z_r)` per row (asymmetric,
//! `q_x ∈ [0, 255]`, the range always holding 0), `y = s_r · s_c · (Σ q_x q_w − z_r · Σ q_w) + b`.
//! The integer sums are exact on every path, so the AMX, AVX512-VNNI, AVX2 and scalar kernels give
//! bit-identical outputs. **bf16** rounds weights and activations to nearest even and accumulates
//! in f32 (AMX or AVX512-BF16, or exact bf16 products in f32 FMA elsewhere).
//!
//! **AMX** ([`Isa::Amx`]): a panel's words are already an AMX `B` tile's layout (16 groups × 16
//! channels × 4 bytes a row), so the same packed weights serve. The activations are then converted
//! row-major instead (each row's words contiguous, rows padded with zeros to a multiple of
//! [`AMX_ROWS`]) so that 16 rows × 64 bytes load as one `A` tile; each step multiplies 32 rows by
//! 2 panels in four `tdpbusd` / `tdpbf16ps` into four accumulator tiles. Layers whose inputs are not
//! a whole number of tile rows (`k` a multiple of 64 int8 or 32 bf16 values; every model's hidden
//! sizes are) run the AVX-512 kernels.

use rayon::prelude::*;

use super::compute::lanes16;
use super::dtype::Dtype;
use super::error::{Error, Result};
use super::isa::{dispatch, Isa};
use super::recycle;

/// Output channels per panel (one 512-bit register of 32-bit lanes).
const LANES: usize = 16;
/// Rows per micro tile; activations are padded with zero rows to a whole tile.
const MR: usize = 12;
// Four rows from a multiple of 4 lie in one tile (the AVX-512 quantizer writes them together).
const _: () = assert!(MR.is_multiple_of(4));
/// Rows per parallel task where activations are laid out for AMX (a multiple of [`MR`] and of
/// [`AMX_ROWS`]); a task runs every panel over its rows.
const ROW_BLOCK: usize = 8 * MR;
/// Rows per parallel task otherwise: finer, so that two threads split a batch's ~1,200 rows evenly.
const TASK_ROWS: usize = 2 * MR;

/// Rows per parallel task over activations laid out for AMX (`amx`) or in tiles.
fn task_rows(amx: bool) -> usize {
    if amx {
        ROW_BLOCK
    } else {
        TASK_ROWS
    }
}

/// Rows per AMX step (two `A` tiles of 16 rows); AMX activations are padded to a multiple of it.
const AMX_ROWS: usize = 32;
/// Words per AMX tile row (64 bytes).
const AMX_WORDS: usize = 16;

/// Whether a layer of `k` inputs in `dtype` runs on AMX tiles at `isa`: its words per row fill
/// whole tile rows.
fn amx_fits(isa: Isa, dtype: Dtype, k: usize) -> bool {
    isa.uses_amx() && k % (AMX_WORDS * per_word(dtype)) == 0
}

/// A linear layer's weight and bias, packed for the bf16 or int8 kernels.
pub(crate) struct PackedLinear {
    dtype: Dtype,
    /// Output channels.
    n: usize,
    /// Inputs per channel.
    k: usize,
    /// Words per channel: `k` divided by the inputs per word, rounded up.
    groups: usize,
    panels: usize,
    /// `panels × groups × LANES` words.
    words: Vec<u32>,
    /// int8: each channel's weight scale `s_c` (`panels × LANES`, zero past `n`).
    scale: Vec<f32>,
    /// int8: each channel's `Σ q_w`.
    colsum: Vec<i32>,
    /// `panels × LANES`, zero past `n`.
    bias: Vec<f32>,
}

impl std::fmt::Debug for PackedLinear {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PackedLinear({}, {} → {})", self.dtype, self.k, self.n)
    }
}

/// f32 → bf16, round to nearest even (NaN stays a quiet NaN).
#[inline(always)]
pub(crate) fn to_bf16(x: f32) -> u16 {
    if x.is_nan() {
        return 0x7fc0;
    }
    let b = x.to_bits();
    ((b + 0x7fff + ((b >> 16) & 1)) >> 16) as u16
}

/// Inputs per 32-bit word.
fn per_word(dtype: Dtype) -> usize {
    if dtype == Dtype::Int8 {
        4
    } else {
        2
    }
}

/// One word of `vals` (up to [`per_word`] values, zero-padded).
#[inline(always)]
fn word_i8(vals: impl Iterator<Item = u8>) -> u32 {
    vals.enumerate()
        .fold(0u32, |w, (i, b)| w | (b as u32) << (8 * i))
}

#[inline(always)]
fn word_bf16(vals: &[f32]) -> u32 {
    let lo = vals.first().map_or(0, |&v| to_bf16(v)) as u32;
    let hi = vals.get(1).map_or(0, |&v| to_bf16(v)) as u32;
    lo | hi << 16
}

impl PackedLinear {
    /// Packs `w` (`[n, k]`, row-major, as a PyTorch `Linear` stores it) and `bias` (`n`).
    pub(crate) fn new(w: &[f32], n: usize, k: usize, bias: &[f32], dtype: Dtype) -> Result<Self> {
        if w.len() != n * k {
            return Err(Error::Shape(format!(
                "packing a linear layer: weight of {} values for {n}×{k}",
                w.len()
            )));
        }
        Self::new_strided(w, n, k, (k, 1), bias, dtype)
    }

    /// Packs the `n × k` weight whose element (channel `c`, input `i`) is `w[c·rs + i·cs]` for
    /// `strides = (rs, cs)`: `(k, 1)` is a PyTorch `Linear`'s `[n, k]`, `(1, n)` its transpose
    /// (a `[k, n]` matrix read as `n` channels). Panels are packed in parallel.
    pub(crate) fn new_strided(
        w: &[f32],
        n: usize,
        k: usize,
        (rs, cs): (usize, usize),
        bias: &[f32],
        dtype: Dtype,
    ) -> Result<Self> {
        if dtype == Dtype::F32 {
            return Err(Error::Internal("f32 layers are not packed".into()));
        }
        let last = (n.max(1) - 1) * rs + (k.max(1) - 1) * cs;
        if (n > 0 && k > 0 && last >= w.len()) || bias.len() != n {
            return Err(Error::Shape(format!(
                "packing a linear layer: weight of {} values for {n}×{k} at strides ({rs}, {cs}), \
                 bias of {} for {n}",
                w.len(),
                bias.len()
            )));
        }
        let pw = per_word(dtype);
        let groups = k.div_ceil(pw);
        let panels = n.div_ceil(LANES);
        let mut words = vec![0u32; panels * groups * LANES];
        let mut scale = vec![0f32; panels * LANES];
        let mut colsum = vec![0i32; panels * LANES];
        let isa = Isa::current();
        if groups > 0 {
            words
                .par_chunks_mut(groups * LANES)
                .zip(scale.par_chunks_mut(LANES))
                .zip(colsum.par_chunks_mut(LANES))
                .enumerate()
                .for_each(|(p, ((words, scale), colsum))| {
                    let (c0, lanes) = (p * LANES, LANES.min(n - p * LANES));
                    if dtype == Dtype::Bf16 && rs == 1 {
                        // The panel's channels side by side in memory: a group's two inputs are
                        // two runs of `lanes` values, its words one run.
                        for (g, out) in words.chunks_exact_mut(LANES).enumerate() {
                            let i = 2 * g;
                            bf16_pairs(
                                isa,
                                &w[c0 + i * cs..][..lanes],
                                (i + 1 < k).then(|| &w[c0 + (i + 1) * cs..][..lanes]),
                                out,
                            );
                        }
                        return;
                    }
                    // Channel c's words, group by group, into lane c % LANES of its panel; its
                    // inputs read in place when contiguous, else gathered.
                    let mut gathered = vec![0f32; if cs == 1 { 0 } else { k }];
                    for lane in 0..lanes {
                        let c = c0 + lane;
                        let row: &[f32] = if cs == 1 {
                            &w[c * rs..c * rs + k]
                        } else {
                            gathered
                                .iter_mut()
                                .enumerate()
                                .for_each(|(i, v)| *v = w[c * rs + i * cs]);
                            &gathered
                        };
                        let mut put = |ws: &mut dyn Iterator<Item = u32>| {
                            for (g, word) in ws.enumerate() {
                                words[g * LANES + lane] = word;
                            }
                        };
                        if dtype == Dtype::Int8 {
                            let amax = row.iter().fold(0f32, |m, v| m.max(v.abs()));
                            let s = if amax > 0.0 && amax.is_finite() {
                                amax / 127.0
                            } else {
                                1.0
                            };
                            let q: Vec<i8> = row
                                .iter()
                                .map(|v| (v / s).round_ties_even().clamp(-127.0, 127.0) as i8)
                                .collect();
                            scale[lane] = s;
                            colsum[lane] = q.iter().map(|&v| v as i32).sum();
                            put(&mut q.chunks(pw).map(|ch| word_i8(ch.iter().map(|&v| v as u8))));
                        } else {
                            put(&mut row.chunks(pw).map(word_bf16));
                        }
                    }
                });
        }
        Ok(Self {
            dtype,
            n,
            k,
            groups,
            panels,
            words,
            scale,
            colsum,
            bias: {
                let mut b = bias.to_vec();
                b.resize(panels * LANES, 0.0);
                b
            },
        })
    }

    /// The format the layer computes in.
    pub(crate) fn dtype(&self) -> Dtype {
        self.dtype
    }

    /// `out[rows × n] = x[rows × k] · Wᵀ + b`, on [`Isa::current`]'s kernels.
    pub(crate) fn forward(&self, x: &[f32], rows: usize, out: &mut [f32]) -> Result<()> {
        self.forward_on(Isa::current(), x, rows, out)
    }

    /// [`PackedLinear::forward`] on the kernels of `isa` (which the CPU must run).
    pub(crate) fn forward_on(
        &self,
        isa: Isa,
        x: &[f32],
        rows: usize,
        out: &mut [f32],
    ) -> Result<()> {
        let a = Activations::new_on(isa, self.dtype, x, rows, self.k)?;
        self.forward_converted(isa, &a, out)
    }

    /// `out = a · Wᵀ + b` for activations already converted (one conversion serves every layer
    /// that reads the same input, as Q, K and V do).
    pub(crate) fn forward_converted(
        &self,
        isa: Isa,
        a: &Activations,
        out: &mut [f32],
    ) -> Result<()> {
        self.check_out(isa, a, out)?;
        let (n, rows) = (self.n, a.rows);
        if rows == 0 {
            return Ok(());
        }
        let rb = task_rows(a.amx);
        out[..rows * n]
            .par_chunks_mut(rb * n)
            .enumerate()
            .for_each(|(b, block)| self.block(isa, a, b * rb, block));
        Ok(())
    }

    /// `act(a · Wᵀ + b)`, converted straight into the activations of a layer that reads it (as the
    /// intermediate layer's GELU output feeds the output layer): each task computes its rows,
    /// applies `act` and converts them while they are in cache, so the f32 result — the widest
    /// matrix of the layer — is never stored whole.
    pub(crate) fn forward_act_convert(
        &self,
        isa: Isa,
        a: &Activations,
        act: impl Fn(&mut [f32]) + Sync,
    ) -> Result<Activations> {
        self.check(isa, a)?;
        let mut next = Activations::room(isa, self.dtype, a.rows, self.n);
        let (n, rows, next_amx) = (self.n, a.rows, next.amx);
        let rb = task_rows(a.amx || next_amx);
        next.par_blocks(rb, |r0, words, scale, zero| {
            let block_rows = rb.min(rows - r0);
            SCRATCH.with_borrow_mut(|buf| {
                buf.resize(rb * n, 0.0);
                let block = &mut buf[..block_rows * n];
                self.block(isa, a, r0, block);
                act(block);
                convert_rows(isa, self.dtype, next_amx, block, n, words, scale, zero);
            });
        });
        Ok(next)
    }

    /// [`PackedLinear::forward_converted`] of several layers that read the same activations (as
    /// Q, K and V do), in one parallel step: each task computes its rows of every layer. One
    /// step instead of one per layer: fewer waits for the slower thread at a step's end.
    pub(crate) fn forward_each(
        isa: Isa,
        a: &Activations,
        layers: Vec<(&PackedLinear, &mut [f32])>,
    ) -> Result<()> {
        let rb = task_rows(a.amx);
        let mut blocks: Vec<Vec<(&PackedLinear, &mut [f32])>> = Vec::new();
        for (layer, out) in layers {
            layer.check_out(isa, a, out)?;
            let chunks = out[..a.rows * layer.n].chunks_mut(rb * layer.n.max(1));
            for (b, chunk) in chunks.enumerate() {
                if b == blocks.len() {
                    blocks.push(Vec::new());
                }
                blocks[b].push((layer, chunk));
            }
        }
        blocks.into_par_iter().enumerate().for_each(|(b, block)| {
            for (layer, out) in block {
                layer.block(isa, a, b * rb, out);
            }
        });
        Ok(())
    }

    /// `y = a · Wᵀ + b`, then `then(x_rows, y_rows)` on the same rows of `x` (`rows × k`,
    /// changed in place: a residual + LayerNorm reading `y`), and those rows of `x` converted to
    /// `next` (the activations of the layers that read `x` next) — all in one parallel step, each
    /// task's rows while they are in cache. `y` itself is never stored whole: each task's rows
    /// live in a per-thread scratch block that stays in cache.
    pub(crate) fn forward_then_convert(
        &self,
        isa: Isa,
        a: &Activations,
        x: &mut [f32],
        k: usize,
        then: impl Fn(&mut [f32], &[f32]) + Sync,
        next: Option<Dtype>,
    ) -> Result<Option<Activations>> {
        self.check(isa, a)?;
        let (n, rows) = (self.n, a.rows);
        if x.len() < rows * k {
            return Err(Error::Shape(format!(
                "after the linear layer {} → {n}: {} values for {rows} rows of {k}",
                self.k,
                x.len()
            )));
        }
        let mut conv = match next {
            Some(dtype) => {
                check_source(dtype, x, rows, k)?;
                Some(Activations::room(isa, dtype, rows, k))
            }
            None => None,
        };
        if rows == 0 || k == 0 {
            return Ok(conv);
        }
        let rb = task_rows(a.amx || conv.as_ref().is_some_and(|c| c.amx));
        let step = |b: usize, xb: &mut [f32]| {
            SCRATCH.with_borrow_mut(|buf| {
                buf.resize(rb * n, 0.0);
                let y = &mut buf[..xb.len() / k * n];
                self.block(isa, a, b * rb, y);
                then(xb, y);
            })
        };
        let x = &mut x[..rows * k];
        match &mut conv {
            Some(c) => {
                let (dtype, amx, groups) = (c.dtype, c.amx, c.groups());
                x.par_chunks_mut(rb * k)
                    .zip(c.words.par_chunks_mut(rb * groups))
                    .zip(c.scale.par_chunks_mut(rb))
                    .zip(c.zero.par_chunks_mut(rb))
                    .enumerate()
                    .for_each(|(b, (((xb, w), s), z))| {
                        step(b, xb);
                        convert_rows(isa, dtype, amx, xb, k, w, s, z);
                    });
            }
            None => x
                .par_chunks_mut(rb * k)
                .enumerate()
                .for_each(|(b, xb)| step(b, xb)),
        }
        Ok(conv)
    }

    /// [`PackedLinear::check`], and that `out` holds the output rows.
    fn check_out(&self, isa: Isa, a: &Activations, out: &[f32]) -> Result<()> {
        self.check(isa, a)?;
        if out.len() < a.rows * self.n {
            return Err(Error::Shape(format!(
                "{} linear layer {} → {}: output holds {} values for {} rows",
                self.dtype,
                self.k,
                self.n,
                out.len(),
                a.rows
            )));
        }
        Ok(())
    }

    /// Errors unless `a` is this layer's input in its dtype and `isa` can multiply it.
    fn check(&self, isa: Isa, a: &Activations) -> Result<()> {
        if a.dtype != self.dtype || a.k != self.k {
            return Err(Error::Shape(format!(
                "{} linear layer {} → {}: activations are {} × {} in {}",
                self.dtype, self.k, self.n, a.rows, a.k, a.dtype
            )));
        }
        if !isa.is_supported() {
            return Err(Error::InvalidInput(format!(
                "this CPU cannot run {isa} code"
            )));
        }
        if a.amx && !isa.uses_amx() {
            return Err(Error::Internal(format!(
                "activations converted for AMX tiles, multiplied on {isa}"
            )));
        }
        Ok(())
    }

    /// Rows `r0 .. r0 + block.len() / n` of `a · Wᵀ + b` into `block` (`r0` a multiple of
    /// [`task_rows`] for `a`'s layout; [`PackedLinear::check`] passed).
    fn block(&self, isa: Isa, a: &Activations, r0: usize, block: &mut [f32]) {
        let (n, groups) = (self.n, self.groups);
        #[cfg(target_arch = "x86_64")]
        if a.amx {
            // SAFETY: `a.amx` holds only where `Isa::Amx` was detected (tile state granted), with
            // `k` a whole number of tile rows and rows padded to `AMX_ROWS`.
            unsafe { amx::block(self, a, r0, block) };
            return;
        }
        let micro_kernel = kernel(isa, self.dtype);
        let block_rows = block.len() / n;
        // Tile by tile, every panel: the tile's activations stay in L1 while the panels stream
        // from L2, and the output is written row after row. Panel by panel instead stalled on the
        // stores to 12 rows far apart (int8, 1,216 rows × 384 → 1,536 on 2 cores: 224 G MAC/s
        // against 302 tile by tile).
        for t0 in (0..block_rows).step_by(MR) {
            let tile = (r0 + t0) / MR;
            let rows_of_tile = tile * MR..(tile + 1) * MR;
            for p in 0..self.panels {
                let (c0, cols) = (p * LANES, p * LANES..(p + 1) * LANES);
                let t = Tile {
                    x: &a.words[tile * groups * MR..(tile + 1) * groups * MR],
                    w: &self.words[p * groups * LANES..(p + 1) * groups * LANES],
                    groups,
                    row_scale: &a.scale[rows_of_tile.clone()],
                    row_zero: &a.zero[rows_of_tile.clone()],
                    col_scale: &self.scale[cols.clone()],
                    col_sum: &self.colsum[cols.clone()],
                    bias: &self.bias[cols.clone()],
                    out: block[t0 * n + c0..].as_mut_ptr(),
                    stride: n,
                    rows: MR.min(block_rows - t0),
                    lanes: LANES.min(n - c0),
                };
                // SAFETY: the tile's slices hold what the kernels read (groups·MR words,
                // groups·LANES words, MR and LANES values); `out` addresses `rows` rows of
                // `lanes` values at stride n inside `block`; `kernel` chose one the CPU runs.
                unsafe { micro_kernel(&t) };
            }
        }
    }
}

/// `out[m × n] = A · Bᵀ + bias` (`accumulate`: added to `out`) in `dtype` (bf16 or int8) with
/// f32 (int8: i32) accumulation, for `A` `m × k` with element (r, i) at `a.0[r·a.1 + i·a.2]` and
/// `B` `n × k` with element (c, i) at `b.0[c·b.1 + i·b.2]`: both converted on the call (`O(mk +
/// nk)`), then [`PackedLinear::forward_converted`] on [`Isa::current`]. Training's mixed
/// precision multiplies its weights and gradients with it.
#[allow(clippy::type_complexity)]
pub(crate) fn matmul_nt(
    dtype: Dtype,
    (m, n, k): (usize, usize, usize),
    a: (&[f32], usize, usize),
    b: (&[f32], usize, usize),
    bias: Option<&[f32]>,
    out: &mut [f32],
    accumulate: bool,
) -> Result<()> {
    let zeros;
    let bias = match bias {
        Some(b) => b,
        None => {
            zeros = vec![0f32; n];
            &zeros
        }
    };
    let isa = Isa::current();
    let w = PackedLinear::new_strided(b.0, n, k, (b.1, b.2), bias, dtype)?;
    let x = Activations::new_strided_on(isa, dtype, a.0, m, k, (a.1, a.2))?;
    if out.len() < m * n {
        return Err(Error::Shape(format!(
            "{dtype} product {m} × {k} · ({n} × {k})ᵀ into {} values",
            out.len()
        )));
    }
    if !accumulate {
        return w.forward_converted(isa, &x, &mut out[..m * n]);
    }
    let mut y = vec![0f32; m * n];
    w.forward_converted(isa, &x, &mut y)?;
    out[..m * n]
        .par_chunks_mut(4096)
        .zip(y.par_chunks(4096))
        .for_each(|(o, y)| o.iter_mut().zip(y).for_each(|(o, y)| *o += y));
    Ok(())
}

thread_local! {
    /// Each worker's block of f32 rows for [`PackedLinear::forward_act_convert`].
    static SCRATCH: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A batch of activations converted for one [`Dtype`]'s kernels: rows in tiles of [`MR`] (zero
/// rows pad the last), each row as words of 4 uint8 (int8) or 2 bf16, plus each row's int8 scale
/// and zero point. For AMX, rows one after another instead, padded to [`AMX_ROWS`].
pub(crate) struct Activations {
    dtype: Dtype,
    rows: usize,
    k: usize,
    /// Laid out for AMX tiles.
    amx: bool,
    /// Word (row, g) at `(row / MR · groups + g) · MR + row % MR`, or `row · groups + g` for AMX.
    words: Vec<u32>,
    scale: Vec<f32>,
    zero: Vec<i32>,
}

impl Activations {
    /// Converts `x` (`rows × k`) on [`Isa::current`]'s code.
    pub(crate) fn new(dtype: Dtype, x: &[f32], rows: usize, k: usize) -> Result<Self> {
        Self::new_on(Isa::current(), dtype, x, rows, k)
    }

    fn new_on(isa: Isa, dtype: Dtype, x: &[f32], rows: usize, k: usize) -> Result<Self> {
        check_source(dtype, x, rows, k)?;
        if !isa.is_supported() {
            return Err(Error::InvalidInput(format!(
                "this CPU cannot run {isa} code"
            )));
        }
        let mut a = Self::room(isa, dtype, rows, k);
        let amx = a.amx;
        let rb = task_rows(amx);
        a.par_blocks(rb, |r0, words, scale, zero| {
            let block = &x[r0 * k..(r0 + rb).min(rows) * k];
            convert_rows(isa, dtype, amx, block, k, words, scale, zero);
        });
        Ok(a)
    }

    /// Runs `f(r0, block)` on the rows of `x` (`rows × k`) block by block in parallel — a block
    /// of rows from row `r0`, to change in place — and converts each block on [`Isa::current`]'s
    /// code while it is in cache: one pass where a row-wise op (a LayerNorm) and
    /// [`Activations::new`] took two.
    pub(crate) fn new_after(
        dtype: Dtype,
        x: &mut [f32],
        rows: usize,
        k: usize,
        f: impl Fn(usize, &mut [f32]) + Sync,
    ) -> Result<Self> {
        let isa = Isa::current();
        check_source(dtype, x, rows, k)?;
        let mut a = Self::room(isa, dtype, rows, k);
        let (amx, rb) = (a.amx, task_rows(a.amx));
        let groups = a.groups();
        if rows == 0 || groups == 0 {
            return Ok(a);
        }
        x[..rows * k]
            .par_chunks_mut(rb * k)
            .zip(a.words.par_chunks_mut(rb * groups))
            .zip(a.scale.par_chunks_mut(rb))
            .zip(a.zero.par_chunks_mut(rb))
            .enumerate()
            .for_each(|(b, (((block, words), scale), zero))| {
                f(b * rb, block);
                convert_rows(isa, dtype, amx, block, k, words, scale, zero);
            });
        Ok(a)
    }

    /// Converts, for `isa`, the `rows × k` matrix whose element (row `r`, input `i`) is `x[r·rs + i·cs]`:
    /// `(k, 1)` is row-major, `(1, rows)` the transpose of a `[k, rows]` matrix (as a weight
    /// gradient's `dYᵀ` reads `dY`). Gathered block by block, then converted as [`Activations::new`].
    pub(crate) fn new_strided_on(
        isa: Isa,
        dtype: Dtype,
        x: &[f32],
        rows: usize,
        k: usize,
        (rs, cs): (usize, usize),
    ) -> Result<Self> {
        if (rs, cs) == (k, 1) {
            return Self::new_on(isa, dtype, x, rows, k);
        }
        if !isa.is_supported() {
            return Err(Error::InvalidInput(format!(
                "this CPU cannot run {isa} code"
            )));
        }
        let last = (rows.max(1) - 1) * rs + (k.max(1) - 1) * cs;
        if dtype == Dtype::F32 || (rows > 0 && k > 0 && last >= x.len()) {
            return Err(Error::Shape(format!(
                "converting {rows} × {k} activations at strides ({rs}, {cs}) to {dtype} from {} \
                 values",
                x.len()
            )));
        }
        let mut a = Self::room(isa, dtype, rows, k);
        let amx = a.amx;
        let groups = k.div_ceil(per_word(dtype));
        let rb = task_rows(amx);
        a.par_blocks(rb, |r0, words, scale, zero| {
            let n = rb.min(rows - r0);
            if dtype == Dtype::Bf16 && rs == 1 && !amx {
                // A tile's rows side by side in memory: a group's two inputs are two runs of
                // (up to) MR values, its words one run.
                for t0 in (0..n).step_by(MR) {
                    let len = MR.min(n - t0);
                    let tile_words = &mut words[t0 / MR * groups * MR..][..groups * MR];
                    for (g, out) in tile_words.chunks_exact_mut(MR).enumerate() {
                        let i = 2 * g;
                        let at = |i: usize| &x[r0 + t0 + i * cs..][..len];
                        bf16_pairs(isa, at(i), (i + 1 < k).then(|| at(i + 1)), out);
                    }
                }
                return;
            }
            let mut block = vec![0f32; n * k];
            for i in 0..k {
                for r in 0..n {
                    block[r * k + i] = x[(r0 + r) * rs + i * cs];
                }
            }
            convert_rows(isa, dtype, amx, &block, k, words, scale, zero);
        });
        Ok(a)
    }

    /// Room for `rows × k` values in the layout `isa` multiplies, recycled from this thread's
    /// earlier batches ([`recycle`]): scales, zero points and the padding rows' words are zero;
    /// the real rows' words hold stale values that the caller converts over, every one.
    fn room(isa: Isa, dtype: Dtype, rows: usize, k: usize) -> Self {
        let amx = amx_fits(isa, dtype, k);
        let unit = if amx { AMX_ROWS } else { MR };
        let padded = rows.div_ceil(unit) * unit;
        let groups = k.div_ceil(per_word(dtype));
        let mut a = Self {
            dtype,
            rows,
            k,
            amx,
            words: recycle::take(padded * groups),
            scale: recycle::take(padded),
            zero: recycle::take(padded),
        };
        // Zero rows pad the last unit: AMX rows are one after another; tiles interleave their
        // rows, so the whole last tile is zeroed (its real rows are converted over).
        let pad_from = if amx {
            rows * groups
        } else {
            padded.saturating_sub(MR) * groups
        };
        a.words[pad_from..].fill(0);
        // One value per row: cleared whole (bf16 rows keep a zero scale and zero point).
        a.scale.fill(0.0);
        a.zero.fill(0);
        a
    }

    /// Words per row.
    fn groups(&self) -> usize {
        self.k.div_ceil(per_word(self.dtype))
    }

    /// Runs `f(r0, words, scale, zero)` in parallel on the storage of each block of `rb` rows
    /// from row `r0` (`rb` a multiple of this layout's unit, [`MR`] or [`AMX_ROWS`], as
    /// [`task_rows`] gives: both layouts keep a block's rows together, and the padding adds no
    /// block).
    fn par_blocks(
        &mut self,
        rb: usize,
        f: impl Fn(usize, &mut [u32], &mut [f32], &mut [i32]) + Sync,
    ) {
        let groups = self.groups();
        if self.rows == 0 || groups == 0 {
            return;
        }
        self.words
            .par_chunks_mut(rb * groups)
            .zip(self.scale.par_chunks_mut(rb))
            .zip(self.zero.par_chunks_mut(rb))
            .enumerate()
            .for_each(|(b, ((w, s), z))| f(b * rb, w, s, z));
    }
}

impl Drop for Activations {
    fn drop(&mut self) {
        recycle::give(std::mem::take(&mut self.words));
        recycle::give(std::mem::take(&mut self.scale));
        recycle::give(std::mem::take(&mut self.zero));
    }
}

/// Errors unless `x` holds the `rows × k` values of activations to convert to `dtype` (bf16 or int8).
fn check_source(dtype: Dtype, x: &[f32], rows: usize, k: usize) -> Result<()> {
    if dtype == Dtype::F32 || x.len() < rows * k {
        return Err(Error::Shape(format!(
            "converting {rows} × {k} activations to {dtype} from {} values",
            x.len()
        )));
    }
    Ok(())
}

/// Converts the rows of `x` (`k` values each) into one block's storage: `words` from the block's
/// first row in its layout (`amx`: row-major, else tiles of [`MR`] rows), with each row's int8
/// scale and zero point.
#[allow(clippy::too_many_arguments)]
fn convert_rows(
    isa: Isa,
    dtype: Dtype,
    amx: bool,
    x: &[f32],
    k: usize,
    words: &mut [u32],
    scale: &mut [f32],
    zero: &mut [i32],
) {
    let groups = k.div_ceil(per_word(dtype));
    #[cfg(target_arch = "x86_64")]
    if dtype == Dtype::Int8 && isa >= Isa::Avx512 {
        // Straight into the layout: no row buffer to scatter; in a tile, four rows at a time.
        let n = x.len() / k.max(1);
        let mut i = 0;
        while i < n {
            let row = |j: usize| &x[j * k..(j + 1) * k];
            let four = !amx && i.is_multiple_of(4) && i + 4 <= n;
            let (at, stride) = if amx {
                (i * groups, 1)
            } else {
                ((i / MR) * groups * MR + i % MR, MR)
            };
            // SAFETY: AVX-512 F/BW run here (`isa` is one the CPU runs); word g of row i + r lies
            // at `at + g·stride + r`, inside the block's storage in either layout (four rows
            // from a multiple of 4 stay in one tile of MR).
            unsafe {
                if four {
                    let rows = [row(i), row(i + 1), row(i + 2), row(i + 3)];
                    let got = x86::quantize_rows_to(rows, &mut words[at..], stride);
                    for (j, (s, z)) in got.into_iter().enumerate() {
                        (scale[i + j], zero[i + j]) = (s, z);
                    }
                    i += 4;
                } else {
                    [(scale[i], zero[i])] =
                        x86::quantize_rows_to([row(i)], &mut words[at..], stride);
                    i += 1;
                }
            }
        }
        return;
    }
    let mut row_words = vec![0u32; if amx { 0 } else { groups }];
    for (i, row) in x.chunks_exact(k).enumerate() {
        let dst = if amx {
            &mut words[i * groups..(i + 1) * groups]
        } else {
            &mut row_words[..]
        };
        if dtype == Dtype::Int8 {
            (scale[i], zero[i]) = quantize_row(isa, row, dst);
        } else {
            bf16_row(isa, row, dst);
        }
        if !amx {
            let (tile, r) = (i / MR, i % MR);
            let tile_words = &mut words[tile * groups * MR..(tile + 1) * groups * MR];
            for (g, &w) in row_words.iter().enumerate() {
                tile_words[g * MR + r] = w;
            }
        }
    }
}

/// Rounds half to even, for |v| < 2²² (adding and removing 1.5 · 2²³ leaves no fraction bits, in
/// the default rounding mode); branch-free, so the loops vectorise.
#[inline(always)]
fn round_even(v: f32) -> f32 {
    const MAGIC: f32 = 12_582_912.0;
    (v + MAGIC) - MAGIC
}

/// A row's int8 scale `s`, zero point `z` (a whole number in 0..=255) and `1 / s`, from its range
/// `lo ≤ 0 ≤ hi`.
#[inline(always)]
fn scale_zero(lo: f32, hi: f32) -> (f32, f32, f32) {
    let mut s = (hi - lo) / 255.0;
    if s == 0.0 || !s.is_finite() {
        s = 1.0;
    }
    let z = round_even(-lo / s).clamp(0.0, 255.0);
    (s, z, 1.0 / s)
}

/// One row's uint8 quantization into `words` (4 per word): returns its scale and zero point.
#[inline(always)]
fn quantize_row_impl(row: &[f32], words: &mut [u32]) -> (f32, i32) {
    // The range, always holding 0.
    let lo = lanes16(row, 0.0, |v| v, |a, v| if v < a { v } else { a });
    let hi = lanes16(row, 0.0, |v| v, |a, v| if v > a { v } else { a });
    let (s, z, inv) = scale_zero(lo, hi);
    // The words as their little-endian bytes: byte 4g + i is input 4g + i.
    // SAFETY: `words` is valid for 4 bytes per word, and u8 has no alignment or validity demands.
    let bytes =
        unsafe { std::slice::from_raw_parts_mut(words.as_mut_ptr().cast::<u8>(), words.len() * 4) };
    for (b, &v) in bytes.iter_mut().zip(row) {
        // max/min (unlike clamp) turn NaN into 0, so q is a whole number in 0..=255.
        let q = (round_even((v * inv).clamp(-512.0, 512.0)) + z)
            .max(0.0)
            .min(255.0);
        // SAFETY: q is finite and in range (the checked `as` conversion does not vectorise).
        *b = unsafe { q.to_int_unchecked::<i32>() } as u8;
    }
    bytes[row.len()..].iter_mut().for_each(|b| *b = 0);
    if cfg!(target_endian = "big") {
        words.iter_mut().for_each(|w| *w = w.swap_bytes());
    }
    (s, z as i32)
}

/// `out[j] = bf16(lo[j]) | bf16(hi[j]) << 16` (a missing `hi`: zeros), for `j < lo.len()`.
#[inline(always)]
fn bf16_pairs_impl(lo: &[f32], hi: Option<&[f32]>, out: &mut [u32]) {
    match hi {
        Some(hi) => out
            .iter_mut()
            .zip(lo.iter().zip(hi))
            .for_each(|(o, (&l, &h))| *o = to_bf16(l) as u32 | (to_bf16(h) as u32) << 16),
        None => out
            .iter_mut()
            .zip(lo)
            .for_each(|(o, &l)| *o = to_bf16(l) as u32),
    }
}

/// One row as bf16 pairs.
#[inline(always)]
fn bf16_row_impl(row: &[f32], words: &mut [u32]) {
    let (whole, rest) = row.split_at(row.len() / 2 * 2);
    for (w, c) in words.iter_mut().zip(whole.chunks_exact(2)) {
        *w = to_bf16(c[0]) as u32 | (to_bf16(c[1]) as u32) << 16;
    }
    if !rest.is_empty() {
        words[whole.len() / 2] = word_bf16(rest);
    }
}

dispatch!(@on quantize_row, quantize_row_avx2, quantize_row_avx512, quantize_row_impl, (row: &[f32], words: &mut [u32]) -> (f32, i32));
dispatch!(@on bf16_row, bf16_row_avx2, bf16_row_avx512, bf16_row_impl, (row: &[f32], words: &mut [u32]) -> ());
dispatch!(@on bf16_pairs, bf16_pairs_avx2, bf16_pairs_avx512, bf16_pairs_impl, (lo: &[f32], hi: Option<&[f32]>, out: &mut [u32]) -> ());

/// One micro tile: the products of [`MR`] activation rows (`x`, `groups × MR` words) with one
/// panel (`w`, `groups × LANES` words), finished with the rows' int8 scales and zero points and the
/// panel's channel scales, sums and biases, written to `rows × lanes` values of `out` (row stride
/// `stride`).
struct Tile<'a> {
    x: &'a [u32],
    w: &'a [u32],
    groups: usize,
    row_scale: &'a [f32],
    row_zero: &'a [i32],
    col_scale: &'a [f32],
    col_sum: &'a [i32],
    bias: &'a [f32],
    out: *mut f32,
    stride: usize,
    rows: usize,
    lanes: usize,
}

impl Tile<'_> {
    /// The int8 epilogue of row `r`, lane `l`: `(Σ − z·Σq_w) · (s_r · s_c) + b`, in this order on
    /// every path (no FMA), so all paths round alike.
    #[inline(always)]
    fn finish_i8(&self, r: usize, l: usize, acc: i32) -> f32 {
        (acc - self.row_zero[r] * self.col_sum[l]) as f32 * (self.row_scale[r] * self.col_scale[l])
            + self.bias[l]
    }

    /// Writes row `r`, lanes `0..self.lanes` of the tile.
    ///
    /// # Safety
    /// `r < self.rows`; `out` as [`Tile`] says.
    #[inline(always)]
    unsafe fn write(&self, r: usize, vals: impl Iterator<Item = f32>) {
        let o = self.out.add(r * self.stride);
        for (l, v) in vals.take(self.lanes).enumerate() {
            *o.add(l) = v;
        }
    }
}

type Kernel = unsafe fn(&Tile);

/// The micro-kernel of `dtype` (bf16 or int8) for `isa`: the instruction the CPU has for it at
/// that level (VNNI, AVX512-BF16), else the AVX2 build, else scalar code.
fn kernel(isa: Isa, dtype: Dtype) -> Kernel {
    #[cfg(target_arch = "x86_64")]
    {
        match dtype {
            Dtype::Int8 if isa.uses_vnni() => x86::int8_vnni,
            Dtype::Int8 if isa >= Isa::Avx2 => x86::int8_avx2,
            Dtype::Int8 => int8_scalar,
            _ if isa.uses_bf16() => x86::bf16_avx512,
            _ if isa >= Isa::Avx2 => x86::bf16_avx2,
            _ => bf16_scalar,
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = isa;
        if dtype == Dtype::Int8 {
            int8_scalar
        } else {
            bf16_scalar
        }
    }
}

/// The low and high bf16 of a word, as f32.
#[inline(always)]
fn bf16_pair(word: u32) -> (f32, f32) {
    (
        f32::from_bits(word << 16),
        f32::from_bits(word & 0xffff_0000),
    )
}

unsafe fn int8_scalar(t: &Tile) {
    let mut acc = [[0i32; LANES]; MR];
    for g in 0..t.groups {
        let wg = &t.w[g * LANES..(g + 1) * LANES];
        for (r, a) in acc.iter_mut().enumerate() {
            let xb = t.x[g * MR + r].to_le_bytes();
            for (l, &ww) in wg.iter().enumerate() {
                let wb = ww.to_le_bytes();
                a[l] += (0..4)
                    .map(|i| xb[i] as i32 * wb[i] as i8 as i32)
                    .sum::<i32>();
            }
        }
    }
    for (r, a) in acc.iter().enumerate().take(t.rows) {
        t.write(r, a.iter().enumerate().map(|(l, &v)| t.finish_i8(r, l, v)));
    }
}

unsafe fn bf16_scalar(t: &Tile) {
    let mut acc = [[0f32; LANES]; MR];
    for g in 0..t.groups {
        let wg = &t.w[g * LANES..(g + 1) * LANES];
        for (r, a) in acc.iter_mut().enumerate() {
            let (x0, x1) = bf16_pair(t.x[g * MR + r]);
            for (l, &ww) in wg.iter().enumerate() {
                let (w0, w1) = bf16_pair(ww);
                a[l] = x0.mul_add(w0, a[l]);
                a[l] = x1.mul_add(w1, a[l]);
            }
        }
    }
    for (r, a) in acc.iter().enumerate().take(t.rows) {
        t.write(r, a.iter().zip(t.bias).map(|(v, b)| v + b));
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{Tile, LANES, MR};
    use std::arch::x86_64::*;

    /// Stores `v` into lanes `0..lanes` of row `r` (all 16 at once when the panel is whole).
    #[inline(always)]
    unsafe fn store16(t: &Tile, r: usize, v: __m512) {
        let o = t.out.add(r * t.stride);
        if t.lanes == LANES {
            _mm512_storeu_ps(o, v);
        } else {
            _mm512_mask_storeu_ps(o, ((1u32 << t.lanes) - 1) as u16, v);
        }
    }

    /// AVX512-VNNI: one `vpdpbusd` per row and group (u8 activations × i8 weights, 4 per lane).
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    pub(super) unsafe fn int8_vnni(t: &Tile) {
        debug_assert!(t.x.len() >= t.groups * MR && t.w.len() >= t.groups * LANES);
        let (xp, wp) = (t.x.as_ptr(), t.w.as_ptr());
        let mut a = [_mm512_setzero_si512(); MR];
        for g in 0..t.groups {
            let wv = _mm512_loadu_si512(wp.add(g * LANES).cast());
            for (r, ar) in a.iter_mut().enumerate() {
                let xv = _mm512_set1_epi32(*xp.add(g * MR + r) as i32);
                *ar = _mm512_dpbusd_epi32(*ar, xv, wv);
            }
        }
        let col_sum = _mm512_loadu_si512(t.col_sum.as_ptr().cast());
        let col_scale = _mm512_loadu_ps(t.col_scale.as_ptr());
        let bias = _mm512_loadu_ps(t.bias.as_ptr());
        for (r, ar) in a.iter().enumerate().take(t.rows) {
            let sum = _mm512_sub_epi32(
                *ar,
                _mm512_mullo_epi32(_mm512_set1_epi32(t.row_zero[r]), col_sum),
            );
            let s = _mm512_mul_ps(_mm512_set1_ps(t.row_scale[r]), col_scale);
            let y = _mm512_add_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(sum), s), bias);
            store16(t, r, y);
        }
    }

    /// AVX512-BF16: one `vdpbf16ps` per row and group (2 bf16 products per lane).
    #[target_feature(enable = "avx512f,avx512bw,avx512bf16")]
    pub(super) unsafe fn bf16_avx512(t: &Tile) {
        debug_assert!(t.x.len() >= t.groups * MR && t.w.len() >= t.groups * LANES);
        let (xp, wp) = (t.x.as_ptr(), t.w.as_ptr());
        let mut a = [_mm512_setzero_ps(); MR];
        for g in 0..t.groups {
            let wv: __m512bh = std::mem::transmute(_mm512_loadu_si512(wp.add(g * LANES).cast()));
            for (r, ar) in a.iter_mut().enumerate() {
                let xv: __m512bh =
                    std::mem::transmute(_mm512_set1_epi32(*xp.add(g * MR + r) as i32));
                *ar = _mm512_dpbf16_ps(*ar, xv, wv);
            }
        }
        let bias = _mm512_loadu_ps(t.bias.as_ptr());
        for (r, ar) in a.iter().enumerate().take(t.rows) {
            store16(t, r, _mm512_add_ps(*ar, bias));
        }
    }

    /// A row's range `(lo, hi)`, both holding 0, ignoring NaN as the portable code does
    /// (`min(v, acc)` keeps `acc` where `v` is NaN).
    #[inline(always)]
    unsafe fn range(row: &[f32]) -> (f32, f32) {
        let (k, p) = (row.len(), row.as_ptr());
        let zero = _mm512_setzero_ps();
        let (mut lo, mut hi) = ([zero; 2], [zero; 2]);
        let mut i = 0;
        while i + 32 <= k {
            for (j, (l, h)) in lo.iter_mut().zip(hi.iter_mut()).enumerate() {
                let v = _mm512_loadu_ps(p.add(i + 16 * j));
                *l = _mm512_min_ps(v, *l);
                *h = _mm512_max_ps(v, *h);
            }
            i += 32;
        }
        while i < k {
            let v = _mm512_maskz_loadu_ps(tail(k, i), p.add(i));
            lo[0] = _mm512_min_ps(v, lo[0]);
            hi[0] = _mm512_max_ps(v, hi[0]);
            i += 16;
        }
        (
            _mm512_reduce_min_ps(_mm512_min_ps(lo[0], lo[1])),
            _mm512_reduce_max_ps(_mm512_max_ps(hi[0], hi[1])),
        )
    }

    /// The mask of the values `i .. min(i + 16, k)`.
    #[inline(always)]
    fn tail(k: usize, i: usize) -> u16 {
        let n = (k - i).min(16);
        ((1u32 << n) - 1) as u16
    }

    /// The 16 bytes of inputs `16c .. 16c + 16` of a row (`m`: those that exist; 0 past the row):
    /// `round_even(clamp(v·inv, ±512)) + z`, then max 0 and min 255 — the portable code's values:
    /// the rounding by `vcvtps2dq` (to nearest even, as `round_even`), `+ z`, max 0 in integers
    /// and min 255 by the saturating narrowing; NaN becomes 0 as there (it converts to i32::MIN).
    #[inline(always)]
    unsafe fn bytes16(p: *const f32, c: usize, m: u16, inv: f32, z: i32) -> __m128i {
        let v = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, p.add(16 * c)), _mm512_set1_ps(inv));
        let v = _mm512_min_ps(
            _mm512_set1_ps(512.0),
            _mm512_max_ps(_mm512_set1_ps(-512.0), v),
        );
        let q = _mm512_add_epi32(
            _mm512_cvt_roundps_epi32::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(v),
            _mm512_set1_epi32(z),
        );
        _mm512_cvtusepi32_epi8(_mm512_maskz_max_epi32(m, q, _mm512_setzero_si512()))
    }

    /// [`super::quantize_row`] of `N` rows (1, or 4 that are consecutive in a tile) on AVX-512,
    /// the same values, with word `g` of row `r` written to `words[g · stride + r]` — the
    /// layout's place for it — and without the narrowing stores (`vpmovdb` to memory) the
    /// compiler picks for the portable loop, slow on AMD (with the scatter from a row buffer,
    /// 7.8 % of an int8 encode on Zen 4; 4.8 % here). Four rows are transposed 4 × 4 words at a
    /// time, so each group's four words go out in one store. Returns each row's scale and zero
    /// point.
    ///
    /// # Safety
    /// The CPU runs AVX-512 F/BW; the rows are equally long; `words` holds
    /// `(⌈len/4⌉ − 1) · stride + N` words.
    #[target_feature(enable = "avx512f,avx512bw")]
    pub(super) unsafe fn quantize_rows_to<const N: usize>(
        rows: [&[f32]; N],
        words: &mut [u32],
        stride: usize,
    ) -> [(f32, i32); N] {
        let k = rows[0].len();
        let groups = k.div_ceil(4);
        debug_assert!(N == 1 || N == 4);
        debug_assert!(rows.iter().all(|r| r.len() == k));
        debug_assert!(groups == 0 || words.len() >= (groups - 1) * stride + N);
        let mut sz = [(0f32, 0f32, 0f32); N];
        for (q, row) in sz.iter_mut().zip(rows) {
            let (lo, hi) = range(row);
            *q = super::scale_zero(lo, hi);
        }
        let w = words.as_mut_ptr();
        let whole = k / 16;
        for c in 0..whole {
            let at = w.add(4 * c * stride);
            let b: [__m128i; N] = std::array::from_fn(|r| {
                bytes16(rows[r].as_ptr(), c, u16::MAX, sz[r].2, sz[r].1 as i32)
            });
            if N == 4 {
                // Rows × words → words × rows.
                let t0 = _mm_unpacklo_epi32(b[0], b[1]);
                let t1 = _mm_unpacklo_epi32(b[2], b[3]);
                let t2 = _mm_unpackhi_epi32(b[0], b[1]);
                let t3 = _mm_unpackhi_epi32(b[2], b[3]);
                _mm_storeu_si128(at.cast(), _mm_unpacklo_epi64(t0, t1));
                _mm_storeu_si128(at.add(stride).cast(), _mm_unpackhi_epi64(t0, t1));
                _mm_storeu_si128(at.add(2 * stride).cast(), _mm_unpacklo_epi64(t2, t3));
                _mm_storeu_si128(at.add(3 * stride).cast(), _mm_unpackhi_epi64(t2, t3));
            } else {
                *at = _mm_cvtsi128_si32(b[0]) as u32;
                *at.add(stride) = _mm_extract_epi32::<1>(b[0]) as u32;
                *at.add(2 * stride) = _mm_extract_epi32::<2>(b[0]) as u32;
                *at.add(3 * stride) = _mm_extract_epi32::<3>(b[0]) as u32;
            }
        }
        if whole * 16 < k {
            for (r, row) in rows.iter().enumerate() {
                let mut four = [0u32; 4];
                let b = bytes16(
                    row.as_ptr(),
                    whole,
                    tail(k, 16 * whole),
                    sz[r].2,
                    sz[r].1 as i32,
                );
                _mm_storeu_si128(four.as_mut_ptr().cast(), b);
                for (j, &v) in four.iter().enumerate().take(groups - 4 * whole) {
                    *w.add((4 * whole + j) * stride + r) = v;
                }
            }
        }
        sz.map(|(s, z, _)| (s, z as i32))
    }

    /// Rows per AVX2 sub-tile (16 registers: 6 accumulators, the group's weights, temporaries).
    const SUB: usize = 6;

    /// Stores `v` into lanes `half·8 ..` of row `r`, as many as the panel has.
    #[inline(always)]
    unsafe fn store8(t: &Tile, r: usize, half: usize, v: __m256) {
        let o = t.out.add(r * t.stride + half * 8);
        let lanes = t.lanes.saturating_sub(half * 8).min(8);
        if lanes == 8 {
            _mm256_storeu_ps(o, v);
        } else {
            let mut tmp = [0f32; 8];
            _mm256_storeu_ps(tmp.as_mut_ptr(), v);
            for (l, &x) in tmp.iter().enumerate().take(lanes) {
                *o.add(l) = x;
            }
        }
    }

    /// AVX2: the 4 bytes of each lane split into even and odd 16-bit halves, `vpmaddwd` on each
    /// (u8 × i8 products fit, sums exact), over sub-tiles of [`SUB`] rows × 8 channels.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn int8_avx2(t: &Tile) {
        debug_assert!(t.x.len() >= t.groups * MR && t.w.len() >= t.groups * LANES);
        let (xp, wp) = (t.x.as_ptr(), t.w.as_ptr());
        let low_bytes = _mm256_set1_epi16(0x00ff);
        for half in 0..2 {
            let col_sum = _mm256_loadu_si256(t.col_sum[half * 8..].as_ptr().cast());
            let col_scale = _mm256_loadu_ps(t.col_scale[half * 8..].as_ptr());
            let bias = _mm256_loadu_ps(t.bias[half * 8..].as_ptr());
            for r0 in (0..MR).step_by(SUB) {
                let mut a = [_mm256_setzero_si256(); SUB];
                for g in 0..t.groups {
                    let wv = _mm256_loadu_si256(wp.add(g * LANES + half * 8).cast());
                    let w_even = _mm256_srai_epi16(_mm256_slli_epi16(wv, 8), 8);
                    let w_odd = _mm256_srai_epi16(wv, 8);
                    for (r, ar) in a.iter_mut().enumerate() {
                        let xv = _mm256_set1_epi32(*xp.add(g * MR + r0 + r) as i32);
                        let x_even = _mm256_and_si256(xv, low_bytes);
                        let x_odd = _mm256_srli_epi16(xv, 8);
                        let s = _mm256_add_epi32(
                            _mm256_madd_epi16(x_even, w_even),
                            _mm256_madd_epi16(x_odd, w_odd),
                        );
                        *ar = _mm256_add_epi32(*ar, s);
                    }
                }
                for (i, ar) in a.iter().enumerate() {
                    let r = r0 + i;
                    if r >= t.rows {
                        break;
                    }
                    let sum = _mm256_sub_epi32(
                        *ar,
                        _mm256_mullo_epi32(_mm256_set1_epi32(t.row_zero[r]), col_sum),
                    );
                    let s = _mm256_mul_ps(_mm256_set1_ps(t.row_scale[r]), col_scale);
                    let y = _mm256_add_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(sum), s), bias);
                    store8(t, r, half, y);
                }
            }
        }
    }

    /// AVX2 + FMA on bf16: each bf16 widened to f32 (exact), two FMAs per group.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn bf16_avx2(t: &Tile) {
        debug_assert!(t.x.len() >= t.groups * MR && t.w.len() >= t.groups * LANES);
        let (xp, wp) = (t.x.as_ptr(), t.w.as_ptr());
        let high = _mm256_set1_epi32(0xffff_0000u32 as i32);
        for half in 0..2 {
            let bias = _mm256_loadu_ps(t.bias[half * 8..].as_ptr());
            for r0 in (0..MR).step_by(SUB) {
                let mut a = [_mm256_setzero_ps(); SUB];
                for g in 0..t.groups {
                    let wv = _mm256_loadu_si256(wp.add(g * LANES + half * 8).cast());
                    let w_lo = _mm256_castsi256_ps(_mm256_slli_epi32(wv, 16));
                    let w_hi = _mm256_castsi256_ps(_mm256_and_si256(wv, high));
                    for (r, ar) in a.iter_mut().enumerate() {
                        // The word in every lane, then its two bf16 widened in place.
                        let xv = _mm256_set1_epi32(*xp.add(g * MR + r0 + r) as i32);
                        let x_lo = _mm256_castsi256_ps(_mm256_slli_epi32(xv, 16));
                        let x_hi = _mm256_castsi256_ps(_mm256_and_si256(xv, high));
                        *ar = _mm256_fmadd_ps(x_lo, w_lo, *ar);
                        *ar = _mm256_fmadd_ps(x_hi, w_hi, *ar);
                    }
                }
                for (i, ar) in a.iter().enumerate() {
                    let r = r0 + i;
                    if r >= t.rows {
                        break;
                    }
                    store8(t, r, half, _mm256_add_ps(*ar, bias));
                }
            }
        }
    }
}

/// The AMX path: tiles configured once per task, 32 rows × 2 panels per step.
#[cfg(target_arch = "x86_64")]
mod amx {
    use super::{Activations, PackedLinear, AMX_ROWS, AMX_WORDS, LANES};
    use crate::core::dtype::Dtype;
    use std::arch::asm;
    use std::arch::x86_64::*;

    /// The tile configuration (palette 1): every tile 16 rows × 64 bytes. tmm0/tmm1 hold 16 rows
    /// of activations each, tmm2/tmm3 one panel's 16 groups each, tmm4–tmm7 the four 16 × 16
    /// accumulators (rows 0–15 and 16–31 × the two panels).
    #[repr(C, align(64))]
    struct Config([u8; 64]);

    /// Tiles configured for the current thread; released when dropped.
    struct Tiles;

    impl Tiles {
        /// # Safety
        /// The process holds the tile state (`Isa::Amx` was detected).
        unsafe fn configure() -> Tiles {
            let mut c = Config([0; 64]);
            c.0[0] = 1;
            for t in 0..8 {
                c.0[16 + 2 * t] = 64;
                c.0[48 + t] = 16;
            }
            asm!("ldtilecfg [{}]", in(reg) c.0.as_ptr(), options(nostack, readonly));
            Tiles
        }
    }

    impl Drop for Tiles {
        fn drop(&mut self) {
            // SAFETY: the tiles were configured by this thread (`Tiles::configure`).
            unsafe { asm!("tilerelease", options(nostack, nomem)) };
        }
    }

    /// `tileloadd tmmN, [base + stride·row]` for tile `$t`.
    macro_rules! load {
        ($t:literal, $p:expr, $stride:expr) => {
            asm!(concat!("tileloadd tmm", $t, ", [{p} + {s}*1]"), p = in(reg) $p, s = in(reg) $stride, options(nostack, readonly))
        };
    }
    macro_rules! store {
        ($t:literal, $p:expr, $stride:expr) => {
            asm!(concat!("tilestored [{p} + {s}*1], tmm", $t), p = in(reg) $p, s = in(reg) $stride, options(nostack))
        };
    }
    /// `C += A · B`: `tdpbusd` (u8 × i8 → i32) or `tdpbf16ps` (bf16 pairs → f32).
    macro_rules! dot {
        ($int8:expr, $c:literal, $a:literal, $b:literal) => {
            if $int8 {
                asm!(
                    concat!("tdpbusd tmm", $c, ", tmm", $a, ", tmm", $b),
                    options(nostack, nomem)
                )
            } else {
                asm!(
                    concat!("tdpbf16ps tmm", $c, ", tmm", $a, ", tmm", $b),
                    options(nostack, nomem)
                )
            }
        };
    }

    /// Rows `r0 ..` of `out = a · Wᵀ + b` into `block` (its rows, `w.n` values each).
    ///
    /// # Safety
    /// The process holds the tile state; `a` was converted for AMX (row-major, `k` a whole number
    /// of tile rows, rows padded to [`AMX_ROWS`]) in `w`'s dtype and `k`; `r0` is a multiple of
    /// [`AMX_ROWS`] and `block` holds at most the rows from `r0` to `a.rows`.
    #[target_feature(enable = "avx512f,avx512bw")]
    pub(super) unsafe fn block(w: &PackedLinear, a: &Activations, r0: usize, block: &mut [f32]) {
        let (n, groups) = (w.n, w.groups);
        let rows = block.len() / n;
        debug_assert!(a.amx && groups % AMX_WORDS == 0 && r0 % AMX_ROWS == 0);
        debug_assert!(a.words.len() >= (r0 + rows).div_ceil(AMX_ROWS) * AMX_ROWS * groups);
        let int8 = w.dtype == Dtype::Int8;
        let _tiles = Tiles::configure();
        let a_stride = groups * 4;
        // The four accumulators: 32 rows × 32 lanes of i32 or f32 bits, 128 bytes a row.
        let mut acc = Acc([0; AMX_ROWS * 2 * LANES]);
        let (cp, c_stride) = (acc.0.as_mut_ptr(), 2 * LANES * 4);
        for t0 in (0..rows).step_by(AMX_ROWS) {
            let ap = a.words.as_ptr().add((r0 + t0) * groups);
            for p in (0..w.panels).step_by(2) {
                let two = p + 1 < w.panels;
                asm!(
                    "tilezero tmm4",
                    "tilezero tmm5",
                    "tilezero tmm6",
                    "tilezero tmm7",
                    options(nostack, nomem)
                );
                for kb in 0..groups / AMX_WORDS {
                    let a0 = ap.add(kb * AMX_WORDS);
                    load!(0, a0, a_stride);
                    load!(1, a0.add(16 * groups), a_stride);
                    load!(
                        2,
                        w.words.as_ptr().add((p * groups + kb * AMX_WORDS) * LANES),
                        64usize
                    );
                    dot!(int8, 4, 0, 2);
                    dot!(int8, 6, 1, 2);
                    if two {
                        load!(
                            3,
                            w.words
                                .as_ptr()
                                .add(((p + 1) * groups + kb * AMX_WORDS) * LANES),
                            64usize
                        );
                        dot!(int8, 5, 0, 3);
                        dot!(int8, 7, 1, 3);
                    }
                }
                store!(4, cp, c_stride);
                store!(5, cp.add(LANES), c_stride);
                store!(6, cp.add(16 * 2 * LANES), c_stride);
                store!(7, cp.add(16 * 2 * LANES + LANES), c_stride);
                // The epilogue, as the AVX-512 kernels' (so int8 rounds alike on every path).
                for q in 0..if two { 2 } else { 1 } {
                    let c0 = (p + q) * LANES;
                    let lanes = LANES.min(n - c0);
                    let mask = ((1u32 << lanes) - 1) as u16;
                    let bias = _mm512_loadu_ps(w.bias.as_ptr().add(c0));
                    let col_sum = _mm512_loadu_si512(w.colsum.as_ptr().add(c0).cast());
                    let col_scale = _mm512_loadu_ps(w.scale.as_ptr().add(c0));
                    for i in 0..AMX_ROWS.min(rows - t0) {
                        let r = r0 + t0 + i;
                        let c = _mm512_loadu_si512(
                            acc.0.as_ptr().add(i * 2 * LANES + q * LANES).cast(),
                        );
                        let y = if int8 {
                            let sum = _mm512_sub_epi32(
                                c,
                                _mm512_mullo_epi32(_mm512_set1_epi32(a.zero[r]), col_sum),
                            );
                            let s = _mm512_mul_ps(_mm512_set1_ps(a.scale[r]), col_scale);
                            _mm512_add_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(sum), s), bias)
                        } else {
                            _mm512_add_ps(_mm512_castsi512_ps(c), bias)
                        };
                        _mm512_mask_storeu_ps(block.as_mut_ptr().add((t0 + i) * n + c0), mask, y);
                    }
                }
            }
        }
    }

    #[repr(C, align(64))]
    struct Acc([i32; AMX_ROWS * 2 * LANES]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::recycle::Recycle;
    use crate::core::Rng;

    /// Awkward shapes: channels not a multiple of 16 (an odd number of panels), inputs not a
    /// multiple of 4, and inputs that fill whole AMX tile rows (64, 128, 256: the AMX path); rows
    /// around the tile (12, 32) and the task (96) sizes.
    const SHAPES: [(usize, usize); 7] = [
        (37, 45),
        (16, 4),
        (5, 1),
        (64, 130),
        (37, 128),
        (16, 64),
        (50, 256),
    ];
    const ROWS: [usize; 9] = [1, 5, 12, 13, 33, 49, 96, 97, 193];

    fn data(rng: &mut Rng, len: usize, skew: f64) -> Vec<f32> {
        (0..len).map(|_| (rng.normal() + skew) as f32).collect()
    }

    /// int8 by the formulas of the module doc, with plain integer loops.
    fn int8_oracle(x: &[f32], rows: usize, w: &[f32], n: usize, k: usize, b: &[f32]) -> Vec<f32> {
        let mut out = vec![0f32; rows * n];
        let wq: Vec<(f32, Vec<i32>)> = (0..n)
            .map(|c| {
                let row = &w[c * k..(c + 1) * k];
                let amax = row.iter().fold(0f32, |m, v| m.max(v.abs()));
                let s = if amax > 0.0 { amax / 127.0 } else { 1.0 };
                (
                    s,
                    row.iter()
                        .map(|v| (v / s).round_ties_even() as i32)
                        .collect(),
                )
            })
            .collect();
        for r in 0..rows {
            let row = &x[r * k..(r + 1) * k];
            let lo = row.iter().fold(0f32, |m, &v| m.min(v));
            let hi = row.iter().fold(0f32, |m, &v| m.max(v));
            let s = if hi > lo { (hi - lo) / 255.0 } else { 1.0 };
            let z = (-lo / s).round_ties_even();
            let q: Vec<i32> = row
                .iter()
                .map(|&v| ((v * (1.0 / s)).round_ties_even() + z).clamp(0.0, 255.0) as i32)
                .collect();
            for c in 0..n {
                let (sc, qw) = &wq[c];
                let dot: i32 = q.iter().zip(qw).map(|(a, b)| (a - z as i32) * b).sum();
                out[r * n + c] = dot as f32 * (s * sc) + b[c];
            }
        }
        out
    }

    fn transpose(x: &[f32], rows: usize, cols: usize) -> Vec<f32> {
        (0..cols * rows)
            .map(|i| x[(i % rows) * cols + i / rows])
            .collect()
    }

    /// A transposed source read down its columns (as training's gradients read theirs) packs and
    /// converts to exactly the words of the row-major matrix, on every path and in both layouts.
    #[test]
    fn strided_sources_convert_like_row_major_ones() {
        let mut rng = Rng::new(11);
        for (n, k) in SHAPES {
            let w = data(&mut rng, n * k, 0.0);
            let b = data(&mut rng, n, 0.0);
            let wt = transpose(&w, n, k);
            for dtype in [Dtype::Bf16, Dtype::Int8] {
                let p = PackedLinear::new(&w, n, k, &b, dtype).unwrap();
                let q = PackedLinear::new_strided(&wt, n, k, (1, n), &b, dtype).unwrap();
                assert_eq!(p.words, q.words, "{dtype} {n}×{k}");
                assert_eq!((p.scale, p.colsum), (q.scale, q.colsum), "{dtype} {n}×{k}");
                for rows in ROWS {
                    let x = data(&mut rng, rows * k, 0.3);
                    let xt = transpose(&x, rows, k);
                    for isa in Isa::supported() {
                        let a = Activations::new_on(isa, dtype, &x, rows, k).unwrap();
                        let c = Activations::new_strided_on(isa, dtype, &xt, rows, k, (1, rows))
                            .unwrap();
                        let at = format!("{isa} {dtype} {rows}×{k}");
                        assert_eq!((a.amx, &a.words), (c.amx, &c.words), "{at}");
                        assert_eq!((&a.scale, &a.zero), (&c.scale, &c.zero), "{at}");
                    }
                }
            }
        }
        // Reading past the source is refused, not a panic.
        assert!(
            PackedLinear::new_strided(&[0.0; 5], 2, 3, (1, 2), &[0.0; 2], Dtype::Bf16).is_err()
        );
        assert!(
            Activations::new_strided_on(Isa::Scalar, Dtype::Bf16, &[0.0; 5], 2, 3, (1, 2)).is_err()
        );
    }

    /// `matmul_nt` in bf16 is the f32-accumulated product of the bf16-rounded inputs, through
    /// transposed operands, with and without a bias, written or added to what `out` holds.
    #[test]
    fn bf16_matmul_is_the_product_of_rounded_inputs() {
        let mut rng = Rng::new(5);
        let r = |v: f32| f32::from_bits((to_bf16(v) as u32) << 16) as f64;
        for (m, n, k) in [(13, 37, 45), (97, 16, 5), (33, 50, 256), (1, 3, 1)] {
            let a = data(&mut rng, m * k, 0.0);
            let b = data(&mut rng, n * k, 0.0);
            let bias = data(&mut rng, n, 0.0);
            let (at, bt) = (transpose(&a, m, k), transpose(&b, n, k));
            let start = data(&mut rng, m * n, 0.0);
            for (accumulate, with_bias) in [(false, true), (true, false)] {
                let mut out = start.clone();
                let dims = (m, n, k);
                let bias_arg = with_bias.then_some(&bias[..]);
                matmul_nt(
                    Dtype::Bf16,
                    dims,
                    (&at, 1, m),
                    (&bt, 1, n),
                    bias_arg,
                    &mut out,
                    accumulate,
                )
                .unwrap();
                for i in 0..m {
                    for j in 0..n {
                        let terms = (0..k).map(|l| r(a[i * k + l]) * r(b[j * k + l]));
                        let (sum, mag) = terms.fold((0f64, 0f64), |(s, g), t| (s + t, g + t.abs()));
                        let mut want = sum + if with_bias { bias[j] as f64 } else { 0.0 };
                        if accumulate {
                            want += start[i * n + j] as f64;
                        }
                        let got = out[i * n + j] as f64;
                        let tol = 1e-5 * (mag + want.abs() + 1.0);
                        assert!(
                            (got - want).abs() <= tol,
                            "{m}×{n}×{k} ({i}, {j}): {got} vs {want}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn int8_is_exact_on_every_path() {
        let mut rng = Rng::new(7);
        for (n, k) in SHAPES {
            let w = data(&mut rng, n * k, 0.0);
            let b = data(&mut rng, n, 0.0);
            let p = PackedLinear::new(&w, n, k, &b, Dtype::Int8).unwrap();
            for rows in ROWS {
                // Activations skewed positive (as after GELU), one row all zeros.
                let mut x = data(&mut rng, rows * k, 0.5);
                x[..k].iter_mut().for_each(|v| *v = 0.0);
                let want = int8_oracle(&x, rows, &w, n, k, &b);
                for isa in Isa::supported() {
                    let mut out = vec![f32::NAN; rows * n];
                    p.forward_on(isa, &x, rows, &mut out).unwrap();
                    assert_eq!(out, want, "{isa}, {rows}×{k} · {k}→{n}");
                }
                // And as close to the f32 product as rounding each input to half a step allows.
                for r in 0..rows {
                    let xr = &x[r * k..(r + 1) * k];
                    let (lo, hi) = xr
                        .iter()
                        .fold((0f32, 0f32), |(l, h), &v| (l.min(v), h.max(v)));
                    let sx = (hi - lo) / 255.0;
                    for c in 0..n {
                        let wc = &w[c * k..(c + 1) * k];
                        let sw = wc.iter().fold(0f32, |m, v| m.max(v.abs())) / 127.0;
                        let exact: f32 = xr.iter().zip(wc).map(|(a, b)| a * b).sum::<f32>() + b[c];
                        let bound: f32 = xr
                            .iter()
                            .zip(wc)
                            .map(|(a, b)| 0.5 * (a.abs() * sw + b.abs() * sx) + 0.25 * sx * sw)
                            .sum();
                        let err = (want[r * n + c] - exact).abs();
                        assert!(err <= bound * 1.01 + 1e-4, "{err} > {bound}");
                    }
                }
            }
        }
    }

    #[test]
    fn bf16_matches_rounded_inputs_on_every_path() {
        let mut rng = Rng::new(8);
        let r16 = |v: f32| f32::from_bits((to_bf16(v) as u32) << 16) as f64;
        for (n, k) in SHAPES {
            let w = data(&mut rng, n * k, 0.0);
            let b = data(&mut rng, n, 0.0);
            let p = PackedLinear::new(&w, n, k, &b, Dtype::Bf16).unwrap();
            for rows in ROWS {
                let x = data(&mut rng, rows * k, 0.0);
                for isa in Isa::supported() {
                    let mut out = vec![f32::NAN; rows * n];
                    p.forward_on(isa, &x, rows, &mut out).unwrap();
                    for r in 0..rows {
                        for c in 0..n {
                            let (mut want, mut mag) = (b[c] as f64, 0f64);
                            for i in 0..k {
                                let t = r16(x[r * k + i]) * r16(w[c * k + i]);
                                want += t;
                                mag += t.abs();
                            }
                            let got = out[r * n + c] as f64;
                            assert!(
                                (got - want).abs() <= 1e-5 * mag + 1e-6,
                                "{isa}: {got} vs {want} at ({r}, {c}) of {rows}×{k} · {k}→{n}"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn fused_activation_and_conversion_equal_the_separate_steps() {
        let mut rng = Rng::new(9);
        let act = |v: &mut [f32]| v.iter_mut().for_each(|x| *x = x.max(0.0) * 0.5);
        // (inputs, hidden, outputs): the second layer reads the first's `hidden` outputs.
        for (k, hid, n) in [(64, 128, 37), (45, 37, 16), (128, 256, 64)] {
            for dtype in [Dtype::Int8, Dtype::Bf16] {
                let l1 = PackedLinear::new(
                    &data(&mut rng, hid * k, 0.0),
                    hid,
                    k,
                    &data(&mut rng, hid, 0.0),
                    dtype,
                )
                .unwrap();
                let l2 = PackedLinear::new(
                    &data(&mut rng, n * hid, 0.0),
                    n,
                    hid,
                    &data(&mut rng, n, 0.0),
                    dtype,
                )
                .unwrap();
                for rows in [1, 13, 33, 97, 193] {
                    let x = data(&mut rng, rows * k, 0.3);
                    for isa in Isa::supported() {
                        let a = Activations::new_on(isa, dtype, &x, rows, k).unwrap();
                        let mut mid = vec![0f32; rows * hid];
                        l1.forward_converted(isa, &a, &mut mid).unwrap();
                        act(&mut mid);
                        let want = Activations::new_on(isa, dtype, &mid, rows, hid).unwrap();
                        let got = l1.forward_act_convert(isa, &a, act).unwrap();
                        assert_eq!((got.amx, got.rows, got.k), (want.amx, want.rows, want.k));
                        assert!(
                            got.words == want.words
                                && got.scale == want.scale
                                && got.zero == want.zero,
                            "{isa} {dtype} {rows}×{k}→{hid}"
                        );
                        let (mut o1, mut o2) = (vec![0f32; rows * n], vec![1f32; rows * n]);
                        l2.forward_converted(isa, &want, &mut o1).unwrap();
                        l2.forward_converted(isa, &got, &mut o2).unwrap();
                        assert_eq!(o1, o2);
                    }
                }
            }
        }
    }

    /// `new_after` (a row-wise op, then the conversion, block by block) changes `x` as the op
    /// does and converts exactly what `new` converts from the changed rows.
    #[test]
    fn converting_after_a_row_op_equals_the_two_steps() {
        let mut rng = Rng::new(12);
        let op = |r0: usize, rows: &mut [f32], k: usize| {
            for (i, row) in rows.chunks_mut(k).enumerate() {
                row.iter_mut()
                    .for_each(|v| *v = *v * 0.5 + (r0 + i) as f32 * 0.01);
            }
        };
        for dtype in [Dtype::Int8, Dtype::Bf16] {
            for (rows, k) in [(1, 64), (13, 45), (100, 384)] {
                let x = data(&mut rng, rows * k, 0.3);
                let mut want_x = x.clone();
                op(0, &mut want_x, k);
                let want = Activations::new(dtype, &want_x, rows, k).unwrap();
                let mut got_x = x.clone();
                let got = Activations::new_after(dtype, &mut got_x, rows, k, |r0, b| op(r0, b, k))
                    .unwrap();
                assert_eq!(got_x, want_x, "{dtype} {rows}×{k}");
                assert!(
                    got.words == want.words && got.scale == want.scale && got.zero == want.zero,
                    "{dtype} {rows}×{k}"
                );
            }
        }
        assert!(Activations::new_after(Dtype::F32, &mut [0.0; 4], 1, 4, |_, _| {}).is_err());
        assert!(Activations::new_after(Dtype::Int8, &mut [0.0; 3], 1, 4, |_, _| {}).is_err());
    }

    /// Activations built in recycled storage (stale values of a larger matrix) equal those built
    /// in fresh, zeroed storage, padding included.
    #[test]
    fn recycled_activations_equal_fresh_ones() {
        let mut rng = Rng::new(11);
        let fresh = || {
            u32::with_pool(|p| p.clear());
            f32::with_pool(|p| p.clear());
            i32::with_pool(|p| p.clear());
        };
        for dtype in [Dtype::Int8, Dtype::Bf16] {
            for isa in Isa::supported() {
                for (rows, k) in [(13, 64), (1, 45), (40, 128)] {
                    let big = data(&mut rng, 193 * 256, 0.3);
                    drop(Activations::new_on(isa, dtype, &big, 193, 256).unwrap());
                    let x = data(&mut rng, rows * k, 0.3);
                    let stale = Activations::new_on(isa, dtype, &x, rows, k).unwrap();
                    let (words, scale, zero) =
                        (stale.words.clone(), stale.scale.clone(), stale.zero.clone());
                    drop(stale);
                    fresh();
                    let clean = Activations::new_on(isa, dtype, &x, rows, k).unwrap();
                    assert!(
                        words == clean.words && scale == clean.scale && zero == clean.zero,
                        "{isa} {dtype} {rows}×{k}"
                    );
                }
            }
        }
    }

    #[test]
    fn amx_layout_where_the_tiles_fit() {
        let x = vec![0.5f32; 3 * 128];
        for isa in Isa::supported() {
            for (dtype, k, fits) in [
                (Dtype::Int8, 128, true),
                (Dtype::Int8, 96, false),
                (Dtype::Bf16, 96, true),
                (Dtype::Bf16, 80, false),
            ] {
                let a = Activations::new_on(isa, dtype, &x, 3, k).unwrap();
                assert_eq!(a.amx, isa == Isa::Amx && fits, "{isa} {dtype} k = {k}");
            }
        }
    }

    /// The AVX-512 quantizer that writes into the layout gives the portable code's words, scale
    /// and zero point, on rows of every length around the vectors, with NaN, infinities, huge
    /// values, signed zeros and all-zero rows: one row at both strides, and four rows
    /// interleaved at the tile's.
    #[test]
    #[cfg(target_arch = "x86_64")]
    fn layout_quantizer_equals_the_portable_one() {
        if !Isa::supported().contains(&Isa::Avx512) {
            return;
        }
        let mut rng = Rng::new(11);
        let specials = [
            f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            3e38,
            -0.0,
            0.0,
            1e-30,
        ];
        for len in 1..=70 {
            for case in 0..4 {
                let mut row = data(&mut rng, len, if case == 1 { 0.5 } else { 0.0 });
                match case {
                    2 => row.iter_mut().for_each(|v| *v = 0.0),
                    3 => row[rng.below(len)] = specials[rng.below(specials.len())],
                    _ => {}
                }
                let groups = len.div_ceil(4);
                let mut want = vec![0u32; groups];
                let want_sz = quantize_row_impl(&row, &mut want);
                for stride in [1, MR] {
                    let mut got = vec![u32::MAX; (groups - 1) * stride + 1];
                    // SAFETY: AVX-512 is supported (checked above); `got` is as long as required.
                    let [got_sz] = unsafe { x86::quantize_rows_to([&row], &mut got, stride) };
                    let got: Vec<u32> = got.iter().step_by(stride).copied().collect();
                    assert_eq!(
                        (got, got_sz),
                        (want.clone(), want_sz),
                        "{len} {case} {row:?}"
                    );
                }
                // Four rows at once, interleaved at the tile's stride: this row is the third.
                let others: Vec<Vec<f32>> = (0..4).map(|_| data(&mut rng, len, 0.3)).collect();
                let four = [&others[0][..], &others[1][..], &row[..], &others[3][..]];
                let mut got = vec![u32::MAX; (groups - 1) * MR + 4];
                // SAFETY: as above, with room for four rows.
                let got_sz = unsafe { x86::quantize_rows_to(four, &mut got, MR) };
                for (r, src) in four.iter().enumerate() {
                    let mut want = vec![0u32; groups];
                    let want_sz = quantize_row_impl(src, &mut want);
                    let got: Vec<u32> = got[r..].iter().step_by(MR).copied().collect();
                    assert_eq!((got, got_sz[r]), (want, want_sz), "{len} {case} row {r}");
                }
            }
        }
    }

    #[test]
    fn shapes_are_checked() {
        assert!(PackedLinear::new(&[0.0; 6], 2, 3, &[0.0; 3], Dtype::Int8).is_err());
        assert!(PackedLinear::new(&[0.0; 6], 2, 3, &[0.0; 2], Dtype::F32).is_err());
        let p = PackedLinear::new(&[0.0; 6], 2, 3, &[0.0; 2], Dtype::Bf16).unwrap();
        let mut out = [0f32; 4];
        assert!(p.forward(&[0.0; 5], 2, &mut out).is_err());
        assert!(p.forward(&[0.0; 6], 2, &mut out[..3]).is_err());
        p.forward(&[1.0; 6], 2, &mut out).unwrap();
        assert_eq!(out, [0.0; 4]);
    }

    #[test]
    fn bf16_rounds_to_nearest_even() {
        assert_eq!(to_bf16(1.0), 0x3f80);
        // 1 + 2^-8 lies halfway between 1 and 1 + 2^-7: ties go to the even mantissa (1.0).
        assert_eq!(to_bf16(1.0 + 1.0 / 256.0), 0x3f80);
        assert_eq!(to_bf16(1.0 + 3.0 / 256.0), 0x3f82);
        assert_eq!(to_bf16(f32::INFINITY), 0x7f80);
        assert!(f32::from_bits((to_bf16(f32::NAN) as u32) << 16).is_nan());
    }
}
