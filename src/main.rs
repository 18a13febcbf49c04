//! The `sbert` command line: encode, similarity, pairs, search, bench-encode.
//! Every subcommand's JSON shape is documented in the README.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, Subcommand};
use sbert::prelude::*;

#[derive(Parser)]
#[command(
    name = "sbert",
    version,
    about = "Sentence-BERT in Rust: sentence-transformers' encode, cos_sim, pairs and semantic_search"
)]
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
        /// Re-rank the bi-encoder's hits with this cross-encoder (folder or id).
        #[arg(long)]
        rerank: Option<String>,
        /// How many bi-encoder hits per query the cross-encoder re-scores (retrieves max(top-k, this);
        /// hits past it follow in bi-encoder order; the run keeps --top-k per query).
        #[arg(long, default_value_t = 100)]
        rerank_top: usize,
        /// Interpolate instead of replacing: W · z(bi-encoder score) + (1 − W) · z(cross-encoder
        /// logit) over each query's re-ranked hits (W in [0, 1]; choose it on validation queries).
        #[arg(long)]
        interpolate: Option<f32>,
    },
    /// trec_eval measures of a run (TREC or BEIR qrels).
    Evaluate {
        /// Qrels: TREC (`qid 0 docid grade`) or BEIR TSV (`query-id corpus-id score`, header).
        #[arg(long)]
        qrels: PathBuf,
        /// TREC run (`qid Q0 docid rank score tag`).
        #[arg(long)]
        run: PathBuf,
        /// Comma-separated trec_eval measures.
        #[arg(
            long,
            default_value = "P_1,P_5,P_10,recall_100,ndcg_cut_5,ndcg_cut_10,recip_rank,map,bpref"
        )]
        metrics: String,
        /// Grade from which a document counts as relevant (all measures but nDCG).
        #[arg(long, default_value_t = 1)]
        rel_level: i32,
        /// Also print each query's values.
        #[arg(long)]
        per_query: bool,
        #[arg(long)]
        json: bool,
    },
    /// STS evaluation: Spearman and Pearson of cosine similarity vs gold scores (STS Benchmark TSV).
    Sts {
        #[arg(long, default_value = "all-MiniLM-L6-v2")]
        model: String,
        /// An STS Benchmark file (e.g. sts-test.csv).
        #[arg(long)]
        data: PathBuf,
        #[arg(long, default_value_t = 16)]
        batch_size: usize,
        #[arg(long)]
        json: bool,
    },
    /// Project Part 3: compare two runs query by query; optional ski-jump plot as SVG.
    Compare {
        #[arg(long)]
        qrels: PathBuf,
        /// Run A (e.g. the pretrained model's).
        run_a: PathBuf,
        /// Run B (e.g. the fine-tuned model's).
        run_b: PathBuf,
        #[arg(long, default_value = "P_5")]
        metric: String,
        #[arg(long, default_value_t = 1)]
        rel_level: i32,
        /// Names of the two runs, comma-separated.
        #[arg(long, default_value = "A,B")]
        names: String,
        /// Queries (BEIR jsonl or id<TAB>text) to show their text.
        #[arg(long)]
        queries: Option<PathBuf>,
        /// Corpus (BEIR jsonl or id<TAB>text) to show the top hits' text.
        #[arg(long)]
        corpus: Option<PathBuf>,
        /// Write the ski-jump plot here.
        #[arg(long)]
        svg: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Convert a data set to BEIR jsonl (corpus.jsonl, queries.jsonl, qrels/test.tsv) or STS pairs to jsonl.
    Convert {
        #[command(subcommand)]
        what: ConvertKind,
    },
    /// Exact search benchmark on random seeded unit vectors: seconds and peak RSS.
    BenchSearch {
        #[arg(long, default_value_t = 1_000_000)]
        corpus_size: usize,
        #[arg(long, default_value_t = 1000)]
        queries: usize,
        #[arg(long, default_value_t = 384)]
        dim: usize,
        #[arg(long, default_value_t = 10)]
        top_k: usize,
        #[arg(long, default_value_t = 100)]
        query_chunk_size: usize,
        #[arg(long, default_value_t = 500_000)]
        corpus_chunk_size: usize,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        #[arg(long)]
        json: bool,
    },
    /// Fine-tune a bi-encoder on jsonl InputExamples (`{"texts": [a, b], "label": 1.0}` per line).
    Fit {
        #[arg(long, default_value = "all-MiniLM-L6-v2")]
        model: String,
        /// Training examples (jsonl).
        #[arg(long)]
        train: PathBuf,
        /// Losses, comma-separated, each one objective over the same data: mnrl (label-1 pairs),
        /// online-contrastive, contrastive, cosine.
        #[arg(long, default_value = "mnrl,online-contrastive")]
        loss: String,
        #[arg(long, default_value_t = 1)]
        epochs: usize,
        #[arg(long, default_value_t = 16)]
        batch_size: usize,
        #[arg(long, default_value_t = 128)]
        max_seq_length: usize,
        #[arg(long, default_value_t = 100)]
        warmup_steps: usize,
        #[arg(long, default_value_t = 2e-5)]
        lr: f64,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Stop after this many training steps.
        #[arg(long)]
        max_steps: Option<usize>,
        /// Evaluate on an STS Benchmark file after each epoch (best model is saved).
        #[arg(long)]
        eval_sts: Option<PathBuf>,
        /// Output folder (sentence-transformers format, written atomically).
        #[arg(long)]
        output: PathBuf,
        #[arg(long)]
        progress: bool,
    },
    /// Score documents against a query with a cross-encoder (CrossEncoder.rank): best first.
    Rerank {
        /// Cross-encoder folder or id.
        #[arg(long)]
        model: String,
        /// The query.
        #[arg(long)]
        query: String,
        /// Documents, one per line.
        #[arg(long)]
        input: PathBuf,
        /// Keep the best N (all by default).
        #[arg(long)]
        top_k: Option<usize>,
        /// Raw logits instead of sigmoid scores.
        #[arg(long)]
        logits: bool,
        #[arg(long, default_value_t = 32)]
        batch_size: usize,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Train a reranker (CrossEncoder, binary cross-entropy) on jsonl {"texts": [query, passage], "label": 0|1}.
    FitCrossEncoder {
        /// Bi-encoder or BERT checkpoint whose encoder (and pooler) starts the reranker.
        #[arg(long, default_value = "all-MiniLM-L6-v2")]
        model: String,
        /// Training examples (jsonl).
        #[arg(long)]
        train: PathBuf,
        #[arg(long, default_value_t = 1)]
        epochs: usize,
        #[arg(long, default_value_t = 16)]
        batch_size: usize,
        /// Longest (query, passage) pair in tokens.
        #[arg(long, default_value_t = 256)]
        max_seq_length: usize,
        #[arg(long, default_value_t = 100)]
        warmup_steps: usize,
        #[arg(long, default_value_t = 2e-5)]
        lr: f64,
        /// Seed of the shuffles and of the new classifier head.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Stop after this many training steps.
        #[arg(long)]
        max_steps: Option<usize>,
        /// Output folder (Hugging Face sequence-classification format, written atomically).
        #[arg(long)]
        output: PathBuf,
        #[arg(long)]
        progress: bool,
    },
    /// Training throughput benchmark (MNRL, pairs/s) on the first N lines of a file paired with the next line.
    BenchFit {
        #[arg(long, default_value = "all-MiniLM-L6-v2")]
        model: String,
        #[arg(long)]
        input: PathBuf,
        #[arg(long, default_value_t = 160)]
        pairs: usize,
        #[arg(long, default_value_t = 16)]
        batch_size: usize,
        #[arg(long, default_value_t = 128)]
        max_seq_length: usize,
        #[arg(long)]
        json: bool,
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

#[derive(Subcommand)]
enum ConvertKind {
    /// SciFact as shipped (scifact.zip + BEIR topics and qrels) → BEIR folder.
    Scifact {
        /// Folder with scifact.zip, topics.beir-v1.0.0-scifact.test.tsv.gz, qrels.beir-v1.0.0-scifact.test.txt.
        #[arg(long)]
        data_dir: PathBuf,
        #[arg(long)]
        out: PathBuf,
    },
    /// The course's StackExchange format (Answers.json, topics_N.json, qrel_N.tsv) → BEIR folder.
    Stackexchange {
        #[arg(long)]
        answers: PathBuf,
        #[arg(long)]
        topics: PathBuf,
        #[arg(long)]
        qrels: Option<PathBuf>,
        #[arg(long)]
        out: PathBuf,
    },
    /// STS Benchmark TSV → jsonl `{"texts": [s1, s2], "label": score / 5}` (the training format).
    Sts {
        #[arg(long)]
        input: PathBuf,
        #[arg(long)]
        out: PathBuf,
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
        Command::Encode {
            model,
            batch_size,
            no_normalize,
            input,
            output,
            progress,
        } => {
            let sentences = sbert::data::read_lines(&input)?;
            let model = SentenceTransformer::load(&model)?;
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
        Command::Pairs {
            model,
            input,
            top_k,
            json,
        } => {
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
        Command::Search {
            model,
            corpus,
            queries,
            top_k,
            score,
            run,
            tag,
            batch_size,
            progress,
            rerank,
            rerank_top,
            interpolate,
        } => {
            let score_function: ScoreFunction = score.parse()?;
            if tag.chars().any(char::is_whitespace) || tag.is_empty() {
                return Err(Error::InvalidInput("--tag must be one word".into()));
            }
            let docs = sbert::data::read_records(&corpus)?;
            let qs = sbert::data::read_records(&queries)?;
            for r in docs.iter().chain(&qs) {
                if r.id.is_empty() || r.id.chars().any(char::is_whitespace) {
                    return Err(Error::InvalidInput(format!(
                        "id {:?} cannot be written to a TREC run (empty or has spaces)",
                        r.id
                    )));
                }
            }
            let model = SentenceTransformer::load(&model)?;
            let opts = EncodeOptions::default()
                .batch_size(batch_size)
                .show_progress_bar(progress);
            let ds = sbert::datasets::RetrievalDataset {
                corpus: docs.clone(),
                queries: qs
                    .iter()
                    .map(|q| sbert::datasets::Query {
                        id: q.id.clone(),
                        text: q.contents(),
                    })
                    .collect(),
                qrels: Default::default(),
            };
            let depth = if rerank.is_some() {
                top_k.max(rerank_top)
            } else {
                top_k
            };
            let mut ranked =
                sbert::evaluation::retrieval::retrieve(&model, &ds, depth, score_function, &opts)?;
            if interpolate.is_some() && rerank.is_none() {
                return Err(sbert::Error::InvalidInput(
                    "--interpolate needs --rerank".into(),
                ));
            }
            if let Some(w) = interpolate.filter(|w| !(0.0..=1.0).contains(w)) {
                return Err(sbert::Error::InvalidInput(format!(
                    "--interpolate {w} is not in [0, 1]"
                )));
            }
            if let Some(ce) = &rerank {
                let ce = sbert::cross_encoder::CrossEncoder::load(ce)?;
                let by_id: std::collections::HashMap<&str, String> =
                    docs.iter().map(|d| (d.id.as_str(), d.contents())).collect();
                let popts = sbert::cross_encoder::PredictOptions {
                    show_progress_bar: progress,
                    apply_activation: interpolate.is_none(),
                    ..Default::default()
                };
                let reranked = sbert::cross_encoder::rerank_run(
                    &ce,
                    &ds.queries,
                    &ranked,
                    |id| by_id.get(id).cloned(),
                    rerank_top,
                    &popts,
                )?;
                ranked = match interpolate {
                    Some(w) => {
                        sbert::cross_encoder::interpolate_scores(&ranked, &reranked, rerank_top, w)?
                    }
                    None => reranked,
                };
                ranked.iter_mut().for_each(|(_, docs)| docs.truncate(top_k));
            }
            sbert::datasets::trec::write_run(&run, &ranked, &tag)?;
            eprintln!(
                "searched {} queries in {} documents; wrote {}",
                qs.len(),
                docs.len(),
                run.display()
            );
        }
        Command::Evaluate {
            qrels,
            run,
            metrics,
            rel_level,
            per_query,
            json,
        } => {
            let measures = sbert::evaluation::Measure::parse_list(&metrics)?;
            let qrels = sbert::data::read_any_qrels(&qrels)?;
            let run = sbert::datasets::trec::read_run(&run)?;
            let mut ev = sbert::evaluation::evaluate(&qrels, &run, &measures, rel_level);
            if json {
                if !per_query {
                    ev.per_query.clear();
                }
                print_json(&ev)?;
            } else {
                print!("{}", ev.to_trec_eval(per_query));
            }
        }
        Command::Sts {
            model,
            data,
            batch_size,
            json,
        } => {
            let pairs = sbert::datasets::sts::read_sts(&data)?;
            let model = SentenceTransformer::load(&model)?;
            let mut ev = sbert::evaluation::EmbeddingSimilarityEvaluator::from_sts(&pairs)?;
            ev.batch_size = batch_size;
            let report = sbert::evaluation::Evaluator::evaluate(&ev, &model)?;
            let (s, p) = (
                report.metrics["spearman_cosine"],
                report.metrics["pearson_cosine"],
            );
            if json {
                print_json(
                    &serde_json::json!({"pairs": pairs.len(), "spearman_cosine": s, "pearson_cosine": p}),
                )?;
            } else {
                println!(
                    "{} pairs: Spearman {s:.6}, Pearson {p:.6} (cosine)",
                    pairs.len()
                );
            }
        }
        Command::Compare {
            qrels,
            run_a,
            run_b,
            metric,
            rel_level,
            names,
            queries,
            corpus,
            svg,
            json,
        } => {
            let measure: sbert::evaluation::Measure = metric.parse()?;
            let qrels = sbert::data::read_any_qrels(&qrels)?;
            let a = sbert::datasets::trec::read_run(&run_a)?;
            let b = sbert::datasets::trec::read_run(&run_b)?;
            let (na, nb) = names.split_once(',').unwrap_or(("A", "B"));
            let mut cmp = sbert::evaluation::RunComparison::new(&qrels, &a, &b, measure, rel_level)
                .names(na, nb);
            let qs: Vec<sbert::datasets::Query> = match &queries {
                Some(p) => sbert::data::read_records(p)?
                    .into_iter()
                    .map(|d| sbert::datasets::Query {
                        text: d.contents(),
                        id: d.id,
                    })
                    .collect(),
                None => Vec::new(),
            };
            let docs = match &corpus {
                Some(p) => sbert::data::read_records(p)?,
                None => Vec::new(),
            };
            cmp = cmp.with_texts(&qs, &docs);
            if let Some(path) = &svg {
                sbert::npy::write_atomic(path, cmp.ski_jump_svg().as_bytes())?;
                eprintln!("wrote {}", path.display());
            }
            if json {
                print_json(&cmp)?;
            } else {
                print!("{cmp}");
            }
        }
        Command::Convert { what } => match what {
            ConvertKind::Scifact { data_dir, out } => {
                let ds = sbert::datasets::scifact::load_test(&data_dir)?;
                ds.write_beir(&out)?;
                eprintln!(
                    "wrote {} documents, {} queries to {}",
                    ds.corpus.len(),
                    ds.queries.len(),
                    out.display()
                );
            }
            ConvertKind::Stackexchange {
                answers,
                topics,
                qrels,
                out,
            } => {
                let ds = sbert::datasets::stackexchange::load(&answers, &topics, qrels.as_deref())?;
                ds.write_beir(&out)?;
                eprintln!(
                    "wrote {} documents, {} queries to {}",
                    ds.corpus.len(),
                    ds.queries.len(),
                    out.display()
                );
            }
            ConvertKind::Sts { input, out } => {
                let pairs = sbert::datasets::sts::read_sts(&input)?;
                let mut text = String::new();
                for p in &pairs {
                    text.push_str(&serde_json::json!({"texts": [p.sentence1, p.sentence2], "label": p.score / 5.0}).to_string());
                    text.push('\n');
                }
                sbert::npy::write_atomic(&out, text.as_bytes())?;
                eprintln!("wrote {} pairs to {}", pairs.len(), out.display());
            }
        },
        Command::BenchSearch {
            corpus_size,
            queries,
            dim,
            top_k,
            query_chunk_size,
            corpus_chunk_size,
            seed,
            json,
        } => {
            let t0 = Instant::now();
            let corpus = sbert::embeddings::Embeddings::random_unit(corpus_size, dim, seed)?;
            let q = sbert::embeddings::Embeddings::random_unit(queries, dim, seed.wrapping_add(1))?;
            let gen_s = t0.elapsed().as_secs_f64();
            let opts = SearchOptions::default()
                .top_k(top_k)
                .query_chunk_size(query_chunk_size)
                .corpus_chunk_size(corpus_chunk_size);
            let t1 = Instant::now();
            let hits = semantic_search(&q, &corpus, &opts)?;
            let secs = t1.elapsed().as_secs_f64();
            let report = serde_json::json!({
                "corpus_size": corpus_size, "queries": queries, "dim": dim, "top_k": top_k,
                "threads": rayon::current_num_threads(), "seconds": secs, "data_generation_s": gen_s,
                "peak_rss_mib": peak_rss_mib(), "data_mib": (corpus_size + queries) as f64 * dim as f64 * 4.0 / 1048576.0,
                "first_hit": hits.first().and_then(|h| h.first()).map(|h| (h.corpus_id, h.score)),
            });
            if json {
                print_json(&report)?;
            } else {
                println!(
                    "semantic_search: {queries} queries × {corpus_size} docs × dim {dim}, top-{top_k}: {secs:.2} s ({} threads); peak RSS {} MiB (data {:.0} MiB)",
                    rayon::current_num_threads(), peak_rss_mib().map_or("?".into(), |m| format!("{m:.0}")), report["data_mib"].as_f64().unwrap_or(0.0)
                );
            }
        }
        Command::Fit {
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
        } => {
            use sbert::losses::*;
            let examples = sbert::train::read_examples(&train)?;
            let mut m = SentenceTransformer::load(&model)?;
            let losses: Vec<Box<dyn Loss>> = loss
                .split(',')
                .map(|l| -> sbert::Result<Box<dyn Loss>> {
                    Ok(match l.trim() {
                        "mnrl" | "MultipleNegativesRankingLoss" => Box::new(MultipleNegativesRankingLoss::default()),
                        "online-contrastive" | "OnlineContrastiveLoss" => Box::new(OnlineContrastiveLoss::default()),
                        "contrastive" | "ContrastiveLoss" => Box::new(ContrastiveLoss::default()),
                        "cosine" | "CosineSimilarityLoss" => Box::new(CosineSimilarityLoss),
                        other => return Err(Error::InvalidInput(format!("unknown loss '{other}' (mnrl, online-contrastive, contrastive, cosine)"))),
                    })
                })
                .collect::<sbert::Result<_>>()?;
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
            let config = sbert::train::FitConfig {
                epochs,
                warmup_steps,
                lr,
                seed,
                max_steps,
                max_seq_length: Some(max_seq_length),
                output_path: Some(output.clone()),
                show_progress_bar: progress,
                ..Default::default()
            };
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
        }
        Command::Rerank {
            model,
            query,
            input,
            top_k,
            logits,
            batch_size,
            json,
        } => {
            let docs = sbert::data::read_lines(&input)?;
            let ce = sbert::cross_encoder::CrossEncoder::load(&model)?;
            let opts = sbert::cross_encoder::PredictOptions {
                batch_size,
                apply_activation: !logits,
                ..Default::default()
            };
            let ranking = ce.rank(&query, &docs, top_k, &opts)?;
            if json {
                print_json(&ranking.to_vec())?;
            } else {
                print!("{ranking}");
            }
        }
        Command::FitCrossEncoder {
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
        } => {
            let examples = sbert::train::read_examples(&train)?;
            let mut ce = sbert::cross_encoder::CrossEncoder::new_from_encoder(&model, 1, seed)?;
            let mut loader = sbert::train::DataLoader::new(examples, batch_size);
            loader.seed = seed;
            let config = sbert::train::FitConfig {
                epochs,
                warmup_steps,
                lr,
                seed,
                max_steps,
                max_seq_length: Some(max_seq_length),
                output_path: Some(output.clone()),
                show_progress_bar: progress,
                ..Default::default()
            };
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
        }
        Command::BenchFit {
            model,
            input,
            pairs,
            batch_size,
            max_seq_length,
            json,
        } => {
            let lines = sbert::data::read_lines(&input)?;
            if lines.len() < pairs + 1 {
                return Err(Error::InvalidInput(format!(
                    "need at least {} lines",
                    pairs + 1
                )));
            }
            let examples: Vec<_> = (0..pairs)
                .map(|i| {
                    sbert::train::InputExample::pair(lines[i].clone(), lines[i + 1].clone(), 1.0)
                })
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
                ..Default::default()
            };
            let t0 = Instant::now();
            let log = sbert::train::fit(&mut m, &objectives, &config, None, |_| {
                std::ops::ControlFlow::Continue(())
            })?;
            let secs = t0.elapsed().as_secs_f64();
            let report = serde_json::json!({"pairs": pairs, "batch_size": batch_size, "max_seq_length": max_seq_length, "steps": log.steps.len(),
                "seconds": secs, "pairs_per_s": pairs as f64 / secs, "seconds_per_step": secs / log.steps.len().max(1) as f64, "peak_rss_mib": peak_rss_mib()});
            if json {
                print_json(&report)?;
            } else {
                println!("fit (MNRL): {pairs} pairs, batch {batch_size}, max_seq_length {max_seq_length}: {secs:.1} s, {:.2} pairs/s ({:.2} s/step), peak RSS {} MiB",
                    pairs as f64 / secs, secs / log.steps.len().max(1) as f64, peak_rss_mib().map_or("?".into(), |m| format!("{m:.0}")));
            }
        }
        Command::BenchEncode {
            model,
            input,
            limit,
            batch_size,
            json,
        } => {
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
