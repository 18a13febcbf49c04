//! `sbert search` (retrieve, optionally re-rank, into a TREC run), `sbert rerank` and `sbert
//! rerank-run` (re-rank any run).

use std::path::PathBuf;

use clap::Args;
use sbert::prelude::*;

use super::load::DtypeArg;
use super::output::print_json;

/// Arguments of `sbert search`.
#[derive(Args)]
pub struct SearchArgs {
    #[arg(long, default_value = "all-MiniLM-L6-v2")]
    pub model: String,
    #[command(flatten)]
    pub dtype: DtypeArg,
    /// Corpus: BEIR jsonl ({"_id","title","text"}) or id<TAB>text.
    #[arg(long)]
    pub corpus: PathBuf,
    /// Queries: BEIR jsonl ({"_id","text"}) or id<TAB>text.
    #[arg(long)]
    pub queries: PathBuf,
    #[arg(long, default_value_t = 10)]
    pub top_k: usize,
    /// Score function: cos or dot.
    #[arg(long, default_value = "cos")]
    pub score: String,
    /// Output TREC run: qid Q0 docid rank score tag (written atomically).
    #[arg(long)]
    pub run: PathBuf,
    /// The run tag (last column).
    #[arg(long, default_value = "sbert")]
    pub tag: String,
    #[arg(long, default_value_t = 32)]
    pub batch_size: usize,
    #[arg(long)]
    pub progress: bool,
    /// Re-rank the bi-encoder's hits with this cross-encoder (folder or id).
    #[arg(long)]
    pub rerank: Option<String>,
    /// How many bi-encoder hits per query the cross-encoder re-scores (retrieves max(top-k, this);
    /// hits past it follow in bi-encoder order; the run keeps --top-k per query).
    #[arg(long, default_value_t = 100)]
    pub rerank_top: usize,
    /// Interpolate instead of replacing: W · z(bi-encoder score) + (1 − W) · z(cross-encoder
    /// logit) over each query's re-ranked hits (W in [0, 1]; choose it on validation queries).
    #[arg(long)]
    pub interpolate: Option<f32>,
    /// Search the corpus quantized (int8, uint8, binary, ubinary), as Python's
    /// `semantic_search_usearch(…, corpus_precision=…)`: memory 1/4 (int8) or 1/32 (binary).
    #[arg(long)]
    pub corpus_precision: Option<sbert::util::Precision>,
    /// With --corpus-precision: rescore top_k × this many candidates with the float32 query
    /// (0: no rescoring).
    #[arg(long, default_value_t = 4)]
    pub rescore_multiplier: usize,
    /// With --corpus-precision: rescore from a copy of the corpus in this precision (e.g. binary
    /// searched, int8 rescored) instead of the searched values.
    #[arg(long)]
    pub rescore_precision: Option<sbert::util::Precision>,
    /// With a binary --corpus-precision: rank the rows by the float32 query's dot product with
    /// their bits as ±1 instead of by the query's sign bits (Hamming, Python's way); far more of
    /// the true hits reach the rescoring.
    #[arg(long)]
    pub asymmetric: bool,
    /// The corpus's embeddings from a shard folder (`sbert encode --corpus C --output-dir DIR`,
    /// same model), memory-mapped and streamed instead of encoding the corpus.
    #[arg(long, conflicts_with = "corpus_precision")]
    pub corpus_embeddings: Option<PathBuf>,
}

/// The re-ranking step `search --rerank` and `rerank-run` share.
struct Rerank<'a> {
    model: &'a str,
    /// Re-score with this bi-encoder's similarity instead of a cross-encoder.
    bi_encoder: Option<ScoreFunction>,
    dtype: DtypeArg,
    rerank_top: usize,
    interpolate: Option<f32>,
    top_k: Option<usize>,
    progress: bool,
}

impl Rerank<'_> {
    /// Each query's first `rerank_top` documents of `ranked` re-scored by the cross-encoder (or
    /// interpolated with their first-stage scores), the rest after them; `top_k` kept.
    fn apply(
        &self,
        queries: &[sbert::datasets::Query],
        docs: &[sbert::datasets::Document],
        ranked: &sbert::datasets::run::RankedRun,
    ) -> sbert::Result<sbert::datasets::run::RankedRun> {
        if let Some(w) = self.interpolate.filter(|w| !(0.0..=1.0).contains(w)) {
            return Err(sbert::Error::InvalidInput(format!(
                "--interpolate {w} is not in [0, 1]"
            )));
        }
        let by_id: std::collections::HashMap<&str, String> =
            docs.iter().map(|d| (d.id.as_str(), d.contents())).collect();
        let reranked = match self.bi_encoder {
            Some(score_function) => sbert::evaluation::rerank_run_with_bi_encoder(
                &self.dtype.load(self.model)?,
                queries,
                ranked,
                |id| by_id.get(id).cloned(),
                self.rerank_top,
                score_function,
                &EncodeOptions::default().show_progress_bar(self.progress),
            )?,
            None => {
                let popts = sbert::cross_encoder::PredictOptions {
                    show_progress_bar: self.progress,
                    apply_activation: self.interpolate.is_none(),
                    ..Default::default()
                };
                sbert::cross_encoder::rerank_run(
                    &self.dtype.load_cross_encoder(self.model)?,
                    queries,
                    ranked,
                    |id| by_id.get(id).cloned(),
                    self.rerank_top,
                    &popts,
                )?
            }
        };
        let mut out = match self.interpolate {
            Some(w) => {
                sbert::cross_encoder::interpolate_scores(ranked, &reranked, self.rerank_top, w)?
            }
            None => reranked,
        };
        if let Some(k) = self.top_k {
            out.iter_mut().for_each(|(_, docs)| docs.truncate(k));
        }
        Ok(out)
    }
}

