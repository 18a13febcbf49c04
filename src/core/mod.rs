//! The bottom layer: what every other layer builds on and that imports nothing else of the crate.
//!
//! The error type, [`Embeddings`], the seeded [`Rng`], atomic file writes and JSON reading,
//! `.npy` and `model.safetensors` files, the instruction set in use ([`isa`]), and the one GEMM entry
//! point with the compute lock.

pub mod compute;
pub mod embeddings;
pub mod error;
pub mod fs;
pub mod isa;
pub mod npy;
pub mod pth;
pub mod rng;
pub mod safetensors;

pub use embeddings::{AsEmbeddings, Embeddings};
pub use error::{Error, Result};
pub use rng::Rng;
