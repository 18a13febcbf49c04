//! [`AnnIndex`]: a USearch HNSW index with sbert's options, folder format and results.

use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::core::fs::{read_json, write_dir_atomic, DirOwnership};
use crate::core::{AsEmbeddings, Embeddings, Error, Result};
use crate::util::quantization::{
    checked_queries, quantize_embeddings, rescore, Precision, QuantizationRanges,
    QuantizedEmbeddings,
};
use crate::util::{Hit, ScoreFunction, SearchResults};

/// The file that marks a folder as an sbert ANN index (options and size).
pub const ANN_INFO_FILE: &str = "sbert-ann.json";
const GRAPH_FILE: &str = "index.usearch";
const IDS_FILE: &str = "ids.txt";
const RESCORE_FILE: &str = "rescore.bin";
const FORMAT: u32 = 1;

/// Options of [`AnnIndex::build`], with USearch's names and defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[must_use]
pub struct AnnOptions {
    /// What the graph stores: `None` float32 (cosine), `Some(Int8)` int8 (cosine, USearch's own
    /// scaling of unit vectors), `Some(Binary)` sign bits (Hamming). Default float32.
    pub precision: Option<Precision>,
    /// Neighbours per node (HNSW's M; default 16).
    pub connectivity: usize,
    /// Candidates explored while inserting (ef_construction; default 128).
    pub expansion_add: usize,
    /// Candidates explored per search (ef; default 64): higher is slower and closer to exact.
    pub expansion_search: usize,
}

impl Default for AnnOptions {
    fn default() -> Self {
        Self {
            precision: None,
            connectivity: 16,
            expansion_add: 128,
            expansion_search: 64,
        }
    }
}

impl AnnOptions {
    /// Sets the stored precision (int8 or binary; `None` float32).
    pub fn precision(mut self, p: Option<Precision>) -> Self {
        self.precision = p;
        self
    }
    /// Sets ef (candidates explored per search).
    pub fn expansion_search(mut self, ef: usize) -> Self {
        self.expansion_search = ef;
        self
    }
    fn check(&self) -> Result<()> {
        if self.connectivity < 2 || self.expansion_add == 0 || self.expansion_search == 0 {
            return Err(Error::InvalidInput(format!(
                "connectivity must be at least 2 and the expansions at least 1, got {}, {}, {}",
                self.connectivity, self.expansion_add, self.expansion_search
            )));
        }
        if matches!(self.precision, Some(Precision::Uint8 | Precision::Ubinary)) {
            return Err(Error::InvalidInput(
                "an ANN index stores float32, int8 or binary vectors".into(),
            ));
        }
        Ok(())
    }
    fn scalar(&self) -> (usearch::MetricKind, usearch::ScalarKind) {
        match self.precision {
            None => (usearch::MetricKind::Cos, usearch::ScalarKind::F32),
            Some(Precision::Int8) => (usearch::MetricKind::Cos, usearch::ScalarKind::I8),
            Some(_) => (usearch::MetricKind::Hamming, usearch::ScalarKind::B1),
        }
    }
}

/// What `sbert-ann.json` holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct AnnInfo {
    format: u32,
    dim: usize,
    len: usize,
    options: AnnOptions,
    /// Whether `ids.txt` holds the rows' ids.
    #[serde(default)]
    ids: bool,
    /// The rescoring copy in `rescore.bin`, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rescore: Option<RescoreInfo>,
    /// The model that made the vectors, if recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    model: Option<ModelStamp>,
}

/// The model an index's vectors came from: its name and
/// [`SentenceTransformer::fingerprint`](crate::SentenceTransformer::fingerprint).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelStamp {
    /// The name or path the model was loaded by.
    pub name: String,
    /// Its weights' and options' fingerprint.
    pub fingerprint: String,
}

/// How `rescore.bin` was quantized.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct RescoreInfo {
    precision: Precision,
    /// Per-dimension ranges (int8 / uint8).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    min: Option<Vec<f32>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max: Option<Vec<f32>>,
}

/// An HNSW index of `len` embeddings (keys 0 … len − 1, the rows they were built from), with
/// optionally the rows' ids and a quantized copy to rescore from, both saved with it.
pub struct AnnIndex {
    index: usearch::Index,
    info: AnnInfo,
    path: Option<PathBuf>,
    ids: Option<Vec<String>>,
    rescore: Option<QuantizedEmbeddings>,
}

impl std::fmt::Debug for AnnIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "AnnIndex({} × {}, {}, M {}, ef {})",
            self.info.len,
            self.info.dim,
            self.info
                .options
                .precision
                .map_or("float32", Precision::name),
            self.info.options.connectivity,
            self.info.options.expansion_search
        )
    }
}

