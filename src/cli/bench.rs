//! `sbert bench-search`, `sbert bench-fit`, `sbert bench-encode`: the speed figures, as JSON for scripts.

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use sbert::prelude::*;

use super::load::DtypeArg;
use super::output::{peak_rss_mib, print_json};

/// Arguments of `sbert bench-search`.
#[derive(Args)]
pub struct BenchSearchArgs {
    #[arg(long, default_value_t = 1_000_000)]
    pub corpus_size: usize,
    #[arg(long, default_value_t = 1000)]
    pub queries: usize,
    #[arg(long, default_value_t = 384)]
    pub dim: usize,
    #[arg(long, default_value_t = 10)]
    pub top_k: usize,
    #[arg(long, default_value_t = 100)]
    pub query_chunk_size: usize,
    #[arg(long, default_value_t = 500_000)]
    pub corpus_chunk_size: usize,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Score in f32 (exact), or bf16 / int8 with the best top_k × --rescore-multiplier candidates
    /// rescored in f32.
    #[arg(long, default_value = "f32")]
    pub precision: Dtype,
    #[arg(long, default_value_t = 2)]
    pub rescore_multiplier: usize,
    /// Store the corpus quantized (int8, uint8, binary, ubinary) and search it with
    /// `semantic_search_quantized`, rescoring top_k × --rescore-multiplier candidates (0: none).
    #[arg(long)]
    pub corpus_precision: Option<sbert::util::Precision>,
    /// With --corpus-precision: rescore from a copy of the corpus in this precision (int8).
    #[arg(long)]
    pub rescore_precision: Option<sbert::util::Precision>,
    /// With a binary --corpus-precision: rank the rows by the float32 query (`q · (2b − 1)`)
    /// instead of by its sign bits.
    #[arg(long)]
    pub asymmetric: bool,
    /// Also run the f32 search and report the share of its hits the reduced-precision one found.
    #[arg(long)]
    pub recall: bool,
    /// Search an approximate index (USearch HNSW) instead: built over the corpus in
    /// --corpus-precision (float32 without it; int8 or binary), with --rescore-precision's copy
    /// rescoring --rescore-multiplier × top_k candidates; its build time reported apart.
    #[cfg(feature = "ann")]
    #[arg(long)]
    pub ann: bool,
    /// With --ann: candidates explored per search (ef).
    #[cfg(feature = "ann")]
    #[arg(long, default_value_t = sbert::ann::AnnOptions::default().expansion_search)]
    pub expansion_search: usize,
    #[arg(long)]
    pub json: bool,
}

