//! The bottom layer: what every other layer builds on and that imports nothing else of the crate.
//!
//! The error type, [`Embeddings`], the seeded [`Rng`], atomic file writes and JSON reading,
//! `.npy` and `model.safetensors` files, the instruction set in use ([`isa`]), and the one GEMM entry
//! point with the compute lock, the packed bf16 / int8 linear layers ([`qgemm`]) for a [`Dtype`], and
//! the per-thread pool of buffers that inference batches reuse ([`recycle`]).

pub mod compute;
pub mod dtype;
pub mod embeddings;
pub mod error;
pub mod fs;
pub mod isa;
pub mod npy;
pub mod pth;
pub(crate) mod qgemm;
pub(crate) mod recycle;
pub mod rng;
pub mod safetensors;
pub mod shards;

pub use dtype::Dtype;
pub use embeddings::{AsEmbeddings, Embeddings};
pub use error::{Error, Result};
pub use rng::Rng;
