//! What differs between the encoder families, as data: the checkpoint's key names, how positions
//! are numbered, whether token types exist, and MPNet's relative attention bias. The one
//! [`super::Encoder`] reads these; nothing else in the crate branches on the family.
//!
//! As `transformers` implements them (`modeling_bert.py`, `modeling_roberta.py`,
//! `modeling_xlm_roberta.py`, `modeling_distilbert.py`, `modeling_mpnet.py`).

use std::collections::HashMap;

use candle_core::Tensor;

/// An encoder family, chosen by `config.json`'s `model_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// `bert` (all-MiniLM-L6-v2 is one).
    Bert,
    /// `roberta` (DistilRoBERTa is RoBERTa with fewer layers).
    Roberta,
    /// `xlm-roberta`: RoBERTa's architecture with a SentencePiece vocabulary.
    XlmRoberta,
    /// `distilbert`.
    DistilBert,
    /// `mpnet` (all-mpnet-base-v2).
    MPNet,
}

/// Where a layer's weights live, relative to `{layers}.{i}` (each a `Linear` or LayerNorm prefix).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LayerKeys {
    /// Query projection.
    pub query: &'static str,
    /// Key projection.
    pub key: &'static str,
    /// Value projection.
    pub value: &'static str,
    /// Attention output projection.
    pub attn_out: &'static str,
    /// LayerNorm after attention.
    pub attn_norm: &'static str,
    /// Feed-forward input projection.
    pub ffn_in: &'static str,
    /// Feed-forward output projection.
    pub ffn_out: &'static str,
    /// LayerNorm after the feed-forward block.
    pub ffn_norm: &'static str,
}

const BERT_LAYER: LayerKeys = LayerKeys {
    query: "attention.self.query",
    key: "attention.self.key",
    value: "attention.self.value",
    attn_out: "attention.output.dense",
    attn_norm: "attention.output.LayerNorm",
    ffn_in: "intermediate.dense",
    ffn_out: "output.dense",
    ffn_norm: "output.LayerNorm",
};

const DISTILBERT_LAYER: LayerKeys = LayerKeys {
    query: "attention.q_lin",
    key: "attention.k_lin",
    value: "attention.v_lin",
    attn_out: "attention.out_lin",
    attn_norm: "sa_layer_norm",
    ffn_in: "ffn.lin1",
    ffn_out: "ffn.lin2",
    ffn_norm: "output_layer_norm",
};

const MPNET_LAYER: LayerKeys = LayerKeys {
    query: "attention.attn.q",
    key: "attention.attn.k",
    value: "attention.attn.v",
    attn_out: "attention.attn.o",
    attn_norm: "attention.LayerNorm",
    ffn_in: "intermediate.dense",
    ffn_out: "output.dense",
    ffn_norm: "output.LayerNorm",
};

/// MPNet's `relative_position_bucket` maximum distance (fixed in `transformers`).
pub const MPNET_MAX_DISTANCE: i64 = 128;

impl Family {
    /// Every family, in the order the error message lists them.
    pub const ALL: [Family; 5] = [
        Family::Bert,
        Family::Roberta,
        Family::XlmRoberta,
        Family::DistilBert,
        Family::MPNet,
    ];

    /// The family of a `config.json` `model_type` (absent: BERT, as old checkpoints have it).
    pub fn from_model_type(model_type: Option<&str>) -> Result<Self, String> {
        let Some(t) = model_type else {
            return Ok(Family::Bert);
        };
        Family::ALL
            .into_iter()
            .find(|f| f.model_type() == t)
            .ok_or_else(|| {
                let names: Vec<&str> = Family::ALL.iter().map(|f| f.model_type()).collect();
                format!(
                    "model_type '{t}' is not supported (sbert runs these encoder families: {})",
                    names.join(", ")
                )
            })
    }

