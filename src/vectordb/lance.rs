//! [`LanceTable`]: a corpus (ids, texts, embeddings) in a LanceDB table, searched with sbert's
//! query embeddings into the same [`SearchResults`] as exact search.

use std::sync::Arc;

use arrow_array::{Array, FixedSizeListArray, Float32Array, RecordBatch, StringArray, UInt64Array};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use futures::TryStreamExt;
use lancedb::query::{ExecutableQuery, QueryBase};

use crate::core::shards::ShardedEmbeddings;
use crate::core::{AsEmbeddings, Embeddings, Error, Result};
use crate::util::quantization::checked_queries;
use crate::util::{Hit, ScoreFunction, SearchResults};

/// The columns of a table sbert writes: `row` (the corpus position, what a hit's `corpus_id`
/// is), `id`, `text` and `vector` (float32, the embedding's dimension).
pub const COLUMNS: [&str; 4] = ["row", "id", "text", "vector"];

fn engine<E: std::fmt::Display>(what: String) -> impl FnOnce(E) -> Error {
    move |e| Error::InvalidInput(format!("{what}: LanceDB: {e}"))
}

fn schema(dim: usize) -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("row", DataType::UInt64, false),
        Field::new("id", DataType::Utf8, false),
        Field::new("text", DataType::Utf8, false),
        Field::new(
            "vector",
            DataType::FixedSizeList(
                Arc::new(Field::new("item", DataType::Float32, true)),
                dim as i32,
            ),
            false,
        ),
    ]))
}

/// A LanceDB table of a corpus: on a local folder (`/path/to/db`) or object storage
/// (`s3://bucket/db`, with LanceDB's credentials), in process. Its calls block on a runtime of
/// its own, so notebooks and scripts need no `async`.
pub struct LanceTable {
    runtime: tokio::runtime::Runtime,
    table: lancedb::Table,
    uri: String,
    name: String,
    dim: usize,
}

impl std::fmt::Debug for LanceTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "LanceTable({} in {}, dim {})",
            self.name, self.uri, self.dim
        )
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::io("starting LanceDB's runtime".to_string(), e))
}

/// One record batch of rows `first..first + ids.len()`.
fn batch(first: usize, ids: &[String], texts: &[String], e: &Embeddings) -> Result<RecordBatch> {
    if ids.len() != e.len() || texts.len() != e.len() {
        return Err(Error::InvalidInput(format!(
            "{} ids and {} texts for {} embeddings",
            ids.len(),
            texts.len(),
            e.len()
        )));
    }
    if let Some(i) = e.rows().position(|r| r.iter().any(|v| !v.is_finite())) {
        return Err(Error::InvalidInput(format!(
            "embedding {} has a NaN or infinite value",
            first + i
        )));
    }
    let values = Float32Array::from_iter_values(e.rows().flat_map(|r| r.iter().copied()));
    let vectors = FixedSizeListArray::try_new(
        Arc::new(Field::new("item", DataType::Float32, true)),
        e.dim() as i32,
        Arc::new(values),
        None,
    )
    .map_err(engine("building the vector column".into()))?;
    RecordBatch::try_new(
        schema(e.dim()),
        vec![
            Arc::new(UInt64Array::from_iter_values(
                (first..first + e.len()).map(|r| r as u64),
            )),
            Arc::new(StringArray::from_iter_values(ids)),
            Arc::new(StringArray::from_iter_values(texts)),
            Arc::new(vectors),
        ],
    )
    .map_err(engine("building a record batch".into()))
}

impl LanceTable {
    /// Creates the table `name` in the database at `uri` from a corpus's ids, texts and
    /// embeddings (row i of each; normalised ones, for the search's dot product to be the cosine). An existing table of that name is refused unless `overwrite`
    /// (LanceDB then writes a new version; nothing else in the database is touched).
    pub fn create<E: AsEmbeddings + ?Sized>(
        uri: &str,
        name: &str,
        ids: &[String],
        texts: &[String],
        embeddings: &E,
        overwrite: bool,
    ) -> Result<Self> {
        let e = embeddings.as_embeddings()?;
        Self::create_batches(uri, name, e.dim(), overwrite, |add| {
            add(batch(0, ids, texts, &e)?)
        })
    }

