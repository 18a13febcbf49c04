//! The steps the commands that write a TREC run share: reading the corpus and the queries with
//! their checks, and turning hits on corpus rows into a run on document ids.

use std::path::Path;

use sbert::datasets::run::RankedRun;
use sbert::datasets::{Document, Query};
use sbert::util::SearchResults;

/// A corpus's records (BEIR jsonl or id<TAB>text): not empty, with ids a run can hold.
pub fn read_corpus(path: &Path, tag: &str) -> sbert::Result<Vec<Document>> {
    let docs = sbert::data::read_records(path)?;
    if docs.is_empty() {
        return Err(sbert::Error::InvalidInput(format!(
            "{} has no records",
            path.display()
        )));
    }
    sbert::datasets::trec::check_run_ids(tag, docs.iter().map(|d| d.id.as_str()))?;
    Ok(docs)
}

/// The queries of a search that writes `run`: not empty, with ids a run can hold, and `run`
/// writable — all checked before the search's long work.
pub fn read_queries(path: &Path, tag: &str, run: &Path) -> sbert::Result<Vec<Query>> {
    let qs: Vec<Query> = sbert::data::read_query_records(path)?;
    if qs.is_empty() {
        return Err(sbert::Error::InvalidInput(format!(
            "{} has no queries",
            path.display()
        )));
    }
    sbert::datasets::trec::check_run_ids(tag, qs.iter().map(|q| q.id.as_str()))?;
    sbert::core::fs::check_writable(run, false)?;
    Ok(qs)
}

/// Each query's hits (rows of a corpus whose ids are `ids`) as a run.
pub fn ranked_by_ids(queries: &[Query], hits: &SearchResults, ids: &[String]) -> RankedRun {
    queries
        .iter()
        .zip(hits.iter())
        .map(|(q, hs)| {
            let docs = hs
                .iter()
                .filter_map(|h| Some((ids.get(h.corpus_id)?.clone(), h.score)))
                .collect();
            (q.id.clone(), docs)
        })
        .collect()
}

/// The corpus a command stores (an index, a database table): its records and embeddings, encoded
/// now or read from a shard folder of the same corpus and model.
#[derive(clap::Args)]
pub struct CorpusArgs {
    #[arg(long, default_value = "all-MiniLM-L6-v2")]
    pub model: String,
    #[command(flatten)]
    pub dtype: super::load::DtypeArg,
    /// Corpus: BEIR jsonl ({"_id","title","text"}) or id<TAB>text; its ids are stored with it.
    #[arg(long)]
    pub corpus: std::path::PathBuf,
    /// The corpus's embeddings from a shard folder (`sbert encode --corpus C --output-dir DIR`,
    /// same model) instead of encoding the corpus.
    #[arg(long)]
    pub corpus_embeddings: Option<std::path::PathBuf>,
    #[arg(long, default_value_t = 32)]
    pub batch_size: usize,
    #[arg(long)]
    pub progress: bool,
}

/// Where a [`LoadedCorpus`]'s embeddings are.
pub enum CorpusEmbeddings {
    /// Encoded now (normalised).
    Encoded(sbert::Embeddings),
    /// In a shard folder (checked: this corpus, this model).
    Shards(sbert::core::shards::ShardedEmbeddings),
}

/// What [`CorpusArgs::load`] gives.
pub struct LoadedCorpus {
    pub docs: Vec<Document>,
    pub model: sbert::SentenceTransformer,
    /// The options the corpus is (and queries are to be) encoded with: normalised embeddings.
    pub opts: sbert::EncodeOptions,
    pub embeddings: CorpusEmbeddings,
}

impl CorpusArgs {
    /// Reads the corpus (ids checked for `tag`'s runs), loads the model, and encodes the corpus
    /// or opens its shard folder.
    pub fn load(&self, tag: &str) -> sbert::Result<LoadedCorpus> {
        let docs = read_corpus(&self.corpus, tag)?;
        let model = self.dtype.load(&self.model)?;
        let opts = sbert::EncodeOptions::default()
            .batch_size(self.batch_size)
            .show_progress_bar(self.progress)
            .normalize_embeddings(true);
        let embeddings = match &self.corpus_embeddings {
            Some(dir) => CorpusEmbeddings::Shards(super::search::open_corpus_shards(
                dir,
                &self.corpus,
                &docs,
                &model,
                &opts,
            )?),
            None => {
                let texts: Vec<String> = docs.iter().map(|d| d.contents()).collect();
                CorpusEmbeddings::Encoded(model.encode(&texts, &opts)?)
            }
        };
        Ok(LoadedCorpus {
            docs,
            model,
            opts,
            embeddings,
        })
    }
}
