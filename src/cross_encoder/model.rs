//! `CrossEncoder`: load, predict, rank (Python's `CrossEncoder(name)`, `predict`, `rank`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use candle_core::{Device, Tensor};
use candle_nn::VarBuilder;
use tokenizers::Tokenizer;

use super::head::Head;
use crate::core::fs::read_json;
use crate::core::{Dtype, Error, Result};
use crate::display::{impl_display, shorten, Progress, Section, Tabular, MAX_ROWS};
use crate::encoder::{load_weights, split_ragged, Encoder, EncoderConfig};
use crate::models::tokenizer::{load_model_tokenizer, model_max_length, set_truncation};
use crate::models::LoadOptions;

/// Options of [`CrossEncoder::predict`].
#[derive(Debug, Clone, PartialEq)]
#[must_use]
pub struct PredictOptions {
    /// Pairs per forward pass (default 32).
    pub batch_size: usize,
    /// Apply the model's default activation ([`Activation`]: sigmoid unless its config declares
    /// Identity) to a one-label model's logit; false gives raw logits.
    pub apply_activation: bool,
    /// Show a progress bar.
    pub show_progress_bar: bool,
}

impl Default for PredictOptions {
    fn default() -> Self {
        Self {
            batch_size: 32,
            apply_activation: true,
            show_progress_bar: false,
        }
    }
}

/// What `predict` applies to a one-label model's logit by default (Python's `activation_fn`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// `torch.nn.Sigmoid`: scores in (0, 1) — Python's default for one label.
    Sigmoid,
    /// `torch.nn.Identity`: the raw logit — what fine-tuned MS MARCO cross-encoders declare.
    Identity,
}

impl Activation {
    /// The activation a Hugging Face `config.json` declares for sentence-transformers: the
    /// legacy `sbert_ce_default_activation_function` or `sentence_transformers.activation_fn`
    /// (a PyTorch class path); Sigmoid when neither is there. Another class is an error.
    pub(crate) fn from_config(
        extra: &std::collections::BTreeMap<String, serde_json::Value>,
    ) -> std::result::Result<Self, String> {
        let declared = extra
            .get("sentence_transformers")
            .and_then(|v| v.get("activation_fn"))
            .or_else(|| extra.get("sbert_ce_default_activation_function"))
            .and_then(|v| v.as_str());
        match declared {
            None => Ok(Self::Sigmoid),
            Some(name) => match name.rsplit('.').next().unwrap_or(name) {
                "Sigmoid" => Ok(Self::Sigmoid),
                "Identity" => Ok(Self::Identity),
                _ => Err(format!(
                    "activation {name:?} is not supported (Sigmoid or Identity); predict_logits gives the raw logits"
                )),
            },
        }
    }
}

/// A cross-encoder (re-ranker).
#[derive(Clone)]
pub struct CrossEncoder {
    pub(crate) tokenizer: Tokenizer,
    pub(crate) encoder: Encoder,
    pub(crate) head: Head,
    pub(crate) num_labels: usize,
    pub(crate) activation: Activation,
    pub(crate) max_length: usize,
    pub(crate) device: Device,
    pub(crate) path: PathBuf,
}

impl std::fmt::Debug for CrossEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "CrossEncoder({}, num_labels {}, max_length {})",
            self.path.display(),
            self.num_labels,
            self.max_length
        )
    }
}

/// A pair is scored from its first token's hidden state: a pair with no tokens (a tokenizer
/// without a post-processor, an empty query and document) has nothing to score.
pub(crate) fn check_pair_tokens(encs: &[&tokenizers::Encoding]) -> Result<()> {
    match encs.iter().position(|e| e.is_empty()) {
        Some(i) => Err(Error::InvalidInput(format!(
            "pair {i} tokenizes to no tokens (empty texts and a tokenizer that adds no special tokens): a cross-encoder has nothing to score"
        ))),
        None => Ok(()),
    }
}

impl CrossEncoder {
    /// Loads a cross-encoder by folder path or Hugging Face id (looked up like [`crate::SentenceTransformer::load`]).
    pub fn load(id_or_path: &str) -> Result<Self> {
        let dir = crate::models::hub::resolve_model_dir(id_or_path)?;
        Self::from_dir(&dir, &Device::Cpu)
    }

    /// Like [`CrossEncoder::load`], with a device and the [`Dtype`] inference computes in.
    pub fn load_with(id_or_path: &str, options: &LoadOptions) -> Result<Self> {
        let dir = crate::models::hub::resolve_model_dir(id_or_path)?;
        let mut model = Self::from_dir(&dir, &options.device)?;
        model.set_dtype(options.dtype)?;
        Ok(model)
    }

    /// The format the encoder's linear layers compute in at inference ([`Dtype::F32`] by default;
    /// the classification head always runs in f32).
    pub fn dtype(&self) -> Dtype {
        self.encoder.dtype()
    }

    /// Switches inference to `dtype` (bf16 and int8: CPU only); training always uses f32.
    pub fn set_dtype(&mut self, dtype: Dtype) -> Result<()> {
        self.encoder.set_dtype(dtype)
    }

