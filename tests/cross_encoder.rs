//! A tiny random cross-encoder in the Hugging Face format (encoder + pooler from
//! `tiny_bert.safetensors`, a fresh 1-logit classifier): load, predict, rank, ties, bad input.

mod common;
use candle_core::{Device, Tensor};
use common::*;
use sbert::cross_encoder::{CrossEncoder, PredictOptions};
use sbert::models::bert::{Bert, Mode};

fn tiny_cross_encoder(num_labels: usize) -> (std::path::PathBuf, Vec<f32>, f32) {
    let dir = temp_dir("cross");
    let g = golden("tiny_bert_grad.json");
    let mut config = g["config"].clone();
    config["model_type"] = "bert".into();
    config["num_labels"] = num_labels.into();
    std::fs::write(dir.join("config.json"), config.to_string()).unwrap();
    std::fs::write(dir.join("tokenizer.json"), tiny_tokenizer_json().to_string()).unwrap();
    let mut tensors = sbert::weights::load_safetensors(&shared().join("golden/tiny_bert.safetensors"), &Device::Cpu).unwrap();
    let mut rng = Rng(5);
    let w: Vec<f32> = (0..32).map(|_| rng.uniform() - 0.5).collect();
    let b = 0.1f32;
    // HF BertForSequenceClassification keys: "bert." prefix on the encoder, "classifier.*" outside.
    let mut named: std::collections::HashMap<String, Tensor> = tensors.drain().map(|(k, t)| (format!("bert.{k}"), t)).collect();
    named.insert("classifier.weight".into(), Tensor::from_vec(w.clone(), (1, 32), &Device::Cpu).unwrap());
    named.insert("classifier.bias".into(), Tensor::from_vec(vec![b], 1, &Device::Cpu).unwrap());
    candle_core::safetensors::save(&named, dir.join("model.safetensors")).unwrap();
    (dir, w, b)
}

/// The oracle: one pair at a time, unpadded, through the differentiable BERT path (checked against
/// PyTorch in train_grad.rs), then tanh(pooler(CLS)) · w + b in plain Rust.
fn oracle_logit(a: &str, b: &str, w: &[f32], bias: f32) -> f32 {
    let g = golden("tiny_bert_grad.json");
    let cfg: sbert::config::BertConfig = serde_json::from_value(g["config"].clone()).unwrap();
    let tensors = sbert::weights::load_safetensors(&shared().join("golden/tiny_bert.safetensors"), &Device::Cpu).unwrap();
    let pw = tensors["pooler.dense.weight"].to_vec2::<f32>().unwrap();
    let pb = tensors["pooler.dense.bias"].to_vec1::<f32>().unwrap();
    let bert = Bert::trainable(&cfg, tensors, &candle_nn::VarMap::new(), &Device::Cpu).unwrap();
    let word = |s: &str| -> Vec<u32> { s.split_whitespace().map(|t| t[1..].parse().unwrap()).collect() };
    let (wa, wb) = (word(a), word(b));
    let mut ids = vec![2u32];
    ids.extend(&wa);
    ids.push(3);
    let first = ids.len();
    ids.extend(&wb);
    ids.push(3);
    let types: Vec<u32> = (0..ids.len()).map(|i| (i >= first) as u32).collect();
    let n = ids.len();
    let t = |v: Vec<u32>| Tensor::from_vec(v, (1, n), &Device::Cpu).unwrap();
    let h = bert.forward_mode(&t(ids), &t(types), &t(vec![1; n]), Mode::EVAL_GRAD).unwrap();
    let cls = h.get(0).unwrap().get(0).unwrap().to_vec1::<f32>().unwrap();
    let pooled: Vec<f32> = (0..32).map(|o| (pb[o] + (0..32).map(|i| pw[o][i] * cls[i]).sum::<f32>()).tanh()).collect();
    bias + pooled.iter().zip(w).map(|(p, w)| p * w).sum::<f32>()
}

