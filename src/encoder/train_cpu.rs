//! Fast CPU training for the [`Encoder`]: the schedule of [`super::cpu`] (no padding, direct GEMMs
//! with strides instead of transposes, fused kernels) run forward keeping what the backward pass
//! needs, and that backward pass written out by hand — every weight's gradient in one sweep, with
//! no intermediate tensors, broadcasts, zero-filled gradient buffers or copies between layouts.
//!
//! It plugs into candle's autograd, so `loss.backward()` works as everywhere else:
//! [`forward`] returns the last hidden states `[b, s, hidden]` (zeros in the padding) as the output
//! of one custom op whose backward computes the gradients of all the encoder's weights. candle
//! gives a variable its gradient only through an op that takes it as an argument, so the weights
//! enter the graph through a chain of empty "sink" ops ahead of the encoder op (their outputs hold
//! one zero). Backward reaches the encoder op first, which stores every weight's gradient; each
//! sink then hands its two or three weights theirs.
//!
//! Dropout uses the seeded masks of [`super::ops`] (the same `fit` seed gives the same model); the
//! masks are drawn over this path's unpadded layout, so they differ from the candle path's.
//!
//! Used for every family without MPNet's relative attention bias, with erf GELU, on the CPU in
//! f32. Gradients equal PyTorch's (`tests/train_grad.rs`, `tests/families.rs`) and the candle
//! path's (this module's tests).

use std::cell::Cell;
use std::sync::{Arc, Mutex};

use candle_core::{CpuStorage, CustomOp1, CustomOp2, CustomOp3, DType, Layout, Shape, Tensor};
use rayon::prelude::*;

use super::config::HiddenAct;
use super::cpu::{linear, split_sizes, ROWS_PER_TASK, W};
use super::kernels::{
    gelu, gelu_backward, layer_norm, layer_norm_backward, softmax, softmax_backward,
};
use super::model::Encoder;
use super::ops::DropoutOp;
use crate::core::compute::{compute_lock, sgemm, sgemm_strided};
use crate::core::error::{Error, Result};
use crate::core::isa::Isa;
use crate::core::qgemm::matmul_nt;
use crate::core::Dtype;

thread_local! {
    static ENABLED: Cell<bool> = const { Cell::new(true) };
    static AMP: Cell<bool> = const { Cell::new(false) };
    static AMP_FORWARDS: Cell<usize> = const { Cell::new(0) };
}

/// Mixed precision for the training forwards on this thread while it lives (what
/// sentence-transformers' `use_amp` / PyTorch's `autocast(dtype=bfloat16)` do on a CPU): the
/// linear layers' products — forward, input gradients and weight gradients — take bf16 inputs and
/// accumulate in f32; weights, gradients, attention, LayerNorm, GELU and the optimizer stay f32.
/// It takes effect where the CPU multiplies bf16 ([`Isa::uses_bf16`]: AVX512-BF16 or AMX);
/// elsewhere training stays f32. Restores the previous setting when dropped.
pub(crate) struct Autocast(bool);

impl Autocast {
    pub(crate) fn new(on: bool) -> Self {
        Autocast(AMP.with(|a| a.replace(on)))
    }
}

impl Drop for Autocast {
    fn drop(&mut self) {
        AMP.with(|a| a.set(self.0));
    }
}

/// Whether a training forward on this thread now runs in mixed precision.
pub(crate) fn amp_active() -> bool {
    AMP.with(|a| a.get()) && Isa::current().uses_bf16()
}

/// How many training forwards this thread has run in mixed precision (what did run: a family
/// this path does not train, as MPNet, stays f32 under [`Autocast`]).
pub(crate) fn amp_forwards() -> usize {
    AMP_FORWARDS.with(|n| n.get())
}

/// Turns this path off (or back on) for training forwards on this thread; off, training runs on
/// candle's ops. For comparing the two.
#[cfg(test)]
pub(crate) fn set_enabled(on: bool) {
    ENABLED.with(|e| e.set(on));
}

/// Whether this path can train `enc`.
pub(super) fn supports(enc: &Encoder) -> bool {
    let word = enc.embeddings.word_embeddings.embeddings();
    ENABLED.with(|e| e.get())
        && word.device().is_cpu()
        && word.dtype() == DType::F32
        && enc.relative_attention_bias.is_none()
        && enc.layers.iter().all(|l| {
            l.act == HiddenAct::Gelu
                && [
                    &l.query,
                    &l.key,
                    &l.value,
                    &l.attn_output,
                    &l.intermediate,
                    &l.output,
                ]
                .iter()
                .all(|lin| lin.bias.is_some())
        })
}

/// Weights per layer, in the order of [`params`].
const PER_LAYER: usize = 16;

/// Every weight this path differentiates, in a fixed order: the embedding tables (word, position,
/// token type where the family has one), the embedding LayerNorm, then per layer query, key,
/// value, attention output (weight, bias each), attention LayerNorm, intermediate, output, output
/// LayerNorm.
fn params(enc: &Encoder) -> Result<Vec<Tensor>> {
    let e = &enc.embeddings;
    let mut out = vec![
        e.word_embeddings.embeddings().clone(),
        e.position_embeddings.embeddings().clone(),
    ];
    if let Some(t) = &e.token_type_embeddings {
        out.push(t.embeddings().clone());
    }
    out.push(e.layer_norm.weight.clone());
    out.push(e.layer_norm.bias.clone());
    for l in &enc.layers {
        for lin in [&l.query, &l.key, &l.value, &l.attn_output] {
            out.push(lin.weight.clone());
            out.push(bias(lin)?.clone());
        }
        out.push(l.attn_norm.weight.clone());
        out.push(l.attn_norm.bias.clone());
        for lin in [&l.intermediate, &l.output] {
            out.push(lin.weight.clone());
            out.push(bias(lin)?.clone());
        }
        out.push(l.output_norm.weight.clone());
        out.push(l.output_norm.bias.clone());
    }
    Ok(out)
}

