//! Fine-tuning: `InputExample`, a seeded data loader, the lecture's training set, and `fit` with
//! sentence-transformers' semantics (round-robin objectives, one AdamW with no decay on biases and
//! LayerNorm, WarmupLinear, gradient clipping, evaluation + callback, atomic save of the best model).

pub mod schedule;

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use candle_core::{backprop::GradStore, Tensor, Var};
use candle_nn::{AdamW, Optimizer, ParamsAdamW, VarMap};

use crate::error::{Error, Result};
use crate::evaluation::{EvalReport, Evaluator};
use crate::losses::Loss;
use crate::models::bert::{Bert, Mode};
use crate::models::SentenceTransformer;
use crate::progress::Progress;
pub use schedule::LrSchedule;

/// One training example: texts (anchor, positive[, negative] or a pair) and a label.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct InputExample {
    /// The texts, one per column.
    pub texts: Vec<String>,
    /// The label (1.0 similar / 0.0 dissimilar, or a similarity score).
    #[serde(default = "one")]
    pub label: f32,
}

fn one() -> f32 {
    1.0
}

impl InputExample {
    /// A pair with a label.
    pub fn pair(a: impl Into<String>, b: impl Into<String>, label: f32) -> Self {
        Self {
            texts: vec![a.into(), b.into()],
            label,
        }
    }
}

/// Reads jsonl `InputExample`s (`{"texts": ["anchor", "other"], "label": 1.0}` per line).
pub fn read_examples(path: &Path) -> Result<Vec<InputExample>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let ex: InputExample = serde_json::from_str(line).map_err(|e| {
            Error::InvalidInput(format!(
                "{}:{}: not an InputExample: {e}",
                path.display(),
                n + 1
            ))
        })?;
        if ex.texts.len() < 2 {
            return Err(Error::InvalidInput(format!(
                "{}:{}: an example needs at least 2 texts",
                path.display(),
                n + 1
            )));
        }
        out.push(ex);
    }
    Ok(out)
}

/// A small seeded pseudo-random generator (splitmix64): shuffles are reproducible from `seed`.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
    /// A standard normal deviate (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = ((self.next_u64() >> 11) as f64 / (1u64 << 53) as f64).max(1e-300);
        let u2 = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
    /// Fisher–Yates shuffle.
    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i + 1);
            v.swap(i, j);
        }
    }
}

/// Batches of examples, reshuffled each epoch from a seed (Python's `DataLoader(shuffle=True)`).
#[derive(Debug, Clone)]
pub struct DataLoader {
    /// The examples.
    pub examples: Vec<InputExample>,
    /// Examples per batch.
    pub batch_size: usize,
    /// Reshuffle every epoch.
    pub shuffle: bool,
    /// Seed of the shuffles.
    pub seed: u64,
}

impl DataLoader {
    /// A shuffling loader with seed 42.
    pub fn new(examples: Vec<InputExample>, batch_size: usize) -> Self {
        Self {
            examples,
            batch_size: batch_size.max(1),
            shuffle: true,
            seed: 42,
        }
    }
    /// Number of batches per epoch (the last one may be short, as with PyTorch's default).
    pub fn len(&self) -> usize {
        self.examples.len().div_ceil(self.batch_size)
    }
    /// True without examples.
    pub fn is_empty(&self) -> bool {
        self.examples.is_empty()
    }
    /// The batches (example indices) of an epoch.
    pub fn batches(&self, epoch: usize) -> Vec<Vec<usize>> {
        let mut idx: Vec<usize> = (0..self.examples.len()).collect();
        if self.shuffle {
            Rng::new(
                self.seed
                    .wrapping_add(epoch as u64)
                    .wrapping_mul(0x2545_F491_4F6C_DD1D),
            )
            .shuffle(&mut idx);
        }
        idx.chunks(self.batch_size).map(<[usize]>::to_vec).collect()
    }
}

