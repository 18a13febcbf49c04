//! `sbert lancedb ingest` (a corpus's ids, texts and embeddings into a LanceDB table) and `sbert
//! lancedb search` (queries into a TREC run).

use std::path::PathBuf;
use std::time::Instant;

use clap::{Args, Subcommand};
use sbert::prelude::*;
use sbert::vectordb::LanceTable;

use super::load::DtypeArg;
use super::output::print_json;
use super::runs::{CorpusArgs, CorpusEmbeddings};

/// `sbert lancedb …`.
#[derive(Subcommand)]
pub enum LancedbCommand {
    /// Write a corpus (ids, texts, embeddings) into a LanceDB table.
    Ingest(IngestArgs),
    /// Search queries in a LanceDB table into a TREC run.
    Search(SearchArgs),
}

/// Arguments of `sbert lancedb ingest`.
#[derive(Args)]
pub struct IngestArgs {
    /// (From a shard folder, written shard by shard.)
    #[command(flatten)]
    pub source: CorpusArgs,
    /// The database: a folder, or object storage (`s3://bucket/path`).
    #[arg(long)]
    pub uri: String,
    /// The table's name.
    #[arg(long)]
    pub table: String,
    /// Replace an existing table of that name (refused otherwise).
    #[arg(long)]
    pub overwrite: bool,
    /// Also build LanceDB's IVF-PQ vector index (approximate search; from about 100,000 rows).
    #[arg(long)]
    pub index: bool,
}

/// Arguments of `sbert lancedb search`.
#[derive(Args)]
pub struct SearchArgs {
    /// The database (as given to `ingest`).
    #[arg(long)]
    pub uri: String,
    #[arg(long)]
    pub table: String,
    /// The model that made the table's embeddings.
    #[arg(long, default_value = "all-MiniLM-L6-v2")]
    pub model: String,
    #[command(flatten)]
    pub dtype: DtypeArg,
    /// Queries: BEIR jsonl ({"_id","text"}) or id<TAB>text.
    #[arg(long)]
    pub queries: PathBuf,
    #[arg(long, default_value_t = 10)]
    pub top_k: usize,
    /// Output TREC run (written atomically).
    #[arg(long)]
    pub run: PathBuf,
    #[arg(long, default_value = "lancedb")]
    pub tag: String,
    #[arg(long, default_value_t = 32)]
    pub batch_size: usize,
}

/// Runs `sbert lancedb …`.
pub fn lancedb(command: LancedbCommand) -> sbert::Result<()> {
    match command {
        LancedbCommand::Ingest(args) => ingest(args),
        LancedbCommand::Search(args) => search(args),
    }
}

fn ingest(args: IngestArgs) -> sbert::Result<()> {
    let IngestArgs {
        source,
        uri,
        table,
        overwrite,
        index,
    } = args;
    let start = Instant::now();
    let loaded = source.load("lancedb")?;
    let ids: Vec<String> = loaded.docs.iter().map(|d| d.id.clone()).collect();
    let texts: Vec<String> = loaded.docs.iter().map(|d| d.contents()).collect();
    let lance = match &loaded.embeddings {
        CorpusEmbeddings::Shards(s) => {
            LanceTable::create_from_shards(&uri, &table, &ids, &texts, s, overwrite)?
        }
        CorpusEmbeddings::Encoded(e) => {
            LanceTable::create(&uri, &table, &ids, &texts, e, overwrite)?
        }
    };
    let write_s = start.elapsed().as_secs_f64();
    let start = Instant::now();
    if index {
        lance.create_index()?;
    }
    print_json(&serde_json::json!({
        "uri": uri,
        "table": table,
        "rows": lance.len()?,
        "dim": lance.dim(),
        "seconds": write_s,
        "index_seconds": if index { Some(start.elapsed().as_secs_f64()) } else { None },
    }))
}

fn search(args: SearchArgs) -> sbert::Result<()> {
    let SearchArgs {
        uri,
        table,
        model,
        dtype,
        queries,
        top_k,
        run,
        tag,
        batch_size,
    } = args;
    if top_k == 0 {
        return Err(sbert::Error::InvalidInput(
            "--top-k must be at least 1 (top_k 0 writes an empty run)".into(),
        ));
    }
    let lance = LanceTable::open(&uri, &table)?;
    let qs = super::runs::read_queries(&queries, &tag, &run)?;
    let model = dtype.load(&model)?;
    if model.get_sentence_embedding_dimension() != lance.dim() {
        return Err(sbert::Error::InvalidInput(format!(
            "table {table} holds embeddings of dimension {}, --model makes {}",
            lance.dim(),
            model.get_sentence_embedding_dimension()
        )));
    }
    let opts = EncodeOptions::default()
        .batch_size(batch_size)
        .normalize_embeddings(true);
    let texts: Vec<String> = qs.iter().map(|q| q.text.clone()).collect();
    let q = model.encode(&texts, &opts)?;
    let ids = lance.ids()?;
    let start = Instant::now();
    let hits = lance.search(&q, top_k)?;
    let seconds = start.elapsed().as_secs_f64();
    let ranked = super::runs::ranked_by_ids(&qs, &hits, &ids);
    sbert::datasets::trec::write_run(&run, &ranked, &tag)?;
    eprintln!(
        "LanceDB: {} queries in {} rows of {table} in {seconds:.3} s; wrote {}",
        qs.len(),
        ids.len(),
        run.display()
    );
    Ok(())
}
