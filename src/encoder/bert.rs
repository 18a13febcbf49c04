//! BERT encoder built from plain, differentiable candle ops.
//!
//! Port of Hugging Face `transformers` `modeling_bert.py`
//! (<https://github.com/huggingface/transformers/blob/v4.46.0/src/transformers/models/bert/modeling_bert.py>),
//! with the checkpoint's key names one-to-one (`embeddings.word_embeddings.weight`,
//! `encoder.layer.0.attention.self.query.weight`, …).
//!
//! Unlike candle-transformers' `BertModel`, this one can be trained: with `train = true` it uses
//! real (seeded) dropout and LayerNorm/softmax/GELU ops that have gradients — fused CPU kernels
//! from [`super::ops`] (on other devices, candle's elementary ops); with `train = false` it uses
//! candle's fused kernels, which give the same numbers faster.

use candle_core::{DType, Module, Tensor};
use candle_nn::{Embedding, VarBuilder};

use super::config::{BertConfig, HiddenAct};
pub(crate) use super::layers::dropout;
use super::layers::LayerNorm;
pub(crate) use super::layers::Linear;
pub use super::layers::Mode;
use crate::core::{Error, Result};

#[derive(Debug, Clone)]
pub(super) struct BertEmbeddings {
    pub(super) word_embeddings: Embedding,
    pub(super) position_embeddings: Embedding,
    pub(super) token_type_embeddings: Embedding,
    pub(super) layer_norm: LayerNorm,
    dropout: f64,
}

impl BertEmbeddings {
    fn new(cfg: &BertConfig, vb: VarBuilder) -> Result<Self> {
        let h = cfg.hidden_size;
        Ok(Self {
            word_embeddings: candle_nn::embedding(cfg.vocab_size, h, vb.pp("word_embeddings"))?,
            position_embeddings: candle_nn::embedding(
                cfg.max_position_embeddings,
                h,
                vb.pp("position_embeddings"),
            )?,
            token_type_embeddings: candle_nn::embedding(
                cfg.type_vocab_size,
                h,
                vb.pp("token_type_embeddings"),
            )?,
            layer_norm: LayerNorm::new(h, cfg.layer_norm_eps, vb.pp("LayerNorm"))?,
            dropout: cfg.hidden_dropout_prob,
        })
    }

    fn forward_t(&self, input_ids: &Tensor, token_type_ids: &Tensor, mode: Mode) -> Result<Tensor> {
        let (_b, seq_len) = input_ids.dims2()?;
        let words = self.word_embeddings.forward(input_ids)?;
        let types = self.token_type_embeddings.forward(token_type_ids)?;
        let positions = Tensor::arange(0u32, seq_len as u32, input_ids.device())?;
        let positions = self.position_embeddings.forward(&positions)?;
        let x = words.add(&types)?.broadcast_add(&positions)?;
        let x = self.layer_norm.forward_t(&x, mode.differentiable)?;
        dropout(&x, self.dropout, mode.dropout)
    }
}

#[derive(Debug, Clone)]
pub(super) struct BertLayer {
    pub(super) query: Linear,
    pub(super) key: Linear,
    pub(super) value: Linear,
    pub(super) attn_output: Linear,
    pub(super) attn_norm: LayerNorm,
    pub(super) intermediate: Linear,
    pub(super) output: Linear,
    pub(super) output_norm: LayerNorm,
    pub(super) num_heads: usize,
    pub(super) head_dim: usize,
    pub(super) act: HiddenAct,
    hidden_dropout: f64,
    attn_dropout: f64,
}

