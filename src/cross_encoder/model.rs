//! `CrossEncoder`: load, predict, rank (Python's `CrossEncoder(name)`, `predict`, `rank`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use candle_core::{Device, Tensor};
use candle_nn::VarBuilder;
use tokenizers::Tokenizer;

use crate::core::fs::read_json;
use crate::core::safetensors::load_safetensors;
use crate::core::{Error, Result};
use crate::display::{impl_display, shorten, Progress, Section, Tabular, MAX_ROWS};
use crate::encoder::bert::dropout;
use crate::encoder::{Bert, BertConfig, Linear};
use crate::models::tokenizer::{load_tokenizer, set_truncation};

/// Options of [`CrossEncoder::predict`].
#[derive(Debug, Clone, PartialEq)]
#[must_use]
pub struct PredictOptions {
    /// Pairs per forward pass (default 32).
    pub batch_size: usize,
    /// Apply the default activation (sigmoid when the model has one label); false gives raw logits.
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

/// A cross-encoder (re-ranker).
#[derive(Clone)]
pub struct CrossEncoder {
    pub(crate) tokenizer: Tokenizer,
    pub(crate) bert: Bert,
    pub(crate) pooler: Linear,
    pub(crate) classifier: Linear,
    pub(crate) num_labels: usize,
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

impl CrossEncoder {
    /// Loads a cross-encoder by folder path or Hugging Face id (looked up like [`crate::SentenceTransformer::load`]).
    pub fn load(id_or_path: &str) -> Result<Self> {
        let dir = crate::models::hub::resolve_model_dir(id_or_path)?;
        Self::from_dir(&dir, &Device::Cpu)
    }

    /// Loads from a folder with `config.json`, `tokenizer.json` and `model.safetensors`.
    pub fn from_dir(dir: &Path, device: &Device) -> Result<Self> {
        let config: BertConfig = read_json(&dir.join("config.json"))?;
        config
            .validate()
            .map_err(|why| Error::invalid_model(dir.join("config.json"), why))?;
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
        let weights = dir.join("model.safetensors");
        let tensors = load_safetensors(&weights, device)?;
        let get = |name: &str| -> Result<Tensor> {
            tensors
                .get(name)
                .cloned()
                .ok_or_else(|| Error::invalid_model(&weights, format!("missing tensor {name}")))
        };
        let pooler =
            Linear::from_parts(get("pooler.dense.weight")?, Some(get("pooler.dense.bias")?));
        let classifier =
            Linear::from_parts(get("classifier.weight")?, Some(get("classifier.bias")?));
        if classifier.out_dim() != num_labels {
            return Err(Error::invalid_model(
                &weights,
                format!(
                    "classifier has {} outputs, config says num_labels {num_labels}",
                    classifier.out_dim()
                ),
            ));
        }
        let vb = VarBuilder::from_tensors(tensors, candle_core::DType::F32, device);
        let bert =
            Bert::new(&config, vb).map_err(|e| Error::invalid_model(&weights, e.to_string()))?;
        let mut tokenizer = load_tokenizer(&dir.join("tokenizer.json"))?;
        // Python's CrossEncoder truncates at the tokenizer's model_max_length.
        let max_length = read_json::<serde_json::Value>(&dir.join("tokenizer_config.json"))
            .ok()
            .and_then(|c| {
                c.get("model_max_length")
                    .and_then(serde_json::Value::as_f64)
            })
            .map_or(config.max_position_embeddings, |m| {
                (m.max(4.0) as usize).min(config.max_position_embeddings)
            });
        set_truncation(&mut tokenizer, max_length)?;
        Ok(Self {
            tokenizer,
            bert,
            pooler,
            classifier,
            num_labels,
            max_length,
            device: device.clone(),
            path: dir.to_path_buf(),
        })
    }

    /// Logits of a batch of encoded pairs (inference; no padding on the CPU).
    fn logits(&self, encs: &[&tokenizers::Encoding]) -> Result<Vec<Vec<f32>>> {
        let (hidden, _) = self.bert.forward_batch(encs, &self.device)?;
        let cls = hidden.narrow(1, 0, 1)?.squeeze(1)?;
        Ok(self.head(&cls, false)?.to_vec2::<f32>()?)
    }

    /// `BertForSequenceClassification`'s head on the `[CLS]` hidden states `[b, h]` → logits
    /// `[b, num_labels]`: pooler (dense + tanh), dropout (in training), classifier.
    pub(crate) fn head(&self, cls: &Tensor, train: bool) -> Result<Tensor> {
        let pooled = self.pooler.forward(cls)?.tanh()?;
        let pooled = dropout(&pooled, self.bert.config().hidden_dropout_prob, train)?;
        self.classifier.forward(&pooled)
    }

    /// Number of outputs per pair.
    pub fn num_labels(&self) -> usize {
        self.num_labels
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

    /// One score per pair: sigmoid of the logit for a one-label model (Python's default
    /// activation), the raw logit with `apply_activation: false`. Models with several labels:
    /// use [`CrossEncoder::predict_logits`].
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
                if opts.apply_activation {
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

    /// Changes the longest pair (at most the model's `max_position_embeddings`).
    pub fn set_max_length(&mut self, n: usize) -> Result<()> {
        let limit = self.bert.config().max_position_embeddings;
        if n < 4 || n > limit {
            return Err(Error::InvalidInput(format!(
                "max_length must be in 4..={limit}, got {n}"
            )));
        }
        set_truncation(&mut self.tokenizer, n)?;
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
