//! # Corpora past memory: quantized embeddings with rescoring
//!
//! Python (sentence-transformers' embedding quantization):
//! ```python
//! corpus_embeddings = model.encode(corpus, normalize_embeddings=True)
//! binary_corpus = quantize_embeddings(corpus_embeddings, precision="binary")
//! hits, search_time = semantic_search_usearch(query_embeddings, corpus_embeddings=binary_corpus,
//!     corpus_precision="binary", top_k=10, rescore=True, rescore_multiplier=4, exact=True)
//! ```
//! A float32 embedding of 384 dimensions takes 1,536 bytes: 1.5 GB per million documents. Stored
//! as int8 (one byte per dimension, each dimension's range cut into 256 steps) it takes 1/4 of
//! that; as binary (one bit per dimension: is the value above 0?) 1/32. Searching the binary
//! corpus compares bits (a popcount of XORs), far faster than float products, and loses some
//! ranking quality; **rescoring** wins it back: the best `top_k × rescore_multiplier` candidates
//! are rescored with the float32 query. Here on SciFact (5,183 abstracts, 300 claims) — quality
//! (nDCG@10, recall of the exact top 10), memory and time — then on a million random vectors for
//! speed.
//! Run: `cargo run --release --example large_corpora` (mirrored by
//! `notebooks/08_large_corpora.ipynb`).

use std::time::Instant;

use sbert::ann::{AnnIndex, AnnOptions};
use sbert::datasets::scifact;
use sbert::evaluation::retrieval::to_ranked_run;
use sbert::evaluation::{InformationRetrievalEvaluator, MeanComparison, Measure};
use sbert::prelude::*;
use sbert::util::quantization::recall_of;
use sbert::util::{
    quantize_embeddings, semantic_search_quantized_rescored, Precision, QuantizedSearchOptions,
};