fn bias(l: &super::Linear) -> Result<&Tensor> {
    l.bias
        .as_ref()
        .ok_or_else(|| Error::Internal("fast CPU training needs biases".into()))
}

/// What one layer's backward pass needs from its forward pass (`T` tokens, `[T, ·]` row-major).
struct LayerTape {
    /// The layer's input (Q, K, V read it; the attention residual).
    x_in: Vec<f32>,
    q: Vec<f32>,
    k: Vec<f32>,
    v: Vec<f32>,
    /// Softmax outputs before dropout: per sequence, per head, `len × len`.
    probs: Vec<f32>,
    ctx: Vec<f32>,
    /// Input of the attention LayerNorm (dropped attention output + `x_in`) and its output.
    y1: Vec<f32>,
    x1: Vec<f32>,
    /// The intermediate projection before and after GELU (`[T, intermediate]`).
    inter: Vec<f32>,
    act: Vec<f32>,
    /// Input of the output LayerNorm.
    y2: Vec<f32>,
    /// Masks of the attention probabilities, the attention output and the feed-forward output.
    drop_probs: Option<DropoutOp>,
    drop_attn: Option<DropoutOp>,
    drop_out: Option<DropoutOp>,
}

/// One forward pass: the batch's layout and every layer's saved activations.
struct Tape {
    params: Vec<Tensor>,
    /// Padded shape of the output.
    b: usize,
    s: usize,
    /// Tokens of each sequence and where each starts among the `T` rows.
    lens: Vec<usize>,
    offsets: Vec<usize>,
    /// (token id, token type, position) of every row.
    rows: Vec<(u32, u32, u32)>,
    /// Embedding sums before the LayerNorm.
    e: Vec<f32>,
    drop_emb: Option<DropoutOp>,
    layers: Vec<LayerTape>,
    /// Mixed precision ([`Autocast`]) in forward, hence in backward.
    amp: bool,
}

fn drop_mask(p: f64, on: bool) -> Option<DropoutOp> {
    (on && p > 0.0).then(|| DropoutOp::next(p))
}

/// Applies `mask` in place (element `i` of `x` is element `offset + i` of the masked tensor).
fn apply_mask(mask: &Option<DropoutOp>, x: &mut [f32], offset: usize) {
    if let Some(m) = mask {
        const CHUNK: usize = 4096;
        x.par_chunks_mut(CHUNK)
            .enumerate()
            .for_each(|(c, x)| m.apply_in_place(x, offset + c * CHUNK));
    }
}

/// `LayerNorm(x)` into a new buffer (`x` is kept for the backward pass).
fn layer_norm_of(x: &[f32], w: &[f32], b: &[f32], eps: f32) -> Vec<f32> {
    let mut y = x.to_vec();
    y.par_chunks_mut(w.len() * ROWS_PER_TASK)
        .for_each(|c| layer_norm(c, None, w, b, eps));
    y
}

/// `a += b`, element-wise, on both cores.
fn add_into(a: &mut [f32], b: &[f32]) {
    a.par_chunks_mut(4096)
        .zip(b.par_chunks(4096))
        .for_each(|(a, b)| a.iter_mut().zip(b).for_each(|(a, b)| *a += b));
}

/// Runs the encoder forward over the sequences of a right-padded batch, keeping the tape.
/// Returns `None` where the mask is not right padding (a row with a gap), which the candle path
/// handles.
pub(super) fn forward(
    enc: &Encoder,
    input_ids: &Tensor,
    token_type_ids: &Tensor,
    attention_mask: &Tensor,
    dropout: bool,
) -> Result<Option<Tensor>> {
    let (b, s) = input_ids.dims2()?;
    let ids = input_ids.to_dtype(DType::U32)?.to_vec2::<u32>()?;
    let types = token_type_ids.to_dtype(DType::U32)?.to_vec2::<u32>()?;
    let mask = attention_mask.to_dtype(DType::U32)?.to_vec2::<u32>()?;
    let mut lens = Vec::with_capacity(b);
    for m in &mask {
        let len = m.iter().take_while(|&&v| v != 0).count();
        if m[len..].iter().any(|&v| v != 0) {
            return Ok(None);
        }
        lens.push(len);
    }
    let cfg = enc.config();
    let family = enc.family();
    let pad = cfg.pad_token_id as u32;
    let mut rows = Vec::new();
    for ((ids, types), &len) in ids.iter().zip(&types).zip(&lens) {
        let positions = family.position_ids(ids, pad);
        for j in 0..len {
            if ids[j] as usize >= cfg.vocab_size {
                return Err(Error::InvalidInput(format!(
                    "token id {} outside the vocabulary ({})",
                    ids[j], cfg.vocab_size
                )));
            }
            let ty = if family.uses_token_types() {
                types[j]
            } else {
                0
            };
            if enc.embeddings.token_type_embeddings.is_some() && ty as usize >= cfg.type_vocab_size
            {
                return Err(Error::InvalidInput(format!(
                    "token type id {ty} outside type_vocab_size ({})",
                    cfg.type_vocab_size
                )));
            }
            rows.push((ids[j], ty, positions[j]));
        }
    }
    let offsets: Vec<usize> = lens
        .iter()
        .scan(0, |acc, &l| {
            let o = *acc;
            *acc += l;
            Some(o)
        })
        .collect();
    let params = params(enc)?;
    let amp = amp_active();
    let (tape, out) = {
        let _turn = compute_lock();
        run_forward(enc, params, b, s, lens, offsets, rows, dropout, amp)?
    };
    if amp {
        AMP_FORWARDS.with(|n| n.set(n.get() + 1));
    }
    let h = cfg.hidden_size;
    let mut padded = vec![0f32; b * s * h];
    for (r, (&off, &len)) in tape.offsets.iter().zip(&tape.lens).enumerate() {
        padded[r * s * h..(r * s + len) * h].copy_from_slice(&out[off * h..(off + len) * h]);
    }
    let stash = Arc::new(Mutex::new(Vec::new()));
    let chain = sink_chain(&tape.params, &stash)?;
    let op = EncoderOp {
        enc: enc.clone(),
        tape,
        output: Mutex::new(Some(padded)),
        shape: Shape::from((b, s, h)),
        stash,
    };
    Ok(Some(chain.apply_op1(op)?))
}

