//! `sbert index build` (a corpus's embeddings into an HNSW index folder, with the document ids)
//! and `sbert index search` (queries through it into a TREC run).

use std::path::PathBuf;
use std::time::Instant;

use clap::{Args, Subcommand};
use sbert::ann::{AnnIndex, AnnOptions, ModelStamp};
use sbert::prelude::*;
use sbert::util::Precision;

use super::load::DtypeArg;
use super::output::print_json;
use super::runs::{CorpusArgs, CorpusEmbeddings, LoadedCorpus};

/// `sbert index …`.
#[derive(Subcommand)]
pub enum IndexCommand {
    /// Build an approximate (HNSW, USearch) index of a corpus into a folder, with its ids.
    Build(BuildArgs),
    /// Search queries through an index into a TREC run.
    Search(SearchArgs),
}

/// Arguments of `sbert index build`.
#[derive(Args)]
pub struct BuildArgs {
    #[command(flatten)]
    pub source: CorpusArgs,
    /// The index folder (written atomically; an index folder there is replaced whole).
    #[arg(long)]
    pub index: PathBuf,
    /// What the graph stores: float32 (cosine), int8 (cosine) or binary (Hamming).
    #[arg(long, default_value = "float32")]
    pub precision: String,
    /// Also keep a copy of the corpus in this precision (int8, uint8) for `index search
    /// --rescore-multiplier`: a binary graph's candidates rescored by the float32 query.
    #[arg(long)]
    pub rescore_precision: Option<Precision>,
    /// Neighbours per node (HNSW's M).
    #[arg(long, default_value_t = AnnOptions::default().connectivity)]
    pub connectivity: usize,
    /// Candidates explored while inserting (ef_construction).
    #[arg(long, default_value_t = AnnOptions::default().expansion_add)]
    pub expansion_add: usize,
    /// Candidates explored per search (ef), saved as the index's default.
    #[arg(long, default_value_t = AnnOptions::default().expansion_search)]
    pub expansion_search: usize,
}

/// Arguments of `sbert index search`.
#[derive(Args)]
pub struct SearchArgs {
    /// The index folder (`sbert index build`).
    #[arg(long)]
    pub index: PathBuf,
    /// The model that built the index (checked against the one the index records).
    #[arg(long, default_value = "all-MiniLM-L6-v2")]
    pub model: String,
    #[command(flatten)]
    pub dtype: DtypeArg,
    /// Queries: BEIR jsonl ({"_id","text"}) or id<TAB>text.
    #[arg(long)]
    pub queries: PathBuf,
    #[arg(long, default_value_t = 10)]
    pub top_k: usize,
    /// Candidates explored per search (ef; default: the index's).
    #[arg(long)]
    pub expansion_search: Option<usize>,
    /// Rescore top_k × this many candidates from the copy the index keeps (built with
    /// --rescore-precision) with the float32 query.
    #[arg(long)]
    pub rescore_multiplier: Option<usize>,
    /// Output TREC run (written atomically).
    #[arg(long)]
    pub run: PathBuf,
    /// The run tag (last column).
    #[arg(long, default_value = "ann")]
    pub tag: String,
    #[arg(long, default_value_t = 32)]
    pub batch_size: usize,
    #[arg(long)]
    pub progress: bool,
}

/// Runs `sbert index …`.
pub fn index(command: IndexCommand) -> sbert::Result<()> {
    match command {
        IndexCommand::Build(args) => build(args),
        IndexCommand::Search(args) => search(args),
    }
}

/// `float32` (or `f32`) is the graph's full precision; otherwise a [`Precision`].
fn graph_precision(name: &str) -> sbert::Result<Option<Precision>> {
    match name {
        "float32" | "f32" => Ok(None),
        other => other.parse().map(Some).map_err(|_| {
            sbert::Error::InvalidInput(format!(
                "--precision {other}: an index stores float32, int8 or binary vectors"
            ))
        }),
    }
}

/// The embeddings an index holds and its queries are compared with: unit vectors (the graph's
/// cosine and a rescoring's dot product then agree).
fn encode_options(batch_size: usize, progress: bool) -> EncodeOptions {
    EncodeOptions::default()
        .batch_size(batch_size)
        .show_progress_bar(progress)
        .normalize_embeddings(true)
}

