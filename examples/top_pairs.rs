//! # Lecture slide 2: the top-5 most similar pairs of a list of sentences
//!
//! The lecture's code, Python:
//! ```python
//! embeddings = model.encode(sentences, convert_to_tensor=True)
//! cosine_scores = util.cos_sim(embeddings, embeddings)
//! pairs = []
//! for i in range(len(cosine_scores) - 1):
//!     for j in range(i + 1, len(cosine_scores)):
//!         pairs.append({"index": [i, j], "score": cosine_scores[i][j]})
//! pairs = sorted(pairs, key=lambda x: x["score"], reverse=True)
//! print("Top-5 most similar pairs:")
//! for pair in pairs[0:5]:
//!     i, j = pair["index"]
//!     print("{} \t {} \t {:.4f}".format(sentences[i], sentences[j], pair["score"]))
//! ```
//! Below: the same double loop in Rust, then sbert's `top_pairs`, which does it in one call (and,
//! for long lists, without holding the whole matrix: Python's `util.paraphrase_mining`).
//! Run: `cargo run --release --example top_pairs` (mirrored by `notebooks/02_top_pairs.ipynb`).

use sbert::prelude::*;

fn main() -> sbert::Result<()> {
    let model = SentenceTransformer::load("all-MiniLM-L6-v2")?;

    // # The nine sentences of the slide
    let sentences = [
        "A man is eating food.",
        "A man is eating a piece of bread.",
        "The girl is carrying a baby.",
        "A man is riding a horse.",
        "A woman is playing violin.",
        "Two men pushed carts through the woods.",
        "A man is riding a white horse on an enclosed ground.",
        "A monkey is playing drums.",
        "Someone in a gorilla costume is playing a set of drums.",
    ];
    let embeddings = model.encode(&sentences, &EncodeOptions::default())?;

    // # The full cosine-similarity matrix
    let cosine_scores = cos_sim(&embeddings, &embeddings)?;
    println!("{cosine_scores}");

    // # The lecture's double loop, in Rust
    // `to_vec2()` gives the matrix as rows of numbers, so `scores[i][j]` reads as in Python.
    // `sort_by` with `b.score.total_cmp(&a.score)` sorts in decreasing order (`reverse=True`).
    let scores = cosine_scores.to_vec2();
    let mut pairs = Vec::new();
    for i in 0..scores.len() - 1 {
        for j in i + 1..scores.len() {
            pairs.push(ScoredPair {
                i,
                j,
                score: scores[i][j],
            });
        }
    }
    pairs.sort_by(|a, b| b.score.total_cmp(&a.score));
    println!("Top-5 most similar pairs:");
    for pair in &pairs[0..5] {
        println!(
            "{} \t {} \t {:.4}",
            sentences[pair.i], sentences[pair.j], pair.score
        );
    }

    // # The same in one call: top_pairs
    // The same five pairs, best first, shown as a table (with the texts) in a notebook.
    let top = top_pairs(&embeddings, 5)?;
    let same = top
        .iter()
        .map(|p| (p.i, p.j))
        .eq(pairs[0..5].iter().map(|p| (p.i, p.j)));
    println!("same pairs as the loop: {same}");
    println!("\n{top}");
    Ok(())
}