    /// Creates the table from a shard folder (`encode_to_shards`), one shard at a time: memory
    /// holds one shard's batch, never the whole corpus. Rows are stored normalised (unit length),
    /// so the dot-product search scores cosines whatever the folder's normalisation.
    pub fn create_from_shards(
        uri: &str,
        name: &str,
        ids: &[String],
        texts: &[String],
        shards: &ShardedEmbeddings,
        overwrite: bool,
    ) -> Result<Self> {
        if ids.len() != shards.len() || texts.len() != shards.len() {
            return Err(Error::InvalidInput(format!(
                "{} ids and {} texts for {} embeddings in {}",
                ids.len(),
                texts.len(),
                shards.len(),
                shards.dir().display()
            )));
        }
        Self::create_batches(uri, name, shards.dim(), overwrite, |add| {
            for i in 0..shards.shard_count() {
                let (first, values) = shards.shard(i).expect("shard in range");
                let end = first + values.len() / shards.dim();
                let e = shards.rows(first..end)?.normalized();
                add(batch(first, &ids[first..end], &texts[first..end], &e)?)?;
            }
            Ok(())
        })
    }

    /// Creates the table empty, then adds what `fill` hands to its callback, batch by batch.
    fn create_batches(
        uri: &str,
        name: &str,
        dim: usize,
        overwrite: bool,
        fill: impl FnOnce(&mut dyn FnMut(RecordBatch) -> Result<()>) -> Result<()>,
    ) -> Result<Self> {
        if dim == 0 {
            return Err(Error::InvalidInput(
                "cannot store embeddings of dimension 0".into(),
            ));
        }
        let runtime = runtime()?;
        let at = format!("table {name} in {uri}");
        let table = runtime.block_on(async {
            let db = connect(uri).await?;
            let names = db
                .table_names()
                .execute()
                .await
                .map_err(engine(format!("listing {uri}")))?;
            if names.iter().any(|n| n == name) {
                if !overwrite {
                    return Err(Error::InvalidInput(format!(
                        "{at} exists: nothing was written (overwrite it explicitly)"
                    )));
                }
                db.drop_table(name, &[])
                    .await
                    .map_err(engine(format!("replacing {at}")))?;
            }
            db.create_empty_table(name, schema(dim))
                .execute()
                .await
                .map_err(engine(format!("creating {at}")))
        })?;
        // Each batch (a shard) is appended as it comes: one in memory at a time.
        fill(&mut |b| {
            runtime
                .block_on(table.add(b).execute())
                .map(|_| ())
                .map_err(engine(format!("adding rows to {at}")))
        })?;
        Ok(Self {
            runtime,
            table,
            uri: uri.to_string(),
            name: name.to_string(),
            dim,
        })
    }

    /// Opens a table sbert wrote.
    pub fn open(uri: &str, name: &str) -> Result<Self> {
        let runtime = runtime()?;
        let at = format!("table {name} in {uri}");
        let table = runtime.block_on(async {
            connect(uri)
                .await?
                .open_table(name)
                .execute()
                .await
                .map_err(engine(format!("opening {at}")))
        })?;
        let schema = runtime
            .block_on(table.schema())
            .map_err(engine(format!("reading {at}")))?;
        let dim = match schema.field_with_name("vector").map(Field::data_type) {
            Ok(DataType::FixedSizeList(item, d))
                if item.data_type() == &DataType::Float32 && *d > 0 =>
            {
                *d as usize
            }
            _ => {
                return Err(Error::InvalidInput(format!(
                    "{at} has no float32 `vector` column: it was not written by sbert"
                )))
            }
        };
        if COLUMNS.iter().any(|c| schema.field_with_name(c).is_err()) {
            return Err(Error::InvalidInput(format!(
                "{at} lacks one of the columns {COLUMNS:?}: it was not written by sbert"
            )));
        }
        Ok(Self {
            runtime,
            table,
            uri: uri.to_string(),
            name: name.to_string(),
            dim,
        })
    }

