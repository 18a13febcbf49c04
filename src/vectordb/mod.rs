//! A corpus in an existing vector database that scales past one machine: [LanceDB](https://lancedb.com)
//! (Lance tables on a local disk or object storage, in process). Ids, texts and embeddings go in
//! from memory or a shard folder, shard by shard; sbert's query embeddings come back as the same
//! [`SearchResults`](crate::util::SearchResults) as exact search, so runs, evaluation and
//! re-ranking work on them unchanged.
//!
//! Behind the cargo feature `lancedb` (off by default: LanceDB is a large build).

pub mod lance;

pub use lance::{LanceTable, COLUMNS};
