//! The `sbert` command line on the real model: the stable contract of README § CLI.

mod common;
use common::*;
use sbert::prelude::*;
use std::process::Command;

fn sbert(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_sbert")).args(args).output().expect("run sbert")
}

fn nine() -> Vec<String> {
    serde_json::from_value(golden("seed.json")["nine"]["sentences"].clone()).unwrap()
}

#[test]
fn encode_writes_npy_equal_to_library() {
    let dir = temp_dir("cli-encode");
    let input = dir.join("s.txt");
    std::fs::write(&input, nine().join("\n") + "\n").unwrap();
    let out = dir.join("e.npy");
    let o = sbert(&["encode", "--model", "all-MiniLM-L6-v2", "--batch-size", "4", "--input", input.to_str().unwrap(), "--output", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let got = sbert::npy::read_npy(&out).unwrap();
    assert_eq!(got.shape(), (9, 384));
    let g = golden("seed.json");
    for k in 0..9 {
        // seed.json's embeddings list the pair first, then the nine.
        assert!(max_abs_diff(&got[k], &f32s(&g["embeddings"][k + 2])) <= 1e-5);
    }
}

#[test]
fn pairs_and_similarity_json() {
    let dir = temp_dir("cli-pairs");
    let input = dir.join("s.txt");
    std::fs::write(&input, nine().join("\n")).unwrap();
    let o = sbert(&["pairs", "--input", input.to_str().unwrap(), "--top-k", "5", "--json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let want = &golden("seed.json")["nine"]["top5_pairs"];
    assert_eq!(v.as_array().unwrap().len(), 5);
    for (p, w) in v.as_array().unwrap().iter().zip(want.as_array().unwrap()) {
        assert_eq!((&p["i"], &p["j"]), (&w["i"], &w["j"]));
        assert!((p["score"].as_f64().unwrap() - w["score"].as_f64().unwrap()).abs() < 1e-5);
    }
    let o = sbert(&["similarity", "--input", input.to_str().unwrap(), "--json"]);
    assert!(o.status.success());
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["sentences"].as_array().unwrap().len(), 9);
    let m = v["matrix"].as_array().unwrap();
    assert_eq!(m.len(), 9);
    assert!((m[0][1].as_f64().unwrap() - 0.7553370594978333).abs() < 1e-5);
    // The table form names the sentences.
    let o = sbert(&["pairs", "--input", input.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("A man is eating food."));
}

#[test]
fn search_writes_trec_run_from_beir_and_tsv() {
    let dir = temp_dir("cli-search");
    let s = nine();
    let corpus: String = s.iter().enumerate().map(|(i, t)| format!("{}\n", serde_json::json!({"_id": format!("d{i}"), "title": "", "text": t}))).collect();
    std::fs::write(dir.join("corpus.jsonl"), corpus).unwrap();
    std::fs::write(dir.join("queries.jsonl"), "{\"_id\": \"q1\", \"text\": \"A man is eating pasta.\"}\n{\"_id\": \"q2\", \"text\": \"Someone plays drums.\"}\n").unwrap();
    let run = dir.join("run.txt");
    let o = sbert(&["search", "--corpus", dir.join("corpus.jsonl").to_str().unwrap(), "--queries", dir.join("queries.jsonl").to_str().unwrap(), "--top-k", "3", "--run", run.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(&run).unwrap();
    let lines: Vec<Vec<&str>> = text.lines().map(|l| l.split(' ').collect()).collect();
    assert_eq!(lines.len(), 6);
    assert!(lines.iter().all(|l| l.len() == 6 && l[1] == "Q0" && l[5] == "sbert"));
    assert_eq!((lines[0][0], lines[0][2], lines[0][3]), ("q1", "d0", "1"));
    assert_eq!((lines[3][0], lines[3][3]), ("q2", "1"));
    assert!(["d7", "d8"].contains(&lines[3][2]));
    // Scores are the library's semantic_search scores, best first.
    let model = model();
    let emb = model.encode(&s, &EncodeOptions::default()).unwrap();
    let q = model.encode(&["A man is eating pasta."], &EncodeOptions::default()).unwrap();
    let hits = semantic_search(&q, &emb, &SearchOptions::default().top_k(3)).unwrap();
    for (h, l) in hits[0].iter().zip(&lines[..3]) {
        assert_eq!(format!("d{}", h.corpus_id), l[2]);
        assert!((h.score - l[4].parse::<f32>().unwrap()).abs() < 1e-5);
    }
    // The same with id<TAB>text files and dot scoring.
    let tsv: String = s.iter().enumerate().map(|(i, t)| format!("d{i}\t{t}\n")).collect();
    std::fs::write(dir.join("corpus.tsv"), tsv).unwrap();
    std::fs::write(dir.join("queries.tsv"), "q1\tA man is eating pasta.\n").unwrap();
    let o = sbert(&["search", "--corpus", dir.join("corpus.tsv").to_str().unwrap(), "--queries", dir.join("queries.tsv").to_str().unwrap(), "--score", "dot", "--run", run.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(&run).unwrap();
    assert_eq!(text.lines().count(), 9);
    assert!(text.starts_with("q1 Q0 d0 1 "));
}

#[test]
fn bad_input_is_a_clear_error_and_leaves_no_file() {
    let dir = temp_dir("cli-bad");
    let out = dir.join("e.npy");
    let o = sbert(&["encode", "--input", dir.join("missing.txt").to_str().unwrap(), "--output", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("missing.txt"));
    assert!(!out.exists());
    std::fs::write(dir.join("s.txt"), "a\n").unwrap();
    let o = sbert(&["encode", "--model", "no-such-model-xyz", "--input", dir.join("s.txt").to_str().unwrap(), "--output", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("not found") && err.contains("provision"), "{err}");
    std::fs::write(dir.join("c.jsonl"), "{\"_id\": \"d1\", \"text\": \"x\"}\n{not json\n").unwrap();
    let o = sbert(&["search", "--corpus", dir.join("c.jsonl").to_str().unwrap(), "--queries", dir.join("c.jsonl").to_str().unwrap(), "--run", dir.join("r").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("c.jsonl:2"), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(!dir.join("r").exists());
    let o = sbert(&["search", "--corpus", dir.join("c.jsonl").to_str().unwrap(), "--queries", dir.join("c.jsonl").to_str().unwrap(), "--score", "l2", "--run", dir.join("r").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
}