/// Runs `sbert bench-search`.
pub fn bench_search(args: BenchSearchArgs) -> sbert::Result<()> {
    let BenchSearchArgs {
        corpus_size,
        queries,
        dim,
        top_k,
        query_chunk_size,
        corpus_chunk_size,
        seed,
        precision,
        rescore_multiplier,
        corpus_precision,
        rescore_precision,
        asymmetric,
        recall,
        #[cfg(feature = "ann")]
        ann,
        #[cfg(feature = "ann")]
        expansion_search,
        json,
    } = args;
    #[cfg(not(feature = "ann"))]
    let ann = false;
    for (name, v) in [
        ("--corpus-size", corpus_size),
        ("--queries", queries),
        ("--dim", dim),
    ] {
        if v == 0 {
            return Err(sbert::Error::InvalidInput(format!(
                "{name} must be at least 1"
            )));
        }
    }
    let t0 = Instant::now();
    let corpus = sbert::embeddings::Embeddings::random_unit(corpus_size, dim, seed)?;
    let q = sbert::embeddings::Embeddings::random_unit(queries, dim, seed.wrapping_add(1))?;
    let gen_s = t0.elapsed().as_secs_f64();
    let opts = SearchOptions::default()
        .top_k(top_k)
        .query_chunk_size(query_chunk_size)
        .corpus_chunk_size(corpus_chunk_size)
        .precision(precision)
        .rescore_multiplier(rescore_multiplier);
    // A quantized corpus: quantized before the timing (Python's quantize_embeddings is outside
    // semantic_search_usearch's time too); its bytes are the corpus memory.
    if corpus_precision.is_none() && rescore_precision.is_some() {
        return Err(sbert::Error::InvalidInput(
            "--rescore-precision needs --corpus-precision".into(),
        ));
    }
    if asymmetric && (ann || !corpus_precision.is_some_and(|p| p.is_binary())) {
        return Err(sbert::Error::InvalidInput(
            "--asymmetric needs a binary --corpus-precision (and no --ann)".into(),
        ));
    }
    let t = Instant::now();
    let quantized = corpus_precision
        .filter(|_| !ann)
        .map(|p| sbert::util::quantize_embeddings(&corpus, p, None, None))
        .transpose()?;
    let rescore_copy = rescore_precision
        .map(|p| sbert::util::quantize_embeddings(&corpus, p, None, None))
        .transpose()?;
    let quantize_s = quantized.as_ref().map(|_| t.elapsed().as_secs_f64());
    let qopts = sbert::util::QuantizedSearchOptions::default()
        .top_k(top_k)
        .rescore(rescore_multiplier > 0)
        .rescore_multiplier(rescore_multiplier.max(1))
        .asymmetric(asymmetric);
    // An ANN graph: built before the timing (reported as build_s), searched in it.
    #[cfg(feature = "ann")]
    let (graph, build_s) = if ann {
        let t = Instant::now();
        let options = sbert::ann::AnnOptions::default()
            .precision(corpus_precision)
            .expansion_search(expansion_search);
        let g = sbert::ann::AnnIndex::build(&corpus, &options)?;
        (Some(g), Some(t.elapsed().as_secs_f64()))
    } else {
        (None, None)
    };
    #[cfg(not(feature = "ann"))]
    let build_s: Option<f64> = None;
    let t1 = Instant::now();
    #[cfg(feature = "ann")]
    let ann_hits = match (&graph, &rescore_copy) {
        (Some(g), Some(copy)) => {
            Some(g.search_rescored(&q, top_k, rescore_multiplier.max(1), copy)?)
        }
        (Some(g), None) => Some(g.search(&q, top_k)?),
        _ => None,
    };
    #[cfg(not(feature = "ann"))]
    let ann_hits: Option<sbert::util::SearchResults> = None;
    let hits = match (&quantized, &rescore_copy) {
        _ if ann_hits.is_some() => ann_hits.expect("checked"),
        (Some(qc), Some(copy)) => {
            sbert::util::semantic_search_quantized_rescored(&q, qc, copy, &qopts)?
        }
        (Some(qc), None) => sbert::util::semantic_search_quantized(&q, qc, &qopts)?,
        _ => semantic_search(&q, &corpus, &opts)?,
    };
    let secs = t1.elapsed().as_secs_f64();
    #[cfg(feature = "ann")]
    let graph_bytes = graph.as_ref().map(sbert::ann::AnnIndex::memory_bytes);
    #[cfg(not(feature = "ann"))]
    let graph_bytes: Option<usize> = None;
    let corpus_bytes = graph_bytes.unwrap_or_else(|| {
        quantized
            .as_ref()
            .map_or(corpus_size * dim * 4, |qc| qc.memory_bytes())
    });
    let peak = peak_rss_mib();
    // The share of the exact (f32) hits found, when asked (after the timing and the peak RSS).
    let recall_at_k = if recall {
        let exact = semantic_search(&q, &corpus, &opts.clone().precision(Dtype::F32))?;
        Some(sbert::util::quantization::recall_of(&hits, &exact, top_k))
    } else {
        None
    };
    let report = serde_json::json!({
        "corpus_size": corpus_size, "queries": queries, "dim": dim, "top_k": top_k,
        "seconds": secs, "data_generation_s": gen_s,
        "peak_rss_mib": peak, "data_mib": (corpus_size + queries) as f64 * dim as f64 * 4.0 / 1048576.0,
        "first_hit": hits.first().and_then(|h| h.first()).map(|h| (h.corpus_id, h.score)),
        "rescore_multiplier": rescore_multiplier, "recall_of_f32_hits": recall_at_k,
        "corpus_precision": corpus_precision.map(|p| p.name()), "quantize_s": quantize_s,
        "rescore_precision": rescore_precision.map(|p| p.name()), "asymmetric": asymmetric,
        "corpus_mib": corpus_bytes as f64 / 1048576.0,
        "ann": ann, "ann_build_s": build_s,
    });
    let report = with_code_path(report, precision);
    if json {
        print_json(&report)?;
    } else {
        print_code_path(precision);
        println!(
            "semantic_search: {queries} queries × {corpus_size} docs × dim {dim}, top-{top_k}: {secs:.2} s ({} threads); peak RSS {} MiB (data {:.0} MiB)",
            rayon::current_num_threads(), peak.map_or("?".into(), |m| format!("{m:.0}")), report["data_mib"].as_f64().unwrap_or(0.0)
        );
        if let Some(b) = build_s {
            println!(
                "ANN graph ({}): built in {b:.1} s, {:.1} MiB",
                corpus_precision.map_or("float32", |p| p.name()),
                corpus_bytes as f64 / 1048576.0
            );
        } else if let Some(p) = corpus_precision {
            println!(
                "corpus stored as {p}{}: {:.1} MiB (f32 {:.1} MiB), quantized in {:.2} s",
                if asymmetric {
                    ", searched by the float32 query (asymmetric)"
                } else {
                    ""
                },
                corpus_bytes as f64 / 1048576.0,
                (corpus_size * dim * 4) as f64 / 1048576.0,
                quantize_s.unwrap_or(0.0)
            );
        }
        if let Some(r) = recall_at_k {
            println!("share of the f32 hits found: {r:.4}");
        }
    }
    Ok(())
}

