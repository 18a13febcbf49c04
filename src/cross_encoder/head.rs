//! The sequence-classification head of each family, as data: what `XxxForSequenceClassification`
//! puts on the first token's hidden state.
//!
//! | family | head | keys |
//! |---|---|---|
//! | BERT | pooler (dense → tanh) → dropout → classifier | `bert.pooler.dense`, `classifier` |
//! | RoBERTa, XLM-R, MPNet | dropout → dense → tanh → dropout → out_proj | `classifier.dense`, `classifier.out_proj` |
//! | DistilBERT | pre_classifier → ReLU → dropout → classifier | `pre_classifier`, `classifier` |

use std::collections::HashMap;

use candle_core::Tensor;

use crate::core::{Error, Result};
use crate::encoder::bert::dropout;
use crate::encoder::{EncoderConfig, Family, Linear};

/// A classification head on the first token.
#[derive(Debug, Clone)]
pub(crate) struct Head {
    pub(crate) dense: Linear,
    pub(crate) out: Linear,
    family: Family,
    dropout: f64,
}

/// `(dense, out)` key prefixes of the head, as the bare-encoder names of
/// [`crate::encoder::weights::load_weights`] have them (BERT's pooler without its `bert.`).
fn keys(family: Family) -> (&'static str, &'static str) {
    match family {
        Family::Bert => ("pooler.dense", "classifier"),
        Family::DistilBert => ("pre_classifier", "classifier"),
        Family::Roberta | Family::XlmRoberta | Family::MPNet => {
            ("classifier.dense", "classifier.out_proj")
        }
    }
}

/// The `Linear` whose tensors are `{key}.weight` and `{key}.bias`, as `get` finds them.
fn linear<E>(
    key: &str,
    get: impl Fn(&str) -> std::result::Result<Tensor, E>,
) -> std::result::Result<Linear, E> {
    Ok(Linear::from_parts(
        get(&format!("{key}.weight"))?,
        Some(get(&format!("{key}.bias"))?),
    ))
}

/// The head's dropout probability, as each family's config class chooses it.
fn dropout_of(family: Family, cfg: &EncoderConfig) -> f64 {
    let key = match family {
        Family::DistilBert => "seq_classif_dropout",
        _ => "classifier_dropout",
    };
    cfg.extra
        .get(key)
        .and_then(serde_json::Value::as_f64)
        .unwrap_or(cfg.hidden_dropout_prob)
}

impl Head {
    /// The head of a checkpoint's tensors; `Err` names the first missing tensor (a bare encoder
    /// has none of them).
    pub(crate) fn from_tensors(
        cfg: &EncoderConfig,
        family: Family,
        tensors: &HashMap<String, Tensor>,
    ) -> std::result::Result<Self, String> {
        let (d, o) = keys(family);
        let get = |name: &str| {
            tensors
                .get(name)
                .cloned()
                .ok_or_else(|| format!("missing tensor {}", Head::checkpoint_name(family, name)))
        };
        Ok(Self::new(cfg, family, linear(d, get)?, linear(o, get)?))
    }

    /// A head from its parts (fresh initialisation, trainable variables).
    pub(crate) fn new(cfg: &EncoderConfig, family: Family, dense: Linear, out: Linear) -> Self {
        Self {
            dense,
            out,
            family,
            dropout: dropout_of(family, cfg),
        }
    }

    /// The `dense` part of a checkpoint alone (BERT's pooler, which bi-encoder checkpoints such
    /// as all-MiniLM-L6-v2 carry), for a new head on a pretrained encoder.
    pub(crate) fn pretrained_dense(
        family: Family,
        tensors: &HashMap<String, Tensor>,
    ) -> Option<Linear> {
        linear(keys(family).0, |name| tensors.get(name).cloned().ok_or(())).ok()
    }

    /// Number of logits.
    pub(crate) fn num_labels(&self) -> usize {
        self.out.out_dim()
    }

    /// First-token hidden states `[b, h]` → logits `[b, num_labels]`; dropout when `train`.
    pub(crate) fn forward(&self, cls: &Tensor, train: bool) -> Result<Tensor> {
        let p = self.dropout;
        match self.family {
            Family::Bert => {
                let pooled = self.dense.forward(cls)?.tanh()?;
                self.out.forward(&dropout(&pooled, p, train)?)
            }
            Family::DistilBert => {
                let x = self.dense.forward(cls)?.relu()?;
                self.out.forward(&dropout(&x, p, train)?)
            }
            Family::Roberta | Family::XlmRoberta | Family::MPNet => {
                let x = self.dense.forward(&dropout(cls, p, train)?)?.tanh()?;
                self.out.forward(&dropout(&x, p, train)?)
            }
        }
    }

    /// The head's tensors under the bare names ([`keys`]), e.g. for a `VarMap`.
    pub(crate) fn named_tensors(&self) -> Result<Vec<(String, Tensor)>> {
        let (d, o) = keys(self.family);
        let mut out = Vec::new();
        for (k, l) in [(d, &self.dense), (o, &self.out)] {
            out.push((format!("{k}.weight"), l.weight.clone()));
            let b = l
                .bias
                .clone()
                .ok_or_else(|| Error::Internal(format!("the head's {k} has no bias")))?;
            out.push((format!("{k}.bias"), b));
        }
        Ok(out)
    }

    /// The same head on other tensors of the same names (trainable variables).
    pub(crate) fn with_tensors(&self, get: impl Fn(&str) -> Result<Tensor>) -> Result<Self> {
        let (d, o) = keys(self.family);
        Ok(Self {
            dense: linear(d, &get)?,
            out: linear(o, &get)?,
            family: self.family,
            dropout: self.dropout,
        })
    }

    /// The name a head tensor has in a Hugging Face checkpoint (BERT's pooler lives inside the
    /// encoder, under `bert.`).
    pub(crate) fn checkpoint_name(family: Family, name: &str) -> String {
        if family == Family::Bert && name.starts_with("pooler.") {
            format!("bert.{name}")
        } else {
            name.to_string()
        }
    }
}
