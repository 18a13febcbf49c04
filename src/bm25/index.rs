//! `Bm25Index`: a corpus indexed with tantivy (postings with term frequencies, document lengths,
//! stored ids) and searched with BM25 as Lucene scores it, with any k1 and b.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use tantivy::fieldnorm::FieldNormReader;
use tantivy::index::InvertedIndexReader;
use tantivy::postings::Postings;
use tantivy::schema::{Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, Value};
use tantivy::tokenizer::{PreTokenizedString, Token};
use tantivy::{DocSet, Index, IndexReader, ReloadPolicy, TantivyDocument, Term, TERMINATED};

use super::analyzer::Analyzer;
use crate::core::fs::{read_json, write_dir_atomic, DirOwnership};
use crate::core::{Error, Result};
use crate::datasets::{Document, Query, RankedRun};
use crate::util::topk::{Candidate, TopK};

/// The file that marks a folder as an sbert BM25 index and says how its texts were analysed.
pub const INDEX_INFO_FILE: &str = "sbert-bm25.json";

/// What `sbert-bm25.json` holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct IndexInfo {
    /// The layout version of this file and the index.
    format: u32,
    /// How documents were analysed (queries are analysed the same way).
    analyzer: Analyzer,
    /// Documents indexed.
    documents: usize,
}

const FORMAT: u32 = 1;

/// BM25's parameters and how many documents a search returns.
///
/// The defaults are Anserini's BEIR runs: k1 0.9, b 0.4, the top 1,000.
#[derive(Debug, Clone, PartialEq)]
pub struct Bm25Options {
    /// Documents returned per query.
    pub top_k: usize,
    /// Term-frequency saturation (0 = presence only).
    pub k1: f32,
    /// Length normalisation, from 0 (none) to 1 (full).
    pub b: f32,
}

impl Default for Bm25Options {
    fn default() -> Self {
        Self {
            top_k: 1000,
            k1: 0.9,
            b: 0.4,
        }
    }
}

impl Bm25Options {
    /// Sets `top_k`.
    pub fn top_k(mut self, top_k: usize) -> Self {
        self.top_k = top_k;
        self
    }
    /// Sets `k1`.
    pub fn k1(mut self, k1: f32) -> Self {
        self.k1 = k1;
        self
    }
    /// Sets `b`.
    pub fn b(mut self, b: f32) -> Self {
        self.b = b;
        self
    }
    fn check(&self) -> Result<()> {
        if self.top_k == 0 {
            return Err(Error::InvalidInput("BM25 top_k must be at least 1".into()));
        }
        if !(self.k1.is_finite() && self.k1 >= 0.0) {
            return Err(Error::InvalidInput(format!(
                "BM25 k1 must be a number >= 0, not {}",
                self.k1
            )));
        }
        if !(0.0..=1.0).contains(&self.b) {
            return Err(Error::InvalidInput(format!(
                "BM25 b must be between 0 and 1, not {}",
                self.b
            )));
        }
        Ok(())
    }
}

/// One segment of the index, ready to score.
struct Segment {
    postings: std::sync::Arc<InvertedIndexReader>,
    lengths: FieldNormReader,
    /// The first global document number of this segment.
    base: usize,
    max_doc: u32,
}

/// A BM25 index of a corpus (Python: PyTerrier's `BatchRetrieve(index, wmodel="BM25")`, Anserini's
/// `SimpleSearcher`; `rank_bm25.BM25Okapi` in memory).
///
/// Each document is indexed as its title and text in one field (BEIR's "flat" indexing, as
/// Anserini's BEIR regressions), analysed by an [`Analyzer`] (Lucene's English analyzer by default).
/// Scores are Lucene's BM25: for each query term t (counted as often as it occurs in the query),
/// `idf(t) · tf / (tf + k1 · (1 − b + b · len / avg_len))` with
/// `idf(t) = ln(1 + (N − df + 0.5) / (df + 0.5))`, the document length stored in one byte as both
/// Lucene and tantivy store it.
///
/// ```
/// use sbert::bm25::{Bm25Index, Bm25Options};
/// use sbert::datasets::Document;
/// let doc = |id: &str, text: &str| Document { id: id.into(), title: String::new(), text: text.into() };
/// let index = Bm25Index::in_memory(
///     &[doc("d1", "Cats purr."), doc("d2", "Dogs bark at cats."), doc("d3", "Birds sing.")],
///     &Default::default(),
/// )?;
/// let hits = index.search("a purring cat", &Bm25Options::default())?;
/// assert_eq!(hits.iter().map(|h| h.0.as_str()).collect::<Vec<_>>(), ["d1", "d2"]);
/// # Ok::<(), sbert::Error>(())
/// ```
pub struct Bm25Index {
    analyzer: Analyzer,
    segments: Vec<Segment>,
    /// Document ids by global document number.
    ids: Vec<String>,
    /// The indexed field.
    contents: Field,
    /// The mean document length in terms (BM25's `avg_len`).
    avg_len: f32,
    /// Keeps the index (and its memory-mapped files) alive for `segments`.
    _reader: IndexReader,
    path: Option<PathBuf>,
}

