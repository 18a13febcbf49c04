//! Fast CPU inference for the [`Encoder`] of every family: the same weights (read in place from the model's tensors, never
//! copied), the same math, a different schedule.
//!
//! - **No padding at all.** The sequences of a batch are concatenated into one `[T, hidden]`
//!   matrix (`T` = real tokens), so every projection is one large matrix product with no wasted rows,
//!   attention runs per sequence over exactly its own tokens (no mask needed), and pooling reads the
//!   result as it is (`Pooling::forward_ragged`).
//! - **No fresh pages per batch**: Q, K, V, the context and the converted activations are
//!   recycled from the last batch ([`crate::core::recycle`]).
//! - **Few hand-overs**: the forward runs on one of rayon's threads, which does the serial steps
//!   itself and takes part in every parallel one; each residual + LayerNorm converts its rows for
//!   the packed layers that read them next in the same pass.
//! - **Direct GEMM** (the `gemm` crate that candle uses) with the bias pre-loaded in the output, so
//!   bias-add costs nothing; attention products read Q/K/V heads through strides, with no transposes.
//! - **Fused, vectorised epilogues**: residual + LayerNorm in one pass, GELU (erf) and softmax with
//!   a polynomial `exp` and a rational `erf` compiled for AVX-512 and for AVX2+FMA, chosen at run time
//!   ([`crate::core::isa::Isa`]).
//!
//! - **Reduced precision on request**: after [`Encoder::set_dtype`] the linear layers run the
//!   packed bf16 / int8 kernels of [`crate::core::qgemm`]; everything else stays f32.
//!
//! Numerically (in f32) it agrees with the candle path and with PyTorch to ~1e-6 (tested against the goldens).

use candle_core::{Storage, Tensor};
use rayon::prelude::*;

use super::attention::{attend, Sequence};
use super::kernels::{gelu, layer_norm};
use super::model::{Encoder, Linear};
use crate::core::compute::{compute_lock, sgemm};
use crate::core::error::{Error, Result};
use crate::core::isa::Isa;
use crate::core::qgemm::{Activations, PackedLinear};
use crate::core::recycle;
use crate::core::Dtype;

/// A read guard on a CPU f32 tensor, giving its contiguous data as a slice.
pub(super) struct W<'a> {
    guard: candle_core::StorageRef<'a>,
    start: usize,
    len: usize,
}

impl<'a> W<'a> {
    pub(super) fn new(t: &'a Tensor) -> Result<Self> {
        let (guard, layout) = t.storage_and_layout();
        let (start, end) = layout
            .contiguous_offsets()
            .ok_or_else(|| Error::Internal("fast CPU path needs contiguous weights".into()))?;
        match &*guard {
            Storage::Cpu(c) => {
                c.as_slice::<f32>()?;
            }
            _ => {
                return Err(Error::Internal(
                    "fast CPU path needs CPU f32 weights".into(),
                ))
            }
        }
        Ok(W {
            guard,
            start,
            len: end - start,
        })
    }
    pub(super) fn s(&self) -> &[f32] {
        match &*self.guard {
            Storage::Cpu(c) => c
                .as_slice::<f32>()
                .map(|s| &s[self.start..self.start + self.len])
                .unwrap_or(&[]),
            _ => &[],
        }
    }
}

/// `out[T×o] = x[T×i] · Wᵀ + b` with `W` `[o, i]`.
pub(super) fn linear(x: &[f32], rows: usize, w: &[f32], b: &[f32], out: &mut [f32]) -> Result<()> {
    let o = b.len();
    let i = if o == 0 { 0 } else { w.len() / o };
    if w.len() != o * i || x.len() < rows * i || out.len() < rows * o {
        return Err(Error::Shape(
            "fast CPU path: linear layer shapes do not match".into(),
        ));
    }
    out[..rows * o]
        .par_chunks_mut(o)
        .with_min_len(64)
        .for_each(|r| r.copy_from_slice(b));
    // SAFETY: sizes checked above: x is rows×i, w is o×i (read as its transpose), out is rows×o.
    unsafe {
        sgemm(
            rows,
            o,
            i,
            out.as_mut_ptr(),
            o,
            x.as_ptr(),
            i,
            w.as_ptr(),
            1,
            i,
            true,
            1.0,
            true,
        )
    };
    Ok(())
}

