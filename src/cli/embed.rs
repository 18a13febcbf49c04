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
    #[arg(long, required_unless_present = "corpus", conflicts_with = "corpus")]
    pub input: Option<PathBuf>,
    /// Or a corpus of records (BEIR jsonl, `id<TAB>text`): each record's contents (title and
    /// text), in order — what `sbert search --corpus-embeddings` reads back.
    #[arg(long)]
    pub corpus: Option<PathBuf>,
    /// Output .npy file (written atomically).
    #[arg(
        long,
        required_unless_present = "output_dir",
        conflicts_with = "output_dir"
    )]
    pub output: Option<PathBuf>,
    /// Or a folder of numbered float32 shards and a manifest (for corpora past memory): one shard
    /// in memory at a time, each written atomically; run the same command again after a kill and
    /// it resumes at the first missing shard.
    #[arg(long)]
    pub output_dir: Option<PathBuf>,
    /// Rows per shard with --output-dir (default 100,000).
    #[arg(long)]
    pub shard_size: Option<usize>,
    /// Show a progress bar.
    #[arg(long)]
    pub progress: bool,
    /// Write quantized embeddings (int8, uint8, binary, ubinary) as Python's
    /// `encode(precision=…)` and `np.save` do: an int8 / uint8 .npy.
    #[arg(long)]
    pub precision: Option<sbert::util::Precision>,
    /// int8 / uint8: quantize with these ranges (a 2 × dim float32 .npy of per-dimension min and
    /// max, as --ranges-output writes) instead of calibrating on these embeddings — so the parts
    /// of a corpus encoded separately share one scale.
    #[arg(long)]
    pub ranges: Option<PathBuf>,
    /// int8 / uint8: also write the ranges used (2 × dim float32 .npy), needed to dequantize.
    #[arg(long)]
    pub ranges_output: Option<PathBuf>,
}

/// Runs `sbert encode`.
pub fn encode(args: EncodeArgs) -> sbert::Result<()> {
    let EncodeArgs {
        dtype,
        model,
        batch_size,
        no_normalize,
        input,
        corpus,
        output,
        output_dir,
        shard_size,
        progress,
        precision,
        ranges,
        ranges_output,
    } = args;
    let sentences = match (&input, &corpus) {
        (Some(path), _) => sbert::data::read_lines(path)?,
        (None, Some(path)) => sbert::data::read_records(path)?
            .iter()
            .map(|r| r.contents())
            .collect(),
        (None, None) => unreachable!("clap requires --input or --corpus"),
    };
    if shard_size.is_some() && output_dir.is_none() {
        return Err(sbert::Error::InvalidInput(
            "--shard-size goes with --output-dir".into(),
        ));
    }
    if let Some(dir) = output_dir {
        if precision.is_some() {
            return Err(sbert::Error::InvalidInput(
                "--output-dir writes float32 shards; --precision goes with --output".into(),
            ));
        }
        let model = dtype.load(&model)?;
        let opts = EncodeOptions::default()
            .batch_size(batch_size)
            .normalize_embeddings(!no_normalize)
            .show_progress_bar(progress);
        let started = std::time::Instant::now();
        let shards =
            model.encode_to_shards(&sentences, &dir, shard_size.unwrap_or(100_000), &opts)?;
        eprintln!(
            "{} embeddings of dim {} in {} shards in {} ({:.1} s)",
            shards.len(),
            shards.dim(),
            shards.shard_count(),
            dir.display(),
            started.elapsed().as_secs_f64()
        );
        return Ok(());
    }
    let output = output.expect("clap requires --output or --output-dir");
    // Found out before the encoding, not after it.
    sbert::core::fs::check_writable(&output, false)?;
    let ranges = quantization_ranges(
        precision,
        ranges.as_deref(),
        ranges_output.as_deref(),
        &output,
    )?;
    let model = dtype.load(&model)?;
    let opts = EncodeOptions::default()
        .batch_size(batch_size)
        .normalize_embeddings(!no_normalize)
        .show_progress_bar(progress);
    let emb = model.encode(&sentences, &opts)?;
    match precision {
        Some(p) => {
            let q = sbert::util::quantize_embeddings(&emb, p, ranges.as_ref(), None)?;
            if let (Some(path), Some(r)) = (&ranges_output, q.ranges()) {
                let matrix = sbert::Embeddings::from_vec2(vec![r.min.clone(), r.max.clone()])?;
                sbert::npy::write_npy(path, &matrix)?;
            }
            sbert::npy::write_atomic(&output, &q.to_npy_bytes())?;
            eprintln!("{q}");
        }
        None => sbert::npy::write_npy(&output, &emb)?,
    }
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

/// The checks of `encode --precision`'s options before encoding, and the ranges read from
/// `--ranges`.
fn quantization_ranges(
    precision: Option<sbert::util::Precision>,
    ranges: Option<&std::path::Path>,
    ranges_output: Option<&std::path::Path>,
    output: &std::path::Path,
) -> sbert::Result<Option<sbert::util::QuantizationRanges>> {
    let scalar = precision.is_some_and(|p| !p.is_binary());
    if !scalar && (ranges.is_some() || ranges_output.is_some()) {
        return Err(sbert::Error::InvalidInput(
            "--ranges and --ranges-output go with --precision int8 or uint8".into(),
        ));
    }
    if let Some(path) = ranges_output {
        if same_path(path, output) {
            return Err(sbert::Error::InvalidInput(
                "--ranges-output must differ from --output".into(),
            ));
        }
        sbert::core::fs::check_writable(path, false)?;
    }
    let Some(path) = ranges else {
        return Ok(None);
    };
    let m = sbert::npy::read_npy(path)?;
    if m.len() != 2 {
        return Err(sbert::Error::InvalidInput(format!(
            "{}: ranges are 2 rows (min, max), found {}",
            path.display(),
            m.len()
        )));
    }
    Ok(Some(sbert::util::QuantizationRanges::new(
        m.row(0)?.to_vec(),
        m.row(1)?.to_vec(),
    )?))
}

/// Whether two paths name the same file (their folders resolved; the files need not exist).
fn same_path(a: &std::path::Path, b: &std::path::Path) -> bool {
    let full = |p: &std::path::Path| {
        let dir = match p.parent().filter(|d| !d.as_os_str().is_empty()) {
            Some(d) => d.canonicalize().ok(),
            None => std::env::current_dir().ok(),
        };
        dir.zip(p.file_name()).map(|(d, f)| d.join(f))
    };
    full(a).is_some() && full(a) == full(b)
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
