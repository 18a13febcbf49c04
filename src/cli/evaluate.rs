//! `sbert evaluate` (trec_eval measures of a run), `sbert sts`, `sbert compare` (two runs), `sbert
//! fuse` (runs combined), `sbert report` (runs with significance marks).

use std::path::PathBuf;

use clap::Args;

use super::load::DtypeArg;
use super::output::print_json;

/// Arguments of `sbert evaluate`.
#[derive(Args)]
pub struct EvaluateArgs {
    /// Qrels: TREC (`qid 0 docid grade`) or BEIR TSV (`query-id corpus-id score`, header).
    #[arg(long)]
    pub qrels: PathBuf,
    /// TREC run (`qid Q0 docid rank score tag`).
    #[arg(long)]
    pub run: PathBuf,
    /// Comma-separated measures: trec_eval's names (P_k, recall_k, ndcg_cut_k, ndcg, map,
    /// map_cut_k, recip_rank, bpref, Rprec, success_k, gm_map, iprec_at_recall (its 11 points) or
    /// iprec_at_recall_0.10, num_ret, num_rel, num_rel_ret), ranx's (ndcg@10, mrr, …) or
    /// PyTerrier's (P.5, nDCG@10, AP, RR).
    #[arg(
        long,
        default_value = "P_1,P_5,P_10,recall_100,ndcg_cut_5,ndcg_cut_10,recip_rank,map,bpref"
    )]
    pub metrics: String,
    /// Grade from which a document counts as relevant (all measures but nDCG).
    #[arg(long, default_value_t = 1)]
    pub rel_level: i32,
    /// Also print each query's values.
    #[arg(long)]
    pub per_query: bool,
    #[arg(long)]
    pub json: bool,
}

/// Runs `sbert evaluate`.
pub fn evaluate(args: EvaluateArgs) -> sbert::Result<()> {
    let EvaluateArgs {
        qrels,
        run,
        metrics,
        rel_level,
        per_query,
        json,
    } = args;
    let measures = sbert::evaluation::Measure::parse_list(&metrics)?;
    let qrels = read_qrels(&qrels)?;
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
    Ok(())
}

/// Arguments of `sbert sts`.
#[derive(Args)]
pub struct StsArgs {
    #[arg(long, default_value = "all-MiniLM-L6-v2")]
    pub model: String,
    #[command(flatten)]
    pub dtype: DtypeArg,
    /// An STS Benchmark file (e.g. sts-test.csv).
    #[arg(long)]
    pub data: PathBuf,
    #[arg(long, default_value_t = 16)]
    pub batch_size: usize,
    #[arg(long)]
    pub json: bool,
}

/// Runs `sbert sts`.
pub fn sts(args: StsArgs) -> sbert::Result<()> {
    let StsArgs {
        dtype,
        model,
        data,
        batch_size,
        json,
    } = args;
    let pairs = sbert::datasets::sts::read_sts(&data)?;
    if pairs.len() < 2 {
        return Err(sbert::Error::InvalidInput(format!(
            "{} has {} STS pairs; a correlation needs at least 2",
            data.display(),
            pairs.len()
        )));
    }
    let model = dtype.load(&model)?;
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
    Ok(())
}

/// Arguments of `sbert compare`.
#[derive(Args)]
pub struct CompareArgs {
    #[arg(long)]
    pub qrels: PathBuf,
    /// Run A (e.g. the pretrained model's).
    pub run_a: PathBuf,
    /// Run B (e.g. the fine-tuned model's).
    pub run_b: PathBuf,
    #[arg(long, default_value = "P_5")]
    pub metric: String,
    #[arg(long, default_value_t = 1)]
    pub rel_level: i32,
    /// Names of the two runs, comma-separated.
    #[arg(long, default_value = "A,B")]
    pub names: String,
    /// Queries (BEIR jsonl or id<TAB>text) to show their text.
    #[arg(long)]
    pub queries: Option<PathBuf>,
    /// Corpus (BEIR jsonl or id<TAB>text) to show the top hits' text.
    #[arg(long)]
    pub corpus: Option<PathBuf>,
    /// Write the ski-jump plot here.
    #[arg(long)]
    pub svg: Option<PathBuf>,
    #[arg(long)]
    pub json: bool,
}