#[allow(clippy::too_many_arguments)]
fn run_forward(
    enc: &Encoder,
    params: Vec<Tensor>,
    b: usize,
    s: usize,
    lens: Vec<usize>,
    offsets: Vec<usize>,
    rows: Vec<(u32, u32, u32)>,
    dropout: bool,
    amp: bool,
) -> Result<(Tape, Vec<f32>)> {
    let cfg = enc.config();
    let h = cfg.hidden_size;
    let t = rows.len();
    let em = &enc.embeddings;
    let word = W::new(em.word_embeddings.embeddings())?;
    let pos = W::new(em.position_embeddings.embeddings())?;
    let typ = em
        .token_type_embeddings
        .as_ref()
        .map(|t| W::new(t.embeddings()))
        .transpose()?;
    let (word, pos, typ) = (word.s(), pos.s(), typ.as_ref().map(|t| t.s()));
    let mut e = vec![0f32; t * h];
    e.par_chunks_mut(h)
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
    let (lnw, lnb) = (W::new(&em.layer_norm.weight)?, W::new(&em.layer_norm.bias)?);
    let mut x = layer_norm_of(&e, lnw.s(), lnb.s(), em.layer_norm.eps as f32);
    let drop_emb = drop_mask(em.dropout, dropout);
    apply_mask(&drop_emb, &mut x, 0);

    let mut layers = Vec::with_capacity(enc.layers.len());
    for layer in &enc.layers {
        let lin = |l: &super::Linear, input: &[f32], out_dim: usize| -> Result<Vec<f32>> {
            let mut out = vec![0f32; t * out_dim];
            let (w, bb) = (W::new(&l.weight)?, W::new(bias(l)?)?);
            if amp {
                let k = input.len() / t.max(1);
                let dims = (t, out_dim, k);
                matmul_nt(
                    Dtype::Bf16,
                    dims,
                    (input, k, 1),
                    (w.s(), k, 1),
                    Some(bb.s()),
                    &mut out,
                    false,
                )?;
            } else {
                linear(input, t, w.s(), bb.s(), &mut out)?;
            }
            Ok(out)
        };
        let x_in = x;
        let q = lin(&layer.query, &x_in, h)?;
        let k = lin(&layer.key, &x_in, h)?;
        let v = lin(&layer.value, &x_in, h)?;

        let (nh, d) = (layer.num_heads, layer.head_dim);
        let scale = 1.0 / (d as f32).sqrt();
        let drop_probs = drop_mask(layer.attn_dropout, dropout);
        let prob_sizes: Vec<usize> = lens.iter().map(|l| nh * l * l).collect();
        let prob_offsets: Vec<usize> = prob_sizes
            .iter()
            .scan(0, |acc, &n| {
                let o = *acc;
                *acc += n;
                Some(o)
            })
            .collect();
        let mut probs = vec![0f32; prob_sizes.iter().sum()];
        let mut ctx = vec![0f32; t * h];
        let (qr, kr, vr) = (&q, &k, &v);
        split_sizes(&mut ctx, lens.iter().map(|l| l * h))
            .into_par_iter()
            .zip(split_sizes(&mut probs, prob_sizes.iter().copied()))
            .zip(offsets.par_iter().zip(lens.par_iter()))
            .zip(prob_offsets.par_iter())
            .for_each(|(((ctx_seq, probs_seq), (&off, &len)), &po)| {
                if len == 0 {
                    return;
                }
                let mut dropped = vec![0f32; if drop_probs.is_some() { len * len } else { 0 }];
                for head in 0..nh {
                    let col = head * d;
                    let p = &mut probs_seq[head * len * len..(head + 1) * len * len];
                    // SAFETY: Q, K, V hold t×h values; rows off..off+len and columns col..col+d
                    // are in range; p holds len×len; ctx_seq holds len×h.
                    unsafe {
                        sgemm(
                            len,
                            len,
                            d,
                            p.as_mut_ptr(),
                            len,
                            qr.as_ptr().add(off * h + col),
                            h,
                            kr.as_ptr().add(off * h + col),
                            1,
                            h,
                            false,
                            scale,
                            false,
                        );
                    }
                    softmax(p, len);
                    let pv: &[f32] = match &drop_probs {
                        Some(m) => {
                            dropped.copy_from_slice(p);
                            m.apply_in_place(&mut dropped, po + head * len * len);
                            &dropped
                        }
                        None => p,
                    };
                    // SAFETY: as above.
                    unsafe {
                        sgemm(
                            len,
                            d,
                            len,
                            ctx_seq.as_mut_ptr().add(col),
                            h,
                            pv.as_ptr(),
                            len,
                            vr.as_ptr().add(off * h + col),
                            h,
                            1,
                            false,
                            1.0,
                            false,
                        );
                    }
                }
            });

        let mut y1 = lin(&layer.attn_output, &ctx, h)?;
        let drop_attn = drop_mask(layer.attn_output_dropout, dropout);
        apply_mask(&drop_attn, &mut y1, 0);
        add_into(&mut y1, &x_in);
        let (w1, b1) = (
            W::new(&layer.attn_norm.weight)?,
            W::new(&layer.attn_norm.bias)?,
        );
        let x1 = layer_norm_of(&y1, w1.s(), b1.s(), layer.attn_norm.eps as f32);

        let inter = lin(&layer.intermediate, &x1, cfg.intermediate_size)?;
        let mut act = inter.clone();
        act.par_chunks_mut(cfg.intermediate_size * 8)
            .for_each(|c| gelu(c, HiddenAct::Gelu));
        let mut y2 = lin(&layer.output, &act, h)?;
        let drop_out = drop_mask(layer.hidden_dropout, dropout);
        apply_mask(&drop_out, &mut y2, 0);
        add_into(&mut y2, &x1);
        let (w2, b2) = (
            W::new(&layer.output_norm.weight)?,
            W::new(&layer.output_norm.bias)?,
        );
        x = layer_norm_of(&y2, w2.s(), b2.s(), layer.output_norm.eps as f32);
        layers.push(LayerTape {
            x_in,
            q,
            k,
            v,
            probs,
            ctx,
            y1,
            x1,
            inter,
            act,
            y2,
            drop_probs,
            drop_attn,
            drop_out,
        });
    }
    let tape = Tape {
        params,
        b,
        s,
        lens,
        offsets,
        rows,
        e,
        drop_emb,
        layers,
        amp,
    };
    Ok((tape, x))
}