/// The lecture's training set: every (query, positive) pair with label 1, plus one random
/// negative per positive (label 0, never one of the query's positives), drawn with `seed`.
/// Queries in `exclude` (e.g. test queries) are left out. Returns (positives, positives + negatives).
pub fn build_training_pairs(
    positives: &[(String, String)],
    documents: &[String],
    is_positive: impl Fn(&str, &str) -> bool,
    exclude: &std::collections::BTreeSet<String>,
    seed: u64,
) -> Result<(Vec<InputExample>, Vec<InputExample>)> {
    if documents.is_empty() {
        return Err(Error::InvalidInput(
            "no documents to draw negatives from".into(),
        ));
    }
    let mut rng = Rng::new(seed);
    let mut pos = Vec::new();
    let mut all = Vec::new();
    for (q, d) in positives.iter().filter(|(q, _)| !exclude.contains(q)) {
        pos.push(InputExample::pair(q.clone(), d.clone(), 1.0));
        all.push(InputExample::pair(q.clone(), d.clone(), 1.0));
    }
    let n = pos.len();
    for ex in pos.iter().take(n) {
        let q = &ex.texts[0];
        let mut tries = 0;
        let neg = loop {
            let cand = &documents[rng.below(documents.len())];
            tries += 1;
            if !is_positive(q, cand) || tries > 1000 {
                break cand.clone();
            }
        };
        all.push(InputExample::pair(q.clone(), neg, 0.0));
    }
    Ok((pos, all))
}

/// Hard negatives (Python's `util.mine_hard_negatives`, reduced to its core): for each query row,
/// `num_negatives` documents drawn at random (with `seed`) from its `range_max` nearest corpus rows
/// by cosine similarity, skipping those `is_positive(query, doc)` marks relevant. Fewer when the
/// range holds fewer non-positives.
pub fn mine_hard_negatives(
    queries: &crate::Embeddings,
    corpus: &crate::Embeddings,
    is_positive: impl Fn(usize, usize) -> bool,
    range_max: usize,
    num_negatives: usize,
    seed: u64,
) -> Result<Vec<Vec<usize>>> {
    let hits = crate::util::semantic_search(
        queries,
        corpus,
        &crate::util::SearchOptions::default().top_k(range_max),
    )?;
    let mut rng = Rng::new(seed);
    Ok(hits
        .iter()
        .enumerate()
        .map(|(q, hs)| {
            let mut pool: Vec<usize> = hs
                .iter()
                .map(|h| h.corpus_id)
                .filter(|&d| !is_positive(q, d))
                .collect();
            rng.shuffle(&mut pool);
            pool.truncate(num_negatives);
            pool
        })
        .collect())
}

/// What `fit` reports to the callback after each evaluation.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainEvent {
    /// The evaluator's primary score (NaN without evaluator).
    pub score: f64,
    /// Epoch (0-based).
    pub epoch: usize,
    /// Training steps done in this epoch (-1 at the epoch's end, as in Python).
    pub steps: i64,
    /// Optimizer steps done in total.
    pub global_step: usize,
    /// Mean training loss since the last event.
    pub loss: f64,
    /// The evaluator's report, if any.
    pub report: Option<EvalReport>,
}

/// `fit`'s settings, with Python's names and defaults.
#[derive(Debug, Clone, PartialEq)]
#[must_use]
pub struct FitConfig {
    /// Passes over the data (default 1).
    pub epochs: usize,
    /// Linear warm-up steps (default 10,000 in Python; the lecture uses 100).
    pub warmup_steps: usize,
    /// Learning-rate schedule (default WarmupLinear).
    pub scheduler: LrSchedule,
    /// Peak learning rate (default 2e-5).
    pub lr: f64,
    /// AdamW weight decay (default 0.01; never applied to biases and LayerNorm).
    pub weight_decay: f64,
    /// Gradient-norm clipping (default 1.0).
    pub max_grad_norm: f64,
    /// Evaluate every this many steps (0: only at epoch ends).
    pub evaluation_steps: usize,
    /// Stop after this many training steps in total (None: no limit).
    pub max_steps: Option<usize>,
    /// Longest input in tokens during training (None: the model's).
    pub max_seq_length: Option<usize>,
    /// Save the best model (by the evaluator's primary score; the last one without evaluator) here.
    pub output_path: Option<PathBuf>,
    /// Save a numbered checkpoint every this many steps into `checkpoint_path` (0: never).
    pub checkpoint_save_steps: usize,
    /// Where numbered checkpoints go.
    pub checkpoint_path: Option<PathBuf>,
    /// How many checkpoints to keep (oldest removed first).
    pub checkpoint_save_total_limit: usize,
    /// Show a progress bar.
    pub show_progress_bar: bool,
    /// Seed of shuffling and dropout-free determinism where possible.
    pub seed: u64,
}

