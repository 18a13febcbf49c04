//! `CrossEncoder`: both texts through BERT at once → one relevance score (Python's
//! `sentence_transformers.cross_encoder.CrossEncoder`), loaded from the Hugging Face
//! sequence-classification format (`BertForSequenceClassification`: encoder, pooler, `classifier`).

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use candle_core::{Device, Tensor};
use candle_nn::VarBuilder;
use tokenizers::{Tokenizer, TruncationDirection, TruncationParams, TruncationStrategy};

use crate::config::{read_json, BertConfig};
use crate::display::{shorten, Section, Tabular};
use crate::error::{Error, Result};
use crate::evaluation::Evaluator;
use crate::models::bert::{Bert, Linear};
use crate::progress::Progress;
use crate::train::{DataLoader, FitConfig, InputExample, TrainEvent, TrainLog};

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
            .or_else(|| {
                config
                    .extra
                    .get("id2label")
                    .and_then(|m| m.as_object())
                    .map(|m| m.len() as u64)
            })
            .unwrap_or(1) as usize;
        let weights = dir.join("model.safetensors");
        let tensors = crate::weights::load_safetensors(&weights, device)?;
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
        let tok_path = dir.join("tokenizer.json");
        let mut tokenizer = Tokenizer::from_file(&tok_path)
            .map_err(|e| Error::invalid_model(&tok_path, format!("cannot load tokenizer: {e}")))?;
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
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(Some(TruncationParams {
                direction: TruncationDirection::Right,
                max_length,
                strategy: TruncationStrategy::LongestFirst,
                stride: 0,
            }))
            .map_err(|e| Error::Tokenizer(e.to_string()))?;
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
        let cls = if self.device.is_cpu() {
            let seqs: Vec<(&[u32], &[u32])> = encs
                .iter()
                .map(|e| (e.get_ids(), e.get_type_ids()))
                .collect();
            let hidden = crate::models::cpu::forward(&self.bert, &seqs)?;
            let h = self.bert.config().hidden_size;
            let mut rows = Vec::with_capacity(encs.len() * h);
            let mut off = 0;
            for e in encs {
                rows.extend_from_slice(&hidden[off * h..off * h + h]);
                off += e.len();
            }
            Tensor::from_vec(rows, (encs.len(), h), &self.device)?
        } else {
            let pad = self.bert.config().pad_token_id as u32;
            let p = crate::models::pad_batch(encs, usize::MAX, pad, &self.device)?;
            let hidden = self.bert.forward_t(&p.ids, &p.types, &p.mask, false)?;
            hidden.narrow(1, 0, 1)?.squeeze(1)?
        };
        Ok(self
            .classifier
            .forward(&self.pooler.forward(&cls)?.tanh()?)?
            .to_vec2::<f32>()?)
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
}