/// Runs `sbert search`.
pub fn search(args: SearchArgs) -> sbert::Result<()> {
    let SearchArgs {
        dtype,
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
        corpus_precision,
        rescore_multiplier,
        rescore_precision,
        asymmetric,
        corpus_embeddings,
    } = args;
    let score_function: ScoreFunction = score.parse()?;
    if top_k == 0 {
        return Err(sbert::Error::InvalidInput(
            "--top-k must be at least 1 (top_k 0 writes an empty run)".into(),
        ));
    }
    let docs = sbert::data::read_records(&corpus)?;
    let qs = sbert::data::read_records(&queries)?;
    for (path, records) in [(&corpus, &docs), (&queries, &qs)] {
        if records.is_empty() {
            return Err(sbert::Error::InvalidInput(format!(
                "{} has no records",
                path.display()
            )));
        }
    }
    sbert::datasets::trec::check_run_ids(&tag, docs.iter().chain(&qs).map(|r| r.id.as_str()))?;
    sbert::core::fs::check_writable(&run, false)?;
    let model = dtype.load(&model)?;
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
    if corpus_precision.is_none() && rescore_precision.is_some() {
        return Err(sbert::Error::InvalidInput(
            "--rescore-precision needs --corpus-precision".into(),
        ));
    }
    if rescore_precision.is_some() && rescore_multiplier == 0 {
        return Err(sbert::Error::InvalidInput(
            "--rescore-precision needs rescoring (--rescore-multiplier at least 1)".into(),
        ));
    }
    if asymmetric && !corpus_precision.is_some_and(|p| p.is_binary()) {
        return Err(sbert::Error::InvalidInput(
            "--asymmetric needs a binary --corpus-precision (binary or ubinary)".into(),
        ));
    }
    let depth = if rerank.is_some() {
        top_k.max(rerank_top)
    } else {
        top_k
    };
    let mut ranked = if let Some(dir) = &corpus_embeddings {
        let shards = open_corpus_shards(dir, &corpus, &docs, &model, &opts)?;
        let q = model.encode(&ds.query_texts(), &opts)?;
        let hits = sbert::util::semantic_search_sharded(
            &q,
            &shards,
            &SearchOptions::default()
                .top_k(depth)
                .score_function(score_function),
        )?;
        sbert::datasets::run::to_ranked_run(&ds, &hits)
    } else {
        match corpus_precision {
            Some(p) => sbert::evaluation::retrieval::retrieve_quantized(
                &model,
                &ds,
                p,
                rescore_precision,
                &sbert::util::QuantizedSearchOptions::default()
                    .top_k(depth)
                    .rescore(rescore_multiplier > 0)
                    .rescore_multiplier(rescore_multiplier.max(1))
                    .asymmetric(asymmetric),
                score_function,
                &opts,
            )?,
            None => {
                sbert::evaluation::retrieval::retrieve(&model, &ds, depth, score_function, &opts)?
            }
        }
    };
    if interpolate.is_some() && rerank.is_none() {
        return Err(sbert::Error::InvalidInput(
            "--interpolate needs --rerank".into(),
        ));
    }
    if let Some(ce) = &rerank {
        let step = Rerank {
            model: ce,
            bi_encoder: None,
            dtype,
            rerank_top,
            interpolate,
            top_k: Some(top_k),
            progress,
        };
        ranked = step.apply(&ds.queries, &docs, &ranked)?;
    }
    sbert::datasets::trec::write_run(&run, &ranked, &tag)?;
    eprintln!(
        "searched {} queries in {} documents; wrote {}",
        qs.len(),
        docs.len(),
        run.display()
    );
    Ok(())
}

/// The shard folder `dir` holding `docs`' embeddings by `model` (checked: the same texts, and a
/// fingerprint of this model and options, with or without the final normalisation).
pub(super) fn open_corpus_shards(
    dir: &std::path::Path,
    corpus: &std::path::Path,
    docs: &[sbert::datasets::Document],
    model: &SentenceTransformer,
    opts: &EncodeOptions,
) -> sbert::Result<sbert::core::shards::ShardedEmbeddings> {
    let shards = sbert::core::shards::ShardedEmbeddings::open(dir)?;
    let m = shards.manifest();
    let texts: Vec<String> = docs.iter().map(|d| d.contents()).collect();
    if m.rows != docs.len() || m.texts_sha256 != sbert::core::shards::texts_sha256(&texts) {
        return Err(sbert::Error::InvalidInput(format!(
            "{} holds the embeddings of another corpus ({} rows) than {} ({} records)",
            dir.display(),
            m.rows,
            corpus.display(),
            docs.len()
        )));
    }
    let fingerprints = [
        model.fingerprint(&opts.clone().normalize_embeddings(true))?,
        model.fingerprint(&opts.clone().normalize_embeddings(false))?,
    ];
    if !fingerprints.contains(&m.fingerprint) {
        return Err(sbert::Error::InvalidInput(format!(
            "{} was encoded with another model or options ({}) than --model",
            dir.display(),
            m.model
        )));
    }
    Ok(shards)
}

