//! Relevance judgements.

use std::collections::BTreeMap;

/// Relevance judgements: query id → document id → grade.
pub type Qrels = BTreeMap<String, BTreeMap<String, i32>>;