impl BertLayer {
    fn new(cfg: &BertConfig, vb: VarBuilder) -> Result<Self> {
        let h = cfg.hidden_size;
        let att = vb.pp("attention");
        let sa = att.pp("self");
        Ok(Self {
            query: Linear::new(h, h, sa.pp("query"))?,
            key: Linear::new(h, h, sa.pp("key"))?,
            value: Linear::new(h, h, sa.pp("value"))?,
            attn_output: Linear::new(h, h, att.pp("output").pp("dense"))?,
            attn_norm: LayerNorm::new(h, cfg.layer_norm_eps, att.pp("output").pp("LayerNorm"))?,
            intermediate: Linear::new(h, cfg.intermediate_size, vb.pp("intermediate").pp("dense"))?,
            output: Linear::new(cfg.intermediate_size, h, vb.pp("output").pp("dense"))?,
            output_norm: LayerNorm::new(h, cfg.layer_norm_eps, vb.pp("output").pp("LayerNorm"))?,
            num_heads: cfg.num_attention_heads,
            head_dim: h / cfg.num_attention_heads,
            act: cfg.hidden_act,
            hidden_dropout: cfg.hidden_dropout_prob,
            attn_dropout: cfg.attention_probs_dropout_prob,
        })
    }

    /// `x`: `[b, s, h]`; `mask`: additive `[b, 1, 1, s]`.
    fn forward_t(&self, x: &Tensor, mask: &Tensor, mode: Mode) -> Result<Tensor> {
        let (b, s, h) = x.dims3()?;
        let heads = |t: Tensor| -> Result<Tensor> {
            Ok(t.reshape((b, s, self.num_heads, self.head_dim))?
                .transpose(1, 2)?
                .contiguous()?)
        };
        let q = heads(self.query.forward(x)?)?;
        let k = heads(self.key.forward(x)?)?;
        let v = heads(self.value.forward(x)?)?;
        let scale = 1.0 / (self.head_dim as f64).sqrt();
        let probs = if mode.differentiable {
            super::ops::masked_softmax(&q.matmul(&k.t()?)?, mask, scale)?
        } else {
            candle_nn::ops::softmax_last_dim(&(q.matmul(&k.t()?)? * scale)?.broadcast_add(mask)?)?
        };
        let probs = dropout(&probs, self.attn_dropout, mode.dropout)?;
        let ctx = probs.matmul(&v)?.transpose(1, 2)?.reshape((b, s, h))?;
        let attn = dropout(
            &self.attn_output.forward(&ctx)?,
            self.hidden_dropout,
            mode.dropout,
        )?;
        let x = self
            .attn_norm
            .forward_t(&(attn + x)?, mode.differentiable)?;

        let inter = self.intermediate.forward(&x)?;
        let inter = match self.act {
            HiddenAct::Gelu if mode.differentiable => super::ops::gelu_erf(&inter)?,
            HiddenAct::Gelu => inter.gelu_erf()?,
            HiddenAct::GeluApproximate => inter.gelu()?,
            HiddenAct::Relu => inter.relu()?,
        };
        let out = dropout(
            &self.output.forward(&inter)?,
            self.hidden_dropout,
            mode.dropout,
        )?;
        self.output_norm.forward_t(&(out + x)?, mode.differentiable)
    }
}

/// A BERT encoder: embeddings and transformer layers (the pooler is loaded separately, where needed).
#[derive(Debug, Clone)]
pub struct Bert {
    pub(super) embeddings: BertEmbeddings,
    pub(super) layers: Vec<BertLayer>,
    config: BertConfig,
}