impl std::fmt::Debug for Bm25Index {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bm25Index")
            .field("documents", &self.ids.len())
            .field("segments", &self.segments.len())
            .field("analyzer", &self.analyzer)
            .field("path", &self.path)
            .finish()
    }
}

fn engine(context: impl Into<String>) -> impl FnOnce(tantivy::TantivyError) -> Error {
    let context = context.into();
    move |e| Error::Index {
        context,
        reason: e.to_string(),
    }
}

fn schema() -> (Schema, Field, Field) {
    let mut builder = Schema::builder();
    let id = builder.add_text_field("id", TextOptions::default().set_stored());
    let contents = builder.add_text_field(
        "contents",
        TextOptions::default().set_indexing_options(
            TextFieldIndexing::default().set_index_option(IndexRecordOption::WithFreqs),
        ),
    );
    (builder.build(), id, contents)
}

/// Whether an entry of an index folder is the index's own (replaced when it is rebuilt); everything
/// else in the folder is the user's and is kept.
fn owned_by_index(name: &str) -> bool {
    const EXTENSIONS: [&str; 8] = [
        "idx",
        "pos",
        "term",
        "store",
        "fast",
        "fieldnorm",
        "del",
        "lock",
    ];
    name == INDEX_INFO_FILE
        || name == "meta.json"
        || name == ".managed.json"
        || name.starts_with(".tantivy")
        || name
            .rsplit_once('.')
            .is_some_and(|(stem, ext)| !stem.is_empty() && EXTENSIONS.contains(&ext))
}

const OWNERSHIP: DirOwnership = DirOwnership {
    owns: &owned_by_index,
    markers: &[INDEX_INFO_FILE],
};

impl Bm25Index {
    /// Indexes `docs` into the folder `dir` (written atomically: a folder that is already an index
    /// is replaced whole, other files in it are kept; a folder of other files that an index would
    /// overwrite is refused) and opens it.
    pub fn build(dir: &Path, docs: &[Document], analyzer: &Analyzer) -> Result<Self> {
        check_documents(docs)?;
        write_dir_atomic(dir, &OWNERSHIP, |tmp| {
            let index = Index::create_in_dir(tmp, schema().0)
                .map_err(engine(format!("creating {}", dir.display())))?;
            fill(&index, docs, analyzer, dir)?;
            let info = IndexInfo {
                format: FORMAT,
                analyzer: analyzer.clone(),
                documents: docs.len(),
            };
            let json = serde_json::to_vec_pretty(&info).map_err(|source| Error::Serialize {
                what: INDEX_INFO_FILE.into(),
                source,
            })?;
            std::fs::write(tmp.join(INDEX_INFO_FILE), json)
                .map_err(|e| Error::io(format!("writing {}", dir.display()), e))
        })?;
        Self::open(dir)
    }

    /// Indexes `docs` in memory (nothing is written; for a notebook or a test).
    pub fn in_memory(docs: &[Document], analyzer: &Analyzer) -> Result<Self> {
        check_documents(docs)?;
        let index = Index::create_in_ram(schema().0);
        fill(&index, docs, analyzer, Path::new("(in memory)"))?;
        Self::from_index(index, analyzer.clone(), None)
    }