/// Arguments of `sbert bench-fit`.
#[derive(Args)]
pub struct BenchFitArgs {
    #[arg(long, default_value = "all-MiniLM-L6-v2")]
    pub model: String,
    #[arg(long)]
    pub input: PathBuf,
    #[arg(long, default_value_t = 160)]
    pub pairs: usize,
    #[arg(long, default_value_t = 16)]
    pub batch_size: usize,
    #[arg(long, default_value_t = 128)]
    pub max_seq_length: usize,
    /// Mixed precision (bf16 products, f32 weights) where the CPU has AVX512-BF16 or AMX.
    #[arg(long)]
    pub use_amp: bool,
    #[arg(long)]
    pub json: bool,
}

/// Runs `sbert bench-fit`.
pub fn bench_fit(args: BenchFitArgs) -> sbert::Result<()> {
    let BenchFitArgs {
        model,
        input,
        pairs,
        batch_size,
        max_seq_length,
        use_amp,
        json,
    } = args;
    let lines = sbert::data::read_lines(&input)?;
    if pairs == 0 {
        return Err(sbert::Error::InvalidInput(
            "--pairs must be at least 1".into(),
        ));
    }
    if pairs >= lines.len() {
        return Err(Error::InvalidInput(format!(
            "--pairs {pairs} needs at least {pairs} + 1 lines; {} has {}",
            input.display(),
            lines.len()
        )));
    }
    let examples: Vec<_> = (0..pairs)
        .map(|i| sbert::train::InputExample::pair(lines[i].clone(), lines[i + 1].clone(), 1.0))
        .collect();
    let mut m = SentenceTransformer::load(&model)?;
    let mnrl = sbert::losses::MultipleNegativesRankingLoss::default();
    let objectives = [sbert::train::Objective {
        loader: sbert::train::DataLoader::new(examples, batch_size),
        loss: &mnrl,
    }];
    let config = sbert::train::FitConfig {
        warmup_steps: 10,
        max_seq_length: Some(max_seq_length),
        show_progress_bar: false,
        use_amp,
        ..Default::default()
    };
    let t0 = Instant::now();
    let log = sbert::train::fit(&mut m, &objectives, &config, None, |_| {
        std::ops::ControlFlow::Continue(())
    })?;
    let secs = t0.elapsed().as_secs_f64();
    // The products' format: what ran (an f32-only path or family ignores --use-amp).
    let dtype = if log.mixed_precision {
        Dtype::Bf16
    } else {
        Dtype::F32
    };
    let report = serde_json::json!({"pairs": pairs, "batch_size": batch_size, "max_seq_length": max_seq_length, "steps": log.steps.len(),
        "seconds": secs, "pairs_per_s": pairs as f64 / secs, "seconds_per_step": secs / log.steps.len().max(1) as f64, "peak_rss_mib": peak_rss_mib()});
    let report = with_code_path(report, dtype);
    if json {
        print_json(&report)?;
    } else {
        print_code_path(dtype);
        println!("fit (MNRL): {pairs} pairs, batch {batch_size}, max_seq_length {max_seq_length}: {secs:.1} s, {:.2} pairs/s ({:.2} s/step), peak RSS {} MiB",
            pairs as f64 / secs, secs / log.steps.len().max(1) as f64, peak_rss_mib().map_or("?".into(), |m| format!("{m:.0}")));
    }
    Ok(())
}