    /// Number of rows.
    pub fn len(&self) -> Result<usize> {
        self.runtime
            .block_on(self.table.count_rows(None))
            .map_err(engine(format!("counting {}", self.name)))
    }
    /// Whether it holds none.
    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }
    /// Embedding dimension.
    pub fn dim(&self) -> usize {
        self.dim
    }
    /// The table's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The document ids of rows `0..len` (row order).
    pub fn ids(&self) -> Result<Vec<String>> {
        let query = self
            .table
            .query()
            .select(lancedb::query::Select::columns(&["row", "id"]));
        let batches = self.batches(query, format!("reading {}", self.name))?;
        let mut rows: Vec<(u64, String)> = Vec::new();
        for b in &batches {
            let (r, i) = (
                column::<UInt64Array>(b, "row")?,
                column::<StringArray>(b, "id")?,
            );
            rows.extend((0..b.num_rows()).map(|k| (r.value(k), i.value(k).to_string())));
        }
        rows.sort_by_key(|(r, _)| *r);
        Ok(rows.into_iter().map(|(_, id)| id).collect())
    }

    /// Each query's `top_k` nearest rows by dot product (cosine for the unit vectors sbert's
    /// normalised embeddings are), best first; `corpus_id` is the row. Without an index LanceDB
    /// scans every row (exact); with one ([`LanceTable::create_index`]) it is approximate.
    pub fn search<Q: AsEmbeddings + ?Sized>(
        &self,
        queries: &Q,
        top_k: usize,
    ) -> Result<SearchResults> {
        let q = checked_queries(queries, self.dim)?;
        let mut hits = Vec::with_capacity(q.len());
        for (i, query) in q.rows().enumerate() {
            if top_k == 0 {
                hits.push(Vec::new());
                continue;
            }
            let at = format!("searching {} for query {i}", self.name);
            let nearest = self
                .table
                .query()
                .nearest_to(query)
                .map_err(engine(at.clone()))?
                .distance_type(lancedb::DistanceType::Dot)
                .select(lancedb::query::Select::columns(&["row"]))
                .limit(top_k);
            let batches = self.batches(nearest, at)?;
            let mut found = Vec::new();
            for b in &batches {
                let rows = column::<UInt64Array>(b, "row")?;
                let dist = column::<Float32Array>(b, "_distance")?;
                // LanceDB's dot distance is 1 − x·y.
                found.extend((0..b.num_rows()).map(|k| Hit {
                    corpus_id: rows.value(k) as usize,
                    score: 1.0 - dist.value(k),
                }));
            }
            found.sort_by(|a, b| b.score.total_cmp(&a.score));
            hits.push(found);
        }
        Ok(SearchResults::from_hits(
            hits,
            q.texts().to_vec(),
            ScoreFunction::Dot,
        ))
    }

    /// Runs a query to completion: all its record batches.
    fn batches(&self, query: impl ExecutableQuery, what: String) -> Result<Vec<RecordBatch>> {
        self.runtime.block_on(async {
            query
                .execute()
                .await
                .map_err(engine(what.clone()))?
                .try_collect()
                .await
                .map_err(engine(what))
        })
    }

    /// Builds LanceDB's default vector index (IVF-PQ) on `vector`, for dot-product search; worth
    /// it from about 100,000 rows (LanceDB needs at least 256 to train it).
    pub fn create_index(&self) -> Result<()> {
        let index = lancedb::index::Index::IvfPq(
            lancedb::index::vector::IvfPqIndexBuilder::default()
                .distance_type(lancedb::DistanceType::Dot),
        );
        self.runtime
            .block_on(self.table.create_index(&["vector"], index).execute())
            .map_err(engine(format!("indexing {}", self.name)))
    }
}

async fn connect(uri: &str) -> Result<lancedb::Connection> {
    lancedb::connect(uri)
        .execute()
        .await
        .map_err(engine(format!("opening {uri}")))
}

fn column<'a, T: 'static>(b: &'a RecordBatch, name: &str) -> Result<&'a T> {
    b.column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref::<T>())
        .ok_or_else(|| Error::InvalidInput(format!("LanceDB returned no `{name}` column")))
}