    /// Loads a Hugging Face sequence-classification folder of any [`crate::encoder::Family`]:
    /// `config.json`, the tokenizer (`tokenizer.json`, or built from the vocabulary files) and
    /// the weights (`model.safetensors` or `pytorch_model.bin`).
    pub fn from_dir(dir: &Path, device: &Device) -> Result<Self> {
        let config_path = dir.join("config.json");
        let config: EncoderConfig = read_json(&config_path)?;
        config
            .validate()
            .map_err(|why| Error::invalid_model(&config_path, why))?;
        let family = config
            .family()
            .map_err(|why| Error::invalid_model(&config_path, why))?;
        let num_labels = config
            .extra
            .get("num_labels")
            .and_then(|v| v.as_u64())
            .or_else(|| {
                config
                    .extra
                    .get("id2label")
                    .and_then(|m| m.as_object())
                    .map(|m| m.len() as u64)
            })
            .unwrap_or(1) as usize;
        let (tensors, weights) = load_weights(dir, family, device)?;
        let head = Head::from_tensors(&config, family, &tensors).map_err(|why| {
            Error::invalid_model(
                &weights,
                format!(
                    "no {} head in the checkpoint: {why} (a bare encoder? use CrossEncoder::new_from_encoder)",
                    family.classification_class()
                ),
            )
        })?;
        if head.num_labels() != num_labels {
            return Err(Error::invalid_model(
                &weights,
                format!(
                    "classifier has {} outputs, config says num_labels {num_labels}",
                    head.num_labels()
                ),
            ));
        }
        let vb = VarBuilder::from_tensors(tensors, candle_core::DType::F32, device);
        let encoder =
            Encoder::new(&config, vb).map_err(|e| Error::invalid_model(&weights, e.to_string()))?;
        let mut tokenizer = load_model_tokenizer(dir, family)?;
        // Python's CrossEncoder truncates at the tokenizer's model_max_length.
        let limit = encoder.max_input_length();
        let max_length =
            model_max_length(dir).map_or(limit, |m| (m.clamp(4.0, 1e9) as usize).min(limit));
        set_truncation(&mut tokenizer, max_length, true)?;
        let activation = Activation::from_config(&config.extra)
            .map_err(|why| Error::invalid_model(&config_path, why))?;
        Ok(Self {
            tokenizer,
            encoder,
            head,
            num_labels,
            activation,
            max_length,
            device: device.clone(),
            path: dir.to_path_buf(),
        })
    }

    /// Logits of a batch of encoded pairs (inference; no padding on the CPU).
    fn logits(&self, encs: &[&tokenizers::Encoding]) -> Result<Vec<Vec<f32>>> {
        let cls = if self.device.is_cpu() {
            // The first row of each pair straight from the unpadded output.
            let hidden = self.encoder.forward_ragged(encs)?;
            let h = self.encoder.config().hidden_size;
            let mut first = vec![0f32; encs.len() * h];
            let seqs = split_ragged(&hidden, encs.iter().map(|e| e.len()), h);
            for (row, seq) in first.chunks_exact_mut(h).zip(seqs) {
                if !seq.is_empty() {
                    row.copy_from_slice(&seq[..h]);
                }
            }
            Tensor::from_vec(first, (encs.len(), h), &self.device)?
        } else {
            let (hidden, _) = self.encoder.forward_batch(encs, &self.device)?;
            hidden.narrow(1, 0, 1)?.squeeze(1)?
        };
        Ok(self.head(&cls, false)?.to_vec2::<f32>()?)
    }

    /// The family's classification head on the first-token hidden states `[b, h]` → logits
    /// `[b, num_labels]` (dropout in training).
    pub(crate) fn head(&self, cls: &Tensor, train: bool) -> Result<Tensor> {
        self.head.forward(cls, train)
    }