impl Bert {
    /// Builds the encoder from a `VarBuilder` whose keys are the Hugging Face names (no `bert.` prefix).
    pub fn new(config: &BertConfig, vb: VarBuilder) -> Result<Self> {
        config
            .validate()
            .map_err(|why| Error::InvalidInput(format!("encoder config: {why}")))?;
        let embeddings = BertEmbeddings::new(config, vb.pp("embeddings"))?;
        let layers = (0..config.num_hidden_layers)
            .map(|i| BertLayer::new(config, vb.pp(format!("encoder.layer.{i}"))))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            embeddings,
            layers,
            config: config.clone(),
        })
    }

    /// A trainable encoder: every tensor of `tensors` (Hugging Face names, as returned by
    /// [`crate::core::safetensors::load_safetensors`]) becomes a [`candle_core::Var`] in `varmap`, so an optimizer
    /// over `varmap.all_vars()` trains it. The inference path keeps working on the same variables.
    pub fn trainable(
        config: &BertConfig,
        tensors: std::collections::HashMap<String, Tensor>,
        varmap: &candle_nn::VarMap,
        device: &candle_core::Device,
    ) -> Result<Self> {
        {
            let mut data = varmap
                .data()
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            for (name, t) in tensors {
                data.insert(name, candle_core::Var::from_tensor(&t.to_device(device)?)?);
            }
        }
        let vb = VarBuilder::from_varmap(varmap, DType::F32, device);
        Self::new(config, vb)
    }

    /// Every weight under its Hugging Face name (what `model.safetensors` holds), for saving and training.
    pub fn named_tensors(&self) -> Vec<(String, Tensor)> {
        let mut out = Vec::new();
        let e = &self.embeddings;
        out.push((
            "embeddings.word_embeddings.weight".to_string(),
            e.word_embeddings.embeddings().clone(),
        ));
        out.push((
            "embeddings.position_embeddings.weight".to_string(),
            e.position_embeddings.embeddings().clone(),
        ));
        out.push((
            "embeddings.token_type_embeddings.weight".to_string(),
            e.token_type_embeddings.embeddings().clone(),
        ));
        out.push((
            "embeddings.LayerNorm.weight".to_string(),
            e.layer_norm.weight.clone(),
        ));
        out.push((
            "embeddings.LayerNorm.bias".to_string(),
            e.layer_norm.bias.clone(),
        ));
        for (i, l) in self.layers.iter().enumerate() {
            let p = format!("encoder.layer.{i}");
            let lin = |out: &mut Vec<(String, Tensor)>, name: String, x: &Linear| {
                out.push((format!("{name}.weight"), x.weight.clone()));
                if let Some(b) = &x.bias {
                    out.push((format!("{name}.bias"), b.clone()));
                }
            };
            lin(&mut out, format!("{p}.attention.self.query"), &l.query);
            lin(&mut out, format!("{p}.attention.self.key"), &l.key);
            lin(&mut out, format!("{p}.attention.self.value"), &l.value);
            lin(
                &mut out,
                format!("{p}.attention.output.dense"),
                &l.attn_output,
            );
            out.push((
                format!("{p}.attention.output.LayerNorm.weight"),
                l.attn_norm.weight.clone(),
            ));
            out.push((
                format!("{p}.attention.output.LayerNorm.bias"),
                l.attn_norm.bias.clone(),
            ));
            lin(&mut out, format!("{p}.intermediate.dense"), &l.intermediate);
            lin(&mut out, format!("{p}.output.dense"), &l.output);
            out.push((
                format!("{p}.output.LayerNorm.weight"),
                l.output_norm.weight.clone(),
            ));
            out.push((
                format!("{p}.output.LayerNorm.bias"),
                l.output_norm.bias.clone(),
            ));
        }
        out
    }

    /// The configuration this encoder was built from.
    pub fn config(&self) -> &BertConfig {
        &self.config
    }

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

    /// Like [`Bert::forward_t`] with an explicit [`Mode`].
    pub fn forward_mode(
        &self,
        input_ids: &Tensor,
        token_type_ids: &Tensor,
        attention_mask: &Tensor,
        mode: Mode,
    ) -> Result<Tensor> {
        let (b, s) = input_ids.dims2()?;
        // Additive mask: 0 where attended, a very large negative number where padded (as PyTorch's finfo.min).
        let mask = attention_mask.to_dtype(DType::F32)?;
        let mask = ((mask.ones_like()? - mask)? * f32::MIN as f64)?.reshape((b, 1, 1, s))?;
        let mut x = self.embeddings.forward_t(input_ids, token_type_ids, mode)?;
        for layer in &self.layers {
            x = layer.forward_t(&x, &mask, mode)?;
        }
        Ok(x)
    }
}
