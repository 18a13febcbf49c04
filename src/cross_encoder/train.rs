//! Training a cross-encoder (Python's `CrossEncoder(model_name, num_labels=1)` and
//! `CrossEncoder.fit`).

use std::ops::ControlFlow;

use candle_core::Tensor;

use super::head::Head;
use super::model::CrossEncoder;
use crate::core::{Error, Result, Rng};
use crate::encoder::{load_weights, Encoder, Family, Linear, Mode};
use crate::evaluation::Evaluator;
use crate::models::tokenizer::load_model_tokenizer;
use crate::models::SentenceTransformer;
use crate::train::{
    fit_loop, keep_large_allocations_in_heap, DataLoader, FitConfig, InputExample, TrainEvent,
    TrainLog,
};

/// Training and saving (Python's `CrossEncoder(model_name, num_labels=1)`, `CrossEncoder.fit`,
/// `CrossEncoder.save`).
impl CrossEncoder {
    /// A new reranker on a pretrained encoder of any family: the encoder weights of a
    /// bi-encoder or encoder folder / id, and its family's classification head
    /// ([`super::head`]) with `num_labels` logits, drawn from N(0, 0.02²) (the `transformers`
    /// initializer) with `seed`, biases 0. BERT's pooler is taken from the checkpoint when it has
    /// one (as all-MiniLM-L6-v2 does). `max_length` starts at the encoder's `max_seq_length`
    /// (see [`CrossEncoder::set_max_length`]).
    pub fn new_from_encoder(id_or_path: &str, num_labels: usize, seed: u64) -> Result<Self> {
        if num_labels == 0 {
            return Err(Error::InvalidInput("num_labels must be at least 1".into()));
        }
        let encoder = SentenceTransformer::load(id_or_path)?;
        let dir = encoder.transformer_dir();
        let device = encoder.device().clone();
        let bert = encoder.transformer().encoder.clone();
        let family = bert.family();
        let h = bert.config().hidden_size;
        let mut rng = Rng::new(seed);
        let mut normal = |rows: usize, cols: usize| -> Result<Tensor> {
            let v: Vec<f32> = (0..rows * cols)
                .map(|_| (rng.normal() * 0.02) as f32)
                .collect();
            Ok(Tensor::from_vec(v, (rows, cols), &device)?)
        };
        let zeros = |n: usize| Tensor::zeros(n, candle_core::DType::F32, &device);
        let (source, _) = load_weights(&dir, family, &device)?;
        let dense = match Head::pretrained_dense(family, &source) {
            Some(pooler) if family == Family::Bert => pooler,
            _ => Linear::from_parts(normal(h, h)?, Some(zeros(h)?)),
        };
        let out = Linear::from_parts(normal(num_labels, h)?, Some(zeros(num_labels)?));
        let head = Head::new(bert.config(), family, dense, out);
        let tokenizer = load_model_tokenizer(&dir, family)?;
        let mut ce = Self {
            tokenizer,
            encoder: bert,
            head,
            num_labels,
            activation: super::model::Activation::Sigmoid,
            max_length: 0,
            device,
            path: dir,
        };
        ce.set_max_length(encoder.max_seq_length())?;
        Ok(ce)
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
        crate::models::load_options::check_trainable(self.dtype())?;
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
        keep_large_allocations_in_heap();
        let varmap = candle_nn::VarMap::new();
        self.make_trainable(&varmap)?;
        let loss_fn = crate::losses::BinaryCrossEntropyLoss;
        let batch_loss =
            |ce: &CrossEncoder, _k: usize, batch: Vec<&InputExample>| -> Result<Option<Tensor>> {
                let pairs: Vec<(&str, &str)> = batch
                    .iter()
                    .map(|e| (e.texts[0].as_str(), e.texts[1].as_str()))
                    .collect();
                let logits = ce.forward_train(&pairs, Mode::TRAIN)?;
                let labels: Vec<f32> = batch.iter().map(|e| e.label).collect();
                loss_fn.compute_loss_from_logits(&logits, &labels).map(Some)
            };
        fit_loop(
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

    /// Makes the encoder and the classification head trainable: every weight becomes a
    /// [`candle_core::Var`] in `varmap` (what `fit` optimises); `predict` keeps working on them.
    pub fn make_trainable(&mut self, varmap: &candle_nn::VarMap) -> Result<()> {
        let mut tensors: std::collections::HashMap<String, Tensor> =
            self.encoder.named_tensors().into_iter().collect();
        tensors.extend(self.head.named_tensors()?);
        self.encoder = Encoder::trainable(self.encoder.config(), tensors, varmap, &self.device)?;
        let var = |name: &str| -> Result<Tensor> {
            let data = varmap
                .data()
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            data.get(name)
                .map(|v| v.as_tensor().clone())
                .ok_or_else(|| Error::Internal(format!("missing variable {name}")))
        };
        self.head = self.head.with_tensors(var)?;
        Ok(())
    }

    /// The training forward of a batch of `(query, passage)` pairs: tokenized (truncated at
    /// [`CrossEncoder::max_length`]), padded, through the encoder and the classification head in
    /// `mode` → logits `[pairs.len(), num_labels]`.
    pub fn forward_train(&self, pairs: &[(&str, &str)], mode: Mode) -> Result<Tensor> {
        let enc = self.tokenizer.encode_batch(pairs.to_vec(), true)?;
        let encs: Vec<&tokenizers::Encoding> = enc.iter().collect();
        super::model::check_pair_tokens(&encs)?;
        let (hidden, _) = self
            .encoder
            .forward_padded(&encs, usize::MAX, mode, &self.device)?;
        let cls = hidden.narrow(1, 0, 1)?.squeeze(1)?;
        self.head(&cls, mode.dropout)
    }
}