fn main() -> sbert::Result<()> {
    // # SciFact, encoded once
    // The embeddings are cached in `target/lab/embeddings` (notebook 04 made them already).
    // all-MiniLM-L6-v2 ends with a Normalize module, so its embeddings have length 1 and the dot
    // product of two of them is their cosine — what a quantized search scores.
    let model = SentenceTransformer::load("all-MiniLM-L6-v2")?;
    let scifact = scifact::load(&sbert::datasets::data_dir()?.join("beir-scifact"), "test")?;
    let cached = EncodeOptions::default().cache_dir("target/lab/embeddings");
    let corpus = model.encode(&scifact.corpus_texts(), &cached)?;
    let queries = model.encode(&scifact.query_texts(), &cached)?;
    println!(
        "{} abstracts, {} claims, dimension {}",
        corpus.len(),
        queries.len(),
        corpus.dim()
    );

    // # Quantize the corpus
    // int8 takes each dimension's minimum and maximum over the corpus (the calibration) and maps
    // that range to -128…127; binary keeps the sign bits, 8 to a byte.
    let int8_corpus = quantize_embeddings(&corpus, Precision::Int8, None, None)?;
    let binary_corpus = quantize_embeddings(&corpus, Precision::Binary, None, None)?;
    println!("{int8_corpus}");
    println!("{binary_corpus}");
    println!(
        "first abstract, binary: {:?}",
        &binary_corpus.row_values(0)?[..8]
    );

    // # Exact, int8 and binary search, with and without rescoring
    // The top 100 of each claim, as an IR evaluation wants (the next cell's nDCG@10 and
    // recall@100). Recall here is the share of the exact search's top 10 that each search finds
    // when asked for its top 10 (so ×4 rescores 40 candidates), and the time is that search's.
    let evaluator = InformationRetrievalEvaluator::new(scifact.clone())
        .measures(&[Measure::NdcgCut(10), Measure::Recall(100)]);
    let exact = semantic_search(&queries, &corpus, &SearchOptions::default().top_k(100))?;
    let started = Instant::now();
    let exact10 = semantic_search(&queries, &corpus, &SearchOptions::default())?;
    let exact_s = started.elapsed().as_secs_f64();
    let mut results = vec![(
        "float32, exact".to_string(),
        evaluator.evaluate_run(&to_ranked_run(&scifact, &exact)),
    )];
    let mut summary = format!(
        "{:<32} {:>9} {:>8} {:>9}\n{:<32} {:>9.1} {:>8.4} {:>9.1}\n",
        "search",
        "memory MB",
        "recall",
        "time ms",
        "float32, exact",
        (corpus.len() * corpus.dim() * 4) as f64 / 1e6,
        1.0,
        exact_s * 1e3
    );
    // The last rows are binary search with int8 rescoring: the binary corpus in memory, its int8
    // copy (which could stay on disk) read only for the candidates. "asym." ranks the bits by the
    // float32 query (q · (2b − 1), `asymmetric(true)`) instead of by the query's own bits.
    for (quantized, rescore_from, multiplier, asymmetric) in [
        (&int8_corpus, &int8_corpus, 0, false),
        (&int8_corpus, &int8_corpus, 4, false),
        (&binary_corpus, &binary_corpus, 0, false),
        (&binary_corpus, &binary_corpus, 4, false),
        (&binary_corpus, &int8_corpus, 4, false),
        (&binary_corpus, &int8_corpus, 10, false),
        (&binary_corpus, &int8_corpus, 4, true),
    ] {
        let options = QuantizedSearchOptions::default()
            .rescore(multiplier > 0)
            .rescore_multiplier(multiplier.max(1))
            .asymmetric(asymmetric);
        let started = Instant::now();
        let hits10 =
            semantic_search_quantized_rescored(&queries, quantized, rescore_from, &options)?;
        let secs = started.elapsed().as_secs_f64();
        let hits = semantic_search_quantized_rescored(
            &queries,
            quantized,
            rescore_from,
            &options.top_k(100),
        )?;
        let searched = if asymmetric {
            format!("{} asym.", quantized.precision())
        } else {
            quantized.precision().to_string()
        };
        let name = match (
            multiplier,
            rescore_from.precision() == quantized.precision(),
        ) {
            (0, _) => searched,
            (m, true) => format!("{searched}, rescored ×{m}"),
            (m, false) => format!("{searched}, {}-rescored ×{m}", rescore_from.precision()),
        };
        summary += &format!(
            "{:<32} {:>9.1} {:>8.4} {:>9.1}\n",
            name,
            quantized.memory_bytes() as f64 / 1e6,
            recall_of(&hits10, &exact10, 10),
            secs * 1e3
        );
        results.push((
            name,
            evaluator.evaluate_run(&to_ranked_run(&scifact, &hits)),
        ));
    }
    print!("{summary}");

    // # An approximate index: HNSW
    // Exact and quantized searches still compare each claim with every abstract. An HNSW graph
    // (USearch, the library behind Python's `semantic_search_usearch`) links each document to
    // its nearest neighbours and walks the links from an entry point: a search visits a few
    // hundred documents, not all of them, and may miss some hits. `expansion_search` (ef) is how
    // many candidates the walk keeps: larger is slower and closer to exact.
    let mut graph_rows = format!(
        "{:<30} {:>9} {:>8} {:>9} {:>9}\n",
        "index", "build s", "recall", "time ms", "size MB"
    );
    for (precision, rescore_from) in [
        (None, None),
        (Some(Precision::Int8), None),
        (Some(Precision::Binary), Some(&int8_corpus)),
    ] {
        let started = Instant::now();
        let graph = AnnIndex::build(&corpus, &AnnOptions::default().precision(precision))?;
        let build_s = started.elapsed().as_secs_f64();
        let search = |k: usize| match rescore_from {
            Some(copy) => graph.search_rescored(&queries, k, 10, copy),
            None => graph.search(&queries, k),
        };
        let started = Instant::now();
        let hits10 = search(10)?;
        let secs = started.elapsed().as_secs_f64();
        let name = match (precision, rescore_from) {
            (None, _) => "HNSW float32".to_string(),
            (Some(p), None) => format!("HNSW {p}"),
            (Some(p), Some(copy)) => format!("HNSW {p}, {}-rescored ×10", copy.precision()),
        };
        graph_rows += &format!(
            "{:<30} {:>9.2} {:>8.4} {:>9.1} {:>9.1}\n",
            name,
            build_s,
            recall_of(&hits10, &exact10, 10),
            secs * 1e3,
            graph.size_bytes() as f64 / 1e6
        );
        results.push((
            name,
            evaluator.evaluate_run(&to_ranked_run(&scifact, &search(100)?)),
        ));
    }
    print!("{graph_rows}");

    // # Ranking quality: nDCG@10 and recall@100 of each search
    // Measured: exact nDCG@10 0.6451; int8 0.6442 (recall of the exact top 10: 0.993); binary
    // alone 0.5864 (0.566) — 384 bits keep too little of all-MiniLM-L6-v2's embeddings; rescored
    // from its own bits, as Python's `rescore=True` does, 0.6228 (0.682); rescored from the int8
    // copy 0.6442 (top-10 recall 0.858 with 40 candidates, 0.941 with 100): the multiplier trades
    // time for recall, and the int8 copy, not the bits, decides the final order. Ranking the same
    // bits by the float32 query (asym.) brings 0.953 of the exact top 10 into 40 candidates.
    // The HNSW graphs (measured): float32 finds 0.99 of the exact top 10, nDCG@10 0.6451 as exact
    // search; the int8 graph 0.95, 0.6466; the binary graph rescored from int8 (×10) 0.94, 0.6442
    // — each within 0.005 of exact. On 5,183 abstracts a graph is no faster than exact search (a
    // GEMM over 8 MB is quick); the walk pays off at millions of documents.
    let quality = MeanComparison::new(
        &results
            .iter()
            .map(|(n, e)| (n.as_str(), e))
            .collect::<Vec<_>>(),
    );
    println!("{quality}");

    // # A million documents
    // Random unit vectors stand in for a million embeddings (1.5 GB as float32); 1,000 queries,
    // top 10. Random vectors have no structure for the bits to keep, so their recall says little;
    // the time and memory are what this cell measures.
    let million = Embeddings::random_unit(1_000_000, 384, 7)?;
    let thousand = Embeddings::random_unit(1000, 384, 8)?;
    let started = Instant::now();
    let _exact_hits = semantic_search(&thousand, &million, &SearchOptions::default())?;
    let exact_s = started.elapsed().as_secs_f64();
    let binary_million = quantize_embeddings(&million, Precision::Binary, None, None)?;
    let int8_million = quantize_embeddings(&million, Precision::Int8, None, None)?;
    let started = Instant::now();
    let _binary_hits = semantic_search_quantized_rescored(
        &thousand,
        &binary_million,
        &int8_million,
        &QuantizedSearchOptions::default().rescore_multiplier(10),
    )?;
    let binary_s = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let _asymmetric_hits = semantic_search_quantized_rescored(
        &thousand,
        &binary_million,
        &int8_million,
        &QuantizedSearchOptions::default()
            .rescore_multiplier(4)
            .asymmetric(true),
    )?;
    let asymmetric_s = started.elapsed().as_secs_f64();
    println!(
        "exact float32: {exact_s:.2} s, {:.0} MB in memory\nbinary, int8-rescored ×10: {binary_s:.2} s, {:.0} MB in memory (+ {:.0} MB of int8 read for the candidates), {:.1}× faster\nbinary asym., int8-rescored ×4: {asymmetric_s:.2} s, {:.1}× faster",
        1_000_000.0 * 384.0 * 4.0 / 1e6,
        binary_million.memory_bytes() as f64 / 1e6,
        int8_million.memory_bytes() as f64 / 1e6,
        exact_s / binary_s,
        exact_s / asymmetric_s
    );
    Ok(())
}