    /// Opens an index that [`Bm25Index::build`] (or `sbert bm25 index`) wrote.
    pub fn open(dir: &Path) -> Result<Self> {
        let info_path = dir.join(INDEX_INFO_FILE);
        if !info_path.is_file() {
            return Err(Error::InvalidInput(format!(
                "{} is not a BM25 index made by sbert (it has no {INDEX_INFO_FILE}); make one with `sbert bm25 index`",
                dir.display()
            )));
        }
        let info: IndexInfo = read_json(&info_path)?;
        if info.format != FORMAT {
            return Err(Error::InvalidInput(format!(
                "{}: index format {} (this sbert reads format {FORMAT}); rebuild it with `sbert bm25 index`",
                info_path.display(),
                info.format
            )));
        }
        let index =
            Index::open_in_dir(dir).map_err(engine(format!("opening {}", dir.display())))?;
        let me = Self::from_index(index, info.analyzer, Some(dir.to_path_buf()))?;
        if me.ids.len() != info.documents {
            return Err(Error::Index {
                context: format!("opening {}", dir.display()),
                reason: format!(
                    "{INDEX_INFO_FILE} says {} documents, the index holds {}",
                    info.documents,
                    me.ids.len()
                ),
            });
        }
        Ok(me)
    }

    fn from_index(index: Index, analyzer: Analyzer, path: Option<PathBuf>) -> Result<Self> {
        let context = || match &path {
            Some(p) => format!("reading {}", p.display()),
            None => "reading the in-memory index".to_string(),
        };
        let (_, id_field, contents) = schema();
        if index.schema() != schema().0 {
            return Err(Error::Index {
                context: context(),
                reason: "its fields are not those of an sbert BM25 index".into(),
            });
        }
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(engine(context()))?;
        let searcher = reader.searcher();
        let (mut segments, mut ids) = (Vec::new(), Vec::new());
        for segment in searcher.segment_readers() {
            let base = ids.len();
            let store = segment
                .get_store_reader(1)
                .map_err(|e| Error::io(context(), e))?;
            for doc in 0..segment.max_doc() {
                let stored: TantivyDocument = store.get(doc).map_err(engine(context()))?;
                let id = stored
                    .get_first(id_field)
                    .and_then(|v| v.as_str())
                    .ok_or_else(|| Error::Index {
                        context: context(),
                        reason: format!("document {doc} has no stored id"),
                    })?;
                ids.push(id.to_string());
            }
            segments.push(Segment {
                postings: segment
                    .inverted_index(contents)
                    .map_err(engine(context()))?,
                lengths: segment
                    .get_fieldnorms_reader(contents)
                    .map_err(engine(context()))?,
                base,
                max_doc: segment.max_doc(),
            });
        }
        let tokens: u64 = segments.iter().map(|s| s.postings.total_num_tokens()).sum();
        let avg_len = (tokens as f64 / (ids.len() as f64).max(1.0)) as f32;
        Ok(Self {
            analyzer,
            segments,
            ids,
            contents,
            avg_len,
            _reader: reader,
            path,
        })
    }

    /// Documents indexed.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether the index holds no document.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// How texts are analysed into terms.
    pub fn analyzer(&self) -> &Analyzer {
        &self.analyzer
    }