fn engine<E: std::fmt::Display>(what: String) -> impl FnOnce(E) -> Error {
    move |e| Error::InvalidInput(format!("{what}: USearch: {e}"))
}

/// The bits USearch's `b1x8` vectors take: sign bits packed as `np.packbits` does (ubinary).
fn bits_of(e: &Embeddings) -> Result<QuantizedEmbeddings> {
    quantize_embeddings(e, Precision::Ubinary, None, None)
}

impl AnnIndex {
    /// Builds the graph over `embeddings` (row i gets key i), in parallel.
    pub fn build<E: AsEmbeddings + ?Sized>(embeddings: &E, options: &AnnOptions) -> Result<Self> {
        options.check()?;
        let e = embeddings.as_embeddings()?;
        if e.dim() == 0 {
            return Err(Error::InvalidInput(
                "cannot index embeddings of dimension 0".into(),
            ));
        }
        if let Some(i) = e.rows().position(|r| r.iter().any(|v| !v.is_finite())) {
            return Err(Error::InvalidInput(format!(
                "embedding {i} has a NaN or infinite value"
            )));
        }
        let index = Self::empty(e.dim(), options)?;
        index
            .reserve(e.len())
            .map_err(engine(format!("reserving {} vectors", e.len())))?;
        match options.precision {
            Some(Precision::Binary) => {
                let bits = bits_of(&e)?;
                let rb = bits.row_bytes();
                (0..e.len()).into_par_iter().try_for_each(|i| {
                    let row = &bits.as_bytes()[i * rb..(i + 1) * rb];
                    index
                        .add(i as u64, usearch::b1x8::from_u8s(row))
                        .map_err(engine(format!("adding row {i}")))
                })?;
            }
            _ => (0..e.len()).into_par_iter().try_for_each(|i| {
                index
                    .add(i as u64, e.get(i).expect("row in range"))
                    .map_err(engine(format!("adding row {i}")))
            })?,
        }
        Ok(Self {
            index,
            info: AnnInfo {
                format: FORMAT,
                dim: e.dim(),
                len: e.len(),
                options: options.clone(),
                ids: false,
                rescore: None,
                model: None,
            },
            path: None,
            ids: None,
            rescore: None,
        })
    }

    fn empty(dim: usize, options: &AnnOptions) -> Result<usearch::Index> {
        let (metric, quantization) = options.scalar();
        let opts = usearch::IndexOptions {
            dimensions: dim,
            metric,
            quantization,
            connectivity: options.connectivity,
            expansion_add: options.expansion_add,
            expansion_search: options.expansion_search,
            multi: false,
        };
        usearch::Index::new(&opts).map_err(engine("creating the index".into()))
    }

    /// Records the model the vectors came from (saved with the index), so that a search can
    /// check that its queries are embedded by the same model.
    pub fn set_model(&mut self, stamp: ModelStamp) {
        self.info.model = Some(stamp);
    }
    /// The model recorded by [`AnnIndex::set_model`].
    pub fn model(&self) -> Option<&ModelStamp> {
        self.info.model.as_ref()
    }

    /// Keeps the rows' ids (row i's id at i; e.g. the corpus's document ids), saved with the
    /// index: one per line, so an id may not hold a line break.
    pub fn set_ids(&mut self, ids: Vec<String>) -> Result<()> {
        if ids.len() != self.len() {
            return Err(Error::InvalidInput(format!(
                "{} ids for an index of {} rows",
                ids.len(),
                self.len()
            )));
        }
        if let Some(id) = ids.iter().find(|id| id.contains(['\n', '\r'])) {
            return Err(Error::InvalidInput(format!(
                "the id {id:?} holds a line break"
            )));
        }
        self.ids = Some(ids);
        self.info.ids = true;
        Ok(())
    }
    /// The rows' ids, if set.
    pub fn ids(&self) -> Option<&[String]> {
        self.ids.as_deref()
    }

    /// Keeps a quantized copy of the indexed rows (e.g. int8 beside a binary graph) for
    /// [`AnnIndex::search_rescored_stored`], saved with the index.
    pub fn set_rescoring(&mut self, copy: QuantizedEmbeddings) -> Result<()> {
        self.check_copy(&copy)?;
        self.info.rescore = Some(RescoreInfo {
            precision: copy.precision(),
            min: copy.ranges().map(|r| r.min.clone()),
            max: copy.ranges().map(|r| r.max.clone()),
        });
        self.rescore = Some(copy);
        Ok(())
    }
    /// The stored rescoring copy, if any.
    pub fn rescoring(&self) -> Option<&QuantizedEmbeddings> {
        self.rescore.as_ref()
    }

