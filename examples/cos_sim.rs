//! # Lecture slide 1: cosine similarity of two sentences
//!
//! Python:
//! ```python
//! from sentence_transformers import SentenceTransformer, util
//! model = SentenceTransformer("all-MiniLM-L6-v2")
//! emb1 = model.encode("This is a red cat with a hat.")
//! emb2 = model.encode("Have you seen my red cat?")
//! print(util.cos_sim(emb1, emb2))   # tensor([[0.6153]])
//! ```
//! Run: `cargo run --release --example cos_sim` (mirrored by `notebooks/01_cosine_similarity.ipynb`).

use sbert::prelude::*;

fn main() -> sbert::Result<()> {
    // # Load the model (from the Hugging Face cache; see scripts/provision-model.sh)
    // `?` after a call means: if it failed, stop here with its error (where Python would raise).
    let model = SentenceTransformer::load("all-MiniLM-L6-v2")?;

    // # Encode the two sentences
    let emb1 = model.encode_one("This is a red cat with a hat.")?;
    let emb2 = model.encode_one("Have you seen my red cat?")?;

    // # util.cos_sim
    // `&emb1` lends the embedding to `cos_sim` without giving it away, so `emb1` stays usable.
    let score = cos_sim(&emb1, &emb2)?;
    println!("Cosine-Similarity: {:.4}", score.item()?);
    Ok(())
}