/// LayerNorm's backward over `h`-long rows: `(dx, dw, db)`.
fn layer_norm_grads(x: &[f32], w: &[f32], g: &[f32], eps: f32) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let h = w.len();
    let mut dx = vec![0f32; x.len()];
    let (dw, db) = dx
        .par_chunks_mut(h * ROWS_PER_TASK)
        .zip(x.par_chunks(h * ROWS_PER_TASK))
        .zip(g.par_chunks(h * ROWS_PER_TASK))
        .map(|((dx, x), g)| {
            let (mut dw, mut db) = (vec![0f32; h], vec![0f32; h]);
            layer_norm_backward(x, w, g, dx, &mut dw, &mut db, eps);
            (dw, db)
        })
        .reduce(
            || (vec![0f32; h], vec![0f32; h]),
            |(mut aw, mut ab), (bw, bb)| {
                aw.iter_mut().zip(&bw).for_each(|(a, b)| *a += b);
                ab.iter_mut().zip(&bb).for_each(|(a, b)| *a += b);
                (aw, ab)
            },
        );
    (dx, dw, db)
}

/// The column sums of a `[rows, cols]` matrix (a bias's gradient).
fn column_sums(d: &[f32], cols: usize) -> Vec<f32> {
    d.par_chunks(cols * 64)
        .map(|c| {
            let mut s = vec![0f32; cols];
            for row in c.chunks(cols) {
                s.iter_mut().zip(row).for_each(|(s, v)| *s += v);
            }
            s
        })
        .reduce(
            || vec![0f32; cols],
            |mut a, b| {
                a.iter_mut().zip(&b).for_each(|(a, b)| *a += b);
                a
            },
        )
}

/// The backward pass of `y = x Wᵀ + b` (`x` `[t, i]`, `W` `[o, i]`, `dy` `[t, o]`): returns
/// `(dW, db)` and writes (`accumulate`: adds) `dx = dy W` into `dx`; `amp`: both products in bf16.
#[allow(clippy::too_many_arguments)]
fn linear_grads(
    dy: &[f32],
    x: &[f32],
    w: &[f32],
    (t, o, i): (usize, usize, usize),
    dx: &mut [f32],
    accumulate: bool,
    amp: bool,
) -> Result<(Vec<f32>, Vec<f32>)> {
    if dy.len() != t * o || x.len() != t * i || w.len() != o * i || dx.len() != t * i {
        return Err(Error::Internal(
            "fast CPU training: linear layer shapes do not match".into(),
        ));
    }
    let mut dw = vec![0f32; o * i];
    if amp {
        // dW = dYᵀ · X: rows of dYᵀ and channels of Xᵀ read down the columns of dY and X.
        matmul_nt(
            Dtype::Bf16,
            (o, i, t),
            (dy, 1, o),
            (x, 1, i),
            None,
            &mut dw,
            false,
        )?;
        // dX = dY · W: W's columns are the channels.
        matmul_nt(
            Dtype::Bf16,
            (t, i, o),
            (dy, o, 1),
            (w, 1, i),
            None,
            dx,
            accumulate,
        )?;
        return Ok((dw, column_sums(dy, o)));
    }
    // SAFETY: sizes checked above. dW[o×i] = dYᵀ[o×t] · X[t×i] (dYᵀ read through strides);
    // dX[t×i] (+)= dY[t×o] · W[o×i].
    unsafe {
        sgemm_strided(
            o,
            i,
            t,
            dw.as_mut_ptr(),
            i,
            dy.as_ptr(),
            1,
            o,
            x.as_ptr(),
            i,
            1,
            false,
            1.0,
            true,
        );
        sgemm(
            t,
            i,
            o,
            dx.as_mut_ptr(),
            i,
            dy.as_ptr(),
            o,
            w.as_ptr(),
            i,
            1,
            accumulate,
            1.0,
            true,
        );
    }
    Ok((dw, column_sums(dy, o)))
}