/// Training and saving (Python's `CrossEncoder(model_name, num_labels=1)`, `CrossEncoder.fit`,
/// `CrossEncoder.save`).
impl CrossEncoder {
    /// A new reranker on a pretrained encoder: the BERT weights (and pooler, when the checkpoint
    /// has one, as all-MiniLM-L6-v2 does) of a bi-encoder or BERT folder / id, with a fresh
    /// `num_labels`-logit `classifier` drawn from N(0, 0.02²) (BERT's initializer) with `seed`.
    /// A missing pooler is initialised the same way. `max_length` starts at the encoder's
    /// `max_seq_length` (see [`CrossEncoder::set_max_length`]).
    pub fn new_from_encoder(id_or_path: &str, num_labels: usize, seed: u64) -> Result<Self> {
        if num_labels == 0 {
            return Err(Error::InvalidInput("num_labels must be at least 1".into()));
        }
        let encoder = crate::SentenceTransformer::load(id_or_path)?;
        let dir = encoder.transformer_dir();
        let device = encoder.device().clone();
        let bert = encoder.transformer().bert.clone();
        let h = bert.config().hidden_size;
        let mut rng = crate::train::Rng::new(seed);
        let mut normal = |rows: usize, cols: usize| -> Result<Tensor> {
            let v: Vec<f32> = (0..rows * cols)
                .map(|_| (rng.normal() * 0.02) as f32)
                .collect();
            Ok(Tensor::from_vec(v, (rows, cols), &device)?)
        };
        let source = crate::weights::load_safetensors(&dir.join("model.safetensors"), &device)?;
        let pooler = match (
            source.get("pooler.dense.weight"),
            source.get("pooler.dense.bias"),
        ) {
            (Some(w), Some(b)) => Linear::from_parts(w.clone(), Some(b.clone())),
            _ => Linear::from_parts(
                normal(h, h)?,
                Some(Tensor::zeros(h, candle_core::DType::F32, &device)?),
            ),
        };
        let classifier = Linear::from_parts(
            normal(num_labels, h)?,
            Some(Tensor::zeros(num_labels, candle_core::DType::F32, &device)?),
        );
        let tok_path = dir.join("tokenizer.json");
        let tokenizer = Tokenizer::from_file(&tok_path)
            .map_err(|e| Error::invalid_model(&tok_path, format!("cannot load tokenizer: {e}")))?;
        let mut ce = Self {
            tokenizer,
            bert,
            pooler,
            classifier,
            num_labels,
            max_length: 0,
            device,
            path: dir,
        };
        ce.set_max_length(encoder.max_seq_length())?;
        Ok(ce)
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
        self.tokenizer.with_padding(None);
        self.tokenizer
            .with_truncation(Some(TruncationParams {
                direction: TruncationDirection::Right,
                max_length: n,
                strategy: TruncationStrategy::LongestFirst,
                stride: 0,
            }))
            .map_err(|e| Error::Tokenizer(e.to_string()))?;
        self.max_length = n;
        Ok(())
    }

    /// Trains the reranker on `(query, passage)` examples with labels in 0..1 (Python's
    /// `CrossEncoder.fit(train_dataloader, evaluator, epochs, warmup_steps, …, callback)`):
    /// binary cross-entropy on the logit for one label, the same loop as [`crate::train::fit`]
    /// (AdamW without decay on biases and LayerNorm, the warm-up schedule, clipping, evaluation
    /// and a callback that can stop training, `max_steps`, atomic save of the best model to
    /// `output_path` in the Hugging Face format). `config.max_seq_length`, when set, becomes
    /// [`CrossEncoder::max_length`].
    pub fn fit(
        &mut self,
        train: &DataLoader,
        config: &FitConfig,
        evaluator: Option<&dyn Evaluator<CrossEncoder>>,
        callback: impl FnMut(&TrainEvent) -> ControlFlow<()>,
    ) -> Result<TrainLog> {
        if self.num_labels != 1 {
            return Err(Error::InvalidInput(format!(
                "fit trains one-label rerankers (binary cross-entropy); this model has {} labels",
                self.num_labels
            )));
        }
        if let Some(bad) = train
            .examples
            .iter()
            .find(|e| e.texts.len() != 2 || !(0.0..=1.0).contains(&e.label))
        {
            return Err(Error::InvalidInput(format!(
                "cross-encoder examples need two texts and a label in 0..1, got {} texts and label {}",
                bad.texts.len(),
                bad.label
            )));
        }
        if let Some(n) = config.max_seq_length {
            self.set_max_length(n)?;
        }
        crate::train::keep_large_allocations_in_heap();
        let varmap = candle_nn::VarMap::new();
        let mut tensors: std::collections::HashMap<String, Tensor> =
            self.bert.named_tensors().into_iter().collect();
        tensors.insert("pooler.dense.weight".into(), self.pooler.weight.clone());
        tensors.insert(
            "pooler.dense.bias".into(),
            self.pooler
                .bias
                .clone()
                .ok_or_else(|| Error::InvalidInput("pooler has no bias".into()))?,
        );
        tensors.insert("classifier.weight".into(), self.classifier.weight.clone());
        tensors.insert(
            "classifier.bias".into(),
            self.classifier
                .bias
                .clone()
                .ok_or_else(|| Error::InvalidInput("classifier has no bias".into()))?,
        );
        self.bert = Bert::trainable(self.bert.config(), tensors, &varmap, &self.device)?;
        let var = |name: &str| -> Result<Tensor> {
            let data = varmap
                .data()
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            data.get(name)
                .map(|v| v.as_tensor().clone())
                .ok_or_else(|| Error::InvalidInput(format!("missing variable {name}")))
        };
        self.pooler =
            Linear::from_parts(var("pooler.dense.weight")?, Some(var("pooler.dense.bias")?));
        self.classifier =
            Linear::from_parts(var("classifier.weight")?, Some(var("classifier.bias")?));
        let loss_fn = crate::losses::BinaryCrossEntropyLoss;
        let batch_loss =
            |ce: &CrossEncoder, _k: usize, batch: Vec<&InputExample>| -> Result<Option<Tensor>> {
                let inputs: Vec<(String, String)> = batch
                    .iter()
                    .map(|e| (e.texts[0].clone(), e.texts[1].clone()))
                    .collect();
                let enc = ce.tokenizer.encode_batch(inputs, true)?;
                let encs: Vec<&tokenizers::Encoding> = enc.iter().collect();
                let pad = ce.bert.config().pad_token_id as u32;
                let p = crate::models::pad_batch(&encs, usize::MAX, pad, &ce.device)?;
                let hidden = ce.bert.forward_mode(
                    &p.ids,
                    &p.types,
                    &p.mask,
                    crate::models::bert::Mode::TRAIN,
                )?;
                let cls = hidden.narrow(1, 0, 1)?.squeeze(1)?;
                // BertForSequenceClassification: pooler (dense + tanh), dropout, classifier.
                let pooled = crate::models::bert::dropout(
                    &ce.pooler.forward(&cls)?.tanh()?,
                    ce.bert.config().hidden_dropout_prob,
                    true,
                )?;
                let logits = ce.classifier.forward(&pooled)?;
                let labels: Vec<f32> = batch.iter().map(|e| e.label).collect();
                loss_fn.compute_loss_from_logits(&logits, &labels).map(Some)
            };
        crate::train::fit_loop(
            self,
            &[train],
            &varmap,
            config,
            evaluator,
            |ce, p| ce.save(p),
            batch_loss,
            callback,
        )
    }