    /// `config.json`'s `model_type`.
    pub fn model_type(self) -> &'static str {
        match self {
            Family::Bert => "bert",
            Family::Roberta => "roberta",
            Family::XlmRoberta => "xlm-roberta",
            Family::DistilBert => "distilbert",
            Family::MPNet => "mpnet",
        }
    }

    /// The `transformers` class of the bare encoder (`architectures` in `config.json`).
    pub fn hf_class(self) -> &'static str {
        match self {
            Family::Bert => "BertModel",
            Family::Roberta => "RobertaModel",
            Family::XlmRoberta => "XLMRobertaModel",
            Family::DistilBert => "DistilBertModel",
            Family::MPNet => "MPNetModel",
        }
    }

    /// The sequence-classification class of this family (a cross-encoder's `architectures`).
    pub fn classification_class(self) -> &'static str {
        match self {
            Family::Bert => "BertForSequenceClassification",
            Family::Roberta => "RobertaForSequenceClassification",
            Family::XlmRoberta => "XLMRobertaForSequenceClassification",
            Family::DistilBert => "DistilBertForSequenceClassification",
            Family::MPNet => "MPNetForSequenceClassification",
        }
    }

    /// The encoder's key prefix inside `XxxForSequenceClassification` checkpoints
    /// (`base_model_prefix`; XLM-R's is `roberta`).
    pub fn prefix(self) -> &'static str {
        match self {
            Family::Bert => "bert",
            Family::Roberta | Family::XlmRoberta => "roberta",
            Family::DistilBert => "distilbert",
            Family::MPNet => "mpnet",
        }
    }

    /// The prefix of the layer list (`encoder.layer` or DistilBERT's `transformer.layer`).
    pub fn layers_key(self) -> &'static str {
        match self {
            Family::DistilBert => "transformer.layer",
            _ => "encoder.layer",
        }
    }

    /// Key names inside one layer.
    pub fn layer_keys(self) -> LayerKeys {
        match self {
            Family::DistilBert => DISTILBERT_LAYER,
            Family::MPNet => MPNET_LAYER,
            _ => BERT_LAYER,
        }
    }

    /// Whether the checkpoint has `embeddings.token_type_embeddings` (BERT, RoBERTa, XLM-R).
    pub fn has_token_type_table(self) -> bool {
        matches!(self, Family::Bert | Family::Roberta | Family::XlmRoberta)
    }

    /// Whether the tokenizer's token type ids reach the model. RoBERTa's tokenizers do not return
    /// them (`model_input_names`), so the model sees type 0 everywhere, whatever the pair.
    pub fn uses_token_types(self) -> bool {
        self == Family::Bert
    }

    /// Whether positions count from `padding_idx + 1` and skip padding
    /// (`create_position_ids_from_input_ids`), rather than from 0.
    pub fn positions_after_padding(self) -> bool {
        matches!(self, Family::Roberta | Family::XlmRoberta | Family::MPNet)
    }

    /// Whether training applies dropout to the attention output projection before its residual
    /// (BERT, RoBERTa, XLM-R, MPNet); DistilBERT's `TransformerBlock` has none there.
    pub fn dropout_after_attention_output(self) -> bool {
        self != Family::DistilBert
    }

    /// Whether attention adds MPNet's relative position bias.
    pub fn has_relative_bias(self) -> bool {
        self == Family::MPNet
    }

    /// Position ids of one sequence of token ids (`pad`: the padding token id). BERT and
    /// DistilBERT: `0, 1, …`. RoBERTa, XLM-R, MPNet: `pad + 1, pad + 2, …`, counting only
    /// non-padding tokens, and `pad` on padding tokens.
    pub fn position_ids(self, ids: &[u32], pad: u32) -> Vec<u32> {
        if !self.positions_after_padding() {
            return (0..ids.len() as u32).collect();
        }
        let mut seen = 0u32;
        ids.iter()
            .map(|&id| {
                if id == pad {
                    pad
                } else {
                    seen += 1;
                    pad + seen
                }
            })
            .collect()
    }

    /// The longest input the position table allows: `max_position_embeddings`, less `pad + 1`
    /// where positions start after the padding index.
    pub fn max_input_length(self, max_position_embeddings: usize, pad: usize) -> usize {
        if self.positions_after_padding() {
            max_position_embeddings.saturating_sub(pad + 1)
        } else {
            max_position_embeddings
        }
    }

    /// Maps a checkpoint's keys to the bare encoder's names: the family prefix (`roberta.`,
    /// `distilbert.`, `mpnet.`, `bert.`) is removed when the checkpoint has it (heads such as
    /// `classifier.*` keep their names).
    pub fn strip_prefix(self, tensors: HashMap<String, Tensor>) -> HashMap<String, Tensor> {
        let prefix = format!("{}.", self.prefix());
        if !tensors.keys().any(|k| k.starts_with(&prefix)) {
            return tensors;
        }
        tensors
            .into_iter()
            .map(|(k, t)| match k.strip_prefix(&prefix) {
                Some(rest) => (rest.to_string(), t),
                None => (k, t),
            })
            .collect()
    }
}