/// Runs `sbert compare`.
pub fn compare(args: CompareArgs) -> sbert::Result<()> {
    let CompareArgs {
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
    } = args;
    let measure: sbert::evaluation::Measure = metric.parse()?;
    let (na, nb) = names
        .split_once(',')
        .filter(|(a, b)| !a.trim().is_empty() && !b.trim().is_empty() && !b.contains(','))
        .ok_or_else(|| {
            sbert::Error::InvalidInput(format!(
                "--names needs the two runs' names, comma-separated (e.g. A,B), got {names:?}"
            ))
        })?;
    let qrels = read_qrels(&qrels)?;
    let a = sbert::datasets::trec::read_run(&run_a)?;
    let b = sbert::datasets::trec::read_run(&run_b)?;
    let mut cmp =
        sbert::evaluation::RunComparison::new(&qrels, &a, &b, measure, rel_level).names(na, nb);
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
    Ok(())
}

/// Qrels for an evaluation: a file without judgements would give a report of nothing.
fn read_qrels(path: &std::path::Path) -> sbert::Result<sbert::datasets::qrels::Qrels> {
    let qrels = sbert::data::read_any_qrels(path)?;
    if qrels.is_empty() {
        return Err(sbert::Error::InvalidInput(format!(
            "{} has no relevance judgements",
            path.display()
        )));
    }
    Ok(qrels)
}

/// Arguments of `sbert fuse`.
#[derive(Args)]
pub struct FuseArgs {
    /// Two or more TREC runs to fuse.
    #[arg(required = true, num_args = 2..)]
    pub runs: Vec<PathBuf>,
    /// rrf, sum (CombSUM), max (CombMAX), min (CombMIN), mnz (CombMNZ) or wsum (with --weights).
    #[arg(long, default_value = "rrf")]
    pub method: String,
    /// RRF's constant k.
    #[arg(long, default_value_t = 60.0)]
    pub k: f64,
    /// wsum's weights, one per run, comma-separated (e.g. 0.3,0.7).
    #[arg(long)]
    pub weights: Option<String>,
    /// Per-query normalization first: min-max, max, sum, zmuv, rank or none (RRF reads only ranks).
    #[arg(long, default_value = "min-max")]
    pub norm: String,
    /// Documents kept per query (default: all).
    #[arg(long)]
    pub top_k: Option<usize>,
    /// The fused TREC run to write.
    #[arg(long)]
    pub run: PathBuf,
    #[arg(long, default_value = "fused")]
    pub tag: String,
}

/// Runs `sbert fuse`: `ranx.fuse` on TREC runs.
pub fn fuse(args: FuseArgs) -> sbert::Result<()> {
    use sbert::evaluation::{FuseOptions, FusionMethod};
    let FuseArgs {
        runs,
        method,
        k,
        weights,
        norm,
        top_k,
        run,
        tag,
    } = args;
    let method = match method.trim().to_ascii_lowercase().as_str() {
        "rrf" => FusionMethod::Rrf { k },
        "sum" | "combsum" => FusionMethod::Sum,
        "max" | "combmax" => FusionMethod::Max,
        "min" | "combmin" => FusionMethod::Min,
        "mnz" | "combmnz" => FusionMethod::Mnz,
        "wsum" => {
            let w = weights.as_deref().ok_or_else(|| {
                sbert::Error::InvalidInput("--method wsum needs --weights (one per run)".into())
            })?;
            FusionMethod::Wsum(
                w.split(',')
                    .map(|x| {
                        x.trim().parse::<f64>().map_err(|_| {
                            sbert::Error::InvalidInput(format!("bad weight {x:?} in --weights"))
                        })
                    })
                    .collect::<sbert::Result<_>>()?,
            )
        }
        other => {
            return Err(sbert::Error::InvalidInput(format!(
                "unknown --method {other:?}: rrf, sum, max, min, mnz or wsum"
            )))
        }
    };
    let mut options = FuseOptions::default().norm(norm.parse()?).method(method);
    options.top_k = top_k;
    sbert::core::fs::check_writable(&run, false)?;
    let inputs: Vec<sbert::evaluation::Run> = runs
        .iter()
        .map(|p| sbert::datasets::trec::read_run(p))
        .collect::<sbert::Result<_>>()?;
    let refs: Vec<&sbert::evaluation::Run> = inputs.iter().collect();
    let fused = sbert::evaluation::fuse(&refs, &options)?;
    let ranked: Vec<(String, Vec<(String, f32)>)> = fused
        .into_iter()
        .map(|(q, docs)| (q, docs.into_iter().map(|(d, s)| (d, s as f32)).collect()))
        .collect();
    sbert::datasets::trec::write_run(&run, &ranked, &tag)?;
    eprintln!(
        "fused {} runs ({}, {}) over {} queries into {}",
        runs.len(),
        options.method,
        options.norm,
        ranked.len(),
        run.display()
    );
    Ok(())
}