/// Every weight's gradient, in the order of [`params`], from the gradient of the output `[T, h]`.
fn backward(enc: &Encoder, tape: &Tape, mut dx: Vec<f32>) -> Result<Vec<Vec<f32>>> {
    let cfg = enc.config();
    let h = cfg.hidden_size;
    let inter_dim = cfg.intermediate_size;
    let t = tape.rows.len();
    let first_layer = tape.params.len() - PER_LAYER * enc.layers.len();
    let amp = tape.amp;
    let mut grads: Vec<Vec<f32>> = vec![Vec::new(); tape.params.len()];
    for (li, (layer, lt)) in enc.layers.iter().zip(&tape.layers).enumerate().rev() {
        let g = &mut grads[first_layer + li * PER_LAYER..first_layer + (li + 1) * PER_LAYER];

        // Output LayerNorm; its input is the dropped output projection + x1.
        let w2 = W::new(&layer.output_norm.weight)?;
        let (mut dx1, dw, db) = layer_norm_grads(&lt.y2, w2.s(), &dx, layer.output_norm.eps as f32);
        (g[14], g[15]) = (dw, db);
        let mut d_out = dx1.clone();
        apply_mask(&lt.drop_out, &mut d_out, 0);
        let mut d_act = vec![0f32; t * inter_dim];
        let wo = W::new(&layer.output.weight)?;
        let (dw, db) = linear_grads(
            &d_out,
            &lt.act,
            wo.s(),
            (t, h, inter_dim),
            &mut d_act,
            false,
            amp,
        )?;
        (g[12], g[13]) = (dw, db);
        drop(d_out);
        let mut d_inter = vec![0f32; t * inter_dim];
        d_inter
            .par_chunks_mut(inter_dim * 8)
            .zip(lt.inter.par_chunks(inter_dim * 8))
            .zip(d_act.par_chunks(inter_dim * 8))
            .for_each(|((o, x), g)| gelu_backward(x, g, o));
        drop(d_act);
        let wi = W::new(&layer.intermediate.weight)?;
        let (dw, db) = linear_grads(
            &d_inter,
            &lt.x1,
            wi.s(),
            (t, inter_dim, h),
            &mut dx1,
            true,
            amp,
        )?;
        (g[10], g[11]) = (dw, db);
        drop(d_inter);

        // Attention LayerNorm; its input is the dropped attention output + x_in.
        let w1 = W::new(&layer.attn_norm.weight)?;
        let (mut dx_in, dw, db) =
            layer_norm_grads(&lt.y1, w1.s(), &dx1, layer.attn_norm.eps as f32);
        (g[8], g[9]) = (dw, db);
        drop(dx1);
        let mut d_attn = dx_in.clone();
        apply_mask(&lt.drop_attn, &mut d_attn, 0);
        let mut d_ctx = vec![0f32; t * h];
        let wa = W::new(&layer.attn_output.weight)?;
        let (dw, db) = linear_grads(&d_attn, &lt.ctx, wa.s(), (t, h, h), &mut d_ctx, false, amp)?;
        (g[6], g[7]) = (dw, db);
        drop(d_attn);

        let (dq, dk, dv) = attention_grads(layer, lt, &tape.lens, &tape.offsets, &d_ctx, h);
        drop(d_ctx);
        for (j, (lin, d)) in [(&layer.query, &dq), (&layer.key, &dk), (&layer.value, &dv)]
            .into_iter()
            .enumerate()
        {
            let w = W::new(&lin.weight)?;
            let (dw, db) = linear_grads(d, &lt.x_in, w.s(), (t, h, h), &mut dx_in, true, amp)?;
            (g[2 * j], g[2 * j + 1]) = (dw, db);
        }
        dx = dx_in;
    }

    // Embeddings: dropout, LayerNorm, then each row's gradient into its table rows.
    let em = &enc.embeddings;
    apply_mask(&tape.drop_emb, &mut dx, 0);
    let lnw = W::new(&em.layer_norm.weight)?;
    let (de, dw, db) = layer_norm_grads(&tape.e, lnw.s(), &dx, em.layer_norm.eps as f32);
    let n_tables = first_layer - 2;
    (grads[n_tables], grads[n_tables + 1]) = (dw, db);
    // Each table with the row of it a token reads.
    type Row = fn(&(u32, u32, u32)) -> u32;
    let tables: Vec<(&Tensor, Row)> = {
        let mut v: Vec<(&Tensor, Row)> = vec![
            (em.word_embeddings.embeddings(), |r| r.0),
            (em.position_embeddings.embeddings(), |r| r.2),
        ];
        if let Some(tt) = &em.token_type_embeddings {
            v.push((tt.embeddings(), |r| r.1));
        }
        v
    };
    let filled: Vec<Vec<f32>> = tables
        .par_iter()
        .map(|(table, index)| {
            let mut g = vec![0f32; table.elem_count()];
            for (row, r) in de.chunks(h).zip(&tape.rows) {
                let at = index(r) as usize * h;
                g[at..at + h].iter_mut().zip(row).for_each(|(g, v)| *g += v);
            }
            g
        })
        .collect();
    for (i, g) in filled.into_iter().enumerate() {
        grads[i] = g;
    }
    Ok(grads)
}

