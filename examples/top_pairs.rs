//! # Lecture slide 2: the top-5 most similar pairs of a list of sentences
//!
//! Python:
//! ```python
//! embeddings = model.encode(sentences)
//! cosine_scores = util.cos_sim(embeddings, embeddings)
//! pairs = [{"index": [i, j], "score": cosine_scores[i][j]} for i in range(len(cosine_scores)) for j in range(i + 1, len(cosine_scores))]
//! pairs = sorted(pairs, key=lambda x: x["score"], reverse=True)
//! for pair in pairs[0:5]:
//!     i, j = pair["index"]
//!     print("{} \t\t {} \t\t Score: {:.4f}".format(sentences[i], sentences[j], pair["score"]))
//! ```
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

    // # The top-5 pairs, best first
    let pairs = top_pairs(&embeddings, 5)?;
    for p in pairs.iter() {
        println!(
            "{} \t\t {} \t\t Score: {:.4}",
            sentences[p.i], sentences[p.j], p.score
        );
    }
    println!("\n{pairs}");
    Ok(())
}
