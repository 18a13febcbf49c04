//! The `sbert` command line: encode, similarity, pairs, search, bench-encode.
//! Every subcommand's JSON shape is documented in the README.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, Subcommand};
use sbert::prelude::*;

#[derive(Parser)]
#[command(name = "sbert", version, about = "Sentence-BERT in Rust: sentence-transformers' encode, cos_sim, pairs and semantic_search")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Embed one sentence per line into a float32 .npy [n, dim].
    Encode {
        /// Model id or folder.
        #[arg(long, default_value = "all-MiniLM-L6-v2")]
        model: String,
        /// Sentences per batch.
        #[arg(long, default_value_t = 32)]
        batch_size: usize,
        /// Write the model's output as it is, without the final L2 normalisation.
        #[arg(long)]
        no_normalize: bool,
        /// Input file, one sentence per line ("-" for standard input).
        #[arg(long)]
        input: PathBuf,
        /// Output .npy file (written atomically).
        #[arg(long)]
        output: PathBuf,
        /// Show a progress bar.
        #[arg(long)]
        progress: bool,
    },
    /// The cos_sim matrix of the sentences of a file.
    Similarity {
        #[arg(long, default_value = "all-MiniLM-L6-v2")]
        model: String,
        #[arg(long)]
        input: PathBuf,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// The most similar pairs (i < j) of the sentences of a file, best first.
    Pairs {
        #[arg(long, default_value = "all-MiniLM-L6-v2")]
        model: String,
        #[arg(long)]
        input: PathBuf,
        #[arg(long, default_value_t = 5)]
        top_k: usize,
        #[arg(long)]
        json: bool,
    },
    /// Semantic search of queries in a corpus; writes a TREC run file.
    Search {
        #[arg(long, default_value = "all-MiniLM-L6-v2")]
        model: String,
        /// Corpus: BEIR jsonl ({"_id","title","text"}) or id<TAB>text.
        #[arg(long)]
        corpus: PathBuf,
        /// Queries: BEIR jsonl ({"_id","text"}) or id<TAB>text.
        #[arg(long)]
        queries: PathBuf,
        #[arg(long, default_value_t = 10)]
        top_k: usize,
        /// Score function: cos or dot.
        #[arg(long, default_value = "cos")]
        score: String,
        /// Output TREC run: qid Q0 docid rank score tag (written atomically).
        #[arg(long)]
        run: PathBuf,
        /// The run tag (last column).
        #[arg(long, default_value = "sbert")]
        tag: String,
        #[arg(long, default_value_t = 32)]
        batch_size: usize,
        #[arg(long)]
        progress: bool,
    },
    /// Encoding throughput benchmark: sentences/s, tokens/s, peak RSS.
    BenchEncode {
        #[arg(long, default_value = "all-MiniLM-L6-v2")]
        model: String,
        #[arg(long)]
        input: PathBuf,
        /// Use the first N lines.
        #[arg(long)]
        limit: Option<usize>,
        #[arg(long, default_value_t = 32)]
        batch_size: usize,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
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

fn print_json<T: serde::Serialize>(v: &T) -> sbert::Result<()> {
    let s = serde_json::to_string_pretty(v).map_err(|e| Error::InvalidInput(e.to_string()))?;
    println!("{s}");
    Ok(())
}

/// Peak resident set size of this process in MiB (Linux; `None` elsewhere).
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn run(cli: Cli) -> sbert::Result<()> {
    match cli.command {
        Command::Encode { model, batch_size, no_normalize, input, output, progress } => {
            let sentences = sbert::data::read_lines(&input)?;
            let model = SentenceTransformer::load(&model)?;
            let opts = EncodeOptions::default()
                .batch_size(batch_size)
                .normalize_embeddings(!no_normalize)
                .show_progress_bar(progress);
            let emb = model.encode(&sentences, &opts)?;
            sbert::npy::write_npy(&output, &emb)?;
            if !emb.truncated().is_empty() {
                eprintln!("note: {} sentence(s) truncated at {} tokens: lines {:?}", emb.truncated().len(), model.max_seq_length(), emb.truncated().iter().map(|i| i + 1).collect::<Vec<_>>());
            }
            eprintln!("wrote {} embeddings of dim {} to {}", emb.len(), emb.dim(), output.display());
        }
        Command::Similarity { model, input, json } => {
            let sentences = sbert::data::read_lines(&input)?;
            let model = SentenceTransformer::load(&model)?;
            let emb = model.encode(&sentences, &EncodeOptions::default())?;
            let m = cos_sim(&emb, &emb)?;
            if json {
                print_json(&serde_json::json!({"sentences": sentences, "matrix": m.to_vec2()}))?;
            } else {
                print!("{m}");
            }
        }
        Command::Pairs { model, input, top_k, json } => {
            let sentences = sbert::data::read_lines(&input)?;
            let model = SentenceTransformer::load(&model)?;
            let emb = model.encode(&sentences, &EncodeOptions::default())?;
            let pairs = top_pairs(&emb, top_k)?;
            if json {
                print_json(&pairs.to_vec())?;
            } else {
                print!("{pairs}");
            }
        }
        Command::Search { model, corpus, queries, top_k, score, run, tag, batch_size, progress } => {
            let score_function: ScoreFunction = score.parse()?;
            if tag.chars().any(char::is_whitespace) || tag.is_empty() {
                return Err(Error::InvalidInput("--tag must be one word".into()));
            }
            let docs = sbert::data::read_records(&corpus)?;
            let qs = sbert::data::read_records(&queries)?;
            for r in docs.iter().chain(&qs) {
                if r.id.is_empty() || r.id.chars().any(char::is_whitespace) {
                    return Err(Error::InvalidInput(format!("id {:?} cannot be written to a TREC run (empty or has spaces)", r.id)));
                }
            }
            let model = SentenceTransformer::load(&model)?;
            let opts = EncodeOptions::default().batch_size(batch_size).show_progress_bar(progress);
            let doc_texts: Vec<&str> = docs.iter().map(|d| d.text.as_str()).collect();
            let q_texts: Vec<&str> = qs.iter().map(|q| q.text.as_str()).collect();
            let c_emb = model.encode(&doc_texts, &opts)?;
            let q_emb = model.encode(&q_texts, &opts)?;
            let hits = semantic_search(&q_emb, &c_emb, &SearchOptions::default().top_k(top_k).score_function(score_function))?;
            let mut out = String::new();
            for (q, list) in qs.iter().zip(hits.iter()) {
                for (rank, h) in list.iter().enumerate() {
                    out.push_str(&format!("{} Q0 {} {} {} {}\n", q.id, docs[h.corpus_id].id, rank + 1, h.score, tag));
                }
            }
            sbert::npy::write_atomic(&run, out.as_bytes())?;
            eprintln!("searched {} queries in {} documents; wrote {}", qs.len(), docs.len(), run.display());
        }
        Command::BenchEncode { model, input, limit, batch_size, json } => {
            let mut sentences = sbert::data::read_lines(&input)?;
            if let Some(n) = limit {
                sentences.truncate(n);
            }
            let t0 = Instant::now();
            let model = SentenceTransformer::load(&model)?;
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
                "threads": rayon::current_num_threads(),
                "seconds": secs,
                "sentences_per_s": emb.len() as f64 / secs,
                "tokens_per_s": tokens as f64 / secs,
                "model_load_s": load_s,
                "peak_rss_mib": peak_rss_mib(),
            });
            if json {
                print_json(&report)?;
            } else {
                println!(
                    "encoded {} lines in {:.2} s: {:.1} sentences/s, {:.0} tokens/s, batch {}, {} threads, peak RSS {} MiB (model load {:.2} s)",
                    emb.len(), secs, emb.len() as f64 / secs, tokens as f64 / secs, batch_size, rayon::current_num_threads(),
                    peak_rss_mib().map_or("?".into(), |m| format!("{m:.0}")), load_s
                );
            }
        }
    }
    Ok(())
}