/// Attention's backward, one sequence per task: the gradients of Q, K and V (`[T, h]` each) from
/// that of the context.
fn attention_grads(
    layer: &super::model::Layer,
    lt: &LayerTape,
    lens: &[usize],
    offsets: &[usize],
    d_ctx: &[f32],
    h: usize,
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let t = d_ctx.len() / h;
    let (nh, d) = (layer.num_heads, layer.head_dim);
    let scale = 1.0 / (d as f32).sqrt();
    let (mut dq, mut dk, mut dv) = (vec![0f32; t * h], vec![0f32; t * h], vec![0f32; t * h]);
    let prob_offsets: Vec<usize> = lens
        .iter()
        .scan(0, |acc, &l| {
            let o = *acc;
            *acc += nh * l * l;
            Some(o)
        })
        .collect();
    let sizes = || lens.iter().map(|l| l * h);
    split_sizes(&mut dq, sizes())
        .into_par_iter()
        .zip(split_sizes(&mut dk, sizes()))
        .zip(split_sizes(&mut dv, sizes()))
        .zip(offsets.par_iter().zip(lens.par_iter()))
        .zip(prob_offsets.par_iter())
        .for_each(|((((dq, dk), dv), (&off, &len)), &po)| {
            if len == 0 {
                return;
            }
            let n = len * len;
            let (mut dropped, mut dp, mut ds) = (vec![0f32; n], vec![0f32; n], vec![0f32; n]);
            for head in 0..nh {
                let col = head * d;
                let at = po + head * n;
                let p = &lt.probs[at..at + n];
                let pd: &[f32] = match &lt.drop_probs {
                    Some(m) => {
                        dropped.copy_from_slice(p);
                        m.apply_in_place(&mut dropped, at);
                        &dropped
                    }
                    None => p,
                };
                let dc = d_ctx[off * h + col..].as_ptr();
                // SAFETY: every matrix lies in its buffer: the sequence's rows off..off+len of the
                // [T, h] buffers at columns col..col+d (dq/dk/dv are the sequence's own len×h
                // slices), and the len×len scratch.
                unsafe {
                    // dV = Pdᵀ · dctx
                    sgemm_strided(
                        len,
                        d,
                        len,
                        dv.as_mut_ptr().add(col),
                        h,
                        pd.as_ptr(),
                        1,
                        len,
                        dc,
                        h,
                        1,
                        false,
                        1.0,
                        false,
                    );
                    // dPd = dctx · Vᵀ
                    sgemm(
                        len,
                        len,
                        d,
                        dp.as_mut_ptr(),
                        len,
                        dc,
                        h,
                        lt.v.as_ptr().add(off * h + col),
                        1,
                        h,
                        false,
                        1.0,
                        false,
                    );
                }
                if let Some(m) = &lt.drop_probs {
                    m.apply_in_place(&mut dp, at);
                }
                softmax_backward(p, &dp, &mut ds, len, scale);
                // SAFETY: as above.
                unsafe {
                    // dQ = dS · K
                    sgemm(
                        len,
                        d,
                        len,
                        dq.as_mut_ptr().add(col),
                        h,
                        ds.as_ptr(),
                        len,
                        lt.k.as_ptr().add(off * h + col),
                        h,
                        1,
                        false,
                        1.0,
                        false,
                    );
                    // dK = dSᵀ · Q
                    sgemm_strided(
                        len,
                        d,
                        len,
                        dk.as_mut_ptr().add(col),
                        h,
                        ds.as_ptr(),
                        1,
                        len,
                        lt.q.as_ptr().add(off * h + col),
                        h,
                        1,
                        false,
                        1.0,
                        false,
                    );
                }
            }
        });
    (dq, dk, dv)
}

/// The encoder op: its forward output was computed by [`forward`]; its backward computes every
/// weight's gradient into `stash`, for the sinks.
struct EncoderOp {
    /// The encoder (a cheap clone: its tensors share the weights' storage), for the backward pass.
    enc: Encoder,
    tape: Tape,
    output: Mutex<Option<Vec<f32>>>,
    shape: Shape,
    stash: Arc<Mutex<Vec<Tensor>>>,
}

impl CustomOp1 for EncoderOp {
    fn name(&self) -> &'static str {
        "sbert-encoder-train"
    }

    fn cpu_fwd(&self, _s: &CpuStorage, _l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let out = self
            .output
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        match out {
            Some(v) => Ok((CpuStorage::F32(v), self.shape.clone())),
            None => candle_core::bail!("the encoder's training output was already taken"),
        }
    }

    fn bwd(
        &self,
        arg: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<Option<Tensor>> {
        let tape = &self.tape;
        let h = self.enc.config().hidden_size;
        let padded = grad.flatten_all()?.to_vec1::<f32>()?;
        if padded.len() != tape.b * tape.s * h {
            candle_core::bail!("the encoder's output gradient has the wrong size");
        }
        let mut dx = vec![0f32; tape.rows.len() * h];
        for (r, (&off, &len)) in tape.offsets.iter().zip(&tape.lens).enumerate() {
            let from = r * tape.s * h;
            dx[off * h..(off + len) * h].copy_from_slice(&padded[from..from + len * h]);
        }
        let grads = {
            let _turn = compute_lock();
            backward(&self.enc, tape, dx).map_err(candle_core::Error::wrap)?
        };
        let tensors = grads
            .into_iter()
            .zip(&tape.params)
            .map(|(g, p)| Tensor::from_vec(g, p.shape(), p.device()))
            .collect::<candle_core::Result<Vec<_>>>()?;
        *self
            .stash
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = tensors;
        Ok(Some(arg.zeros_like()?))
    }
}

/// An empty op that threads two or three weights into the graph (`slots[i]`: the index of
/// argument `i` in [`params`], or `None` for the chain's previous link) and, on backward, hands
/// each its gradient from `stash`.
struct Sink {
    slots: Vec<Option<usize>>,
    stash: Arc<Mutex<Vec<Tensor>>>,
}

impl Sink {
    fn grad(&self, i: usize, arg: &Tensor) -> candle_core::Result<Option<Tensor>> {
        match self.slots[i] {
            None => Ok(Some(arg.zeros_like()?)),
            Some(p) => {
                let stash = self
                    .stash
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                match stash.get(p) {
                    Some(g) => Ok(Some(g.clone())),
                    None => candle_core::bail!(
                        "the encoder's gradients are missing (its backward did not run)"
                    ),
                }
            }
        }
    }
}

fn one_zero() -> (CpuStorage, Shape) {
    (CpuStorage::F32(vec![0.0]), Shape::from(1))
}