    fn check_copy(&self, copy: &QuantizedEmbeddings) -> Result<()> {
        if copy.len() != self.len() || copy.dim() != self.dim() {
            return Err(Error::InvalidInput(format!(
                "the rescoring copy ({} × {}) is not the indexed corpus's shape ({} × {})",
                copy.len(),
                copy.dim(),
                self.len(),
                self.dim()
            )));
        }
        Ok(())
    }

    /// Saves the index into the folder `dir` (written atomically: an index folder there is
    /// replaced whole, other files are kept; a folder of other files that an index would
    /// overwrite is refused).
    pub fn save(&mut self, dir: &Path) -> Result<()> {
        write_dir_atomic(dir, &OWNERSHIP, |tmp| {
            let graph = tmp.join(GRAPH_FILE);
            self.index
                .save(&graph.to_string_lossy())
                .map_err(engine(format!("saving {}", dir.display())))?;
            let io = |e| Error::io(format!("writing {}", dir.display()), e);
            if let Some(ids) = &self.ids {
                let text: String = ids.iter().map(|id| format!("{id}\n")).collect();
                std::fs::write(tmp.join(IDS_FILE), text).map_err(io)?;
            }
            if let Some(copy) = &self.rescore {
                std::fs::write(tmp.join(RESCORE_FILE), copy.as_bytes()).map_err(io)?;
            }
            let json =
                serde_json::to_vec_pretty(&self.info).map_err(|source| Error::Serialize {
                    what: ANN_INFO_FILE.into(),
                    source,
                })?;
            std::fs::write(tmp.join(ANN_INFO_FILE), json)
                .map_err(|e| Error::io(format!("writing {}", dir.display()), e))
        })?;
        self.path = Some(dir.to_path_buf());
        Ok(())
    }

    /// Loads an index that [`AnnIndex::save`] wrote.
    pub fn load(dir: &Path) -> Result<Self> {
        let info_path = dir.join(ANN_INFO_FILE);
        if !info_path.is_file() {
            return Err(Error::InvalidInput(format!(
                "{} is not an ANN index made by sbert (it has no {ANN_INFO_FILE})",
                dir.display()
            )));
        }
        let info: AnnInfo = read_json(&info_path)?;
        if info.format != FORMAT {
            return Err(Error::InvalidInput(format!(
                "{}: index format {} (this sbert reads {FORMAT})",
                dir.display(),
                info.format
            )));
        }
        info.options.check()?;
        let index = Self::empty(info.dim, &info.options)?;
        let graph = dir.join(GRAPH_FILE);
        index
            .load(&graph.to_string_lossy())
            .map_err(engine(format!("loading {}", graph.display())))?;
        if index.size() != info.len || index.dimensions() != info.dim {
            return Err(Error::InvalidInput(format!(
                "{}: the graph holds {} vectors of dimension {}, {ANN_INFO_FILE} says {} of {}",
                dir.display(),
                index.size(),
                index.dimensions(),
                info.len,
                info.dim
            )));
        }
        let read = |name: &str| {
            let p = dir.join(name);
            std::fs::read(&p).map_err(|e| Error::io(format!("reading {}", p.display()), e))
        };
        let ids = if info.ids {
            let text = String::from_utf8(read(IDS_FILE)?).map_err(|_| {
                Error::InvalidInput(format!("{}/{IDS_FILE} is not UTF-8", dir.display()))
            })?;
            let ids: Vec<String> = text.lines().map(str::to_string).collect();
            if ids.len() != info.len {
                return Err(Error::InvalidInput(format!(
                    "{}/{IDS_FILE} holds {} ids for {} rows",
                    dir.display(),
                    ids.len(),
                    info.len
                )));
            }
            Some(ids)
        } else {
            None
        };
        let rescore = match &info.rescore {
            Some(r) => {
                let ranges = match (&r.min, &r.max) {
                    (Some(min), Some(max)) => {
                        Some(QuantizationRanges::new(min.clone(), max.clone())?)
                    }
                    _ => None,
                };
                let copy = QuantizedEmbeddings::from_raw(
                    r.precision,
                    info.dim,
                    read(RESCORE_FILE)?,
                    ranges,
                )?;
                if copy.len() != info.len {
                    return Err(Error::InvalidInput(format!(
                        "{}/{RESCORE_FILE} holds {} rows for {}",
                        dir.display(),
                        copy.len(),
                        info.len
                    )));
                }
                Some(copy)
            }
            None => None,
        };
        Ok(Self {
            index,
            info,
            path: Some(dir.to_path_buf()),
            ids,
            rescore,
        })
    }