    /// Saves in the Hugging Face sequence-classification format (what Python's
    /// `CrossEncoder(path)` and `AutoModelForSequenceClassification` load): `config.json` with
    /// `architectures`/`num_labels`/`id2label`, the tokenizer files, and `model.safetensors` with
    /// `bert.`-prefixed encoder and pooler weights and the `classifier`. Written atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        crate::npy::write_dir_atomic(path, |dir| self.write_to(dir))
    }

    fn write_to(&self, dir: &Path) -> Result<()> {
        let io = |p: &Path| {
            let p = p.display().to_string();
            move |e| Error::io(format!("writing {p}"), e)
        };
        let cpu = |t: &Tensor| t.to_device(&Device::Cpu);
        let mut tensors: std::collections::HashMap<String, Tensor> =
            std::collections::HashMap::new();
        for (k, t) in self.bert.named_tensors() {
            tensors.insert(format!("bert.{k}"), cpu(&t)?);
        }
        let bias = |l: &Linear, what: &str| {
            l.bias
                .clone()
                .ok_or_else(|| Error::InvalidInput(format!("{what} has no bias")))
        };
        tensors.insert("bert.pooler.dense.weight".into(), cpu(&self.pooler.weight)?);
        tensors.insert(
            "bert.pooler.dense.bias".into(),
            cpu(&bias(&self.pooler, "pooler")?)?,
        );
        tensors.insert("classifier.weight".into(), cpu(&self.classifier.weight)?);
        tensors.insert(
            "classifier.bias".into(),
            cpu(&bias(&self.classifier, "classifier")?)?,
        );
        crate::npy::save_safetensors(&tensors, &dir.join("model.safetensors"))?;

        let src_config = self.path.join("config.json");
        let mut config: serde_json::Value = read_json(&src_config)?;
        let obj = config
            .as_object_mut()
            .ok_or_else(|| Error::invalid_model(&src_config, "config.json is not an object"))?;
        let labels: serde_json::Map<String, serde_json::Value> = (0..self.num_labels)
            .map(|i| (i.to_string(), serde_json::Value::from(format!("LABEL_{i}"))))
            .collect();
        let ids: serde_json::Map<String, serde_json::Value> = (0..self.num_labels)
            .map(|i| (format!("LABEL_{i}"), serde_json::Value::from(i)))
            .collect();
        obj.insert(
            "architectures".into(),
            serde_json::json!(["BertForSequenceClassification"]),
        );
        obj.insert("num_labels".into(), self.num_labels.into());
        obj.insert("id2label".into(), labels.into());
        obj.insert("label2id".into(), ids.into());
        obj.insert("model_type".into(), "bert".into());
        let text = serde_json::to_string_pretty(&config)
            .map_err(|e| Error::InvalidInput(e.to_string()))?;
        std::fs::write(dir.join("config.json"), text).map_err(io(&dir.join("config.json")))?;
        for f in ["tokenizer.json", "special_tokens_map.json", "vocab.txt"] {
            let from = self.path.join(f);
            if from.exists() {
                std::fs::copy(&from, dir.join(f)).map_err(io(&dir.join(f)))?;
            }
        }
        // The truncation length travels as the tokenizer's model_max_length, which Python's
        // CrossEncoder and `from_dir` both read.
        let tc_path = self.path.join("tokenizer_config.json");
        let mut tc: serde_json::Value = if tc_path.exists() {
            read_json(&tc_path)?
        } else {
            serde_json::json!({})
        };
        if let Some(o) = tc.as_object_mut() {
            o.insert("model_max_length".into(), self.max_length.into());
        }
        let text =
            serde_json::to_string_pretty(&tc).map_err(|e| Error::InvalidInput(e.to_string()))?;
        std::fs::write(dir.join("tokenizer_config.json"), text)
            .map_err(io(&dir.join("tokenizer_config.json")))?;
        Ok(())
    }
}