impl Default for FitConfig {
    fn default() -> Self {
        Self {
            epochs: 1,
            warmup_steps: 10_000,
            scheduler: LrSchedule::WarmupLinear,
            lr: 2e-5,
            weight_decay: 0.01,
            max_grad_norm: 1.0,
            evaluation_steps: 0,
            max_steps: None,
            max_seq_length: None,
            output_path: None,
            checkpoint_save_steps: 0,
            checkpoint_path: None,
            checkpoint_save_total_limit: 0,
            show_progress_bar: true,
            seed: 42,
        }
    }
}

/// What `fit` returns: the loss of every optimizer step and every evaluation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TrainLog {
    /// (global step, objective index, loss, learning rate) per optimizer step.
    pub steps: Vec<(usize, usize, f64, f64)>,
    /// Every evaluation, in order.
    pub evaluations: Vec<TrainEvent>,
    /// True when the callback or `max_steps` stopped training early.
    pub stopped_early: bool,
}

impl TrainLog {
    /// The training loss of each optimizer step, one line per objective (`names[k]`, or
    /// "objective k"), against the optimizer step.
    pub fn loss_chart(&self, names: &[&str]) -> crate::plot::LineChart {
        let objectives = self.steps.iter().map(|s| s.1 + 1).max().unwrap_or(0);
        let mut chart = crate::plot::LineChart::new("Training loss", "optimizer step", "loss");
        for k in 0..objectives {
            let name = names
                .get(k)
                .map_or_else(|| format!("objective {k}"), |n| n.to_string());
            chart = chart.series(
                name,
                self.steps
                    .iter()
                    .filter(|s| s.1 == k)
                    .map(|s| (s.0 as f64, s.2))
                    .collect(),
            );
        }
        chart
    }

    /// The evaluator's primary score at each evaluation, against the optimizer step.
    pub fn score_chart(&self) -> crate::plot::LineChart {
        let name = self
            .evaluations
            .iter()
            .find_map(|e| e.report.as_ref().map(|r| r.primary.clone()))
            .unwrap_or_else(|| "score".into());
        crate::plot::LineChart::new("Evaluator score", "optimizer step", name.clone()).series(
            name,
            self.evaluations
                .iter()
                .map(|e| (e.global_step as f64, e.score))
                .collect(),
        )
    }
}

/// One objective: a loader and its loss.
pub struct Objective<'a> {
    /// The batches.
    pub loader: DataLoader,
    /// The loss.
    pub loss: &'a dyn Loss,
}

/// Embeds one text column of a batch in training mode → `[batch, dim]` with gradients.
fn embed_column(
    model: &SentenceTransformer,
    bert: &Bert,
    texts: &[&str],
    max_len: usize,
) -> Result<Tensor> {
    let enc = model.transformer().tokenize(texts)?;
    let encs: Vec<&tokenizers::Encoding> = enc.iter().collect();
    let pad = bert.config().pad_token_id as u32;
    let crate::models::PaddedBatch {
        ids, types, mask, ..
    } = crate::models::pad_batch(&encs, max_len, pad, model.device())?;
    let tokens = bert.forward_mode(&ids, &types, &mask, Mode::TRAIN)?;
    model.pool_tokens(tokens, &mask)
}