impl std::fmt::Display for Family {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.model_type())
    }
}

/// MPNet's `relative_position_bucket(memory − context)`: bidirectional buckets, exact below
/// `num_buckets / 4`, logarithmic up to `max_distance`. Computed in f32 in PyTorch's order, so the
/// bucket boundaries (distance 16, 32, 64 with 32 buckets) fall where PyTorch's do.
pub fn relative_position_bucket(
    relative_position: i64,
    num_buckets: usize,
    max_distance: i64,
) -> usize {
    let half = (num_buckets / 2) as i64;
    let n = -relative_position;
    let mut ret = if n < 0 { half } else { 0 };
    let n = n.abs();
    let max_exact = half / 2;
    if n < max_exact {
        ret += n;
    } else {
        let ratio = (n as f32 / max_exact as f32).ln();
        let denom = (max_distance as f64 / max_exact as f64).ln() as f32;
        let large = max_exact + (ratio / denom * (half - max_exact) as f32) as i64;
        ret += large.min(half - 1);
    }
    ret as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_types_and_errors() {
        for f in Family::ALL {
            assert_eq!(Family::from_model_type(Some(f.model_type())), Ok(f));
        }
        assert_eq!(Family::from_model_type(None), Ok(Family::Bert));
        let err = Family::from_model_type(Some("gpt2")).unwrap_err();
        assert!(
            err.contains("'gpt2'") && err.contains("mpnet") && err.contains("xlm-roberta"),
            "{err}"
        );
    }

    #[test]
    fn positions() {
        assert_eq!(Family::Bert.position_ids(&[5, 1, 7], 1), vec![0, 1, 2]);
        // RoBERTa: from padding_idx + 1, padding keeps padding_idx and is not counted.
        assert_eq!(
            Family::Roberta.position_ids(&[0, 5, 1, 7, 1], 1),
            vec![2, 3, 1, 4, 1]
        );
        assert_eq!(Family::Roberta.max_input_length(514, 1), 512);
        assert_eq!(Family::DistilBert.max_input_length(512, 0), 512);
    }

    #[test]
    fn mpnet_buckets_match_transformers() {
        // Values of transformers' MPNetEncoder.relative_position_bucket (num_buckets 32, max 128)
        // for relative positions -130..=130, written out by hand from its formula: exact below 8,
        // then 8 + floor(log(n / 8) / log(16) · 8), capped at 15; negative distances (keys after the
        // query) get +16.
        let b = |r| relative_position_bucket(r, 32, 128);
        assert_eq!(b(0), 0);
        assert_eq!(b(-1), 1); // key one after the query: n = 1
        assert_eq!(b(1), 17); // key one before: n = -1 < 0 → +16
        assert_eq!(b(-7), 7);
        assert_eq!(b(-8), 8);
        assert_eq!(b(-15), 9);
        assert_eq!(b(-16), 10);
        assert_eq!(b(-31), 11);
        assert_eq!(b(-32), 12);
        assert_eq!(b(-64), 14);
        assert_eq!(b(-127), 15);
        assert_eq!(b(-1000), 15);
        assert_eq!(b(1000), 31);
    }
}
