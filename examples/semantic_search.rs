//! # Lecture: semantic search with `util.semantic_search`
//!
//! Python:
//! ```python
//! corpus_embeddings = embedder.encode(corpus, convert_to_tensor=True)
//! query_embedding = embedder.encode(query, convert_to_tensor=True)
//! hits = util.semantic_search(query_embedding, corpus_embeddings, top_k=5)
//! # options: score_function=util.dot_score, query_chunk_size=100, corpus_chunk_size=500000
//! ```
//! Run: `cargo run --release --example semantic_search` (mirrored by `notebooks/03_semantic_search.ipynb`).

use sbert::prelude::*;

fn main() -> sbert::Result<()> {
    // # The model and a small corpus (the lecture's)
    let embedder = SentenceTransformer::load("all-MiniLM-L6-v2")?;
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
    let corpus_embeddings = embedder.encode(&corpus, &EncodeOptions::default())?;

    // # Symmetric search: queries and documents are alike (short sentences)
    // `semantic_search(query_embeddings, corpus_embeddings, top_k=5)`: one ranked list per query,
    // best first, each hit a corpus_id and a score.
    let queries = [
        "A man is eating pasta.",
        "Someone in a gorilla costume is playing a set of drums.",
        "A cheetah chases prey on across a field.",
    ];
    let query_embeddings = embedder.encode(&queries, &EncodeOptions::default())?;
    let hits = semantic_search(
        &query_embeddings,
        &corpus_embeddings,
        &SearchOptions::default().top_k(5),
    )?;
    println!("{hits}");

    // # Asymmetric search: a short question against longer passages
    // The query does not look like its answer; a model trained for question → passage
    // (e.g. msmarco-*) is the usual choice. all-MiniLM-L6-v2 still finds the right passage here.
    let passages = [
        "Python is a high-level programming language. Its design philosophy emphasizes code readability with significant indentation.",
        "The cheetah is a large cat native to Africa and central Iran. It is the fastest land animal, capable of running at 80 to 98 km/h.",
        "Paris is the capital and most populous city of France, with an estimated population of 2,102,650 residents.",
        "A violin is a wooden chordophone in the string family, usually played with a bow.",
    ];
    let passage_embeddings = embedder.encode(&passages, &EncodeOptions::default())?;
    let question = embedder.encode(&["How fast can a cheetah run?"], &EncodeOptions::default())?;
    let asymmetric = semantic_search(
        &question,
        &passage_embeddings,
        &SearchOptions::default().top_k(2),
    )?;
    println!("{asymmetric}");

    // # Cosine vs dot product
    // The lecture's MS MARCO slide: models tuned for cosine similarity prefer shorter passages,
    // models tuned for the dot product longer ones. **That cannot be shown here, offline**: it takes
    // a dot-product model (e.g. msmarco-distilbert-base-tas-b, msmarco-bert-base-dot-v5), and the
    // two models this lab provisions (all-MiniLM-L6-v2 here, all-mpnet-base-v2 in notebook 07) both
    // end with a Normalize module. Every embedding of theirs has length 1, so for them the dot
    // product *is* the cosine and both rankings agree — which is shown first. With internet,
    // `SentenceTransformer::load("msmarco-distilbert-base-tas-b")?` and the same two searches show
    // the slide with a real dot-product model.
    let cos_hits = semantic_search(
        &query_embeddings,
        &corpus_embeddings,
        &SearchOptions::default().top_k(3),
    )?;
    let dot_hits = semantic_search(
        &query_embeddings,
        &corpus_embeddings,
        &SearchOptions::default()
            .top_k(3)
            .score_function(ScoreFunction::Dot),
    )?;
    println!(
        "normalised embeddings → identical rankings: {}",
        cos_hits.same_ranking(&dot_hits)
    );
    // What can be shown is the mechanism, on a made-up vector (not a model's output): the dot
    // product is the cosine times both lengths, so a document whose vector is longer moves up.
    // Stretch document 0's vector to length 8: the dot product now ranks it first for the cheetah
    // query; the cosine does not care about length. A dot-product model learns such lengths (for
    // MS MARCO, longer passages get longer vectors), which is what the slide's plot shows.
    let mut rows = corpus_embeddings.to_vec2();
    rows[0].iter_mut().for_each(|v| *v *= 8.0);
    let stretched = Embeddings::from_vec2(rows)?.with_texts(&corpus)?;
    let dot_stretched = semantic_search(
        &query_embeddings,
        &stretched,
        &SearchOptions::default()
            .top_k(3)
            .score_function(ScoreFunction::Dot),
    )?;
    let cos_stretched = semantic_search(
        &query_embeddings,
        &stretched,
        &SearchOptions::default().top_k(3),
    )?;
    println!(
        "query 2's top hit — dot: corpus_id {}, cosine: corpus_id {}",
        dot_stretched[2][0].corpus_id, cos_stretched[2][0].corpus_id
    );
    println!("{dot_stretched}");

    // # Chunk sizes change memory use, never the result
    // Python processes `query_chunk_size` queries × `corpus_chunk_size` documents at a time.
    let chunked = semantic_search(
        &query_embeddings,
        &corpus_embeddings,
        &SearchOptions::default()
            .top_k(5)
            .query_chunk_size(1)
            .corpus_chunk_size(2),
    )?;
    println!(
        "query_chunk_size 1, corpus_chunk_size 2 → same hits: {}",
        chunked.same_ranking(&hits)
    );
    Ok(())
}
