//! Ranked runs, the one place for them: [`Run`] (query id → documents, any order, as TREC files
//! and the metrics have them) and [`RankedRun`] (queries in order, documents best first, as
//! retrieval and re-ranking produce them), with the conversions between them and from
//! `semantic_search`'s row-numbered hits.

use std::collections::BTreeMap;

pub use super::qrels::Qrels;
use super::types::RetrievalDataset;
use crate::util::SearchResults;

/// A ranked run: query id → `(document id, score)` (any order; trec_eval re-sorts).
pub type Run = BTreeMap<String, Vec<(String, f64)>>;

/// A ranked run in our order (best first per query, queries in dataset order), as retrieval and
/// re-ranking produce it; [`to_run`] gives the [`Run`] the metrics take, [`ranked`] the way back.
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

/// A [`Run`] (e.g. read from a TREC file) as a [`RankedRun`]: queries by id, each query's
/// documents in trec_eval's order ([`trec_eval_order`]), ready to re-rank or write.
pub fn ranked(run: &Run) -> RankedRun {
    run.iter()
        .map(|(q, docs)| (q.clone(), trec_eval_order(docs)))
        .collect()
}

/// The documents of one query's run in trec_eval's order: unique docids, f32 scores descending,
/// ties by docid descending (byte order).
pub fn trec_eval_order(entries: &[(String, f64)]) -> Vec<(String, f32)> {
    let mut best: BTreeMap<&str, f32> = BTreeMap::new();
    for (doc, score) in entries {
        let s = *score as f32;
        best.entry(doc.as_str())
            .and_modify(|b| *b = b.max(s))
            .or_insert(s);
    }
    let mut v: Vec<(String, f32)> = best.into_iter().map(|(d, s)| (d.to_string(), s)).collect();
    v.sort_by(|a, b| {
        b.1.total_cmp(&a.1)
            .then_with(|| b.0.as_bytes().cmp(a.0.as_bytes()))
    });
    v
}

/// The run of `semantic_search` hits of `dataset`'s queries (in order) over its corpus (rows in
/// corpus order): query ids and document ids instead of row numbers.
pub fn to_ranked_run(dataset: &RetrievalDataset, hits: &SearchResults) -> RankedRun {
    dataset
        .queries
        .iter()
        .zip(hits.iter())
        .map(|(q, hs)| {
            (
                q.id.clone(),
                hs.iter()
                    .filter_map(|h| Some((dataset.corpus.get(h.corpus_id)?.id.clone(), h.score)))
                    .collect(),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// trec_eval's order: scores descending as f32, ties by docid descending in byte order
    /// ("9" > "2" > "10"), a docid listed twice keeps its best score.
    #[test]
    fn ranked_orders_as_trec_eval_and_round_trips() {
        let run: Run = [
            (
                "q2".to_string(),
                vec![
                    ("10".to_string(), 0.5),
                    ("9".to_string(), 0.5),
                    ("2".to_string(), 0.5),
                    ("a".to_string(), 0.9),
                    ("10".to_string(), 0.7),
                ],
            ),
            ("q1".to_string(), vec![("x".to_string(), 1.0)]),
        ]
        .into_iter()
        .collect();
        let r = ranked(&run);
        assert_eq!(r[0].0, "q1");
        let docs: Vec<&str> = r[1].1.iter().map(|(d, _)| d.as_str()).collect();
        assert_eq!(docs, ["a", "10", "9", "2"]);
        assert_eq!(r[1].1[1].1, 0.7);
        let back = to_run(&r);
        assert_eq!(back["q2"].len(), 4);
        assert_eq!(ranked(&back), r);
    }
}

/// A query's run with its first `scores.len()` documents re-scored: those sorted by `scores`
/// (best first, ties by their first-stage order), then the rest in first-stage order, scored below
/// every re-ranked one (lowest re-ranked score − 1, − 2, …) so the run keeps its depth.
pub fn rerank_head(docs: &[(String, f32)], scores: &[f32]) -> Vec<(String, f32)> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
    let mut ranked: Vec<(String, f32)> = order
        .into_iter()
        .map(|i| (docs[i].0.clone(), scores[i]))
        .collect();
    let floor = ranked.last().map_or(0.0, |r| r.1);
    ranked.extend(
        docs.iter()
            .skip(scores.len())
            .enumerate()
            .map(|(k, (d, _))| (d.clone(), floor - 1.0 - k as f32)),
    );
    ranked
}
