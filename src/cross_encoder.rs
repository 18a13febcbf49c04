//! `CrossEncoder`: both texts through BERT at once → one relevance score (Python's
//! `sentence_transformers.cross_encoder.CrossEncoder`), loaded from the Hugging Face
//! sequence-classification format (`BertForSequenceClassification`: encoder, pooler, `classifier`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use candle_core::{Device, Tensor};
use candle_nn::VarBuilder;
use tokenizers::{Tokenizer, TruncationDirection, TruncationParams, TruncationStrategy};

use crate::config::{read_json, BertConfig};
use crate::display::{shorten, Section, Tabular};
use crate::error::{Error, Result};
use crate::models::bert::{Bert, Linear};
use crate::progress::Progress;

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
        Self { batch_size: 32, apply_activation: true, show_progress_bar: false }
    }
}

/// A cross-encoder (re-ranker).
#[derive(Clone)]
pub struct CrossEncoder {
    tokenizer: Tokenizer,
    bert: Bert,
    pooler: Linear,
    classifier: Linear,
    num_labels: usize,
    max_length: usize,
    device: Device,
    path: PathBuf,
}

impl std::fmt::Debug for CrossEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CrossEncoder({}, num_labels {}, max_length {})", self.path.display(), self.num_labels, self.max_length)
    }
}

impl CrossEncoder {
    /// Loads a cross-encoder by folder path or Hugging Face id (looked up like [`crate::SentenceTransformer::load`]).
    pub fn load(id_or_path: &str) -> Result<Self> {
        let dir = crate::hub::resolve_model_dir(id_or_path)?;
        Self::from_dir(&dir, &Device::Cpu)
    }

    /// Loads from a folder with `config.json`, `tokenizer.json` and `model.safetensors`.
    pub fn from_dir(dir: &Path, device: &Device) -> Result<Self> {
        let config: BertConfig = read_json(&dir.join("config.json"))?;
        let num_labels = config
            .extra
            .get("num_labels")
            .and_then(|v| v.as_u64())
            .or_else(|| config.extra.get("id2label").and_then(|m| m.as_object()).map(|m| m.len() as u64))
            .unwrap_or(1) as usize;
        let weights = dir.join("model.safetensors");
        let tensors = crate::weights::load_safetensors(&weights, device)?;
        let get = |name: &str| -> Result<Tensor> {
            tensors.get(name).cloned().ok_or_else(|| Error::invalid_model(&weights, format!("missing tensor {name}")))
        };
        let pooler = Linear::from_parts(get("pooler.dense.weight")?, Some(get("pooler.dense.bias")?));
        let classifier = Linear::from_parts(get("classifier.weight")?, Some(get("classifier.bias")?));
        if classifier.out_dim() != num_labels {
            return Err(Error::invalid_model(&weights, format!("classifier has {} outputs, config says num_labels {num_labels}", classifier.out_dim())));
        }
        let vb = VarBuilder::from_tensors(tensors, candle_core::DType::F32, device);
        let bert = Bert::new(&config, vb).map_err(|e| Error::invalid_model(&weights, e.to_string()))?;
        let tok_path = dir.join("tokenizer.json");
        let mut tokenizer = Tokenizer::from_file(&tok_path).map_err(|e| Error::invalid_model(&tok_path, format!("cannot load tokenizer: {e}")))?;
        let max_length = config.max_position_embeddings;
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(Some(TruncationParams { direction: TruncationDirection::Right, max_length, strategy: TruncationStrategy::LongestFirst, stride: 0 }))
            .map_err(|e| Error::Tokenizer(e.to_string()))?;
        Ok(Self { tokenizer, bert, pooler, classifier, num_labels, max_length, device: device.clone(), path: dir.to_path_buf() })
    }

    /// Number of outputs per pair.
    pub fn num_labels(&self) -> usize {
        self.num_labels
    }

