//! The one error type of the crate.
//!
//! Every fallible public function returns [`Result`]. Nothing in the public API panics on bad
//! input: in a notebook a panic loses the variables of the cell, an error is just printed.

use std::path::PathBuf;

/// Everything that can go wrong in `sbert`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A tensor operation failed (shape error, unsupported dtype, device error).
    #[error("tensor error: {0}")]
    Candle(#[from] candle_core::Error),

    /// The tokenizer could not be loaded or could not encode a text.
    #[error("tokenizer error: {0}")]
    Tokenizer(String),

    /// Reading or writing a file failed.
    #[error("{context}: {source}")]
    Io {
        /// What we were doing (usually names the path).
        context: String,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },

    /// A JSON file could not be parsed.
    #[error("invalid JSON in {path}: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// The parse error, with line and column.
        #[source]
        source: serde_json::Error,
    },

    /// A model could not be found anywhere we looked.
    #[error("model '{id}' not found. Looked in:\n{}\n{hint}", tried.iter().map(|t| format!("  - {t}")).collect::<Vec<_>>().join("\n"))]
    ModelNotFound {
        /// The id or path the user asked for.
        id: String,
        /// Every place that was tried, in order.
        tried: Vec<String>,
        /// What to do about it.
        hint: String,
    },

    /// A model file is present but not usable (corrupt, truncated, missing tensors, unsupported config).
    #[error("invalid model file {path}: {reason}")]
    InvalidModel {
        /// The offending file.
        path: PathBuf,
        /// Why it was rejected.
        reason: String,
    },

    /// A module type in `modules.json` that sbert does not implement.
    #[error("unsupported module type '{type_}' in modules.json (supported: Transformer, Pooling, Dense, Normalize)")]
    UnsupportedModule {
        /// The `type` string from `modules.json`.
        type_: String,
    },

    /// Two inputs that must share a dimension do not.
    #[error("dimension mismatch: {what}: {left} vs {right}")]
    DimensionMismatch {
        /// What was compared.
        what: String,
        /// Left-hand size.
        left: usize,
        /// Right-hand size.
        right: usize,
    },

    /// An argument is out of its valid range or an input file is malformed.
    #[error("invalid input: {0}")]
    InvalidInput(String),

    /// A value could not be serialised (to JSON, for a file sbert writes).
    #[error("could not serialise {what}: {source}")]
    Serialize {
        /// What was being written.
        what: String,
        /// The serialiser's error.
        #[source]
        source: serde_json::Error,
    },

    /// A search index (BM25's tantivy index) could not be built, opened or read.
    #[error("search index {context}: {reason}")]
    Index {
        /// What was being done, with the index's path where it has one.
        context: String,
        /// The engine's error.
        reason: String,
    },

    /// Tensors or buffers whose shapes do not fit together.
    #[error("shape error: {0}")]
    Shape(String),

    /// An internal invariant of sbert does not hold: a bug in sbert, please report it.
    #[error("internal error (a bug in sbert, please report it): {0}")]
    Internal(String),
}

/// `Result` with [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// An I/O error with context (usually the path).
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }
    /// An invalid-model error.
    pub(crate) fn invalid_model(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Error::InvalidModel {
            path: path.into(),
            reason: reason.into(),
        }
    }
}

impl Error {
    /// A serialisation error for `what`.
    pub(crate) fn serialize(what: impl Into<String>) -> impl FnOnce(serde_json::Error) -> Self {
        let what = what.into();
        move |source| Error::Serialize { what, source }
    }
}

impl From<tokenizers::Error> for Error {
    fn from(e: tokenizers::Error) -> Self {
        Error::Tokenizer(e.to_string())
    }
}