/// Backprop allocates and frees many large tensors each step. glibc serves those with fresh
/// `mmap`s (zeroed pages, page faults, TLB shootdowns on `munmap`): measured, a third of training
/// time. Raising the mmap threshold keeps them in the reused heap instead (1.5× faster training);
/// the process then keeps that memory after training.
pub(crate) fn keep_large_allocations_in_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            extern "C" {
                fn mallopt(
                    param: std::os::raw::c_int,
                    value: std::os::raw::c_int,
                ) -> std::os::raw::c_int;
            }
            const M_TRIM_THRESHOLD: std::os::raw::c_int = -1;
            const M_MMAP_THRESHOLD: std::os::raw::c_int = -3;
            // SAFETY: mallopt only changes allocator tuning parameters; both values are valid.
            unsafe {
                mallopt(M_MMAP_THRESHOLD, i32::MAX);
                mallopt(M_TRIM_THRESHOLD, i32::MAX);
            }
        });
    }
}

/// The factor that brings the gradients' global L2 norm to at most `max_norm` (PyTorch's
/// `clip_grad_norm_`: `max_norm / (norm + 1e-6)` when the norm is larger, else 1).
fn clip_grad_scale(grads: &GradStore, vars: &[Var], max_norm: f64) -> Result<f64> {
    let mut total = 0f64;
    for v in vars {
        if let Some(g) = grads.get(v.as_tensor()) {
            total += g.sqr()?.sum_all()?.to_scalar::<f32>()? as f64;
        }
    }
    let norm = total.sqrt();
    Ok(if max_norm > 0.0 && norm > max_norm {
        max_norm / (norm + 1e-6)
    } else {
        1.0
    })
}

/// AdamW over two parameter groups, as sentence-transformers builds them: weight decay for
/// every parameter whose name contains none of `bias`, `LayerNorm.bias`, `LayerNorm.weight`.
///
/// PyTorch's `torch.optim.AdamW` update (β 0.9/0.999, ε 1e-8, decoupled weight decay, bias
/// correction). On the CPU each parameter is updated in one fused pass (moments kept as plain
/// vectors); candle's composed `AdamW` made ~16 full passes — a dozen 47 MB temporaries per step
/// for the word embeddings alone. Other devices use candle's `AdamW`.
pub struct GroupedAdamW {
    params: Vec<AdamParam>,
    lr: f64,
    t: i32,
    fallback: Option<(AdamW, AdamW, Vec<Var>)>,
}

struct AdamParam {
    var: Var,
    weight_decay: f64,
    m: Vec<f32>,
    v: Vec<f32>,
}

const BETA1: f64 = 0.9;
const BETA2: f64 = 0.999;
const ADAM_EPS: f64 = 1e-8;