/// Retrieve & re-rank in one call: the bi-encoder's top `top_k` documents of each query of
/// `dataset` (exact cosine search), the first `rerank_top` of them re-scored by the cross-encoder
/// (see [`rerank_run`]), best first.
pub fn retrieve_and_rerank(
    bi_encoder: &crate::SentenceTransformer,
    cross_encoder: &CrossEncoder,
    dataset: &crate::datasets::RetrievalDataset,
    top_k: usize,
    rerank_top: usize,
    encode: &crate::EncodeOptions,
    predict: &PredictOptions,
) -> Result<crate::evaluation::retrieval::RankedRun> {
    let run = crate::evaluation::retrieval::retrieve(
        bi_encoder,
        dataset,
        top_k.max(rerank_top),
        crate::util::ScoreFunction::Cosine,
        encode,
    )?;
    let texts: std::collections::HashMap<&str, String> = dataset
        .corpus
        .iter()
        .map(|d| (d.id.as_str(), d.contents()))
        .collect();
    rerank_run(
        cross_encoder,
        &dataset.queries,
        &run,
        |id| texts.get(id).cloned(),
        rerank_top,
        predict,
    )
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
/// cross-encoder and sorted by that score (best first, ties by the bi-encoder's order). The
/// documents past `rerank_top` keep their bi-encoder order after them, with scores below every
/// re-ranked one (lowest re-ranked score − 1, − 2, …), so the run keeps its depth (recall@depth is
/// unchanged). `doc_text(id)` gives a document's text.
pub fn rerank_run(
    cross_encoder: &CrossEncoder,
    queries: &[crate::datasets::Query],
    run: &crate::evaluation::retrieval::RankedRun,
    doc_text: impl Fn(&str) -> Option<String>,
    rerank_top: usize,
    opts: &PredictOptions,
) -> Result<crate::evaluation::retrieval::RankedRun> {
    let texts: std::collections::HashMap<&str, &str> = queries
        .iter()
        .map(|q| (q.id.as_str(), q.text.as_str()))
        .collect();
    let mut out = Vec::with_capacity(run.len());
    // One progress bar over the queries (not one per query's batch).
    let mut progress = Progress::new(run.len() as u64, "Queries", opts.show_progress_bar);
    let opts = &PredictOptions {
        show_progress_bar: false,
        ..opts.clone()
    };
    for (qid, docs) in run {
        let q = texts
            .get(qid.as_str())
            .ok_or_else(|| Error::InvalidInput(format!("query {qid} of the run has no text")))?;
        let top: Vec<&(String, f32)> = docs.iter().take(rerank_top).collect();
        let doc_texts: Vec<String> = top
            .iter()
            .map(|(d, _)| {
                doc_text(d).ok_or_else(|| {
                    Error::InvalidInput(format!("document {d} of the run has no text"))
                })
            })
            .collect::<Result<_>>()?;
        let pairs: Vec<(&str, &str)> = doc_texts.iter().map(|t| (*q, t.as_str())).collect();
        let scores = cross_encoder.predict(&pairs, opts)?;
        out.push((qid.clone(), reorder_head(docs, &scores)));
        progress.inc(1);
    }
    progress.finish();
    Ok(out)
}

/// A query's run with its first `scores.len()` documents re-scored: those sorted by `scores`
/// (best first, ties by their first-stage order), then the rest in first-stage order, scored below
/// every re-ranked one (lowest re-ranked score − 1, − 2, …) so the run keeps its depth.
fn reorder_head(docs: &[(String, f32)], scores: &[f32]) -> Vec<(String, f32)> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
    let mut ranked: Vec<(String, f32)> = order
        .into_iter()
        .map(|i| (docs[i].0.clone(), scores[i]))
        .collect();
    let floor = ranked.last().map_or(0.0, |r| r.1);
    ranked.extend(
        docs.iter()
            .skip(scores.len())
            .enumerate()
            .map(|(k, (d, _))| (d.clone(), floor - 1.0 - k as f32)),
    );
    ranked
}