/// Splits `buf` into consecutive mutable pieces of `sizes[i]` elements.
pub(super) fn split_sizes<'a>(
    mut buf: &'a mut [f32],
    sizes: impl Iterator<Item = usize>,
) -> Vec<&'a mut [f32]> {
    let mut out = Vec::new();
    for s in sizes {
        let (a, b) = std::mem::take(&mut buf).split_at_mut(s);
        out.push(a);
        buf = b;
    }
    out
}

/// `x = LayerNorm(x + residual)` on the `t` rows of `x` (`h` values each); with a `dtype`, each
/// block of rows also converted for the packed layers that read `x` next, while in cache.
fn norm_then_convert(
    x: &mut [f32],
    t: usize,
    h: usize,
    residual: Option<&[f32]>,
    (w, b, eps): (&[f32], &[f32], f32),
    dtype: Option<Dtype>,
) -> Result<Option<Activations>> {
    let norm = |r0: usize, rows: &mut [f32]| {
        let res = residual.map(|r| &r[r0 * h..r0 * h + rows.len()]);
        layer_norm(rows, res, w, b, eps)
    };
    match dtype {
        Some(dtype) => Ok(Some(Activations::new_after(dtype, x, t, h, norm)?)),
        None => {
            x[..t * h]
                .par_chunks_mut(h * ROWS_PER_TASK)
                .enumerate()
                .for_each(|(i, rows)| norm(i * ROWS_PER_TASK, rows));
            Ok(None)
        }
    }
}

/// `y = a · Wᵀ + b` on the packed layer `p`, then `x = LayerNorm(x + y)` and `x` converted to
/// `next` ([`norm_then_convert`]), in one parallel step ([`PackedLinear::forward_then_convert`]):
/// each block of rows normalised and converted right after it is computed, `y` never stored.
fn linear_norm_convert(
    p: &PackedLinear,
    a: &Activations,
    x: &mut [f32],
    h: usize,
    (w, b, eps): (&[f32], &[f32], f32),
    next: Option<Dtype>,
) -> Result<Option<Activations>> {
    p.forward_then_convert(
        Isa::current(),
        a,
        x,
        h,
        |rows, res| layer_norm(rows, Some(res), w, b, eps),
        next,
    )
}

/// The dtype of layer `i`'s packed Q, K and V (which read one converted input), if they are.
fn qkv_dtype(bert: &Encoder, i: usize) -> Option<Dtype> {
    let l = bert.layers.get(i)?;
    match (&l.query.packed, &l.key.packed, &l.value.packed) {
        (Some(q), Some(k), Some(v)) if q.dtype() == k.dtype() && k.dtype() == v.dtype() => {
            Some(q.dtype())
        }
        _ => None,
    }
}

/// Rows of work per parallel task for row-wise ops.
pub(super) const ROWS_PER_TASK: usize = 32;

/// Runs the encoder over `seqs` (token ids and type ids of each sequence, no padding) and returns
/// the last hidden states of all tokens, concatenated: `[Σ len, hidden]`. Positions, token types
/// and MPNet's relative bias follow the encoder's [`super::Family`].
pub(crate) fn forward(bert: &Encoder, seqs: &[(&[u32], &[u32])]) -> Result<Vec<f32>> {
    // The turn is taken here, before the work moves into the pool: a pool thread waiting inside
    // a forward may run any queued job, and must never find a second forward there.
    let _turn = compute_lock();
    // On one of the pool's threads, which then runs the serial steps between the parallel ones
    // itself and takes part in each: from a thread outside the pool, every one of the ~70 parallel
    // steps of a batch was a hand-over and a wake-up (int8 encode: 7,143 → 1,952 context
    // switches, 6 % less CPU time).
    rayon::scope(|_| forward_in_pool(bert, seqs))
}

