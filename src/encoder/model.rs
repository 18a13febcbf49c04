//! The one transformer encoder of every [`Family`], built from plain, differentiable candle ops.
//!
//! A port of Hugging Face `transformers`' `BertModel`, `RobertaModel`, `XLMRobertaModel`,
//! `DistilBertModel` and `MPNetModel`: they share one post-LayerNorm layer (self-attention,
//! residual + LayerNorm, feed-forward, residual + LayerNorm) and differ only in what
//! [`Family`] holds as data — key names, position numbering, token types and MPNet's relative
//! attention bias. The checkpoint's key names are read one-to-one.
//!
//! Unlike candle-transformers' models, this one can be trained: in a differentiable [`Mode`] it
//! uses real (seeded) dropout and LayerNorm/softmax/GELU ops that have gradients — fused CPU
//! kernels from [`super::ops`] (on other devices, candle's elementary ops); for inference on the
//! CPU, [`super::cpu`] runs the same weights unpadded.

use candle_core::{DType, Module, Tensor};
use candle_nn::{Embedding, VarBuilder};

use super::config::{EncoderConfig, HiddenAct};
use super::family::{relative_position_bucket, Family, LayerKeys, MPNET_MAX_DISTANCE};
pub(crate) use super::layers::dropout;
use super::layers::LayerNorm;
pub(crate) use super::layers::Linear;
pub use super::layers::Mode;
use crate::core::{Dtype, Error, Result};

#[derive(Debug, Clone)]
pub(super) struct Embeddings {
    pub(super) word_embeddings: Embedding,
    pub(super) position_embeddings: Embedding,
    /// Absent for DistilBERT and MPNet.
    pub(super) token_type_embeddings: Option<Embedding>,
    pub(super) layer_norm: LayerNorm,
    pub(super) dropout: f64,
}

impl Embeddings {
    fn new(cfg: &EncoderConfig, family: Family, vb: VarBuilder) -> Result<Self> {
        let h = cfg.hidden_size;
        let token_type_embeddings = if family.has_token_type_table() {
            Some(candle_nn::embedding(
                cfg.type_vocab_size,
                h,
                vb.pp("token_type_embeddings"),
            )?)
        } else {
            None
        };
        Ok(Self {
            word_embeddings: candle_nn::embedding(cfg.vocab_size, h, vb.pp("word_embeddings"))?,
            position_embeddings: candle_nn::embedding(
                cfg.max_position_embeddings,
                h,
                vb.pp("position_embeddings"),
            )?,
            token_type_embeddings,
            layer_norm: LayerNorm::new(h, cfg.layer_norm_eps, vb.pp("LayerNorm"))?,
            dropout: cfg.hidden_dropout_prob,
        })
    }

    /// `positions` `[b, s]`; `token_type_ids` is used only where the family has types.
    fn forward_t(
        &self,
        input_ids: &Tensor,
        positions: &Tensor,
        token_type_ids: &Tensor,
        mode: Mode,
    ) -> Result<Tensor> {
        // (words + types) + positions, in PyTorch's order.
        let mut x = self.word_embeddings.forward(input_ids)?;
        if let Some(types) = &self.token_type_embeddings {
            x = x.add(&types.forward(token_type_ids)?)?;
        }
        let x = x.broadcast_add(&self.position_embeddings.forward(positions)?)?;
        let x = self.layer_norm.forward_t(&x, mode.differentiable)?;
        dropout(&x, self.dropout, mode.dropout)
    }
}

#[derive(Debug, Clone)]
pub(super) struct Layer {
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
    pub(super) hidden_dropout: f64,
    pub(super) attn_dropout: f64,
    /// Dropout on the attention output projection (`hidden_dropout`, or 0 for DistilBERT).
    pub(super) attn_output_dropout: f64,
}

