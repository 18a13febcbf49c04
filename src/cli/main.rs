//! The `sbert` command line: argument parsing and dispatch only. Each command group lives in its
//! own file and calls the library; every subcommand's JSON shape is documented in the README.

mod bench;
mod bm25;
mod convert;
mod embed;
mod evaluate;
#[cfg(feature = "ann")]
mod index;
#[cfg(feature = "lancedb")]
mod lancedb;
mod load;
mod output;
mod runs;
mod search;
mod train;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "sbert",
    version,
    about = "Sentence-BERT in Rust: sentence-transformers' encode, cos_sim, pairs and semantic_search"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Run the CPU kernels on this instruction set (amx, avx512, avx2, scalar) instead of the best the
    /// CPU has (as the environment variable SBERT_ISA); for comparing and testing the paths.
    #[arg(long, global = true, value_name = "ISA")]
    isa: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Embed one sentence per line into a float32 .npy [n, dim].
    Encode(embed::EncodeArgs),
    /// The cos_sim matrix of the sentences of a file.
    Similarity(embed::SimilarityArgs),
    /// The most similar pairs (i < j) of the sentences of a file, best first.
    Pairs(embed::PairsArgs),
    /// Semantic search of queries in a corpus; writes a TREC run file.
    Search(search::SearchArgs),
    /// BM25 (tantivy): index a corpus on disk, search queries into a TREC run.
    Bm25 {
        #[command(subcommand)]
        what: bm25::Bm25Command,
    },
    /// Approximate nearest-neighbour index (USearch HNSW): build from a corpus, search into a TREC run.
    #[cfg(feature = "ann")]
    Index {
        #[command(subcommand)]
        what: index::IndexCommand,
    },
    /// A corpus in a LanceDB table (feature lancedb): ingest ids, texts and embeddings; search into a TREC run.
    #[cfg(feature = "lancedb")]
    Lancedb {
        #[command(subcommand)]
        what: lancedb::LancedbCommand,
    },
    /// Score documents against a query with a cross-encoder (CrossEncoder.rank): best first.
    Rerank(search::RerankArgs),
    /// Re-rank any TREC run (BM25, dense, fused) with a cross-encoder or a bi-encoder: its top documents re-scored.
    RerankRun(search::RerankRunArgs),
    /// trec_eval measures of a run (TREC or BEIR qrels).
    Evaluate(evaluate::EvaluateArgs),
    /// STS evaluation: Spearman and Pearson of cosine similarity vs gold scores (STS Benchmark TSV).
    Sts(evaluate::StsArgs),
    /// Project Part 3: compare two runs query by query; optional ski-jump plot as SVG.
    Compare(evaluate::CompareArgs),
    /// Fuse two or more TREC runs (ranx.fuse): RRF, CombSUM/MAX/MIN/MNZ or weighted sum.
    Fuse(evaluate::FuseArgs),
    /// Several runs' measures with significance marks (ranx.compare): text, Markdown or LaTeX.
    Report(evaluate::ReportArgs),
    /// Fine-tune a bi-encoder on jsonl InputExamples (`{"texts": [a, b], "label": 1.0}` per line).
    Fit(train::FitArgs),
    /// Train a reranker (CrossEncoder, binary cross-entropy) on jsonl {"texts": [query, passage], "label": 0|1}.
    FitCrossEncoder(train::FitCrossEncoderArgs),
    /// Convert a data set to BEIR jsonl (corpus.jsonl, queries.jsonl, qrels/test.tsv) or STS pairs to jsonl.
    Convert {
        #[command(subcommand)]
        what: convert::ConvertKind,
    },
    /// Exact search benchmark on random seeded unit vectors: seconds and peak RSS.
    BenchSearch(bench::BenchSearchArgs),
    /// Training throughput benchmark (MNRL, pairs/s) on the first N lines of a file paired with the next line.
    BenchFit(bench::BenchFitArgs),
    /// Encoding throughput benchmark: sentences/s, tokens/s, peak RSS.
    BenchEncode(bench::BenchEncodeArgs),
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> sbert::Result<()> {
    if let Some(isa) = &cli.isa {
        sbert::cpu::set_isa(Some(isa.parse()?))?;
    }
    match cli.command {
        Command::Encode(args) => embed::encode(args),
        Command::Similarity(args) => embed::similarity(args),
        Command::Pairs(args) => embed::pairs(args),
        Command::Search(args) => search::search(args),
        Command::Bm25 { what } => bm25::bm25(what),
        #[cfg(feature = "ann")]
        Command::Index { what } => index::index(what),
        #[cfg(feature = "lancedb")]
        Command::Lancedb { what } => lancedb::lancedb(what),
        Command::Rerank(args) => search::rerank(args),
        Command::RerankRun(args) => search::rerank_run(args),
        Command::Evaluate(args) => evaluate::evaluate(args),
        Command::Sts(args) => evaluate::sts(args),
        Command::Compare(args) => evaluate::compare(args),
        Command::Fuse(args) => evaluate::fuse(args),
        Command::Report(args) => evaluate::report(args),
        Command::Convert { what } => convert::convert(what),
        Command::Fit(args) => train::fit(args),
        Command::FitCrossEncoder(args) => train::fit_cross_encoder(args),
        Command::BenchSearch(args) => bench::bench_search(args),
        Command::BenchFit(args) => bench::bench_fit(args),
        Command::BenchEncode(args) => bench::bench_encode(args),
    }
}