/// Arguments of `sbert bench-encode`.
#[derive(Args)]
pub struct BenchEncodeArgs {
    #[arg(long, default_value = "all-MiniLM-L6-v2")]
    pub model: String,
    #[command(flatten)]
    pub dtype: DtypeArg,
    #[arg(long)]
    pub input: PathBuf,
    /// Use the first N lines.
    #[arg(long)]
    pub limit: Option<usize>,
    #[arg(long, default_value_t = 32)]
    pub batch_size: usize,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Runs `sbert bench-encode`.
pub fn bench_encode(args: BenchEncodeArgs) -> sbert::Result<()> {
    let BenchEncodeArgs {
        dtype,
        model,
        input,
        limit,
        batch_size,
        json,
    } = args;
    let mut sentences = sbert::data::read_lines(&input)?;
    if let Some(n) = limit {
        sentences.truncate(n);
    }
    if sentences.is_empty() {
        return Err(sbert::Error::InvalidInput(format!(
            "{} has no lines to encode (or --limit is 0)",
            input.display()
        )));
    }
    let t0 = Instant::now();
    let model = dtype.load(&model)?;
    let load_s = t0.elapsed().as_secs_f64();
    // Warm-up as the Python benchmark does (64 lines).
    let warm: Vec<&String> = sentences.iter().take(64).collect();
    model.encode(&warm, &EncodeOptions::default().batch_size(batch_size))?;
    let t1 = Instant::now();
    let emb = model.encode(&sentences, &EncodeOptions::default().batch_size(batch_size))?;
    let secs = t1.elapsed().as_secs_f64();
    let tokens: usize = emb.num_tokens().iter().sum();
    let report = serde_json::json!({
        "lines": emb.len(),
        "batch_size": batch_size,
        "seconds": secs,
        "sentences_per_s": emb.len() as f64 / secs,
        "tokens_per_s": tokens as f64 / secs,
        "model_load_s": load_s,
        "peak_rss_mib": peak_rss_mib(),
    });
    let report = with_code_path(report, model.dtype());
    if json {
        print_json(&report)?;
    } else {
        print_code_path(model.dtype());
        println!(
            "encoded {} lines in {:.2} s: {:.1} sentences/s, {:.0} tokens/s, batch {}, {} threads, peak RSS {} MiB (model load {:.2} s)",
            emb.len(), secs, emb.len() as f64 / secs, tokens as f64 / secs, batch_size, rayon::current_num_threads(),
            peak_rss_mib().map_or("?".into(), |m| format!("{m:.0}")), load_s
        );
    }
    Ok(())
}

/// Adds the code path a benchmark ran to its JSON report: threads, CPU, instruction set, dtype.
fn with_code_path(mut report: serde_json::Value, dtype: Dtype) -> serde_json::Value {
    if let Some(fields) = report.as_object_mut() {
        fields.insert("threads".into(), rayon::current_num_threads().into());
        fields.insert("cpu".into(), sbert::cpu::cpu_name().into());
        fields.insert("isa".into(), sbert::cpu::Isa::current().name().into());
        fields.insert("dtype".into(), dtype.name().into());
    }
    report
}

/// The code path as the first line of a text report: CPU, instruction set, dtype.
fn print_code_path(dtype: Dtype) {
    println!("{}, {dtype}", sbert::cpu::describe());
}