    /// The tokenizer (pairs encoded by its post-processor: `[CLS] A [SEP] B [SEP]`, or
    /// `<s> A </s></s> B </s>` for RoBERTa-style models; truncated at [`CrossEncoder::max_length`]).
    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }

    /// The encoder's family.
    pub fn family(&self) -> crate::encoder::Family {
        self.encoder.family()
    }

    /// Number of outputs per pair.
    pub fn num_labels(&self) -> usize {
        self.num_labels
    }

    /// What `predict` applies to the logit by default (from `config.json`; Sigmoid if unset).
    pub fn activation(&self) -> Activation {
        self.activation
    }

    /// Logits `[n, num_labels]` of each pair (no activation).
    pub fn predict_logits<A: AsRef<str>, B: AsRef<str>>(
        &self,
        pairs: &[(A, B)],
        opts: &PredictOptions,
    ) -> Result<Vec<Vec<f32>>> {
        if opts.batch_size == 0 {
            return Err(Error::InvalidInput("batch_size must be at least 1".into()));
        }
        let inputs: Vec<(String, String)> = pairs
            .iter()
            .map(|(a, b)| (a.as_ref().to_string(), b.as_ref().to_string()))
            .collect();
        let enc = self.tokenizer.encode_batch(inputs, true)?;
        check_pair_tokens(&enc.iter().collect::<Vec<_>>())?;
        let mut order: Vec<usize> = (0..enc.len()).collect();
        order.sort_by(|&a, &b| enc[b].len().cmp(&enc[a].len()));
        let mut out = vec![Vec::new(); enc.len()];
        let mut progress = Progress::new(
            enc.len().div_ceil(opts.batch_size) as u64,
            "Batches",
            opts.show_progress_bar,
        );
        for batch in order.chunks(opts.batch_size) {
            let encs: Vec<&tokenizers::Encoding> = batch.iter().map(|&i| &enc[i]).collect();
            let logits = self.logits(&encs)?;
            for (r, &i) in batch.iter().enumerate() {
                out[i] = logits[r].clone();
            }
            progress.inc(1);
        }
        progress.finish();
        Ok(out)
    }

    /// One score per pair: the model's [`Activation`] of the logit for a one-label model (sigmoid
    /// unless its `config.json` declares `Identity`, as Python reads it), the raw logit with
    /// `apply_activation: false`. Models with several labels: use [`CrossEncoder::predict_logits`].
    pub fn predict<A: AsRef<str>, B: AsRef<str>>(
        &self,
        pairs: &[(A, B)],
        opts: &PredictOptions,
    ) -> Result<Vec<f32>> {
        if self.num_labels != 1 {
            return Err(Error::InvalidInput(format!(
                "predict gives one score per pair; this model has {} labels (use predict_logits)",
                self.num_labels
            )));
        }
        Ok(self
            .predict_logits(pairs, opts)?
            .into_iter()
            .map(|l| {
                if opts.apply_activation && self.activation == Activation::Sigmoid {
                    1.0 / (1.0 + (-l[0]).exp())
                } else {
                    l[0]
                }
            })
            .collect())
    }

    /// Scores `query` against each document and returns the `top_k` best (all with `None`),
    /// best first; equal scores by lower `corpus_id` (Python's `CrossEncoder.rank`).
    pub fn rank<S: AsRef<str>>(
        &self,
        query: &str,
        documents: &[S],
        top_k: Option<usize>,
        opts: &PredictOptions,
    ) -> Result<Ranking> {
        let pairs: Vec<(&str, &str)> = documents.iter().map(|d| (query, d.as_ref())).collect();
        let scores = self.predict(&pairs, opts)?;
        let mut hits: Vec<Ranked> = scores
            .iter()
            .enumerate()
            .map(|(i, &s)| Ranked {
                corpus_id: i,
                score: s,
                text: documents[i].as_ref().to_string(),
            })
            .collect();
        hits.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then(a.corpus_id.cmp(&b.corpus_id))
        });
        hits.truncate(top_k.unwrap_or(usize::MAX));
        Ok(Ranking {
            query: query.to_string(),
            hits: Arc::new(hits),
        })
    }

    /// Longest pair, in tokens (both texts and the special tokens); longer pairs are truncated
    /// longest-first, as Hugging Face tokenizers do.
    pub fn max_length(&self) -> usize {
        self.max_length
    }

    /// Changes the longest pair (at most the positions the encoder has).
    pub fn set_max_length(&mut self, n: usize) -> Result<()> {
        let limit = self.encoder.max_input_length();
        if n < 4 || n > limit {
            return Err(Error::InvalidInput(format!(
                "max_length must be in 4..={limit}, got {n}"
            )));
        }
        set_truncation(&mut self.tokenizer, n, true)?;
        self.max_length = n;
        Ok(())
    }
}

/// One re-ranked document.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Ranked {
    /// Index in the documents given to `rank`.
    pub corpus_id: usize,
    /// The cross-encoder's score.
    pub score: f32,
    /// The document.
    pub text: String,
}

/// The result of [`CrossEncoder::rank`]: documents best first.
#[derive(Debug, Clone, PartialEq)]
pub struct Ranking {
    /// The query.
    pub query: String,
    hits: Arc<Vec<Ranked>>,
}

impl std::ops::Deref for Ranking {
    type Target = [Ranked];
    fn deref(&self) -> &[Ranked] {
        &self.hits
    }
}

impl Tabular for Ranking {
    fn sections(&self) -> Vec<Section> {
        let rows = self
            .hits
            .iter()
            .take(MAX_ROWS)
            .enumerate()
            .map(|(k, h)| {
                vec![
                    (k + 1).to_string(),
                    h.corpus_id.to_string(),
                    format!("{:.4}", h.score),
                    shorten(&h.text, 70),
                ]
            })
            .collect();
        vec![Section {
            title: Some(format!("Query: {}", shorten(&self.query, 80))),
            header: ["rank", "corpus_id", "score", "text"]
                .map(String::from)
                .to_vec(),
            rows,
            more: self.hits.len().saturating_sub(MAX_ROWS),
        }]
    }
}

impl_display!(Ranking);