fn build(args: BuildArgs) -> sbert::Result<()> {
    let BuildArgs {
        source,
        index: dir,
        precision,
        rescore_precision,
        connectivity,
        expansion_add,
        expansion_search,
    } = args;
    let options = AnnOptions {
        precision: graph_precision(&precision)?,
        connectivity,
        expansion_add,
        expansion_search,
    };
    if rescore_precision.is_some_and(Precision::is_binary) {
        return Err(sbert::Error::InvalidInput(
            "--rescore-precision is int8 or uint8 (a copy finer than the graph's bits)".into(),
        ));
    }
    let start = Instant::now();
    let LoadedCorpus {
        docs,
        model,
        opts,
        embeddings,
    } = source.load("ann")?;
    let (embeddings, encode_s) = match embeddings {
        CorpusEmbeddings::Encoded(e) => (e, Some(start.elapsed().as_secs_f64())),
        CorpusEmbeddings::Shards(s) => (s.rows(0..s.len())?.normalized(), None),
    };
    let start = Instant::now();
    let mut index = AnnIndex::build(&embeddings, &options)?;
    let build_s = start.elapsed().as_secs_f64();
    index.set_ids(docs.iter().map(|d| d.id.clone()).collect())?;
    index.set_model(ModelStamp {
        name: source.model.clone(),
        fingerprint: model.fingerprint(&opts)?,
    });
    if let Some(p) = rescore_precision {
        index.set_rescoring(sbert::util::quantize_embeddings(
            &embeddings,
            p,
            None,
            None,
        )?)?;
    }
    index.save(&dir)?;
    print_json(&serde_json::json!({
        "index": dir,
        "documents": index.len(),
        "dim": index.dim(),
        "precision": precision,
        "rescore_precision": rescore_precision,
        "connectivity": connectivity,
        "expansion_add": expansion_add,
        "expansion_search": expansion_search,
        "encode_seconds": encode_s,
        "build_seconds": build_s,
        "size_bytes": index.size_bytes(),
        "memory_bytes": index.memory_bytes(),
    }))
}

fn search(args: SearchArgs) -> sbert::Result<()> {
    let SearchArgs {
        index: dir,
        model: model_name,
        dtype,
        queries,
        top_k,
        expansion_search,
        rescore_multiplier,
        run,
        tag,
        batch_size,
        progress,
    } = args;
    if top_k == 0 {
        return Err(sbert::Error::InvalidInput(
            "--top-k must be at least 1 (top_k 0 writes an empty run)".into(),
        ));
    }
    let mut index = AnnIndex::load(&dir)?;
    if let Some(ef) = expansion_search {
        index.set_expansion_search(ef)?;
    }
    let ids = index.ids().ok_or_else(|| {
        sbert::Error::InvalidInput(format!(
            "{} keeps no document ids (build it with `sbert index build`)",
            dir.display()
        ))
    })?;
    if rescore_multiplier.is_some() && index.rescoring().is_none() {
        return Err(sbert::Error::InvalidInput(format!(
            "{} keeps no rescoring copy (build it with --rescore-precision int8)",
            dir.display()
        )));
    }
    let qs = super::runs::read_queries(&queries, &tag, &run)?;
    let model = dtype.load(&model_name)?;
    let opts = encode_options(batch_size, progress);
    if let Some(stamp) = index.model() {
        if stamp.fingerprint != model.fingerprint(&opts)? {
            return Err(sbert::Error::InvalidInput(format!(
                "{} was built with the model {}, not --model {model_name} (or with another --dtype)",
                dir.display(),
                stamp.name
            )));
        }
    }
    let texts: Vec<String> = qs.iter().map(|q| q.text.clone()).collect();
    let q = model.encode(&texts, &opts)?;
    let start = Instant::now();
    let hits = match rescore_multiplier {
        Some(m) => index.search_rescored_stored(&q, top_k, m)?,
        None => index.search(&q, top_k)?,
    };
    let seconds = start.elapsed().as_secs_f64();
    let ranked = super::runs::ranked_by_ids(&qs, &hits, ids);
    sbert::datasets::trec::write_run(&run, &ranked, &tag)?;
    eprintln!(
        "ANN ({}): {} queries in {} documents in {seconds:.3} s; wrote {}",
        format!("{index:?}"),
        qs.len(),
        index.len(),
        run.display()
    );
    Ok(())
}