impl Layer {
    fn new(cfg: &EncoderConfig, family: Family, keys: &LayerKeys, vb: VarBuilder) -> Result<Self> {
        let h = cfg.hidden_size;
        let eps = cfg.layer_norm_eps;
        Ok(Self {
            query: Linear::new(h, h, vb.pp(keys.query))?,
            key: Linear::new(h, h, vb.pp(keys.key))?,
            value: Linear::new(h, h, vb.pp(keys.value))?,
            attn_output: Linear::new(h, h, vb.pp(keys.attn_out))?,
            attn_norm: LayerNorm::new(h, eps, vb.pp(keys.attn_norm))?,
            intermediate: Linear::new(h, cfg.intermediate_size, vb.pp(keys.ffn_in))?,
            output: Linear::new(cfg.intermediate_size, h, vb.pp(keys.ffn_out))?,
            output_norm: LayerNorm::new(h, eps, vb.pp(keys.ffn_norm))?,
            num_heads: cfg.num_attention_heads,
            head_dim: h / cfg.num_attention_heads,
            act: cfg.hidden_act,
            hidden_dropout: cfg.hidden_dropout_prob,
            attn_dropout: cfg.attention_probs_dropout_prob,
            attn_output_dropout: if family.dropout_after_attention_output() {
                cfg.hidden_dropout_prob
            } else {
                0.0
            },
        })
    }