impl GroupedAdamW {
    /// Groups `varmap`'s variables by name.
    pub fn new(varmap: &VarMap, lr: f64, weight_decay: f64) -> Result<Self> {
        let data = varmap
            .data()
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let no_decay = |name: &str| {
            ["bias", "LayerNorm.bias", "LayerNorm.weight"]
                .iter()
                .any(|s| name.contains(s))
        };
        if data.values().any(|v| !v.device().is_cpu()) {
            let (mut d, mut nd) = (Vec::new(), Vec::new());
            for (name, var) in data.iter() {
                if no_decay(name) {
                    nd.push(var.clone())
                } else {
                    d.push(var.clone())
                }
            }
            let p = |wd| ParamsAdamW {
                lr,
                beta1: BETA1,
                beta2: BETA2,
                eps: ADAM_EPS,
                weight_decay: wd,
            };
            let all = d.iter().chain(&nd).cloned().collect();
            let fallback = Some((
                AdamW::new(d, p(weight_decay))?,
                AdamW::new(nd, p(0.0))?,
                all,
            ));
            return Ok(Self {
                params: Vec::new(),
                lr,
                t: 0,
                fallback,
            });
        }
        let mut names: Vec<&String> = data.keys().collect();
        names.sort();
        let params = names
            .into_iter()
            .map(|name| {
                let var = data[name].clone();
                let n = var.elem_count();
                AdamParam {
                    var,
                    weight_decay: if no_decay(name) { 0.0 } else { weight_decay },
                    m: vec![0.0; n],
                    v: vec![0.0; n],
                }
            })
            .collect();
        Ok(Self {
            params,
            lr,
            t: 0,
            fallback: None,
        })
    }
    /// Sets the learning rate of both groups.
    pub fn set_learning_rate(&mut self, lr: f64) {
        self.lr = lr;
        if let Some((d, nd, _)) = &mut self.fallback {
            d.set_learning_rate(lr);
            nd.set_learning_rate(lr);
        }
    }
    /// One update.
    pub fn step(&mut self, grads: &GradStore) -> Result<()> {
        if let Some((d, nd, _)) = &mut self.fallback {
            d.step(grads)?;
            nd.step(grads)?;
            return Ok(());
        }
        self.fused_step(grads, 1.0)
    }
    /// One update with every gradient multiplied by `grad_scale` (gradient clipping; on the CPU
    /// without rewriting the gradients).
    pub(crate) fn step_scaled(&mut self, grads: &mut GradStore, grad_scale: f64) -> Result<()> {
        if let Some((_, _, vars)) = &self.fallback {
            if grad_scale != 1.0 {
                for v in vars {
                    if let Some(g) = grads.remove(v.as_tensor()) {
                        grads.insert(v.as_tensor(), (g * grad_scale)?);
                    }
                }
            }
            return self.step(grads);
        }
        self.fused_step(grads, grad_scale)
    }
    fn fused_step(&mut self, grads: &GradStore, grad_scale: f64) -> Result<()> {
        use rayon::prelude::*;
        self.t += 1;
        let (bc1, bc2) = (1.0 - BETA1.powi(self.t), 1.0 - BETA2.powi(self.t));
        let step_size = (self.lr / bc1) as f32;
        let bc2_sqrt = bc2.sqrt() as f32;
        let (b1, b2, eps, gs) = (
            BETA1 as f32,
            BETA2 as f32,
            ADAM_EPS as f32,
            grad_scale as f32,
        );
        for p in &mut self.params {
            let Some(g) = grads.get(p.var.as_tensor()) else {
                continue;
            };
            let g = g.flatten_all()?.to_vec1::<f32>()?;
            let mut theta = p.var.as_tensor().flatten_all()?.to_vec1::<f32>()?;
            let decay = (1.0 - self.lr * p.weight_decay) as f32;
            const CHUNK: usize = 1 << 14;
            theta
                .par_chunks_mut(CHUNK)
                .zip(g.par_chunks(CHUNK))
                .zip(p.m.par_chunks_mut(CHUNK))
                .zip(p.v.par_chunks_mut(CHUNK))
                .for_each(|(((th, g), m), v)| {
                    for (((th, &g), m), v) in
                        th.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut())
                    {
                        let g = g * gs;
                        *th *= decay;
                        *m = b1 * *m + (1.0 - b1) * g;
                        *v = b2 * *v + (1.0 - b2) * g * g;
                        *th -= step_size * *m / ((*v).sqrt() / bc2_sqrt + eps);
                    }
                });
            p.var
                .set(&Tensor::from_vec(theta, p.var.shape(), p.var.device())?)?;
        }
        Ok(())
    }
}

