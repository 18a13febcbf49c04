//! Readers (and a few writers) for the real evaluation data of the course: BEIR, TREC qrels/runs/
//! topics, SciFact as shipped, STS Benchmark, and the course's StackExchange format.
//!
//! Every reader returns an [`Error`](crate::Error) naming the file and line for malformed input;
//! none panics.

pub mod beir;
pub mod files;
mod io;
pub mod qrels;
pub mod run;
pub mod scifact;
pub mod stackexchange;
pub mod sts;
pub mod text;
pub mod trec;
mod types;

pub(crate) use io::{bad_line, read_maybe_gz, read_to_string};
pub use io::{data_dir, shared_dir};
pub use qrels::Qrels;
pub use run::{ranked, rerank_head, to_ranked_run, to_run, RankedRun, Run};
pub use types::{Document, Query, RetrievalDataset};
