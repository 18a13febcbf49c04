//! `sbert fit` (a bi-encoder) and `sbert fit-cross-encoder`.

use std::path::{Path, PathBuf};

use clap::Args;
use sbert::prelude::*;

/// What both training commands take, with the same flags and defaults.
#[derive(Args)]
pub struct TrainingArgs {
    /// Training examples (jsonl).
    #[arg(long)]
    pub train: PathBuf,
    #[arg(long, default_value_t = 1)]
    pub epochs: usize,
    #[arg(long, default_value_t = 16)]
    pub batch_size: usize,
    #[arg(long, default_value_t = 100)]
    pub warmup_steps: usize,
    #[arg(long, default_value_t = 2e-5)]
    pub lr: f64,
    /// Seed of the shuffles (and of a new reranker's classifier head).
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Stop after this many training steps.
    #[arg(long)]
    pub max_steps: Option<usize>,
    #[arg(long)]
    pub progress: bool,
    /// Save a numbered checkpoint (`checkpoint-STEP`) into this folder every --checkpoint-steps.
    #[arg(long)]
    pub checkpoint_path: Option<PathBuf>,
    /// Steps between checkpoints (with --checkpoint-path).
    #[arg(long, default_value_t = 500)]
    pub checkpoint_steps: usize,
    /// Checkpoints kept, oldest removed first (0: all).
    #[arg(long, default_value_t = 0)]
    pub checkpoint_limit: usize,
    /// Mixed precision (bf16 products, f32 weights) where the CPU has AVX512-BF16 or AMX.
    #[arg(long)]
    pub use_amp: bool,
}

impl TrainingArgs {
    /// The `FitConfig` of these arguments, the best model saved to `output`.
    fn fit_config(&self, max_seq_length: usize, output: &Path) -> sbert::train::FitConfig {
        sbert::train::FitConfig {
            epochs: self.epochs,
            warmup_steps: self.warmup_steps,
            lr: self.lr,
            seed: self.seed,
            max_steps: self.max_steps,
            max_seq_length: Some(max_seq_length),
            output_path: Some(output.to_path_buf()),
            show_progress_bar: self.progress,
            checkpoint_path: self.checkpoint_path.clone(),
            checkpoint_save_steps: if self.checkpoint_path.is_some() {
                self.checkpoint_steps
            } else {
                0
            },
            checkpoint_save_total_limit: self.checkpoint_limit,
            use_amp: self.use_amp,
            ..Default::default()
        }
    }
}

/// Arguments of `sbert fit`.
#[derive(Args)]
pub struct FitArgs {
    #[arg(long, default_value = "all-MiniLM-L6-v2")]
    pub model: String,
    #[command(flatten)]
    pub training: TrainingArgs,
    /// Losses, comma-separated, each one objective over the same data: mnrl (label-1 pairs),
    /// online-contrastive, contrastive, cosine, cosent (graded labels).
    #[arg(long, default_value = "mnrl,online-contrastive")]
    pub loss: String,
    #[arg(long, default_value_t = 128)]
    pub max_seq_length: usize,
    /// Evaluate on an STS Benchmark file after each epoch (best model is saved).
    #[arg(long)]
    pub eval_sts: Option<PathBuf>,
    /// Special tokens to add to the tokenizer before training, comma-separated (e.g.
    /// "[TITLE],[BODY]"); the embedding matrix grows by their number (new rows: the mean row).
    #[arg(long)]
    pub add_special_tokens: Option<String>,
    /// Output folder (sentence-transformers format, written atomically).
    #[arg(long)]
    pub output: PathBuf,
}

/// Runs `sbert fit`.
pub fn fit(args: FitArgs) -> sbert::Result<()> {
    let t = &args.training;
    let examples = sbert::train::read_examples(&t.train)?;
    let mut m = SentenceTransformer::load(&args.model)?;
    if let Some(tokens) = &args.add_special_tokens {
        let tokens: Vec<&str> = tokens.split(',').map(str::trim).collect();
        m.add_tokens(&tokens, true)?;
        m.resize_token_embeddings(m.tokenizer_len())?;
    }
    let losses = args
        .loss
        .split(',')
        .map(sbert::losses::loss_by_name)
        .collect::<sbert::Result<Vec<_>>>()?;
    let objectives: Vec<sbert::train::Objective> = losses
        .iter()
        .enumerate()
        .map(|(k, l)| {
            let ex: Vec<_> = if l.positives_only() {
                examples
                    .iter()
                    .filter(|e| e.is_positive())
                    .cloned()
                    .collect()
            } else {
                examples.clone()
            };
            let mut loader = sbert::train::DataLoader::new(ex, t.batch_size);
            loader.seed = t.seed.wrapping_add(k as u64);
            sbert::train::Objective {
                loader,
                loss: l.as_ref(),
            }
        })
        .collect();
    let evaluator = match &args.eval_sts {
        Some(p) => Some(
            sbert::evaluation::EmbeddingSimilarityEvaluator::from_sts(
                &sbert::datasets::sts::read_sts(p)?,
            )?
            .name("sts"),
        ),
        None => None,
    };
    let config = t.fit_config(args.max_seq_length, &args.output);
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
    saved(&log);
    Ok(())
}

/// Arguments of `sbert fit-cross-encoder`.
#[derive(Args)]
pub struct FitCrossEncoderArgs {
    /// Bi-encoder or BERT checkpoint whose encoder (and pooler) starts the reranker.
    #[arg(long, default_value = "all-MiniLM-L6-v2")]
    pub model: String,
    #[command(flatten)]
    pub training: TrainingArgs,
    /// Longest (query, passage) pair in tokens.
    #[arg(long, default_value_t = 256)]
    pub max_seq_length: usize,
    /// Output folder (Hugging Face sequence-classification format, written atomically).
    #[arg(long)]
    pub output: PathBuf,
}

/// Runs `sbert fit-cross-encoder`.
pub fn fit_cross_encoder(args: FitCrossEncoderArgs) -> sbert::Result<()> {
    let t = &args.training;
    let examples = sbert::train::read_examples(&t.train)?;
    let mut ce = sbert::cross_encoder::CrossEncoder::new_from_encoder(&args.model, 1, t.seed)?;
    let mut loader = sbert::train::DataLoader::new(examples, t.batch_size);
    loader.seed = t.seed;
    let config = t.fit_config(args.max_seq_length, &args.output);
    let log = ce.fit(&loader, &config, None, |e| {
        eprintln!(
            "epoch {} steps {}: mean loss {:.4}",
            e.epoch, e.steps, e.loss
        );
        std::ops::ControlFlow::Continue(())
    })?;
    saved(&log);
    Ok(())
}

fn saved(log: &sbert::train::TrainLog) {
    let what = log
        .saved
        .as_ref()
        .map_or_else(|| "nothing saved".to_string(), |s| s.to_string());
    eprintln!("trained {} optimizer steps; {what}", log.steps.len());
}
