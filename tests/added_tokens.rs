//! Special tokens added to all-MiniLM-L6-v2 as the course's students add them: the same token ids,
//! new rows and embeddings as Python (tests/golden/added_tokens.json), and a save that reloads.

mod common;

use common::*;
use sbert::prelude::*;

#[test]
fn added_special_tokens_match_python_and_survive_save() {
    let g: serde_json::Value = repo_golden("added_tokens.json");
    let mut m = SentenceTransformer::load("all-MiniLM-L6-v2").unwrap();
    assert_eq!(m.add_tokens(&["[TITLE]", "[BODY]"], true).unwrap(), 2);
    assert_eq!(m.add_tokens(&["[TITLE]"], true).unwrap(), 0);
    assert_eq!(
        m.tokenizer_len(),
        g["tokenizer_len"].as_u64().unwrap() as usize
    );
    let texts: Vec<String> = g["texts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_string())
        .collect();
    // Before the resize the new ids have no embedding: an error, not a panic.
    let err = m
        .encode(&texts[..1], &EncodeOptions::default())
        .unwrap_err();
    assert!(err.to_string().contains("resize_token_embeddings"), "{err}");
    m.resize_token_embeddings(m.tokenizer_len()).unwrap();
    let enc = m.transformer().tokenize(&texts).unwrap();
    for (e, want) in enc.iter().zip(g["input_ids"].as_array().unwrap()) {
        let want: Vec<u32> = want
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap() as u32)
            .collect();
        assert_eq!(e.get_ids(), want.as_slice());
    }
    let emb = m.encode(&texts, &EncodeOptions::default()).unwrap();
    for (i, want) in g["embeddings"].as_array().unwrap().iter().enumerate() {
        let d = max_abs_diff(emb.row(i).unwrap(), &f32s(want));
        assert!(d < 1e-4, "text {i}: max abs diff {d}");
    }
    let dir = temp_dir("added-tokens");
    m.save(&dir.join("m")).unwrap();
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("m/config.json")).unwrap()).unwrap();
    assert_eq!(config["vocab_size"], 30524);
    let back = SentenceTransformer::load(dir.join("m").to_str().unwrap()).unwrap();
    assert_eq!(back.tokenizer_len(), 30524);
    let again = back.encode(&texts, &EncodeOptions::default()).unwrap();
    assert!(max_abs_diff(again.as_slice(), emb.as_slice()) < 1e-6);
    assert!(m.add_tokens(&[" "], true).is_err());
    std::fs::remove_dir_all(&dir).unwrap();
}