/// Retrieve & re-rank with score interpolation: each query's first `rerank_top` documents of
/// `first_stage` get `weight · z(first-stage score) + (1 − weight) · z(cross-encoder score)`, each
/// score z-normalised over those documents (cosines and logits live on different scales), sorted
/// by it (ties: first-stage order); the rest keep their first-stage order after them, as in
/// [`rerank_run`]. `weight` 0 is the cross-encoder's order, 1 the bi-encoder's.
///
/// Interpolating the first-stage score is a standard re-ranking step (e.g. BEIR and TREC re-rankers
/// interpolate BM25 or dense scores): a cross-encoder trained on little data knows things the
/// bi-encoder does not, but is less reliable alone. `reranked` is [`rerank_run`]'s output for the
/// same run (logits — `apply_activation: false` — keep more of the cross-encoder's information than
/// sigmoid scores); choose `weight` on validation queries with [`tune_interpolation`], never on the
/// test queries.
pub fn interpolate_scores(
    first_stage: &crate::evaluation::retrieval::RankedRun,
    reranked: &crate::evaluation::retrieval::RankedRun,
    rerank_top: usize,
    weight: f32,
) -> Result<crate::evaluation::retrieval::RankedRun> {
    if !(0.0..=1.0).contains(&weight) {
        return Err(Error::InvalidInput(format!(
            "interpolation weight {weight} is not in [0, 1]"
        )));
    }
    let ce: std::collections::HashMap<&str, std::collections::HashMap<&str, f32>> = reranked
        .iter()
        .map(|(q, docs)| {
            (
                q.as_str(),
                docs.iter().map(|(d, s)| (d.as_str(), *s)).collect(),
            )
        })
        .collect();
    let z = |v: &[f32]| -> Vec<f32> {
        let n = v.len().max(1) as f32;
        let mean = v.iter().sum::<f32>() / n;
        let sd = (v.iter().map(|x| (x - mean) * (x - mean)).sum::<f32>() / n).sqrt();
        v.iter()
            .map(|x| if sd > 0.0 { (x - mean) / sd } else { 0.0 })
            .collect()
    };
    let mut out = Vec::with_capacity(first_stage.len());
    for (qid, docs) in first_stage {
        let scores = ce.get(qid.as_str()).ok_or_else(|| {
            Error::InvalidInput(format!("query {qid} is not in the re-ranked run"))
        })?;
        let top = &docs[..rerank_top.min(docs.len())];
        let first: Vec<f32> = top.iter().map(|d| d.1).collect();
        let cross: Vec<f32> = top
            .iter()
            .map(|(d, _)| {
                scores.get(d.as_str()).copied().ok_or_else(|| {
                    Error::InvalidInput(format!(
                        "document {d} of query {qid} has no cross-encoder score"
                    ))
                })
            })
            .collect::<Result<_>>()?;
        let (zf, zc) = (z(&first), z(&cross));
        let fused: Vec<f32> = zf
            .iter()
            .zip(&zc)
            .map(|(a, b)| weight * a + (1.0 - weight) * b)
            .collect();
        let ranked = reorder_head(docs, &fused);
        out.push((qid.clone(), ranked));
    }
    Ok(out)
}

