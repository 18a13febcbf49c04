//! `sbert fit` (a bi-encoder) and `sbert fit-cross-encoder`.

use std::path::PathBuf;

use clap::Args;
use sbert::prelude::*;

/// Arguments of `sbert fit`.
#[derive(Args)]
pub struct FitArgs {
    #[arg(long, default_value = "all-MiniLM-L6-v2")]
    pub model: String,
    /// Training examples (jsonl).
    #[arg(long)]
    pub train: PathBuf,
    /// Losses, comma-separated, each one objective over the same data: mnrl (label-1 pairs),
    /// online-contrastive, contrastive, cosine.
    #[arg(long, default_value = "mnrl,online-contrastive")]
    pub loss: String,
    #[arg(long, default_value_t = 1)]
    pub epochs: usize,
    #[arg(long, default_value_t = 16)]
    pub batch_size: usize,
    #[arg(long, default_value_t = 128)]
    pub max_seq_length: usize,
    #[arg(long, default_value_t = 100)]
    pub warmup_steps: usize,
    #[arg(long, default_value_t = 2e-5)]
    pub lr: f64,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Stop after this many training steps.
    #[arg(long)]
    pub max_steps: Option<usize>,
    /// Evaluate on an STS Benchmark file after each epoch (best model is saved).
    #[arg(long)]
    pub eval_sts: Option<PathBuf>,
    /// Output folder (sentence-transformers format, written atomically).
    #[arg(long)]
    pub output: PathBuf,
    #[arg(long)]
    pub progress: bool,
}

/// Runs `sbert fit`.
pub fn fit(args: FitArgs) -> sbert::Result<()> {
    let FitArgs {
        model,
        train,
        loss,
        epochs,
        batch_size,
        max_seq_length,
        warmup_steps,
        lr,
        seed,
        max_steps,
        eval_sts,
        output,
        progress,
    } = args;
    let examples = sbert::train::read_examples(&train)?;
    let mut m = SentenceTransformer::load(&model)?;
    let losses = loss
        .split(',')
        .map(sbert::losses::loss_by_name)
        .collect::<sbert::Result<Vec<_>>>()?;
    let objectives: Vec<sbert::train::Objective> = losses
        .iter()
        .enumerate()
        .map(|(k, l)| {
            let ex: Vec<_> = if l.positives_only() {
                examples.iter().filter(|e| e.label > 0.0).cloned().collect()
            } else {
                examples.clone()
            };
            let mut loader = sbert::train::DataLoader::new(ex, batch_size);
            loader.seed = seed.wrapping_add(k as u64);
            sbert::train::Objective {
                loader,
                loss: l.as_ref(),
            }
        })
        .collect();
    let evaluator = match &eval_sts {
        Some(p) => Some(
            sbert::evaluation::EmbeddingSimilarityEvaluator::from_sts(
                &sbert::datasets::sts::read_sts(p)?,
            )?
            .name("sts"),
        ),
        None => None,
    };
    let config = fit_config(
        (epochs, warmup_steps, lr, seed, max_steps),
        max_seq_length,
        &output,
        progress,
    );
    let ev = evaluator
        .as_ref()
        .map(|e| e as &dyn sbert::evaluation::Evaluator);
    let log = sbert::train::fit(&mut m, &objectives, &config, ev, |e| {
        eprintln!(
            "epoch {} steps {}: score {:.6}, mean loss {:.4}",
            e.epoch, e.steps, e.score, e.loss
        );
        std::ops::ControlFlow::Continue(())
    })?;
    eprintln!(
        "trained {} optimizer steps; saved to {}",
        log.steps.len(),
        output.display()
    );
    Ok(())
}

/// Arguments of `sbert fit-cross-encoder`.
#[derive(Args)]
pub struct FitCrossEncoderArgs {
    /// Bi-encoder or BERT checkpoint whose encoder (and pooler) starts the reranker.
    #[arg(long, default_value = "all-MiniLM-L6-v2")]
    pub model: String,
    /// Training examples (jsonl).
    #[arg(long)]
    pub train: PathBuf,
    #[arg(long, default_value_t = 1)]
    pub epochs: usize,
    #[arg(long, default_value_t = 16)]
    pub batch_size: usize,
    /// Longest (query, passage) pair in tokens.
    #[arg(long, default_value_t = 256)]
    pub max_seq_length: usize,
    #[arg(long, default_value_t = 100)]
    pub warmup_steps: usize,
    #[arg(long, default_value_t = 2e-5)]
    pub lr: f64,
    /// Seed of the shuffles and of the new classifier head.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Stop after this many training steps.
    #[arg(long)]
    pub max_steps: Option<usize>,
    /// Output folder (Hugging Face sequence-classification format, written atomically).
    #[arg(long)]
    pub output: PathBuf,
    #[arg(long)]
    pub progress: bool,
}

/// Runs `sbert fit-cross-encoder`.
pub fn fit_cross_encoder(args: FitCrossEncoderArgs) -> sbert::Result<()> {
    let FitCrossEncoderArgs {
        model,
        train,
        epochs,
        batch_size,
        max_seq_length,
        warmup_steps,
        lr,
        seed,
        max_steps,
        output,
        progress,
    } = args;
    let examples = sbert::train::read_examples(&train)?;
    let mut ce = sbert::cross_encoder::CrossEncoder::new_from_encoder(&model, 1, seed)?;
    let mut loader = sbert::train::DataLoader::new(examples, batch_size);
    loader.seed = seed;
    let config = fit_config(
        (epochs, warmup_steps, lr, seed, max_steps),
        max_seq_length,
        &output,
        progress,
    );
    let log = ce.fit(&loader, &config, None, |e| {
        eprintln!(
            "epoch {} steps {}: mean loss {:.4}",
            e.epoch, e.steps, e.loss
        );
        std::ops::ControlFlow::Continue(())
    })?;
    eprintln!(
        "trained {} optimizer steps; saved to {}",
        log.steps.len(),
        output.display()
    );
    Ok(())
}

/// The `FitConfig` of both training commands: epochs, warm-up, learning rate, seed and step limit
/// as given, the best model saved to `output`.
fn fit_config(
    (epochs, warmup_steps, lr, seed, max_steps): (usize, usize, f64, u64, Option<usize>),
    max_seq_length: usize,
    output: &std::path::Path,
    show_progress_bar: bool,
) -> sbert::train::FitConfig {
    sbert::train::FitConfig {
        epochs,
        warmup_steps,
        lr,
        seed,
        max_steps,
        max_seq_length: Some(max_seq_length),
        output_path: Some(output.to_path_buf()),
        show_progress_bar,
        ..Default::default()
    }
}