    /// Logits `[n, num_labels]` of each pair (no activation).
    pub fn predict_logits<A: AsRef<str>, B: AsRef<str>>(&self, pairs: &[(A, B)], opts: &PredictOptions) -> Result<Vec<Vec<f32>>> {
        if opts.batch_size == 0 {
            return Err(Error::InvalidInput("batch_size must be at least 1".into()));
        }
        let inputs: Vec<(String, String)> = pairs.iter().map(|(a, b)| (a.as_ref().to_string(), b.as_ref().to_string())).collect();
        let enc = self.tokenizer.encode_batch(inputs, true)?;
        let mut order: Vec<usize> = (0..enc.len()).collect();
        order.sort_by(|&a, &b| enc[b].len().cmp(&enc[a].len()));
        let mut out = vec![Vec::new(); enc.len()];
        let mut progress = Progress::new(enc.len().div_ceil(opts.batch_size) as u64, "Batches", opts.show_progress_bar);
        let pad = self.bert.config().pad_token_id as u32;
        for batch in order.chunks(opts.batch_size) {
            let encs: Vec<&tokenizers::Encoding> = batch.iter().map(|&i| &enc[i]).collect();
            let p = crate::models::pad_batch(&encs, usize::MAX, pad, &self.device)?;
            let hidden = self.bert.forward_t(&p.ids, &p.types, &p.mask, false)?;
            let cls = hidden.narrow(1, 0, 1)?.squeeze(1)?;
            let logits = self.classifier.forward(&self.pooler.forward(&cls)?.tanh()?)?.to_vec2::<f32>()?;
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
    pub fn predict<A: AsRef<str>, B: AsRef<str>>(&self, pairs: &[(A, B)], opts: &PredictOptions) -> Result<Vec<f32>> {
        if self.num_labels != 1 {
            return Err(Error::InvalidInput(format!("predict gives one score per pair; this model has {} labels (use predict_logits)", self.num_labels)));
        }
        Ok(self
            .predict_logits(pairs, opts)?
            .into_iter()
            .map(|l| if opts.apply_activation { 1.0 / (1.0 + (-l[0]).exp()) } else { l[0] })
            .collect())
    }

    /// Scores `query` against each document and returns the `top_k` best (all with `None`),
    /// best first; equal scores by lower `corpus_id` (Python's `CrossEncoder.rank`).
    pub fn rank<S: AsRef<str>>(&self, query: &str, documents: &[S], top_k: Option<usize>, opts: &PredictOptions) -> Result<Ranking> {
        let pairs: Vec<(&str, &str)> = documents.iter().map(|d| (query, d.as_ref())).collect();
        let scores = self.predict(&pairs, opts)?;
        let mut hits: Vec<Ranked> = scores
            .iter()
            .enumerate()
            .map(|(i, &s)| Ranked { corpus_id: i, score: s, text: documents[i].as_ref().to_string() })
            .collect();
        hits.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.corpus_id.cmp(&b.corpus_id)));
        hits.truncate(top_k.unwrap_or(usize::MAX));
        Ok(Ranking { query: query.to_string(), hits: Arc::new(hits) })
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
            .take(crate::display::MAX_ROWS)
            .enumerate()
            .map(|(k, h)| vec![(k + 1).to_string(), h.corpus_id.to_string(), format!("{:.4}", h.score), shorten(&h.text, 70)])
            .collect();
        vec![Section {
            title: Some(format!("Query: {}", shorten(&self.query, 80))),
            header: ["rank", "corpus_id", "score", "text"].map(String::from).to_vec(),
            rows,
            more: self.hits.len().saturating_sub(crate::display::MAX_ROWS),
        }]
    }
}

impl std::fmt::Display for Ranking {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        crate::display::write_text(&self.sections(), f)
    }
}

impl Ranking {
    /// The ranking as an HTML table.
    pub fn to_html(&self) -> String {
        crate::display::to_html(&self.sections())
    }
    /// Rich notebook output (evcxr).
    pub fn evcxr_display(&self) {
        crate::display::emit_html(&self.to_html());
    }
}

/// Retrieve & re-rank: each query's bi-encoder top `rerank_top` documents of `run`, re-scored by the
/// cross-encoder and sorted by that score (best first, ties by the bi-encoder's order). Documents
/// past `rerank_top` are dropped. `doc_text(id)` gives a document's text.
pub fn rerank_run(
    cross_encoder: &CrossEncoder,
    queries: &[crate::datasets::Query],
    run: &crate::evaluation::retrieval::RankedRun,
    doc_text: impl Fn(&str) -> Option<String>,
    rerank_top: usize,
    opts: &PredictOptions,
) -> Result<crate::evaluation::retrieval::RankedRun> {
    let texts: std::collections::HashMap<&str, &str> = queries.iter().map(|q| (q.id.as_str(), q.text.as_str())).collect();
    let mut out = Vec::with_capacity(run.len());
    for (qid, docs) in run {
        let q = texts.get(qid.as_str()).ok_or_else(|| Error::InvalidInput(format!("query {qid} of the run has no text")))?;
        let top: Vec<&(String, f32)> = docs.iter().take(rerank_top).collect();
        let doc_texts: Vec<String> = top
            .iter()
            .map(|(d, _)| doc_text(d).ok_or_else(|| Error::InvalidInput(format!("document {d} of the run has no text"))))
            .collect::<Result<_>>()?;
        let pairs: Vec<(&str, &str)> = doc_texts.iter().map(|t| (*q, t.as_str())).collect();
        let scores = cross_encoder.predict(&pairs, opts)?;
        let mut order: Vec<usize> = (0..top.len()).collect();
        order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
        out.push((qid.clone(), order.into_iter().map(|i| (top[i].0.clone(), scores[i])).collect()));
    }
    Ok(out)
}
