//! The data of an evaluation: relevance judgements ([`Qrels`]) and ranked runs ([`Run`],
//! [`RankedRun`]), as the readers produce them and the metrics and re-rankers take them.

use std::collections::BTreeMap;

/// Relevance judgements: query id → document id → grade.
pub type Qrels = BTreeMap<String, BTreeMap<String, i32>>;

/// A ranked run: query id → `(document id, score)` (any order; trec_eval re-sorts).
pub type Run = BTreeMap<String, Vec<(String, f64)>>;

/// A ranked run in our order (best first per query, queries in dataset order), as retrieval and
/// re-ranking produce it; [`to_run`] gives the [`Run`] the metrics take.
pub type RankedRun = Vec<(String, Vec<(String, f32)>)>;

/// Converts a ranked run into the [`Run`] map the metrics take.
pub fn to_run(ranked: &RankedRun) -> Run {
    ranked
        .iter()
        .map(|(q, docs)| {
            (
                q.clone(),
                docs.iter().map(|(d, s)| (d.clone(), *s as f64)).collect(),
            )
        })
        .collect()
}