#[test]
fn predict_and_rank_match_the_oracle() {
    let (dir, w, b) = tiny_cross_encoder(1);
    let ce = CrossEncoder::from_dir(&dir, &Device::Cpu).unwrap();
    let pairs = [("w10 w11", "w12 w13 w14"), ("w20", "w21 w22 w23 w24 w25 w26"), ("w30 w31 w32", "w33")];
    let logits = ce.predict(&pairs, &PredictOptions { apply_activation: false, batch_size: 2, ..Default::default() }).unwrap();
    let scores = ce.predict(&pairs, &PredictOptions::default()).unwrap();
    for (k, (a, bb)) in pairs.iter().enumerate() {
        let want = oracle_logit(a, bb, &w, b);
        assert!((logits[k] - want).abs() < 1e-5, "pair {k}: {} vs {want}", logits[k]);
        assert!((scores[k] - 1.0 / (1.0 + (-want).exp())).abs() < 1e-6);
    }
    // rank: best first, ties (identical documents) by lower corpus_id, top_k.
    let docs = ["w12 w13 w14", "w33", "w12 w13 w14", "w21 w22"];
    let r = ce.rank("w10 w11", &docs, None, &PredictOptions::default()).unwrap();
    assert_eq!(r.len(), 4);
    for pair in r.windows(2) {
        assert!(pair[0].score > pair[1].score || (pair[0].score == pair[1].score && pair[0].corpus_id < pair[1].corpus_id));
    }
    let pos0 = r.iter().position(|h| h.corpus_id == 0).unwrap();
    let pos2 = r.iter().position(|h| h.corpus_id == 2).unwrap();
    assert_eq!(pos2, pos0 + 1, "equal scores keep the lower corpus_id first");
    assert_eq!(ce.rank("w10 w11", &docs, Some(2), &PredictOptions::default()).unwrap().len(), 2);
    assert!(r.to_string().contains("Query: w10 w11"));
    assert!(r.to_html().contains("<table"));
    // Empty input, bad batch size.
    let none: [(&str, &str); 0] = [];
    assert!(ce.predict(&none, &PredictOptions::default()).unwrap().is_empty());
    assert!(ce.predict(&pairs, &PredictOptions { batch_size: 0, ..Default::default() }).is_err());
}

#[test]
fn label_count_mismatch_and_missing_head_are_errors() {
    let (dir, _, _) = tiny_cross_encoder(1);
    let mut config: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap();
    config["num_labels"] = 3.into();
    std::fs::write(dir.join("config.json"), config.to_string()).unwrap();
    let e = CrossEncoder::from_dir(&dir, &Device::Cpu).unwrap_err().to_string();
    assert!(e.contains("num_labels"), "{e}");
    let dir = temp_dir("no-head");
    std::fs::copy(shared().join("golden/tiny_bert.safetensors"), dir.join("model.safetensors")).unwrap();
    let g = golden("tiny_bert_grad.json");
    std::fs::write(dir.join("config.json"), g["config"].to_string()).unwrap();
    std::fs::write(dir.join("tokenizer.json"), tiny_tokenizer_json().to_string()).unwrap();
    let e = CrossEncoder::from_dir(&dir, &Device::Cpu).unwrap_err().to_string();
    assert!(e.contains("classifier.weight"), "{e}");
}

/// `sbert search --rerank`: the run holds the bi-encoder's top-N re-ordered by the cross-encoder.
#[test]
fn cli_search_with_rerank() {
    let (ce_dir, _, _) = tiny_cross_encoder(1);
    let bi = tiny_model_dir(true);
    let dir = temp_dir("cli-rerank");
    let docs: Vec<(String, String)> = (0..8).map(|i| (format!("d{i}"), format!("w{} w{} w{}", 10 + i, 20 + i, 30 + 2 * i))).collect();
    std::fs::write(dir.join("c.tsv"), docs.iter().map(|(i, t)| format!("{i}\t{t}\n")).collect::<String>()).unwrap();
    std::fs::write(dir.join("q.tsv"), "q1\tw11 w21\nq2\tw40 w41\n").unwrap();
    let run = dir.join("run.txt");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_sbert"))
        .args(["search", "--model", bi.to_str().unwrap(), "--corpus", dir.join("c.tsv").to_str().unwrap(), "--queries", dir.join("q.tsv").to_str().unwrap()])
        .args(["--top-k", "5", "--rerank", ce_dir.to_str().unwrap(), "--rerank-top", "4", "--run", run.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let lines: Vec<Vec<String>> = std::fs::read_to_string(&run).unwrap().lines().map(|l| l.split(' ').map(str::to_string).collect()).collect();
    assert_eq!(lines.len(), 8, "4 re-ranked hits per query");
    let ce = CrossEncoder::from_dir(&ce_dir, &Device::Cpu).unwrap();
    for q in [("q1", "w11 w21"), ("q2", "w40 w41")] {
        let mine: Vec<&Vec<String>> = lines.iter().filter(|l| l[0] == q.0).collect();
        let texts: Vec<&str> = mine.iter().map(|l| docs.iter().find(|d| d.0 == l[2]).unwrap().1.as_str()).collect();
        let pairs: Vec<(&str, &str)> = texts.iter().map(|t| (q.1, *t)).collect();
        let scores = ce.predict(&pairs, &PredictOptions::default()).unwrap();
        for (k, l) in mine.iter().enumerate() {
            assert!((l[4].parse::<f32>().unwrap() - scores[k]).abs() < 1e-6);
            assert_eq!(l[3], (k + 1).to_string());
        }
        assert!(scores.windows(2).all(|w| w[0] >= w[1]), "run is in cross-encoder order");
    }
}
