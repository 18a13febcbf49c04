//! `sbert encode`, `sbert similarity`, `sbert pairs`: embeddings, the cos_sim matrix and the top pairs of a file.

use std::path::PathBuf;

use clap::Args;
use sbert::prelude::*;

use super::load::DtypeArg;
use super::output::print_json;

/// Arguments of `sbert encode`.
#[derive(Args)]
pub struct EncodeArgs {
    /// Model id or folder.
    #[arg(long, default_value = "all-MiniLM-L6-v2")]
    pub model: String,
    #[command(flatten)]
    pub dtype: DtypeArg,
    /// Sentences per batch.
    #[arg(long, default_value_t = 32)]
    pub batch_size: usize,
    /// Write the model's output as it is, without the final L2 normalisation.
    #[arg(long)]
    pub no_normalize: bool,
    /// Input file, one sentence per line ("-" for standard input).
    #[arg(long)]
    pub input: PathBuf,
    /// Output .npy file (written atomically).
    #[arg(long)]
    pub output: PathBuf,
    /// Show a progress bar.
    #[arg(long)]
    pub progress: bool,
}

/// Runs `sbert encode`.
pub fn encode(args: EncodeArgs) -> sbert::Result<()> {
    let EncodeArgs {
        dtype,
        model,
        batch_size,
        no_normalize,
        input,
        output,
        progress,
    } = args;
    let sentences = sbert::data::read_lines(&input)?;
    // Found out before the encoding, not after it.
    sbert::core::fs::check_writable(&output, false)?;
    let model = dtype.load(&model)?;
    let opts = EncodeOptions::default()
        .batch_size(batch_size)
        .normalize_embeddings(!no_normalize)
        .show_progress_bar(progress);
    let emb = model.encode(&sentences, &opts)?;
    sbert::npy::write_npy(&output, &emb)?;
    if !emb.truncated().is_empty() {
        eprintln!(
            "note: {} sentence(s) truncated at {} tokens: lines {:?}",
            emb.truncated().len(),
            model.max_seq_length(),
            emb.truncated().iter().map(|i| i + 1).collect::<Vec<_>>()
        );
    }
    eprintln!(
        "wrote {} embeddings of dim {} to {}",
        emb.len(),
        emb.dim(),
        output.display()
    );
    Ok(())
}

/// Arguments of `sbert similarity`.
#[derive(Args)]
pub struct SimilarityArgs {
    #[arg(long, default_value = "all-MiniLM-L6-v2")]
    pub model: String,
    #[command(flatten)]
    pub dtype: DtypeArg,
    #[arg(long)]
    pub input: PathBuf,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Runs `sbert similarity`.
pub fn similarity(args: SimilarityArgs) -> sbert::Result<()> {
    let SimilarityArgs {
        dtype,
        model,
        input,
        json,
    } = args;
    let sentences = sbert::data::read_lines(&input)?;
    let model = dtype.load(&model)?;
    let emb = model.encode(&sentences, &EncodeOptions::default())?;
    let m = cos_sim(&emb, &emb)?;
    if json {
        print_json(&serde_json::json!({"sentences": sentences, "matrix": m.to_vec2()}))?;
    } else {
        print!("{m}");
    }
    Ok(())
}

/// Arguments of `sbert pairs`.
#[derive(Args)]
pub struct PairsArgs {
    #[arg(long, default_value = "all-MiniLM-L6-v2")]
    pub model: String,
    #[command(flatten)]
    pub dtype: DtypeArg,
    #[arg(long)]
    pub input: PathBuf,
    #[arg(long, default_value_t = 5)]
    pub top_k: usize,
    #[arg(long)]
    pub json: bool,
}

/// Runs `sbert pairs`.
pub fn pairs(args: PairsArgs) -> sbert::Result<()> {
    let PairsArgs {
        dtype,
        model,
        input,
        top_k,
        json,
    } = args;
    let sentences = sbert::data::read_lines(&input)?;
    let model = dtype.load(&model)?;
    let emb = model.encode(&sentences, &EncodeOptions::default())?;
    let pairs = top_pairs(&emb, top_k)?;
    if json {
        print_json(&pairs.to_vec())?;
    } else {
        print!("{pairs}");
    }
    Ok(())
}