    /// Number of embeddings indexed.
    pub fn len(&self) -> usize {
        self.info.len
    }
    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.info.len == 0
    }
    /// Embedding dimension.
    pub fn dim(&self) -> usize {
        self.info.dim
    }
    /// The options it was built with (`expansion_search` as last set).
    pub fn options(&self) -> &AnnOptions {
        &self.info.options
    }
    /// The folder it was saved to or loaded from.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }
    /// Bytes of memory USearch holds for the graph and its vectors, its reserved capacity
    /// included (so small indexes show its minimum arenas).
    pub fn memory_bytes(&self) -> usize {
        self.index.memory_usage()
    }
    /// Bytes of the graph and its vectors as saved (`index.usearch`): what the index itself takes.
    pub fn size_bytes(&self) -> usize {
        self.index.serialized_length()
    }
    /// Sets ef, the candidates explored per search.
    pub fn set_expansion_search(&mut self, ef: usize) -> Result<()> {
        if ef == 0 {
            return Err(Error::InvalidInput(
                "expansion_search must be at least 1".into(),
            ));
        }
        self.index.change_expansion_search(ef);
        self.info.options.expansion_search = ef;
        Ok(())
    }

    /// Each query's approximate `top_k` nearest rows, best first: score `1 − cosine distance`
    /// (float32, int8) or the number of equal bits (binary). Equal scores keep USearch's order.
    pub fn search<Q: AsEmbeddings + ?Sized>(
        &self,
        queries: &Q,
        top_k: usize,
    ) -> Result<SearchResults> {
        let q = checked_queries(queries, self.dim())?;
        let hits = self.candidates(&q, top_k)?;
        Ok(SearchResults::from_hits(
            hits,
            q.texts().to_vec(),
            ScoreFunction::Cosine,
        ))
    }

    /// [`AnnIndex::search`] for `top_k × rescore_multiplier` candidates, rescored by the f32
    /// query's dot product with `rescore_from`'s rows (the same corpus, e.g. int8: dequantized),
    /// the best `top_k` kept — the binary graph with int8 rescoring.
    pub fn search_rescored<Q: AsEmbeddings + ?Sized>(
        &self,
        queries: &Q,
        top_k: usize,
        rescore_multiplier: usize,
        rescore_from: &QuantizedEmbeddings,
    ) -> Result<SearchResults> {
        if rescore_multiplier == 0 {
            return Err(Error::InvalidInput(
                "rescore_multiplier must be at least 1".into(),
            ));
        }
        self.check_copy(rescore_from)?;
        let q = checked_queries(queries, self.dim())?;
        let candidates = self.candidates(&q, top_k.saturating_mul(rescore_multiplier))?;
        let hits = rescore(&q, candidates, rescore_from, top_k.min(self.len()));
        Ok(SearchResults::from_hits(
            hits,
            q.texts().to_vec(),
            ScoreFunction::Dot,
        ))
    }

    /// [`AnnIndex::search_rescored`] from the copy [`AnnIndex::set_rescoring`] stored.
    pub fn search_rescored_stored<Q: AsEmbeddings + ?Sized>(
        &self,
        queries: &Q,
        top_k: usize,
        rescore_multiplier: usize,
    ) -> Result<SearchResults> {
        let copy = self.rescore.as_ref().ok_or_else(|| {
            Error::InvalidInput("this index holds no rescoring copy (set_rescoring)".into())
        })?;
        self.search_rescored(queries, top_k, rescore_multiplier, copy)
    }

    fn candidates(&self, q: &Embeddings, count: usize) -> Result<Vec<Vec<Hit>>> {
        let count = count.min(self.len());
        if count == 0 {
            return Ok(vec![Vec::new(); q.len()]);
        }
        let binary = self.info.options.precision == Some(Precision::Binary);
        let bits = if binary { Some(bits_of(q)?) } else { None };
        let total_bits = (self.dim().div_ceil(8) * 8) as f32;
        (0..q.len())
            .into_par_iter()
            .map(|i| {
                let found = match &bits {
                    Some(b) => {
                        let rb = b.row_bytes();
                        self.index.search(
                            usearch::b1x8::from_u8s(&b.as_bytes()[i * rb..(i + 1) * rb]),
                            count,
                        )
                    }
                    None => self.index.search(q.get(i).expect("row in range"), count),
                }
                .map_err(engine(format!("searching query {i}")))?;
                Ok(found
                    .keys
                    .iter()
                    .zip(&found.distances)
                    .map(|(&k, &dist)| Hit {
                        corpus_id: k as usize,
                        score: if binary {
                            total_bits - dist
                        } else {
                            1.0 - dist
                        },
                    })
                    .collect())
            })
            .collect()
    }
}

/// The files an ANN index folder owns.
fn owned_by_index(name: &str) -> bool {
    [ANN_INFO_FILE, GRAPH_FILE, IDS_FILE, RESCORE_FILE].contains(&name)
}

const OWNERSHIP: DirOwnership = DirOwnership {
    owns: &owned_by_index,
    markers: &[ANN_INFO_FILE],
};