impl CustomOp2 for Sink {
    fn name(&self) -> &'static str {
        "sbert-grad-sink"
    }
    fn cpu_fwd(
        &self,
        _: &CpuStorage,
        _: &Layout,
        _: &CpuStorage,
        _: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        Ok(one_zero())
    }
    fn bwd(
        &self,
        a: &Tensor,
        b: &Tensor,
        _res: &Tensor,
        _grad: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>)> {
        Ok((self.grad(0, a)?, self.grad(1, b)?))
    }
}

impl CustomOp3 for Sink {
    fn name(&self) -> &'static str {
        "sbert-grad-sink"
    }
    fn cpu_fwd(
        &self,
        _: &CpuStorage,
        _: &Layout,
        _: &CpuStorage,
        _: &Layout,
        _: &CpuStorage,
        _: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        Ok(one_zero())
    }
    fn bwd(
        &self,
        a: &Tensor,
        b: &Tensor,
        c: &Tensor,
        _res: &Tensor,
        _grad: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        Ok((self.grad(0, a)?, self.grad(1, b)?, self.grad(2, c)?))
    }
}

/// The chain of sinks over `params` (two, then the previous link and two more each time).
fn sink_chain(params: &[Tensor], stash: &Arc<Mutex<Vec<Tensor>>>) -> Result<Tensor> {
    let sink = |slots: Vec<Option<usize>>| Sink {
        slots,
        stash: stash.clone(),
    };
    if params.len() < 2 {
        return Err(Error::Internal(
            "an encoder with fewer than 2 weights".into(),
        ));
    }
    let mut chain = params[0].apply_op2(&params[1], sink(vec![Some(0), Some(1)]))?;
    let mut i = 2;
    while i < params.len() {
        chain = if i + 1 < params.len() {
            let c = chain.apply_op3(
                &params[i],
                &params[i + 1],
                sink(vec![None, Some(i), Some(i + 1)]),
            )?;
            i += 2;
            c
        } else {
            let c = chain.apply_op2(&params[i], sink(vec![None, Some(i)]))?;
            i += 1;
            c
        };
    }
    Ok(chain)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encoder::{EncoderConfig, Mode};
    use candle_core::{Device, Var};
    use candle_nn::VarMap;

    fn uniform(n: usize, seed: u64) -> Vec<f32> {
        let mut r = crate::core::rng::Rng::new(seed);
        (0..n)
            .map(|_| (r.next_u64() >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0)
            .collect()
    }

    /// A random 2-layer encoder of `model_type` with trainable weights.
    fn tiny(model_type: &str) -> (Encoder, VarMap) {
        let cfg: EncoderConfig = serde_json::from_value(serde_json::json!({
            "model_type": model_type, "vocab_size": 40, "hidden_size": 32,
            "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 48,
            "max_position_embeddings": 40, "type_vocab_size": 2, "pad_token_id": 1,
            "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1
        }))
        .unwrap();
        let varmap = VarMap::new();
        let vb = candle_nn::VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
        let enc = Encoder::new(&cfg, vb).unwrap();
        let mut names: Vec<String> = varmap.data().lock().unwrap().keys().cloned().collect();
        names.sort();
        for (i, name) in names.iter().enumerate() {
            let var = varmap.data().lock().unwrap()[name].clone();
            let n = var.elem_count();
            let mut v = uniform(n, i as u64 + 1);
            if name.contains("LayerNorm.weight") || name.ends_with("norm.weight") {
                v.iter_mut().for_each(|x| *x = 1.0 + 0.2 * *x);
            } else {
                v.iter_mut().for_each(|x| *x *= 0.3);
            }
            var.set(&Tensor::from_vec(v, var.shape(), &Device::Cpu).unwrap())
                .unwrap();
        }
        (enc, varmap)
    }

    /// Three right-padded sequences of 6, 9 and 2 tokens.
    fn batch() -> (Tensor, Tensor, Tensor) {
        let lens = [6usize, 9, 2];
        let s = 9;
        let (mut ids, mut types, mut mask) =
            (vec![1u32; 3 * s], vec![0u32; 3 * s], vec![0u32; 3 * s]);
        for (r, &l) in lens.iter().enumerate() {
            for j in 0..l {
                ids[r * s + j] = 2 + ((r * 7 + j * 5) % 37) as u32;
                types[r * s + j] = (j >= l / 2) as u32;
                mask[r * s + j] = 1;
            }
        }
        let t = |v: Vec<u32>| Tensor::from_vec(v, (3, s), &Device::Cpu).unwrap();
        (t(ids), t(types), t(mask))
    }

    /// Values by variable name.
    type Named = Vec<(String, Vec<f32>)>;

    /// `Σ out ⊙ R` over the real tokens (R fixed, random) and its gradients.
    fn loss_and_grads(enc: &Encoder, varmap: &VarMap, mode: Mode) -> (f64, Named, Vec<f32>) {
        let (ids, types, mask) = batch();
        let out = enc.forward_mode(&ids, &types, &mask, mode).unwrap();
        let r = Tensor::from_vec(uniform(out.elem_count(), 77), out.shape(), &Device::Cpu).unwrap();
        let m = mask
            .to_dtype(DType::F32)
            .unwrap()
            .unsqueeze(2)
            .unwrap()
            .broadcast_as(out.shape())
            .unwrap();
        let y = (out.clone() * r)
            .unwrap()
            .mul(&m)
            .unwrap()
            .sum_all()
            .unwrap();
        let grads = y.backward().unwrap();
        let mut names: Vec<String> = varmap.data().lock().unwrap().keys().cloned().collect();
        names.sort();
        let g = names
            .into_iter()
            .map(|n| {
                let var = varmap.data().lock().unwrap()[&n].clone();
                let g = grads
                    .get(var.as_tensor())
                    .map(|g| g.flatten_all().unwrap().to_vec1::<f32>().unwrap())
                    .unwrap_or_else(|| vec![0.0; var.elem_count()]);
                (n, g)
            })
            .collect();
        let real = out
            .mul(&m)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        (y.to_scalar::<f32>().unwrap() as f64, g, real)
    }

    /// Mixed precision gives the f32 path's values and gradients within bf16 rounding (it did
    /// change them: the products ran in bf16); where the CPU has no bf16 instructions it is f32
    /// exactly. The setting ends with its guard.
    #[test]
    fn mixed_precision_is_f32_within_bf16_rounding() {
        let (enc, varmap) = tiny("bert");
        let (l1, g1, o1) = loss_and_grads(&enc, &varmap, Mode::EVAL_GRAD);
        let (l2, g2, o2) = {
            let _amp = Autocast::new(true);
            assert_eq!(amp_active(), Isa::current().uses_bf16());
            loss_and_grads(&enc, &varmap, Mode::EVAL_GRAD)
        };
        assert!(!amp_active());
        if !Isa::current().uses_bf16() {
            assert_eq!((l1, &g1, &o1), (l2, &g2, &o2));
            return;
        }
        let rel = |a: &[f32], b: &[f32]| {
            let d: f64 = a.iter().zip(b).map(|(x, y)| ((x - y) as f64).powi(2)).sum();
            let n: f64 = b.iter().map(|y| (*y as f64).powi(2)).sum();
            (d / n.max(1e-30)).sqrt()
        };
        assert!(rel(&o2, &o1) <= 0.02, "outputs: {}", rel(&o2, &o1));
        assert!((l1 - l2).abs() <= 0.02 * l1.abs().max(1.0), "{l1} vs {l2}");
        assert_ne!(o1, o2, "the products ran in f32");
        let largest = g1
            .iter()
            .flat_map(|(_, g)| g.iter())
            .fold(0f32, |m, v| m.max(v.abs()));
        for ((name, a), (_, b)) in g2.iter().zip(&g1) {
            if name.ends_with("key.bias") {
                // Zero but for rounding (softmax ignores a shift of a query's scores), both ways.
                let big = a.iter().chain(b).fold(0f32, |m, v| m.max(v.abs()));
                assert!(big <= 1e-3 * largest, "{name}: {big}");
            } else if b.iter().any(|v| *v != 0.0) {
                assert!(rel(a, b) <= 0.05, "{name}: {}", rel(a, b));
            }
        }
    }

    /// Without dropout, every family this path trains gives candle's values and gradients.
    #[test]
    fn equals_the_candle_path_for_every_family() {
        for model_type in ["bert", "roberta", "distilbert", "xlm-roberta"] {
            let (enc, varmap) = tiny(model_type);
            assert!(supports(&enc), "{model_type}");
            let (l1, g1, o1) = loss_and_grads(&enc, &varmap, Mode::EVAL_GRAD);
            set_enabled(false);
            let (l2, g2, o2) = loss_and_grads(&enc, &varmap, Mode::EVAL_GRAD);
            set_enabled(true);
            assert!(
                (l1 - l2).abs() <= 1e-4 * l2.abs().max(1.0),
                "{model_type}: {l1} vs {l2}"
            );
            let d = o1
                .iter()
                .zip(&o2)
                .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
            assert!(d <= 1e-5, "{model_type}: outputs differ by {d}");
            assert_eq!(g1.len(), g2.len());
            for ((name, a), (_, b)) in g1.iter().zip(&g2) {
                let scale = b.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-2);
                let d = a.iter().zip(b).fold(0f32, |m, (a, b)| m.max((a - b).abs()));
                assert!(
                    d <= 1e-4 * scale,
                    "{model_type} {name}: {d} (scale {scale})"
                );
                assert!(
                    a.iter().any(|v| *v != 0.0) || b.iter().all(|v| *v == 0.0),
                    "{name}"
                );
            }
        }
    }

    /// With dropout, the gradient is that of the function the same masks define: each weight's
    /// gradient against central differences (f64 accumulation of the f32 loss, masks re-seeded).
    #[test]
    fn dropout_gradients_match_finite_differences() {
        let (enc, varmap) = tiny("bert");
        let eval = |seed: u64| {
            crate::encoder::ops::seed_dropout(seed);
            loss_and_grads(&enc, &varmap, Mode::TRAIN)
        };
        let (_, grads, a) = eval(5);
        let (_, _, b) = eval(6);
        assert!(
            a.iter().zip(&b).any(|(a, b)| (a - b).abs() > 1e-3),
            "other seeds draw other masks"
        );
        let (_, _, a2) = eval(5);
        assert_eq!(a, a2, "the same seed gives the same masks");
        for (name, g) in &grads {
            let var: Var = varmap.data().lock().unwrap()[name].clone();
            let base = var.flatten_all().unwrap().to_vec1::<f32>().unwrap();
            // The largest entry of the gradient: a direction with a clear signal.
            let (i, &gi) = g
                .iter()
                .enumerate()
                .max_by(|x, y| x.1.abs().total_cmp(&y.1.abs()))
                .unwrap();
            let eps = 1e-2f32;
            let at = |delta: f32| {
                let mut v = base.clone();
                v[i] += delta;
                var.set(&Tensor::from_vec(v, var.shape(), &Device::Cpu).unwrap())
                    .unwrap();
                eval(5).0
            };
            let numeric = (at(eps) - at(-eps)) / (2.0 * eps as f64);
            var.set(&Tensor::from_vec(base, var.shape(), &Device::Cpu).unwrap())
                .unwrap();
            let err = (numeric - gi as f64).abs();
            assert!(
                err <= 2e-2 * (gi.abs() as f64).max(0.1),
                "{name}[{i}]: analytic {gi}, numeric {numeric}"
            );
        }
    }
}