fn forward_in_pool(bert: &Encoder, seqs: &[(&[u32], &[u32])]) -> Result<Vec<f32>> {
    let cfg = bert.config();
    let family = bert.family();
    let max_len = bert.max_input_length();
    let h = cfg.hidden_size;
    let lens: Vec<usize> = seqs.iter().map(|(ids, _)| ids.len()).collect();
    let offsets: Vec<usize> = lens
        .iter()
        .scan(0, |acc, &l| {
            let o = *acc;
            *acc += l;
            Some(o)
        })
        .collect();
    let t = lens.iter().sum::<usize>();
    for (ids, types) in seqs {
        if ids.len() > max_len {
            return Err(Error::InvalidInput(format!(
                "sequence of {} tokens exceeds the {max_len} positions of this {family} model",
                ids.len(),
            )));
        }
        if types.len() != ids.len() {
            return Err(Error::InvalidInput(
                "token type ids and input ids differ in length".into(),
            ));
        }
        if let Some(bad) = ids.iter().find(|&&i| i as usize >= cfg.vocab_size) {
            return Err(Error::InvalidInput(format!(
                "token id {bad} outside the vocabulary ({}): after add_tokens, call resize_token_embeddings",
                cfg.vocab_size
            )));
        }
        if let Some(bad) = types
            .iter()
            .find(|&&i| family.uses_token_types() && i as usize >= cfg.type_vocab_size)
        {
            return Err(Error::InvalidInput(format!(
                "token type id {bad} outside type_vocab_size ({})",
                cfg.type_vocab_size
            )));
        }
    }
    if t == 0 {
        return Ok(Vec::new());
    }

    // Embeddings + LayerNorm.
    let e = &bert.embeddings;
    let word = W::new(e.word_embeddings.embeddings())?;
    let pos = W::new(e.position_embeddings.embeddings())?;
    let typ = e
        .token_type_embeddings
        .as_ref()
        .map(|t| W::new(t.embeddings()))
        .transpose()?;
    let (lnw, lnb) = (W::new(&e.layer_norm.weight)?, W::new(&e.layer_norm.bias)?);
    let (word, pos, typ) = (word.s(), pos.s(), typ.as_ref().map(|t| t.s()));
    let mut x = vec![0f32; t * h];
    let pad = cfg.pad_token_id as u32;
    // (token id, token type, position) of every row.
    let mut rows: Vec<(u32, u32, u32)> = Vec::with_capacity(t);
    for (ids, types) in seqs {
        let positions = family.position_ids(ids, pad);
        rows.extend(
            ids.iter()
                .zip(types.iter())
                .zip(positions)
                .map(|((&i, &ty), p)| (i, if family.uses_token_types() { ty } else { 0 }, p)),
        );
    }
    x.par_chunks_mut(h)
        .zip(rows.par_iter())
        .with_min_len(ROWS_PER_TASK)
        .for_each(|(row, &(id, ty, p))| {
            let (id, ty, p) = (id as usize, ty as usize, p as usize);
            for (k, v) in row.iter_mut().enumerate() {
                *v = word[id * h + k] + pos[p * h + k];
            }
            if let Some(typ) = typ {
                row.iter_mut()
                    .zip(&typ[ty * h..(ty + 1) * h])
                    .for_each(|(v, t)| *v += t);
            }
        });
    let eps = e.layer_norm.eps as f32;
    // The first layer's Q/K/V input, converted as the LayerNorm writes it (where it is packed).
    let mut qkv_in = norm_then_convert(
        &mut x,
        t,
        h,
        None,
        (lnw.s(), lnb.s(), eps),
        qkv_dtype(bert, 0),
    )?;

    // Q, K, V, the attention context and (where a layer runs in f32) the intermediate
    // activations: recycled from the last batch, every value written before it is read.
    let mut q = recycle::take::<f32>(t * h);
    let mut k = recycle::take::<f32>(t * h);
    let mut v = recycle::take::<f32>(t * h);
    let mut ctx = recycle::take::<f32>(t * h);
    let mut inter = Vec::new();
    // MPNet: the relative bias of every distance, per head, computed once for all layers.
    let longest = lens.iter().copied().max().unwrap_or(0);
    let bias = bert.relative_bias_table(longest)?;
    let bias = bias.as_ref();
    for (li, layer) in bert.layers.iter().enumerate() {
        let lin = |l: &Linear, input: &[f32], out: &mut [f32]| -> Result<()> {
            if let Some(p) = &l.packed {
                return p.forward(input, t, out);
            }
            let w = W::new(&l.weight)?;
            let b = l
                .bias
                .as_ref()
                .ok_or_else(|| Error::Internal("fast CPU path needs biases".into()))?;
            let b = W::new(b)?;
            linear(input, t, w.s(), b.s(), out)
        };
        match (&layer.query.packed, &layer.key.packed, &layer.value.packed) {
            // Q, K and V read the same input: convert it once.
            (Some(pq), Some(pk), Some(pv)) => {
                let isa = Isa::current();
                let a = match qkv_in.take() {
                    Some(a) => a,
                    None => Activations::new(pq.dtype(), &x, t, h)?,
                };
                PackedLinear::forward_each(
                    isa,
                    &a,
                    vec![(pq, &mut q), (pk, &mut k), (pv, &mut v)],
                )?;
            }
            _ => {
                lin(&layer.query, &x, &mut q)?;
                lin(&layer.key, &x, &mut k)?;
                lin(&layer.value, &x, &mut v)?;
            }
        }

        // Attention, one sequence per task, heads in turn; scores never leave the sequence.
        // In a reduced-precision dtype the attention products may run in bf16 too.
        let (isa, bf16) = (Isa::current(), qkv_dtype(bert, li).is_some());
        let (qr, kr, vr) = (&q, &k, &v);
        split_sizes(&mut ctx, lens.iter().map(|l| l * h))
            .into_par_iter()
            .zip(offsets.par_iter().zip(lens.par_iter()))
            .for_each(|(ctx_seq, (&off, &len))| {
                let rows = off * h..(off + len) * h;
                let seq = Sequence {
                    q: &qr[rows.clone()],
                    k: &kr[rows.clone()],
                    v: &vr[rows],
                    len,
                    h,
                    heads: layer.num_heads,
                    head_dim: layer.head_dim,
                    bias: bias.map(|b| (b.as_slice(), longest)),
                    bf16,
                };
                attend(isa, &seq, ctx_seq);
            });

        // Output projection, then x = LN(x + attn), the residual added inside the fused kernel;
        // converted for the feed-forward as it is written, where that runs packed.
        let (w1, b1) = (
            W::new(&layer.attn_norm.weight)?,
            W::new(&layer.attn_norm.bias)?,
        );
        let norm1 = (w1.s(), b1.s(), layer.attn_norm.eps as f32);
        let ffn_dtype = match (&layer.intermediate.packed, &layer.output.packed) {
            (Some(pi), Some(po)) if pi.dtype() == po.dtype() => Some(pi.dtype()),
            _ => None,
        };
        let ffn_in = match &layer.attn_output.packed {
            Some(p) => {
                let a = Activations::new(p.dtype(), &ctx, t, h)?;
                linear_norm_convert(p, &a, &mut x, h, norm1, ffn_dtype)?
            }
            None => {
                lin(&layer.attn_output, &ctx, &mut q)?;
                norm_then_convert(&mut x, t, h, Some(&q), norm1, ffn_dtype)?
            }
        };

        // Feed-forward, then x = LN(x + ffn), converted for the next layer's Q/K/V.
        let act = layer.act;
        let (w2, b2) = (
            W::new(&layer.output_norm.weight)?,
            W::new(&layer.output_norm.bias)?,
        );
        let norm2 = (w2.s(), b2.s(), layer.output_norm.eps as f32);
        let next = qkv_dtype(bert, li + 1);
        qkv_in = match (&layer.intermediate.packed, &layer.output.packed, ffn_in) {
            // bf16 / int8: the activation applied and the result converted for the output layer
            // block by block, while in cache (the wide f32 intermediate is never stored whole).
            (Some(pi), Some(po), Some(a)) => {
                let a = pi.forward_act_convert(Isa::current(), &a, |rows| gelu(rows, act))?;
                linear_norm_convert(po, &a, &mut x, h, norm2, next)?
            }
            _ => {
                if inter.is_empty() {
                    inter = recycle::take(t * cfg.intermediate_size);
                }
                lin(&layer.intermediate, &x, &mut inter)?;
                inter
                    .par_chunks_mut(cfg.intermediate_size * 8)
                    .for_each(|c| gelu(c, act));
                lin(&layer.output, &inter, &mut q)?;
                norm_then_convert(&mut x, t, h, Some(&q), norm2, next)?
            }
        };
    }
    for buf in [q, k, v, ctx, inter] {
        recycle::give(buf);
    }
    Ok(x)
}