/// The interpolation weights tried by [`tune_interpolation`] and the mean measure of each.
#[derive(Debug, Clone, PartialEq)]
pub struct InterpolationSweep {
    /// The measure (trec_eval name).
    pub measure: String,
    /// (weight, mean measure), weight 0 (cross-encoder alone) to 1 (bi-encoder alone).
    pub values: Vec<(f32, f64)>,
    /// The weight with the best mean (ties: the larger weight, closer to the bi-encoder).
    pub best: f32,
}

/// Tries interpolation weights 0, 0.05, …, 1 on validation queries (`qrels`) and returns each
/// one's mean `measure` and the best weight (see [`interpolate_scores`]).
pub fn tune_interpolation(
    qrels: &crate::evaluation::Qrels,
    first_stage: &crate::evaluation::retrieval::RankedRun,
    reranked: &crate::evaluation::retrieval::RankedRun,
    rerank_top: usize,
    measure: crate::evaluation::Measure,
) -> Result<InterpolationSweep> {
    let mut values = Vec::new();
    for k in 0..=20 {
        let w = k as f32 / 20.0;
        let run = interpolate_scores(first_stage, reranked, rerank_top, w)?;
        let e = crate::evaluation::evaluate(
            qrels,
            &crate::evaluation::retrieval::to_run(&run),
            &[measure],
            1,
        );
        values.push((
            w,
            e.mean
                .get(&measure.to_string())
                .copied()
                .unwrap_or(f64::NAN),
        ));
    }
    let best = values
        .iter()
        .fold((0.0f32, f64::NEG_INFINITY), |b, &(w, v)| {
            if v >= b.1 {
                (w, v)
            } else {
                b
            }
        })
        .0;
    Ok(InterpolationSweep {
        measure: measure.to_string(),
        values,
        best,
    })
}

impl InterpolationSweep {
    /// The sweep as a line chart (SVG in a notebook).
    pub fn chart(&self) -> crate::plot::LineChart {
        crate::plot::LineChart::new(
            format!("Validation {} by interpolation weight", self.measure),
            "weight of the bi-encoder score",
            self.measure.clone(),
        )
        .series(
            self.measure.clone(),
            self.values.iter().map(|&(w, v)| (w as f64, v)).collect(),
        )
    }
}

impl Tabular for InterpolationSweep {
    fn sections(&self) -> Vec<Section> {
        let rows = self
            .values
            .iter()
            .map(|&(w, v)| {
                vec![
                    format!("{w:.2}"),
                    format!("{v:.4}"),
                    if w == self.best {
                        "best".into()
                    } else {
                        String::new()
                    },
                ]
            })
            .collect();
        vec![Section {
            title: Some(format!(
                "Interpolation weight (bi-encoder share) → mean {}",
                self.measure
            )),
            header: ["weight", &self.measure, ""].map(String::from).to_vec(),
            rows,
            more: 0,
        }]
    }
}

impl std::fmt::Display for InterpolationSweep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        crate::display::write_text(&self.sections(), f)
    }
}

impl InterpolationSweep {
    /// The sweep as an HTML table.
    pub fn to_html(&self) -> String {
        crate::display::to_html(&self.sections())
    }
    /// Rich notebook output (evcxr): the table and the chart.
    pub fn evcxr_display(&self) {
        crate::display::emit_html(&format!("{}{}", self.to_html(), self.chart().to_svg()));
    }
}
