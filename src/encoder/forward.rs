//! The encoder's forward pass on padded tensors, choosing its implementation: on the CPU in
//! training, the unpadded path with its own backward ([`super::train_cpu`]); otherwise candle's
//! ops ([`Encoder`]'s candle forward, every device).

use candle_core::Tensor;

use super::layers::Mode;
use super::model::Encoder;
use crate::core::{Error, Result};

impl Encoder {
    /// Runs the encoder. `input_ids`, `token_type_ids`, `attention_mask`: `[b, s]` u32.
    /// Returns the last hidden state `[b, s, hidden]`. `train`: dropout and gradients.
    pub fn forward_t(
        &self,
        input_ids: &Tensor,
        token_type_ids: &Tensor,
        attention_mask: &Tensor,
        train: bool,
    ) -> Result<Tensor> {
        let mode = if train { Mode::TRAIN } else { Mode::INFERENCE };
        self.forward_mode(input_ids, token_type_ids, attention_mask, mode)
    }

    /// Like [`Encoder::forward_t`] with an explicit [`Mode`]. In a differentiable mode on the CPU
    /// the hidden states of padding positions are zeros (the CPU training path never computes
    /// them); elsewhere they are whatever the padded computation gives. Pooling ignores them.
    pub fn forward_mode(
        &self,
        input_ids: &Tensor,
        token_type_ids: &Tensor,
        attention_mask: &Tensor,
        mode: Mode,
    ) -> Result<Tensor> {
        let (_, s) = input_ids.dims2()?;
        if s > self.max_input_length() {
            return Err(Error::InvalidInput(format!(
                "sequence of {s} tokens exceeds the {} positions of this {} model",
                self.max_input_length(),
                self.family()
            )));
        }
        if mode.differentiable && super::train_cpu::supports(self) {
            if let Some(out) = super::train_cpu::forward(
                self,
                input_ids,
                token_type_ids,
                attention_mask,
                mode.dropout,
            )? {
                return Ok(out);
            }
        }
        self.forward_candle(input_ids, token_type_ids, attention_mask, mode)
    }
}
