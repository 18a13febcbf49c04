//! # Two model families side by side: all-MiniLM-L6-v2 (BERT) and all-mpnet-base-v2 (MPNet)
//!
//! Python:
//! ```python
//! for name in ["all-MiniLM-L6-v2", "all-mpnet-base-v2"]:
//!     model = SentenceTransformer(name)
//!     hits = util.semantic_search(model.encode(queries), model.encode(corpus), top_k=3)
//!     evaluator = EmbeddingSimilarityEvaluator(s1, s2, scores, name="sts-test")
//!     print(name, evaluator(model))
//! ```
//! sentence-transformers' strongest general model, all-mpnet-base-v2 (12 layers, 768 dimensions,
//! MPNet's relative position bias), against the lecture's small and fast all-MiniLM-L6-v2
//! (6 layers, 384 dimensions): the same search, then the STS Benchmark test set — quality and
//! speed side by side. sbert reads the family from `config.json` (`model_type`); RoBERTa,
//! DistilBERT and XLM-RoBERTa models load the same way. Last, the lecture's model in f32, bf16
//! and int8 on this machine: speed and quality side by side.
//! Run: `cargo run --release --example model_families` (mirrored by `notebooks/07_model_families.ipynb`).

use std::time::Instant;

use sbert::datasets::sts;
use sbert::evaluation::{EmbeddingSimilarityEvaluator, Evaluator};
use sbert::prelude::*;

/// The top 3 documents of `corpus` for each query, by `model`'s embeddings.
fn search(
    model: &SentenceTransformer,
    corpus: &[&str],
    queries: &[&str],
) -> sbert::Result<SearchResults> {
    let c = model.encode(corpus, &EncodeOptions::default())?;
    let q = model.encode(queries, &EncodeOptions::default())?;
    semantic_search(&q, &c, &SearchOptions::default().top_k(3))
}

fn main() -> sbert::Result<()> {
    // # The two models
    let minilm = SentenceTransformer::load("all-MiniLM-L6-v2")?;
    let mpnet = SentenceTransformer::load("all-mpnet-base-v2")?;
    let mut about = String::new();
    for (name, m) in [("all-MiniLM-L6-v2", &minilm), ("all-mpnet-base-v2", &mpnet)] {
        let t = m.transformer();
        about += &format!(
            "{name}: {} ({} layers), {} dimensions, max_seq_length {}\n",
            t.encoder.family().hf_class(),
            t.encoder.config().num_hidden_layers,
            m.get_sentence_embedding_dimension(),
            m.max_seq_length()
        );
    }
    print!("{about}");

    // # The same search with both
    let corpus = [
        "A man is eating food.",
        "A man is eating a piece of bread.",
        "The girl is carrying a baby.",
        "A man is riding a horse.",
        "A woman is playing violin.",
        "Two men pushed carts through the woods.",
        "A man is riding a white horse on an enclosed ground.",
        "A monkey is playing drums.",
        "A cheetah is running behind its prey.",
    ];
    let queries = [
        "A man is eating pasta.",
        "Someone in a gorilla costume is playing a set of drums.",
        "A cheetah chases prey on across a field.",
    ];
    let minilm_hits = search(&minilm, &corpus, &queries)?;
    println!("{minilm_hits}");

    // # all-mpnet-base-v2 on the same queries
    let mpnet_hits = search(&mpnet, &corpus, &queries)?;
    println!("{mpnet_hits}");

    // # STS Benchmark test: quality and speed
    // Spearman correlation of cosine similarity with the human scores (1,379 pairs), and the
    // encoding speed on this machine (2,758 sentences).
    let data = sbert::datasets::data_dir()?;
    let pairs = sts::read_sts(&data.join("stsbenchmark/sts-test.csv"))?;
    let evaluator = EmbeddingSimilarityEvaluator::from_sts(&pairs)?.name("sts-test");
    let mut table = String::from(
        "| model | family | dim | STSb test Spearman | sentences/s |\n|---|---|---|---|---|\n",
    );
    for (name, m) in [("all-MiniLM-L6-v2", &minilm), ("all-mpnet-base-v2", &mpnet)] {
        let start = Instant::now();
        let report = evaluator.evaluate(m)?;
        let rate = (2 * pairs.len()) as f64 / start.elapsed().as_secs_f64();
        table += &format!(
            "| {name} | {} | {} | {:.4} | {rate:.0} |\n",
            m.transformer().encoder.family(),
            m.get_sentence_embedding_dimension(),
            report.primary_score()
        );
    }
    print!("{table}");
    // Python (sentence-transformers 6.2) gives 0.8203 and 0.8342: the same numbers to 1e-3.

    // # f32, bf16 and int8 on this processor
    // `LoadOptions { dtype }` (or `model.set_dtype`) runs the encoder's matrix products in
    // bfloat16, or in int8 with ONNX Runtime's dynamic quantization; embeddings, attention and
    // LayerNorm stay f32. They are faster where the processor has instructions for them (the line
    // below says which: `+bf16` is AVX512-BF16, `+vnni` AVX512-VNNI), at a small cost in quality.
    // Training always runs in f32.
    println!("{}", sbert::cpu::describe());
    let mut dtypes =
        String::from("| all-MiniLM-L6-v2 | STSb test Spearman | sentences/s |\n|---|---|---|\n");
    for dtype in [Dtype::F32, Dtype::Bf16, Dtype::Int8] {
        let m = SentenceTransformer::load_with(
            "all-MiniLM-L6-v2",
            &LoadOptions {
                dtype,
                ..Default::default()
            },
        )?;
        let start = Instant::now();
        let report = evaluator.evaluate(&m)?;
        let rate = (2 * pairs.len()) as f64 / start.elapsed().as_secs_f64();
        dtypes += &format!("| {dtype} | {:.4} | {rate:.0} |\n", report.primary_score());
    }
    print!("{dtypes}");
    Ok(())
}
