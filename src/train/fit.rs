//! `fit` (Python's `model.fit(train_objectives, evaluator, epochs, …)`) and the training loop it
//! shares with the cross-encoder.

use std::ops::ControlFlow;
use std::path::Path;

use candle_core::Tensor;
use candle_nn::VarMap;

use super::checkpoint::save_checkpoint;
use super::config::FitConfig;
use super::example::InputExample;
use super::loader::DataLoader;
use super::log::{SavedModel, TrainEvent, TrainLog};
use super::optimizer::{clip_grad_scale, GroupedAdamW};
use crate::core::fs::check_dir_writable;
use crate::core::{Error, Result};
use crate::display::Progress;
use crate::encoder::Mode;
use crate::evaluation::{EvalReport, Evaluator};
use crate::losses::Loss;
use crate::models::save::MODEL_OWNERSHIP;
use crate::models::SentenceTransformer;

/// One objective: a loader and its loss.
pub struct Objective<'a> {
    /// The batches.
    pub loader: DataLoader,
    /// The loss.
    pub loss: &'a dyn Loss,
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
    crate::models::load_options::check_trainable(model.dtype())?;
    if objectives.is_empty() || objectives.iter().any(|o| o.loader.is_empty()) {
        return Err(Error::InvalidInput(
            "fit needs at least one objective, each with examples".into(),
        ));
    }
    for (k, o) in objectives.iter().enumerate() {
        for (i, e) in o.loader.examples.iter().enumerate() {
            o.loss
                .check_label(e.label)
                .map_err(|why| Error::InvalidInput(format!("objective {k}, example {i}: {why}")))?;
        }
        if let Some(note) = skipped_examples_note(k, o) {
            eprintln!("sbert: note: {note}");
        }
    }
    let max_len = config
        .max_seq_length
        .unwrap_or_else(|| model.max_seq_length())
        .min(model.max_seq_length());
    crate::models::tokenizer::check_room_for_text(&model.transformer().tokenizer, max_len, false)?;
    keep_large_allocations_in_heap();
    let varmap = VarMap::new();
    model.make_trainable(&varmap)?;
    let loaders: Vec<&DataLoader> = objectives.iter().map(|o| &o.loader).collect();
    let batch_loss = |model: &SentenceTransformer,
                      k: usize,
                      batch: Vec<&InputExample>|
     -> Result<Option<Tensor>> {
        let obj = &objectives[k];
        let batch: Vec<&InputExample> = if obj.loss.positives_only() {
            batch.into_iter().filter(|e| e.is_positive()).collect()
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
            embs.push(model.forward_train(&texts, max_len, Mode::TRAIN)?);
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

/// Ends an epoch's bar early, saying why.
fn stop_bar(progress: &mut Option<Progress>, why: &str) {
    if let Some(p) = progress.take() {
        p.finish_early(why);
    }
}

/// What a loss that takes positive pairs only leaves out of objective `k` (None: nothing), said
/// once before training: Python's `MultipleNegativesRankingLoss` ignores labels and trains
/// label-0 pairs as positives.
pub fn skipped_examples_note(k: usize, objective: &Objective<'_>) -> Option<String> {
    if !objective.loss.positives_only() {
        return None;
    }
    let skipped = objective
        .loader
        .examples
        .iter()
        .filter(|e| !e.is_positive())
        .count();
    (skipped > 0).then(|| {
        format!(
            "objective {k} ({}) skips the {skipped} of its {} examples labelled 0 — Python's trains them as positive pairs; `ignore_labels: true` does as Python does",
            objective.loss.name(),
            objective.loader.examples.len()
        )
    })
}

/// The training loop shared by [`fit`] and [`crate::cross_encoder::CrossEncoder::fit`]: round-robin
/// over `loaders`, `batch_loss(model, objective, batch)` → loss (None: skip), one grouped AdamW over
/// `varmap` with the schedule, clipping, evaluation + callback, best-model and checkpoint saves.
///
/// `output_path` always holds a model when this returns `Ok`: the best evaluation's, or else the
/// final one. Training stopped by `max_steps` is evaluated where it stopped. A loss that is not a
/// finite number stops training before it changes the model; the model is saved, then the error
/// says so.
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
    if let Some(k) = loaders.iter().position(|l| l.batch_size == 0) {
        return Err(Error::InvalidInput(format!(
            "objective {k}: batch_size must be at least 1"
        )));
    }
    config.validate()?;
    // Found out now, not after an hour of training.
    for p in [&config.output_path, &config.checkpoint_path]
        .into_iter()
        .flatten()
    {
        check_dir_writable(p, &MODEL_OWNERSHIP)?;
    }
    let vars = varmap.all_vars();
    // Mixed precision for the training forwards (and so backwards) of this thread, until return.
    let _amp = crate::encoder::train_cpu::Autocast::new(config.use_amp);
    let amp_forwards = crate::encoder::train_cpu::amp_forwards();
    // Dropout masks from the seed: the same seed gives the same run.
    crate::encoder::ops::seed_dropout(config.seed);
    let mut opt = GroupedAdamW::new(varmap, config.lr, config.weight_decay)?;
    let steps_per_epoch = loaders.iter().map(|l| l.len()).min().unwrap_or(0);
    let t_total = steps_per_epoch * loaders.len() * config.epochs;
    let mut log = TrainLog::default();
    let mut best = f64::NEG_INFINITY;
    let mut global = 0usize;
    let mut train_steps = 0usize;
    let mut loss_acc = (0.0, 0usize);

    let mut evaluate = |model: &M,
                        epoch: usize,
                        steps: i64,
                        global: usize,
                        loss_acc: &mut (f64, usize),
                        log: &mut TrainLog|
     -> Result<ControlFlow<()>> {
        let report = match evaluator {
            Some(e) => {
                let report = e.evaluate(model)?;
                // Python: evaluator(model, output_path=os.path.join(output_path, "eval"), epoch, steps)
                if let Some(out) = &config.output_path {
                    e.log_csv(&report, &out.join("eval"), epoch as i64, steps)?;
                }
                Some(report)
            }
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
                log.saved = Some(SavedModel {
                    path: out.clone(),
                    global_step: global,
                    score,
                    best: true,
                });
            }
        }
        let flow = callback(&event);
        log.evaluations.push(event);
        Ok(flow)
    };

    let mut bad_loss = None;
    'outer: for epoch in 0..config.epochs {
        let batches: Vec<Vec<Vec<usize>>> = loaders.iter().map(|l| l.batches(epoch)).collect();
        // One bar per epoch, as Python's; one that ends early says why.
        let mut progress = Some(Progress::new(
            steps_per_epoch as u64,
            &format!("Epoch {}/{}", epoch + 1, config.epochs),
            config.show_progress_bar,
        ));
        for step in 0..steps_per_epoch {
            if let Some(m) = config.max_steps.filter(|&m| train_steps >= m) {
                stop_bar(&mut progress, &format!("stopped by max_steps = {m}"));
                log.stopped_early = true;
                // Evaluated where it stopped, unless nothing changed since the last evaluation.
                let last = log.evaluations.last().map(|e| e.global_step);
                if last != Some(global) && global > 0 {
                    let _ = evaluate(model, epoch, step as i64, global, &mut loss_acc, &mut log)?;
                }
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
                let l = loss.to_scalar::<f32>()? as f64;
                if !l.is_finite() {
                    stop_bar(&mut progress, &format!("stopped: the loss became {l}"));
                    bad_loss = Some((k, global, l));
                    log.stopped_early = true;
                    break 'outer;
                }
                let lr = config.lr
                    * config
                        .scheduler
                        .factor(global, config.warmup_steps, t_total);
                opt.set_learning_rate(lr);
                let mut grads = loss.backward()?;
                let scale = clip_grad_scale(&grads, &vars, config.max_grad_norm)?;
                opt.step_scaled(&mut grads, scale)?;
                log.steps.push((global, k, l, lr));
                loss_acc.0 += l;
                loss_acc.1 += 1;
                global += 1;
            }
            train_steps += 1;
            if let Some(p) = progress.as_mut() {
                p.inc(1);
            }
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
                    stop_bar(&mut progress, "stopped by the callback");
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
        if let Some(p) = progress.take() {
            p.finish();
        }
        if evaluate(model, epoch, -1, global, &mut loss_acc, &mut log)?.is_break() {
            log.stopped_early = true;
            break;
        }
    }
    log.mixed_precision = crate::encoder::train_cpu::amp_forwards() > amp_forwards;
    if let Some(out) = &config.output_path {
        if log.saved.is_none() {
            if evaluator.is_some() {
                eprintln!(
                    "sbert: warning: no evaluation gave a score that is a number ({} evaluations), so the final model is saved",
                    log.evaluations.len()
                );
            }
            save(model, out)?;
            log.saved = Some(SavedModel {
                path: out.clone(),
                global_step: global,
                score: log.evaluations.last().map_or(f64::NAN, |e| e.score),
                best: false,
            });
        }
    }
    if let Some((k, step, l)) = bad_loss {
        let saved = log
            .saved
            .as_ref()
            .map_or(String::new(), |s| format!("; {s}"));
        return Err(Error::InvalidInput(format!(
            "the loss of objective {k} became {l} at optimizer step {step}: training stopped before that step changed the model (try a lower lr){saved}"
        )));
    }
    Ok(log)
}