    /// `x`: `[b, s, h]`; `mask`: additive `[b, 1, 1, s]`; `bias`: MPNet's `[1, heads, s, s]`.
    fn forward_t(
        &self,
        x: &Tensor,
        mask: &Tensor,
        bias: Option<&Tensor>,
        mode: Mode,
    ) -> Result<Tensor> {
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
        let scores = q.matmul(&k.t()?)?;
        // softmax(scale · QKᵀ [+ bias] + mask); with a bias the scale is applied first.
        let (scores, scale) = match bias {
            Some(bias) => ((scores * scale)?.broadcast_add(bias)?, 1.0),
            None => (scores, scale),
        };
        let probs = if mode.differentiable {
            super::ops::masked_softmax(&scores, mask, scale)?
        } else {
            candle_nn::ops::softmax_last_dim(&(scores * scale)?.broadcast_add(mask)?)?
        };
        let probs = dropout(&probs, self.attn_dropout, mode.dropout)?;
        let ctx = probs.matmul(&v)?.transpose(1, 2)?.reshape((b, s, h))?;
        let attn = dropout(
            &self.attn_output.forward(&ctx)?,
            self.attn_output_dropout,
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

/// The encoder: embeddings and transformer layers of one [`Family`] (the pooler or
/// classification head is loaded separately, where needed).
#[derive(Debug, Clone)]
pub struct Encoder {
    pub(super) embeddings: Embeddings,
    pub(super) layers: Vec<Layer>,
    /// MPNet's `encoder.relative_attention_bias` `[num_buckets, heads]`.
    pub(super) relative_attention_bias: Option<Embedding>,
    family: Family,
    config: EncoderConfig,
    /// The format of the linear layers on the fast CPU inference path.
    dtype: Dtype,
}

/// Puts each named tensor into `varmap` as a trainable [`candle_core::Var`] on `device` and
/// returns the variables' tensors, in order (what the model then computes with).
pub(crate) fn add_vars(
    varmap: &candle_nn::VarMap,
    tensors: impl IntoIterator<Item = (String, Tensor)>,
    device: &candle_core::Device,
) -> Result<Vec<Tensor>> {
    let mut data = varmap
        .data()
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut out = Vec::new();
    for (name, t) in tensors {
        let var = candle_core::Var::from_tensor(&t.to_device(device)?)?;
        out.push(var.as_tensor().clone());
        data.insert(name, var);
    }
    Ok(out)
}

/// The encoder's old name (it ran BERT only).
pub type Bert = Encoder;

impl Encoder {
    /// Builds the encoder from a `VarBuilder` whose keys are the bare model's Hugging Face names
    /// (no `bert.` / `roberta.` / … prefix; see [`Family::strip_prefix`]). The family comes from
    /// `config.model_type`.
    pub fn new(config: &EncoderConfig, vb: VarBuilder) -> Result<Self> {
        config
            .validate()
            .map_err(|why| Error::InvalidInput(format!("encoder config: {why}")))?;
        let family = config.family().map_err(Error::InvalidInput)?;
        let embeddings = Embeddings::new(config, family, vb.pp("embeddings"))?;
        let keys = family.layer_keys();
        let layers = (0..config.num_hidden_layers)
            .map(|i| {
                Layer::new(
                    config,
                    family,
                    &keys,
                    vb.pp(format!("{}.{i}", family.layers_key())),
                )
            })
            .collect::<Result<Vec<_>>>()?;
        let relative_attention_bias = if family.has_relative_bias() {
            Some(candle_nn::embedding(
                config.num_buckets(),
                config.num_attention_heads,
                vb.pp("encoder.relative_attention_bias"),
            )?)
        } else {
            None
        };
        Ok(Self {
            embeddings,
            layers,
            relative_attention_bias,
            family,
            config: config.clone(),
            dtype: Dtype::F32,
        })
    }

    /// The format the linear layers compute in at inference on the CPU ([`Dtype::F32`] unless
    /// [`Encoder::set_dtype`] chose another).
    pub fn dtype(&self) -> Dtype {
        self.dtype
    }

    /// Makes CPU inference compute the linear layers in `dtype`: bf16 and int8 pack a copy of
    /// their weights (the f32 weights stay, for training, saving and other devices); f32 drops the
    /// copies. Errors for bf16 / int8 on a model whose weights are not on the CPU.
    pub fn set_dtype(&mut self, dtype: Dtype) -> Result<()> {
        if dtype != Dtype::F32
            && !self
                .embeddings
                .word_embeddings
                .embeddings()
                .device()
                .is_cpu()
        {
            return Err(Error::InvalidInput(format!(
                "{dtype} inference runs on the CPU only; load the model on the CPU or use f32"
            )));
        }
        for layer in &mut self.layers {
            for l in [
                &mut layer.query,
                &mut layer.key,
                &mut layer.value,
                &mut layer.attn_output,
                &mut layer.intermediate,
                &mut layer.output,
            ] {
                l.set_dtype(dtype)?;
            }
        }
        self.dtype = dtype;
        Ok(())
    }

    /// A trainable encoder: every tensor of `tensors` (bare Hugging Face names, as
    /// [`super::weights::load_weights`] returns them) becomes a [`candle_core::Var`] in `varmap`, so
    /// an optimizer over `varmap.all_vars()` trains it. The inference path keeps working on the
    /// same variables.
    pub fn trainable(
        config: &EncoderConfig,
        tensors: std::collections::HashMap<String, Tensor>,
        varmap: &candle_nn::VarMap,
        device: &candle_core::Device,
    ) -> Result<Self> {
        add_vars(varmap, tensors, device)?;
        let vb = VarBuilder::from_varmap(varmap, DType::F32, device);
        Self::new(config, vb)
    }

    /// Every weight under its Hugging Face name (what the bare model's checkpoint holds), for
    /// saving and training.
    pub fn named_tensors(&self) -> Vec<(String, Tensor)> {
        let mut out = Vec::new();
        let e = &self.embeddings;
        let mut put = |name: String, t: &Tensor| out.push((name, t.clone()));
        put(
            "embeddings.word_embeddings.weight".into(),
            e.word_embeddings.embeddings(),
        );
        put(
            "embeddings.position_embeddings.weight".into(),
            e.position_embeddings.embeddings(),
        );
        if let Some(t) = &e.token_type_embeddings {
            put(
                "embeddings.token_type_embeddings.weight".into(),
                t.embeddings(),
            );
        }
        put("embeddings.LayerNorm.weight".into(), &e.layer_norm.weight);
        put("embeddings.LayerNorm.bias".into(), &e.layer_norm.bias);
        if let Some(r) = &self.relative_attention_bias {
            put(
                "encoder.relative_attention_bias.weight".into(),
                r.embeddings(),
            );
        }
        let keys = self.family.layer_keys();
        for (i, l) in self.layers.iter().enumerate() {
            let p = format!("{}.{i}", self.family.layers_key());
            for (name, x) in [
                (keys.query, &l.query),
                (keys.key, &l.key),
                (keys.value, &l.value),
                (keys.attn_out, &l.attn_output),
                (keys.ffn_in, &l.intermediate),
                (keys.ffn_out, &l.output),
            ] {
                put(format!("{p}.{name}.weight"), &x.weight);
                if let Some(b) = &x.bias {
                    put(format!("{p}.{name}.bias"), b);
                }
            }
            for (name, n) in [
                (keys.attn_norm, &l.attn_norm),
                (keys.ffn_norm, &l.output_norm),
            ] {
                put(format!("{p}.{name}.weight"), &n.weight);
                put(format!("{p}.{name}.bias"), &n.bias);
            }
        }
        out
    }

    /// The configuration this encoder was built from.
    pub fn config(&self) -> &EncoderConfig {
        &self.config
    }

    /// The encoder's family.
    pub fn family(&self) -> Family {
        self.family
    }

    /// The longest input, in tokens, the position table allows.
    pub fn max_input_length(&self) -> usize {
        self.family.max_input_length(
            self.config.max_position_embeddings,
            self.config.pad_token_id,
        )
    }

    /// MPNet's bucket of every distance `key − query` in a square `[len, len]` attention,
    /// indexed by `key − query + len − 1` (the bias depends only on the distance).
    fn distance_buckets(&self, len: usize) -> Vec<usize> {
        let len = len.max(1) as i64;
        (0..2 * len - 1)
            .map(|k| {
                relative_position_bucket(
                    k - (len - 1),
                    self.config.num_buckets(),
                    MPNET_MAX_DISTANCE,
                )
            })
            .collect()
    }

    /// MPNet's relative bias of a square `[len, len]` attention, per head: `[heads][2·len − 1]`,
    /// the bias of query `q` and key `j` at `q − j + len − 1` ([`Encoder::distance_buckets`]
    /// reversed: the fast CPU path lays its scores out key by key, and reads each key's row of
    /// biases forwards).
    pub(super) fn relative_bias_table(&self, len: usize) -> Result<Option<Vec<Vec<f32>>>> {
        let Some(table) = &self.relative_attention_bias else {
            return Ok(None);
        };
        let w = table.embeddings().to_vec2::<f32>()?;
        let buckets = self.distance_buckets(len);
        let out = (0..self.config.num_attention_heads)
            .map(|h| buckets.iter().rev().map(|&b| w[b][h]).collect())
            .collect();
        Ok(Some(out))
    }

    /// MPNet's bias `[1, heads, s, s]` as candle ops on the table (so training reaches its weight).
    fn relative_bias(&self, s: usize, device: &candle_core::Device) -> Result<Option<Tensor>> {
        let Some(table) = &self.relative_attention_bias else {
            return Ok(None);
        };
        let by_distance = self.distance_buckets(s);
        let buckets: Vec<u32> = (0..s * s)
            .map(|ij| by_distance[ij % s + s - 1 - ij / s] as u32)
            .collect();
        let buckets = Tensor::from_vec(buckets, s * s, device)?;
        let heads = self.config.num_attention_heads;
        let bias = table
            .forward(&buckets)?
            .reshape((s, s, heads))?
            .permute((2, 0, 1))?
            .contiguous()?
            .unsqueeze(0)?;
        Ok(Some(bias))
    }

    /// Position ids `[b, s]` of a batch of token ids, by the family's rule.
    fn positions(&self, input_ids: &Tensor) -> Result<Tensor> {
        let (b, s) = input_ids.dims2()?;
        let pad = self.config.pad_token_id as u32;
        let rows = input_ids.to_dtype(DType::U32)?.to_vec2::<u32>()?;
        let flat: Vec<u32> = rows
            .iter()
            .flat_map(|r| self.family.position_ids(r, pad))
            .collect();
        Ok(Tensor::from_vec(flat, (b, s), input_ids.device())?)
    }

    /// The forward pass on candle's ops (every device; gradients through candle's autograd).
    pub(super) fn forward_candle(
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
        let positions = self.positions(input_ids)?;
        let types = if self.family.uses_token_types() {
            token_type_ids.clone()
        } else {
            token_type_ids.zeros_like()?
        };
        let mut x = self
            .embeddings
            .forward_t(input_ids, &positions, &types, mode)?;
        let bias = self.relative_bias(s, input_ids.device())?;
        for layer in &self.layers {
            x = layer.forward_t(&x, &mask, bias.as_ref(), mode)?;
        }
        Ok(x)
    }
}