/// Fine-tunes `model` (Python's `model.fit(train_objectives, evaluator, epochs, warmup_steps, …,
/// callback)`).
///
/// Each step visits every objective once (round-robin), one optimizer step each; an epoch has as
/// many steps as the shortest loader. The learning rate follows `scheduler` over
/// `t_total = steps_per_epoch × objectives × epochs` optimizer steps. After every
/// `evaluation_steps` steps and at each epoch's end the evaluator runs and
/// `callback(&TrainEvent)` is called; returning `ControlFlow::Break(())` stops training (a
/// notebook's "interrupt" cannot stop Rust code; this and `max_steps` can). The best model is
/// saved to `output_path` atomically.
pub fn fit(
    model: &mut SentenceTransformer,
    objectives: &[Objective<'_>],
    config: &FitConfig,
    evaluator: Option<&dyn Evaluator>,
    callback: impl FnMut(&TrainEvent) -> ControlFlow<()>,
) -> Result<TrainLog> {
    if objectives.is_empty() || objectives.iter().any(|o| o.loader.is_empty()) {
        return Err(Error::InvalidInput(
            "fit needs at least one objective, each with examples".into(),
        ));
    }
    let max_len = config
        .max_seq_length
        .unwrap_or_else(|| model.max_seq_length())
        .min(model.max_seq_length());
    keep_large_allocations_in_heap();
    let varmap = VarMap::new();
    let bert = Bert::trainable(
        model.transformer().bert.config(),
        model
            .transformer()
            .bert
            .named_tensors()
            .into_iter()
            .collect(),
        &varmap,
        model.device(),
    )?;
    model.set_bert(bert.clone());
    let loaders: Vec<&DataLoader> = objectives.iter().map(|o| &o.loader).collect();
    let batch_loss = |model: &SentenceTransformer,
                      k: usize,
                      batch: Vec<&InputExample>|
     -> Result<Option<Tensor>> {
        let obj = &objectives[k];
        let batch: Vec<&InputExample> = if obj.loss.positives_only() {
            batch.into_iter().filter(|e| e.label > 0.0).collect()
        } else {
            batch
        };
        if batch.is_empty() {
            return Ok(None);
        }
        let columns = batch.iter().map(|e| e.texts.len()).min().unwrap_or(0);
        let mut embs = Vec::with_capacity(columns);
        for c in 0..columns {
            let texts: Vec<&str> = batch.iter().map(|e| e.texts[c].as_str()).collect();
            embs.push(embed_column(model, &bert, &texts, max_len)?);
        }
        let labels: Vec<f32> = batch.iter().map(|e| e.label).collect();
        obj.loss
            .compute_loss_from_embeddings(&embs, &labels)
            .map(Some)
    };
    fit_loop(
        model,
        &loaders,
        &varmap,
        config,
        evaluator,
        |m, p| m.save(p),
        batch_loss,
        callback,
    )
}

/// The training loop shared by [`fit`] and [`crate::cross_encoder::CrossEncoder::fit`]: round-robin
/// over `loaders`, `batch_loss(model, objective, batch)` → loss (None: skip), one grouped AdamW over
/// `varmap` with the schedule, clipping, evaluation + callback, best-model and checkpoint saves.
#[allow(clippy::too_many_arguments)]
pub(crate) fn fit_loop<M: ?Sized>(
    model: &mut M,
    loaders: &[&DataLoader],
    varmap: &VarMap,
    config: &FitConfig,
    evaluator: Option<&dyn Evaluator<M>>,
    save: impl Fn(&M, &Path) -> Result<()>,
    mut batch_loss: impl FnMut(&M, usize, Vec<&InputExample>) -> Result<Option<Tensor>>,
    mut callback: impl FnMut(&TrainEvent) -> ControlFlow<()>,
) -> Result<TrainLog> {
    if loaders.is_empty() || loaders.iter().any(|l| l.is_empty()) {
        return Err(Error::InvalidInput(
            "fit needs at least one objective, each with examples".into(),
        ));
    }
    if config.epochs == 0 {
        return Err(Error::InvalidInput("epochs must be at least 1".into()));
    }
    let vars = varmap.all_vars();
    // Dropout masks from the seed: the same seed gives the same run.
    crate::models::ops::seed_dropout(config.seed);
    let mut opt = GroupedAdamW::new(varmap, config.lr, config.weight_decay)?;
    let steps_per_epoch = loaders.iter().map(|l| l.len()).min().unwrap_or(0);
    let t_total = steps_per_epoch * loaders.len() * config.epochs;
    let mut log = TrainLog::default();
    let mut best = f64::NEG_INFINITY;
    let mut global = 0usize;
    let mut train_steps = 0usize;
    let mut loss_acc = (0.0, 0usize);
    let mut progress = Progress::new(
        (steps_per_epoch * config.epochs) as u64,
        "Iteration",
        config.show_progress_bar,
    );

    let mut evaluate = |model: &M,
                        epoch: usize,
                        steps: i64,
                        global: usize,
                        loss_acc: &mut (f64, usize),
                        log: &mut TrainLog|
     -> Result<ControlFlow<()>> {
        let report = match evaluator {
            Some(e) => Some(e.evaluate(model)?),
            None => None,
        };
        let score = report.as_ref().map_or(f64::NAN, EvalReport::primary_score);
        let loss = if loss_acc.1 == 0 {
            f64::NAN
        } else {
            loss_acc.0 / loss_acc.1 as f64
        };
        *loss_acc = (0.0, 0);
        let event = TrainEvent {
            score,
            epoch,
            steps,
            global_step: global,
            loss,
            report,
        };
        if let Some(out) = &config.output_path {
            if evaluator.is_some() && score > best {
                best = score;
                save(model, out)?;
            }
        }
        let flow = callback(&event);
        log.evaluations.push(event);
        Ok(flow)
    };

    'outer: for epoch in 0..config.epochs {
        let batches: Vec<Vec<Vec<usize>>> = loaders.iter().map(|l| l.batches(epoch)).collect();
        for step in 0..steps_per_epoch {
            if config.max_steps.is_some_and(|m| train_steps >= m) {
                log.stopped_early = true;
                break 'outer;
            }
            for (k, loader) in loaders.iter().enumerate() {
                let batch: Vec<&InputExample> = batches[k][step]
                    .iter()
                    .map(|&i| &loader.examples[i])
                    .collect();
                let Some(loss) = batch_loss(model, k, batch)? else {
                    continue;
                };
                let lr = config.lr
                    * config
                        .scheduler
                        .factor(global, config.warmup_steps, t_total);
                opt.set_learning_rate(lr);
                let mut grads = loss.backward()?;
                let scale = clip_grad_scale(&grads, &vars, config.max_grad_norm)?;
                opt.step_scaled(&mut grads, scale)?;
                let l = loss.to_scalar::<f32>()? as f64;
                log.steps.push((global, k, l, lr));
                loss_acc.0 += l;
                loss_acc.1 += 1;
                global += 1;
            }
            train_steps += 1;
            progress.inc(1);
            if config.evaluation_steps > 0 && (step + 1) % config.evaluation_steps == 0 {
                if evaluate(
                    model,
                    epoch,
                    (step + 1) as i64,
                    global,
                    &mut loss_acc,
                    &mut log,
                )?
                .is_break()
                {
                    log.stopped_early = true;
                    break 'outer;
                }
            }
            if config.checkpoint_save_steps > 0 && train_steps % config.checkpoint_save_steps == 0 {
                if let Some(dir) = &config.checkpoint_path {
                    save_checkpoint(
                        |p| save(model, p),
                        dir,
                        train_steps,
                        config.checkpoint_save_total_limit,
                    )?;
                }
            }
        }
        if evaluate(model, epoch, -1, global, &mut loss_acc, &mut log)?.is_break() {
            log.stopped_early = true;
            break;
        }
    }
    progress.finish();
    if let Some(out) = &config.output_path {
        if evaluator.is_none() {
            save(model, out)?;
        }
    }
    Ok(log)
}

fn save_checkpoint(
    save: impl Fn(&Path) -> Result<()>,
    dir: &Path,
    step: usize,
    keep: usize,
) -> Result<()> {
    save(&dir.join(format!("checkpoint-{step}")))?;
    if keep > 0 {
        let mut existing: Vec<(usize, PathBuf)> = std::fs::read_dir(dir)
            .map_err(|e| Error::io(format!("reading {}", dir.display()), e))?
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().to_string();
                name.strip_prefix("checkpoint-")
                    .and_then(|n| n.parse().ok())
                    .map(|n| (n, e.path()))
            })
            .collect();
        existing.sort();
        while existing.len() > keep {
            let (_, p) = existing.remove(0);
            let _ = std::fs::remove_dir_all(p);
        }
    }
    Ok(())
}