/// Arguments of `sbert rerank`.
#[derive(Args)]
pub struct RerankArgs {
    /// Cross-encoder folder or id.
    #[arg(long)]
    pub model: String,
    #[command(flatten)]
    pub dtype: DtypeArg,
    /// The query.
    #[arg(long)]
    pub query: String,
    /// Documents, one per line.
    #[arg(long)]
    pub input: PathBuf,
    /// Keep the best N (all by default).
    #[arg(long)]
    pub top_k: Option<usize>,
    /// Raw logits instead of sigmoid scores.
    #[arg(long)]
    pub logits: bool,
    #[arg(long, default_value_t = 32)]
    pub batch_size: usize,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Runs `sbert rerank`.
pub fn rerank(args: RerankArgs) -> sbert::Result<()> {
    let RerankArgs {
        dtype,
        model,
        query,
        input,
        top_k,
        logits,
        batch_size,
        json,
    } = args;
    let docs = sbert::data::read_lines(&input)?;
    let ce = dtype.load_cross_encoder(&model)?;
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
    Ok(())
}

/// Arguments of `sbert rerank-run`.
#[derive(Args)]
pub struct RerankRunArgs {
    /// The first-stage TREC run to re-rank (BM25, a bi-encoder, a fusion, …).
    #[arg(long)]
    pub run: PathBuf,
    /// The cross-encoder (folder or id); with --bi-encoder, a sentence-transformers model.
    #[arg(long)]
    pub model: String,
    /// Re-score with a bi-encoder (--model's embeddings of query and document, --score) instead of
    /// a cross-encoder.
    #[arg(long)]
    pub bi_encoder: bool,
    /// With --bi-encoder: cos or dot.
    #[arg(long, default_value = "cos")]
    pub score: String,
    #[command(flatten)]
    pub dtype: DtypeArg,
    /// Corpus holding the run's documents: BEIR jsonl ({"_id","title","text"}) or id<TAB>text.
    #[arg(long)]
    pub corpus: PathBuf,
    /// The run's queries: BEIR jsonl ({"_id","text"}) or id<TAB>text.
    #[arg(long)]
    pub queries: PathBuf,
    /// How many of each query's first documents the cross-encoder re-scores (the rest follow in
    /// the run's order).
    #[arg(long = "top", default_value_t = 100)]
    pub rerank_top: usize,
    /// Documents kept per query in the output (default: all of the run's).
    #[arg(long)]
    pub top_k: Option<usize>,
    /// Interpolate instead of replacing: W · z(first-stage score) + (1 − W) · z(cross-encoder
    /// logit) over each query's re-ranked documents (W in [0, 1]).
    #[arg(long)]
    pub interpolate: Option<f32>,
    /// The re-ranked TREC run to write (atomically).
    #[arg(long)]
    pub output: PathBuf,
    #[arg(long, default_value = "rerank")]
    pub tag: String,
    #[arg(long)]
    pub progress: bool,
}

/// Runs `sbert rerank-run`: any run's top documents re-scored by a cross-encoder.
pub fn rerank_run(args: RerankRunArgs) -> sbert::Result<()> {
    let RerankRunArgs {
        run,
        model,
        bi_encoder,
        score,
        dtype,
        corpus,
        queries,
        rerank_top,
        top_k,
        interpolate,
        output,
        tag,
        progress,
    } = args;
    if rerank_top == 0 {
        return Err(sbert::Error::InvalidInput(
            "--top must be at least 1 (the documents re-scored per query)".into(),
        ));
    }
    let first = sbert::datasets::ranked(&sbert::datasets::trec::read_run(&run)?);
    let docs = sbert::data::read_records(&corpus)?;
    let qs: Vec<sbert::datasets::Query> = sbert::data::read_query_records(&queries)?;
    sbert::datasets::trec::check_run_ids(&tag, std::iter::empty())?;
    sbert::core::fs::check_writable(&output, false)?;
    let step = Rerank {
        model: &model,
        bi_encoder: if bi_encoder {
            Some(score.parse()?)
        } else {
            None
        },
        dtype,
        rerank_top,
        interpolate,
        top_k,
        progress,
    };
    let ranked = step.apply(&qs, &docs, &first)?;
    sbert::datasets::trec::write_run(&output, &ranked, &tag)?;
    eprintln!(
        "re-ranked the first {rerank_top} documents of {} queries of {}; wrote {}",
        ranked.len(),
        run.display(),
        output.display()
    );
    Ok(())
}