/// Arguments of `sbert report`.
#[derive(Args)]
pub struct ReportArgs {
    /// Qrels: TREC or BEIR TSV.
    #[arg(long)]
    pub qrels: PathBuf,
    /// Two or more TREC runs (letters a, b, c, … in this order).
    #[arg(required = true, num_args = 2..)]
    pub runs: Vec<PathBuf>,
    /// The runs' names, comma-separated (default: the file names).
    #[arg(long)]
    pub names: Option<String>,
    /// Comma-separated measures (any name `evaluate --metrics` takes).
    #[arg(long, default_value = "ndcg_cut_10,P_5,recip_rank,map")]
    pub metrics: String,
    /// The paired test: t (t-test) or fisher (randomization test).
    #[arg(long, default_value = "t")]
    pub test: String,
    #[arg(long, default_value_t = 0.05)]
    pub alpha: f64,
    #[arg(long, default_value_t = 1)]
    pub rel_level: i32,
    /// Print Markdown (instead of the text table).
    #[arg(long, conflicts_with = "latex")]
    pub markdown: bool,
    /// Print a LaTeX tabular (instead of the text table).
    #[arg(long)]
    pub latex: bool,
}

/// Runs `sbert report`: ranx.compare's table of several runs with significance marks.
pub fn report(args: ReportArgs) -> sbert::Result<()> {
    use sbert::evaluation::{Report, ReportOptions, SignificanceTest};
    let ReportArgs {
        qrels,
        runs,
        names,
        metrics,
        test,
        alpha,
        rel_level,
        markdown,
        latex,
    } = args;
    let test = match test.trim().to_ascii_lowercase().as_str() {
        "t" | "t-test" | "student" => SignificanceTest::TTest,
        "fisher" | "randomization" | "permutation" => SignificanceTest::Randomization,
        other => {
            return Err(sbert::Error::InvalidInput(format!(
                "unknown --test {other:?}: t (paired t-test) or fisher (randomization test)"
            )))
        }
    };
    let names: Vec<String> = match &names {
        Some(n) => n.split(',').map(|s| s.trim().to_string()).collect(),
        None => runs
            .iter()
            .map(|p| {
                p.file_stem()
                    .map_or_else(|| p.display().to_string(), |s| s.to_string_lossy().into())
            })
            .collect(),
    };
    if names.len() != runs.len() || names.iter().any(String::is_empty) {
        return Err(sbert::Error::InvalidInput(format!(
            "--names gives {} names for {} runs",
            names.len(),
            runs.len()
        )));
    }
    let qrels = read_qrels(&qrels)?;
    let loaded: Vec<sbert::evaluation::Run> = runs
        .iter()
        .map(|p| sbert::datasets::trec::read_run(p))
        .collect::<sbert::Result<_>>()?;
    let pairs: Vec<(&str, &sbert::evaluation::Run)> =
        names.iter().map(String::as_str).zip(&loaded).collect();
    let options = ReportOptions {
        measures: sbert::evaluation::Measure::parse_list(&metrics)?,
        rel_level,
        test,
        alpha,
    };
    let report = Report::new(&qrels, &pairs, &options)?;
    if markdown {
        print!("{}", report.to_markdown());
    } else if latex {
        print!("{}", report.to_latex());
    } else {
        print!("{report}");
    }
    Ok(())
}
