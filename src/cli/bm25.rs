//! `sbert bm25 index` (a corpus into a tantivy index on disk) and `sbert bm25 search` (queries into
//! a TREC run).

use std::path::PathBuf;
use std::time::Instant;

use clap::{Args, Subcommand};
use sbert::bm25::{Analyzer, Bm25Index, Bm25Options};

use super::output::print_json;

/// `sbert bm25 …`.
#[derive(Subcommand)]
pub enum Bm25Command {
    /// Index a corpus (BEIR jsonl, the course's Answers.json, or id<TAB>text) into a folder.
    Index(IndexArgs),
    /// Search queries in an index into a TREC run.
    Search(SearchArgs),
}

/// Arguments of `sbert bm25 index`.
#[derive(Args)]
pub struct IndexArgs {
    /// Corpus: BEIR jsonl ({"_id","title","text"}), the course's Answers.json, or id<TAB>text.
    #[arg(long)]
    pub corpus: PathBuf,
    /// The index folder (written atomically; an existing sbert index there is replaced).
    #[arg(long)]
    pub index: PathBuf,
    /// Do not stem (Snowball English stemming by default).
    #[arg(long)]
    pub no_stem: bool,
    /// Stop words: `lucene` (Lucene's English set, the default), `none`, or a file with one word
    /// per line.
    #[arg(long, default_value = "lucene")]
    pub stop_words: String,
}

/// Arguments of `sbert bm25 search`.
#[derive(Args)]
pub struct SearchArgs {
    /// The index folder (`sbert bm25 index`).
    #[arg(long)]
    pub index: PathBuf,
    /// Queries: BEIR jsonl ({"_id","text"}) or id<TAB>text.
    #[arg(long)]
    pub queries: PathBuf,
    /// Documents per query.
    #[arg(long, default_value_t = 1000)]
    pub top_k: usize,
    /// BM25's term-frequency saturation.
    #[arg(long, default_value_t = 0.9)]
    pub k1: f32,
    /// BM25's length normalisation (0 to 1).
    #[arg(long, default_value_t = 0.4)]
    pub b: f32,
    /// Output TREC run (written atomically).
    #[arg(long)]
    pub run: PathBuf,
    /// The run tag (last column).
    #[arg(long, default_value = "bm25")]
    pub tag: String,
}

/// Runs `sbert bm25 …`.
pub fn bm25(command: Bm25Command) -> sbert::Result<()> {
    match command {
        Bm25Command::Index(args) => index(args),
        Bm25Command::Search(args) => search(args),
    }
}

fn corpus(path: &std::path::Path) -> sbert::Result<Vec<sbert::datasets::Document>> {
    let is_answers = path
        .file_name()
        .is_some_and(|n| n.to_string_lossy().eq_ignore_ascii_case("answers.json"));
    let docs = if is_answers {
        sbert::datasets::stackexchange::read_answers(path)?
    } else {
        sbert::data::read_records(path)?
    };
    if docs.is_empty() {
        return Err(sbert::Error::InvalidInput(format!(
            "{} has no documents",
            path.display()
        )));
    }
    Ok(docs)
}

fn index(args: IndexArgs) -> sbert::Result<()> {
    let IndexArgs {
        corpus: path,
        index,
        no_stem,
        stop_words,
    } = args;
    let stop_words = match stop_words.as_str() {
        "lucene" => Analyzer::default().stop_words,
        "none" => Vec::new(),
        file => sbert::data::read_lines(std::path::Path::new(file))?
            .into_iter()
            .map(|w| w.trim().to_lowercase())
            .filter(|w| !w.is_empty())
            .collect(),
    };
    let analyzer = Analyzer {
        stem: !no_stem,
        stop_words,
    };
    let docs = corpus(&path)?;
    sbert::datasets::trec::check_run_ids("bm25", docs.iter().map(|d| d.id.as_str()))?;
    let start = Instant::now();
    let built = Bm25Index::build(&index, &docs, &analyzer)?;
    let seconds = start.elapsed().as_secs_f64();
    print_json(&serde_json::json!({
        "index": index,
        "documents": built.len(),
        "seconds": seconds,
        "size_bytes": built.size_bytes(),
        "stem": built.analyzer().stem,
        "stop_words": built.analyzer().stop_words.len(),
    }))
}

fn search(args: SearchArgs) -> sbert::Result<()> {
    let SearchArgs {
        index,
        queries,
        top_k,
        k1,
        b,
        run,
        tag,
    } = args;
    let options = Bm25Options { top_k, k1, b };
    let bm25 = Bm25Index::open(&index)?;
    let qs = super::runs::read_queries(&queries, &tag, &run)?;
    let start = Instant::now();
    let ranked = bm25.search_all(&qs, &options)?;
    let seconds = start.elapsed().as_secs_f64();
    sbert::datasets::trec::write_run(&run, &ranked, &tag)?;
    eprintln!(
        "BM25 (k1 {k1}, b {b}): {} queries in {} documents in {seconds:.3} s; wrote {}",
        qs.len(),
        bm25.len(),
        run.display()
    );
    Ok(())
}