    /// The folder the index lives in (`None` in memory).
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Bytes the index takes on disk (0 in memory).
    pub fn size_bytes(&self) -> u64 {
        let Some(dir) = &self.path else { return 0 };
        std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .flatten()
                    .filter_map(|e| e.metadata().ok())
                    .filter(|m| m.is_file())
                    .map(|m| m.len())
                    .sum()
            })
            .unwrap_or(0)
    }

    /// The best `options.top_k` documents for one query, best first: `(id, score)`, ties in index
    /// order. A query with no term in the index finds nothing.
    pub fn search(&self, query: &str, options: &Bm25Options) -> Result<Vec<(String, f32)>> {
        options.check()?;
        self.search_checked(query, options)
    }

    /// Every query's ranking (in the order of `queries`), as dense retrieval returns it: write it
    /// with [`crate::datasets::trec::write_run`], evaluate it, fuse it, re-rank it.
    pub fn search_all(&self, queries: &[Query], options: &Bm25Options) -> Result<RankedRun> {
        options.check()?;
        queries
            .par_iter()
            .map(|q| Ok((q.id.clone(), self.search_checked(&q.text, options)?)))
            .collect()
    }

    fn search_checked(&self, query: &str, options: &Bm25Options) -> Result<Vec<(String, f32)>> {
        let mut counts: BTreeMap<String, u32> = BTreeMap::new();
        for term in self.analyzer.analyze(query) {
            *counts.entry(term).or_default() += 1;
        }
        let read_error = |e: std::io::Error| {
            Error::io(
                format!(
                    "reading the BM25 index{}",
                    self.path
                        .as_ref()
                        .map(|p| format!(" {}", p.display()))
                        .unwrap_or_default()
                ),
                e,
            )
        };
        // Lucene's BM25: the length part of each of the 256 stored lengths, once per query.
        let (k1, b) = (options.k1, options.b);
        let inverse_norm: Vec<f32> = (0..=255u8)
            .map(|id| {
                let len = FieldNormReader::id_to_fieldnorm(id) as f32;
                1.0 / (k1 * ((1.0 - b) + b * len / self.avg_len))
            })
            .collect();
        // Each query term's weight (count · idf, the document frequency over all segments), once.
        let docs = self.ids.len() as f64;
        let mut terms: Vec<(Term, f32)> = Vec::with_capacity(counts.len());
        for (text, count) in counts {
            let term = Term::from_field_text(self.contents, &text);
            let df: u64 = self
                .segments
                .iter()
                .map(|s| s.postings.doc_freq(&term).map(u64::from))
                .sum::<std::io::Result<u64>>()
                .map_err(read_error)?;
            if df > 0 {
                let df = df as f64;
                let idf = (1.0 + (docs - df + 0.5) / (df + 0.5)).ln() as f32;
                terms.push((term, count as f32 * idf));
            }
        }
        let mut top = TopK::new(options.top_k);
        for segment in &self.segments {
            let mut scores = vec![0f32; segment.max_doc as usize];
            for &(ref term, weight) in &terms {
                let Some(mut postings) = segment
                    .postings
                    .read_postings(term, IndexRecordOption::WithFreqs)
                    .map_err(read_error)?
                else {
                    continue;
                };
                let mut doc = postings.doc();
                while doc != TERMINATED {
                    let tf = postings.term_freq() as f32;
                    let norm = inverse_norm[segment.lengths.fieldnorm_id(doc) as usize];
                    scores[doc as usize] += weight - weight / (1.0 + tf * norm);
                    doc = postings.advance();
                }
            }
            for (doc, &score) in scores.iter().enumerate() {
                if score > 0.0 {
                    top.push(Candidate {
                        score,
                        id: (segment.base + doc) as u64,
                    });
                }
            }
        }
        Ok(top
            .into_sorted()
            .into_iter()
            .map(|c| (self.ids[c.id as usize].clone(), c.score))
            .collect())
    }
}

fn check_documents(docs: &[Document]) -> Result<()> {
    let mut seen = std::collections::HashSet::new();
    for d in docs {
        if !seen.insert(d.id.as_str()) {
            return Err(Error::InvalidInput(format!(
                "document id {:?} occurs twice in the corpus: a run could not tell the documents apart",
                d.id
            )));
        }
    }
    Ok(())
}

/// Adds every document (its title and text, analysed) and commits.
fn fill(index: &Index, docs: &[Document], analyzer: &Analyzer, dir: &Path) -> Result<()> {
    let (_, id, contents) = schema();
    let context = || format!("indexing into {}", dir.display());
    let threads = rayon::current_num_threads().clamp(1, 8);
    let mut writer = index
        .writer_with_num_threads::<TantivyDocument>(threads, threads * 64 << 20)
        .map_err(engine(context()))?;
    // Documents are analysed here (in parallel), so the index holds exactly the terms a query
    // analysed by the same `Analyzer` looks up.
    let analysed: Vec<Vec<String>> = docs
        .par_iter()
        .map(|d| analyzer.analyze(&d.contents()))
        .collect();
    for (d, terms) in docs.iter().zip(analysed) {
        let mut doc = TantivyDocument::new();
        doc.add_text(id, &d.id);
        let tokens = terms
            .into_iter()
            .enumerate()
            .map(|(position, text)| Token {
                position,
                text,
                ..Token::default()
            })
            .collect();
        doc.add_pre_tokenized_text(
            contents,
            PreTokenizedString {
                text: String::new(),
                tokens,
            },
        );
        writer.add_document(doc).map_err(engine(context()))?;
    }
    writer.commit().map_err(engine(context()))?;
    writer.wait_merging_threads().map_err(engine(context()))?;
    Ok(())
}
