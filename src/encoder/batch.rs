//! A batch of tokenized sequences through the encoder: right-padding into `[b, s]` tensors, and
//! the one place that chooses the fast CPU path or candle's ops for inference.

use candle_core::{Device, Tensor};

use super::layers::Mode;
use super::model::Encoder;
use crate::core::{Error, Result};

/// Token ids, type ids and attention mask of a batch, right-padded to its longest sequence.
pub struct PaddedBatch {
    /// Token ids `[b, s]` (u32).
    pub ids: Tensor,
    /// Token type ids `[b, s]`.
    pub types: Tensor,
    /// Attention mask `[b, s]`: 1 on real tokens, 0 on padding.
    pub mask: Tensor,
    /// `s`.
    pub seq_len: usize,
}

/// Pads `encodings` into `[b, s]` tensors (`pad` in the padding, mask 0 there). Sequences longer
/// than `max_len` are cut to it, keeping their final token (the closing `[SEP]`).
pub fn pad_batch(
    encodings: &[&tokenizers::Encoding],
    max_len: usize,
    pad: u32,
    device: &Device,
) -> Result<PaddedBatch> {
    let b = encodings.len();
    let s = encodings
        .iter()
        .map(|e| e.len().min(max_len))
        .max()
        .unwrap_or(1)
        .max(1);
    let (mut ids, mut types, mut mask) = (vec![pad; b * s], vec![0u32; b * s], vec![0u32; b * s]);
    for (r, e) in encodings.iter().enumerate() {
        let l = e.len().min(max_len);
        ids[r * s..r * s + l].copy_from_slice(&e.get_ids()[..l]);
        types[r * s..r * s + l].copy_from_slice(&e.get_type_ids()[..l]);
        mask[r * s..r * s + l].iter_mut().for_each(|m| *m = 1);
        if l < e.len() && l > 0 {
            ids[r * s + l - 1] = e.get_ids()[e.len() - 1];
        }
    }
    Ok(PaddedBatch {
        ids: Tensor::from_vec(ids, (b, s), device)?,
        types: Tensor::from_vec(types, (b, s), device)?,
        mask: Tensor::from_vec(mask, (b, s), device)?,
        seq_len: s,
    })
}

/// Each sequence's rows of unpadded hidden states — `lens` rows of `h` values, one sequence after
/// another, as [`Encoder::forward_ragged`] returns them. A sequence past the end of `hidden` gets
/// what is left of it (callers check the total first).
pub fn split_ragged<'a>(
    hidden: &'a [f32],
    lens: impl IntoIterator<Item = usize> + 'a,
    h: usize,
) -> impl Iterator<Item = &'a [f32]> + 'a {
    let mut rest = hidden;
    lens.into_iter().map(move |len| {
        let (seq, tail) = rest.split_at(len.saturating_mul(h).min(rest.len()));
        rest = tail;
        seq
    })
}

impl Encoder {
    /// A batch of encodings right-padded (each cut to `max_len` tokens, its final token kept) and
    /// run through candle's ops in `mode` — what training uses (gradients, dropout) and inference
    /// off the CPU: the last hidden states `[b, s, hidden]` and the padded batch.
    pub fn forward_padded(
        &self,
        encodings: &[&tokenizers::Encoding],
        max_len: usize,
        mode: Mode,
        device: &Device,
    ) -> Result<(Tensor, PaddedBatch)> {
        let batch = pad_batch(
            encodings,
            max_len,
            self.config().pad_token_id as u32,
            device,
        )?;
        let hidden = self.forward_mode(&batch.ids, &batch.types, &batch.mask, mode)?;
        Ok((hidden, batch))
    }

    /// Inference over a batch of encodings: the last hidden states `[b, s, hidden]`, right-padded
    /// to the batch's longest sequence (zeros in the padding), and the padded batch (its `mask`
    /// says which positions are real). On the CPU it runs [`super::cpu::forward`], which never
    /// computes the padding; on other devices, candle's ops.
    pub fn forward_batch(
        &self,
        encodings: &[&tokenizers::Encoding],
        device: &Device,
    ) -> Result<(Tensor, PaddedBatch)> {
        if !device.is_cpu() {
            return self.forward_padded(encodings, usize::MAX, Mode::INFERENCE, device);
        }
        let batch = pad_batch(
            encodings,
            usize::MAX,
            self.config().pad_token_id as u32,
            device,
        )?;
        let hidden = self.forward_ragged(encodings)?;
        let (b, s, h) = (encodings.len(), batch.seq_len, self.config().hidden_size);
        let mut padded = vec![0f32; b * s * h];
        let seqs = split_ragged(&hidden, encodings.iter().map(|e| e.len()), h);
        for (row, seq) in padded.chunks_exact_mut(s * h).zip(seqs) {
            row[..seq.len()].copy_from_slice(seq);
        }
        Ok((Tensor::from_vec(padded, (b, s, h), device)?, batch))
    }

    /// Inference on the CPU without padding: the last hidden states of every encoding's tokens,
    /// one sequence after another (`Σ len × hidden` values), from [`super::cpu::forward`].
    pub fn forward_ragged(&self, encodings: &[&tokenizers::Encoding]) -> Result<Vec<f32>> {
        let seqs: Vec<(&[u32], &[u32])> = encodings
            .iter()
            .map(|e| (e.get_ids(), e.get_type_ids()))
            .collect();
        let hidden = super::cpu::forward(self, &seqs)?;
        let h = self.config().hidden_size;
        let total: usize = encodings.iter().map(|e| e.len()).sum();
        if hidden.len() != total * h {
            return Err(Error::Internal(format!(
                "fast CPU path returned {} values for {total} tokens × {h}",
                hidden.len()
            )));
        }
        Ok(hidden)
    }
}
