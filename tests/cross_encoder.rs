//! A tiny random cross-encoder in the Hugging Face format (encoder + pooler from
//! `tiny_bert.safetensors`, a fresh 1-logit classifier): load, predict, rank, ties, bad input.

mod common;
use candle_core::{Device, Tensor};
use common::*;
use sbert::cross_encoder::{Activation, CrossEncoder, PredictOptions};
use sbert::models::bert::{Bert, Mode};

fn tiny_cross_encoder(num_labels: usize) -> (std::path::PathBuf, Vec<f32>, f32) {
    let dir = temp_dir("cross");
    let g = golden("tiny_bert_grad.json");
    let mut config = g["config"].clone();
    config["model_type"] = "bert".into();
    config["num_labels"] = num_labels.into();
    std::fs::write(dir.join("config.json"), config.to_string()).unwrap();
    std::fs::write(
        dir.join("tokenizer.json"),
        tiny_tokenizer_json().to_string(),
    )
    .unwrap();
    let mut tensors = sbert::weights::load_safetensors(
        &shared().join("golden/tiny_bert.safetensors"),
        &Device::Cpu,
    )
    .unwrap();
    let mut rng = Rng(5);
    let w: Vec<f32> = (0..32).map(|_| rng.uniform() - 0.5).collect();
    let b = 0.1f32;
    // HF BertForSequenceClassification keys: "bert." prefix on the encoder, "classifier.*" outside.
    let mut named: std::collections::HashMap<String, Tensor> = tensors
        .drain()
        .map(|(k, t)| (format!("bert.{k}"), t))
        .collect();
    named.insert(
        "classifier.weight".into(),
        Tensor::from_vec(w.clone(), (1, 32), &Device::Cpu).unwrap(),
    );
    named.insert(
        "classifier.bias".into(),
        Tensor::from_vec(vec![b], 1, &Device::Cpu).unwrap(),
    );
    candle_core::safetensors::save(&named, dir.join("model.safetensors")).unwrap();
    (dir, w, b)
}

/// The oracle: one pair at a time, unpadded, through the differentiable BERT path (checked against
/// PyTorch in train_grad.rs), then tanh(pooler(CLS)) · w + b in plain Rust.
fn oracle_logit(a: &str, b: &str, w: &[f32], bias: f32) -> f32 {
    let g = golden("tiny_bert_grad.json");
    let cfg: sbert::config::BertConfig = serde_json::from_value(g["config"].clone()).unwrap();
    let tensors = sbert::weights::load_safetensors(
        &shared().join("golden/tiny_bert.safetensors"),
        &Device::Cpu,
    )
    .unwrap();
    let pw = tensors["pooler.dense.weight"].to_vec2::<f32>().unwrap();
    let pb = tensors["pooler.dense.bias"].to_vec1::<f32>().unwrap();
    let bert = Bert::trainable(&cfg, tensors, &candle_nn::VarMap::new(), &Device::Cpu).unwrap();
    let word = |s: &str| -> Vec<u32> {
        s.split_whitespace()
            .map(|t| t[1..].parse().unwrap())
            .collect()
    };
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
    let h = bert
        .forward_mode(&t(ids), &t(types), &t(vec![1; n]), Mode::EVAL_GRAD)
        .unwrap();
    let cls = h.get(0).unwrap().get(0).unwrap().to_vec1::<f32>().unwrap();
    let pooled: Vec<f32> = (0..32)
        .map(|o| (pb[o] + (0..32).map(|i| pw[o][i] * cls[i]).sum::<f32>()).tanh())
        .collect();
    bias + pooled.iter().zip(w).map(|(p, w)| p * w).sum::<f32>()
}

#[test]
fn predict_and_rank_match_the_oracle() {
    let (dir, w, b) = tiny_cross_encoder(1);
    let ce = CrossEncoder::from_dir(&dir, &Device::Cpu).unwrap();
    let pairs = [
        ("w10 w11", "w12 w13 w14"),
        ("w20", "w21 w22 w23 w24 w25 w26"),
        ("w30 w31 w32", "w33"),
    ];
    let logits = ce
        .predict(
            &pairs,
            &PredictOptions {
                apply_activation: false,
                batch_size: 2,
                ..Default::default()
            },
        )
        .unwrap();
    let scores = ce.predict(&pairs, &PredictOptions::default()).unwrap();
    for (k, (a, bb)) in pairs.iter().enumerate() {
        let want = oracle_logit(a, bb, &w, b);
        assert!(
            (logits[k] - want).abs() < 1e-5,
            "pair {k}: {} vs {want}",
            logits[k]
        );
        assert!((scores[k] - 1.0 / (1.0 + (-want).exp())).abs() < 1e-6);
    }
    // Reduced precision (load_with + LoadOptions::dtype): close to the oracle's f32 logits.
    for dtype in [sbert::Dtype::Bf16, sbert::Dtype::Int8] {
        let opts = sbert::LoadOptions {
            dtype,
            ..Default::default()
        };
        let q = CrossEncoder::load_with(dir.to_str().unwrap(), &opts).unwrap();
        assert_eq!(q.dtype(), dtype);
        let got = q
            .predict(
                &pairs,
                &PredictOptions {
                    apply_activation: false,
                    ..Default::default()
                },
            )
            .unwrap();
        for (k, (a, bb)) in pairs.iter().enumerate() {
            let want = oracle_logit(a, bb, &w, b);
            eprintln!("{dtype} pair {k}: {} vs f32 {want}", got[k]);
            assert!(
                (got[k] - want).abs() <= 0.03 * want.abs().max(1.0),
                "{dtype}, pair {k}: {} vs f32 {want}",
                got[k]
            );
            assert_ne!(got[k], logits[k], "{dtype} computed in f32");
        }
    }
    // rank: best first, ties (identical documents) by lower corpus_id, top_k.
    let docs = ["w12 w13 w14", "w33", "w12 w13 w14", "w21 w22"];
    let r = ce
        .rank("w10 w11", &docs, None, &PredictOptions::default())
        .unwrap();
    assert_eq!(r.len(), 4);
    for pair in r.windows(2) {
        assert!(
            pair[0].score > pair[1].score
                || (pair[0].score == pair[1].score && pair[0].corpus_id < pair[1].corpus_id)
        );
    }
    let pos0 = r.iter().position(|h| h.corpus_id == 0).unwrap();
    let pos2 = r.iter().position(|h| h.corpus_id == 2).unwrap();
    assert_eq!(
        pos2,
        pos0 + 1,
        "equal scores keep the lower corpus_id first"
    );
    assert_eq!(
        ce.rank("w10 w11", &docs, Some(2), &PredictOptions::default())
            .unwrap()
            .len(),
        2
    );
    assert!(r.to_string().contains("Query: w10 w11"));
    assert!(r.to_html().contains("<table"));
    // Empty input, bad batch size.
    let none: [(&str, &str); 0] = [];
    assert!(ce
        .predict(&none, &PredictOptions::default())
        .unwrap()
        .is_empty());
    assert!(ce
        .predict(
            &pairs,
            &PredictOptions {
                batch_size: 0,
                ..Default::default()
            }
        )
        .is_err());
}

#[test]
fn label_count_mismatch_and_missing_head_are_errors() {
    let (dir, _, _) = tiny_cross_encoder(1);
    let mut config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap();
    config["num_labels"] = 3.into();
    std::fs::write(dir.join("config.json"), config.to_string()).unwrap();
    let e = CrossEncoder::from_dir(&dir, &Device::Cpu)
        .unwrap_err()
        .to_string();
    assert!(e.contains("num_labels"), "{e}");
    let dir = temp_dir("no-head");
    std::fs::copy(
        shared().join("golden/tiny_bert.safetensors"),
        dir.join("model.safetensors"),
    )
    .unwrap();
    let g = golden("tiny_bert_grad.json");
    std::fs::write(dir.join("config.json"), g["config"].to_string()).unwrap();
    std::fs::write(
        dir.join("tokenizer.json"),
        tiny_tokenizer_json().to_string(),
    )
    .unwrap();
    let e = CrossEncoder::from_dir(&dir, &Device::Cpu)
        .unwrap_err()
        .to_string();
    assert!(e.contains("classifier.weight"), "{e}");
}

/// `sbert search --rerank`: the run holds the bi-encoder's top-N re-ordered by the cross-encoder.
#[test]
fn cli_search_with_rerank() {
    let (ce_dir, _, _) = tiny_cross_encoder(1);
    let bi = tiny_model_dir(true);
    let dir = temp_dir("cli-rerank");
    let docs: Vec<(String, String)> = (0..8)
        .map(|i| {
            (
                format!("d{i}"),
                format!("w{} w{} w{}", 10 + i, 20 + i, 30 + 2 * i),
            )
        })
        .collect();
    let (c_tsv, q_tsv) = (dir.join("c.tsv"), dir.join("q.tsv"));
    std::fs::write(
        &c_tsv,
        docs.iter()
            .map(|(i, t)| format!("{i}\t{t}\n"))
            .collect::<String>(),
    )
    .unwrap();
    std::fs::write(&q_tsv, "q1\tw11 w21\nq2\tw40 w41\n").unwrap();
    // `sbert search` with the bi-encoder over c.tsv / q.tsv, top 5, plus `extra`: whether it
    // succeeded, its run file's lines (split on spaces) and its stderr.
    let search = |extra: &[&str]| {
        let out = dir.join("run.txt");
        let mut args = vec![
            "search",
            "--model",
            bi.to_str().unwrap(),
            "--corpus",
            c_tsv.to_str().unwrap(),
            "--queries",
            q_tsv.to_str().unwrap(),
            "--top-k",
            "5",
            "--run",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let o = sbert(&args);
        let lines: Vec<Vec<String>> = std::fs::read_to_string(&out)
            .unwrap_or_default()
            .lines()
            .map(|l| l.split(' ').map(str::to_string).collect())
            .collect();
        let _ = std::fs::remove_file(&out);
        (
            o.status.success(),
            lines,
            String::from_utf8_lossy(&o.stderr).to_string(),
        )
    };
    let ce_arg = ce_dir.to_str().unwrap();
    let (ok, lines, err) = search(&["--rerank", ce_arg, "--rerank-top", "4"]);
    assert!(ok, "{err}");
    assert_eq!(lines.len(), 10, "--top-k 5 lines per query");
    let ce = CrossEncoder::from_dir(&ce_dir, &Device::Cpu).unwrap();
    let (ok, bi_lines, err) = search(&[]);
    assert!(ok, "{err}");
    // `sbert rerank-run` on the bi-encoder's run file gives what `search --rerank` gave.
    let first = dir.join("first.run");
    std::fs::write(
        &first,
        bi_lines
            .iter()
            .map(|l| l.join(" ") + "\n")
            .collect::<String>(),
    )
    .unwrap();
    let out = dir.join("reranked.run");
    let rerank_run = |extra: &[&str]| {
        let mut args = vec![
            "rerank-run",
            "--run",
            first.to_str().unwrap(),
            "--model",
            ce_arg,
            "--corpus",
            c_tsv.to_str().unwrap(),
            "--queries",
            q_tsv.to_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let o = sbert(&args);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        std::fs::read_to_string(&out)
            .unwrap()
            .lines()
            .map(|l| l.split(' ').take(5).map(str::to_string).collect::<Vec<_>>())
            .collect::<Vec<_>>()
    };
    let without_tag = |ls: &[Vec<String>]| {
        ls.iter()
            .map(|l| l[..5].to_vec())
            .collect::<Vec<Vec<String>>>()
    };
    assert_eq!(rerank_run(&["--top", "4"]), without_tag(&lines));
    assert_eq!(rerank_run(&["--top", "4", "--top-k", "3"]).len(), 6);
    for q in [("q1", "w11 w21"), ("q2", "w40 w41")] {
        let mine: Vec<&Vec<String>> = lines.iter().filter(|l| l[0] == q.0).collect();
        let bi_mine: Vec<&Vec<String>> = bi_lines.iter().filter(|l| l[0] == q.0).collect();
        // The bi-encoder's top 4, re-scored and re-ordered by the cross-encoder…
        let mut top4: Vec<&str> = bi_mine[..4].iter().map(|l| l[2].as_str()).collect();
        let texts: Vec<&str> = top4
            .iter()
            .map(|id| docs.iter().find(|d| d.0 == *id).unwrap().1.as_str())
            .collect();
        let pairs: Vec<(&str, &str)> = texts.iter().map(|t| (q.1, *t)).collect();
        let scores = ce.predict(&pairs, &PredictOptions::default()).unwrap();
        let mut order: Vec<usize> = (0..4).collect();
        order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
        top4 = order.iter().map(|&i| top4[i]).collect();
        for (k, l) in mine[..4].iter().enumerate() {
            assert_eq!(l[2], top4[k]);
            assert!((l[4].parse::<f32>().unwrap() - scores[order[k]]).abs() < 1e-6);
            assert_eq!(l[3], (k + 1).to_string());
        }
        // …then the bi-encoder's 5th hit, scored below every re-ranked one.
        assert_eq!(mine[4][2], bi_mine[4][2]);
        assert!(mine[4][4].parse::<f32>().unwrap() < mine[3][4].parse::<f32>().unwrap());
    }

    // --interpolate W: 0 keeps the cross-encoder's order, 1 the bi-encoder's; bad values fail.
    let ids = |ls: &[Vec<String>]| ls.iter().map(|l| l[2].clone()).collect::<Vec<_>>();
    let (ok, got, err) = search(&[
        "--rerank",
        ce_arg,
        "--rerank-top",
        "4",
        "--interpolate",
        "0",
    ]);
    assert!(ok, "{err}");
    assert_eq!(
        ids(&got),
        ids(&lines),
        "weight 0: the cross-encoder's order"
    );
    let (ok, got, _) = search(&[
        "--rerank",
        ce_arg,
        "--rerank-top",
        "4",
        "--interpolate",
        "1",
    ]);
    assert!(ok);
    assert_eq!(
        ids(&got),
        ids(&bi_lines),
        "weight 1: the bi-encoder's order"
    );
    let (ok, _, err) = search(&["--rerank", ce_arg, "--interpolate", "1.5"]);
    assert!(!ok && err.contains("not in [0, 1]"), "{err}");
    let (ok, _, err) = search(&["--interpolate", "0.5"]);
    assert!(!ok && err.contains("needs --rerank"), "{err}");
}

/// A pair task the tiny BERT can learn: passages of words w50–w74 are relevant, w75–w99 are not.
fn toy_pairs(n: usize, seed: u64) -> Vec<sbert::train::InputExample> {
    let mut rng = Rng(seed);
    (0..n)
        .map(|i| {
            let pos = i % 2 == 0;
            let q = format!("w{} w{}", 10 + rng.below(30), 10 + rng.below(30));
            let base = if pos { 50 } else { 75 };
            let p = (0..3)
                .map(|_| format!("w{}", base + rng.below(25)))
                .collect::<Vec<_>>()
                .join(" ");
            sbert::train::InputExample::pair(q, p, if pos { 1.0 } else { 0.0 })
        })
        .collect()
}

struct Separation(Vec<sbert::train::InputExample>);

/// Mean score of relevant minus irrelevant pairs (higher is better).
impl sbert::evaluation::Evaluator<CrossEncoder> for Separation {
    fn evaluate(&self, model: &CrossEncoder) -> sbert::Result<sbert::evaluation::EvalReport> {
        let pairs: Vec<(&str, &str)> = self
            .0
            .iter()
            .map(|e| (e.texts[0].as_str(), e.texts[1].as_str()))
            .collect();
        let s = model.predict(&pairs, &PredictOptions::default())?;
        let mean = |lab: f32| {
            let v: Vec<f32> = self
                .0
                .iter()
                .zip(&s)
                .filter(|(e, _)| e.label == lab)
                .map(|(_, s)| *s)
                .collect();
            v.iter().sum::<f32>() as f64 / v.len() as f64
        };
        let mut metrics = std::collections::BTreeMap::new();
        metrics.insert("separation".to_string(), mean(1.0) - mean(0.0));
        Ok(sbert::evaluation::EvalReport {
            name: String::new(),
            primary: "separation".into(),
            metrics,
        })
    }
}

/// new_from_encoder + fit: the loss falls, held-out pairs separate, the best model is saved
/// atomically in the HF format and reloads with identical scores and the training max_length.
#[test]
fn fit_a_reranker_from_a_bi_encoder() {
    let bi = tiny_model_dir(true);
    let mut ce = CrossEncoder::new_from_encoder(bi.to_str().unwrap(), 1, 7).unwrap();
    assert_eq!(
        ce.max_length(),
        64,
        "starts at the encoder's max_seq_length"
    );
    let held_out = Separation(toy_pairs(40, 99));
    let before = sbert::evaluation::Evaluator::evaluate(&held_out, &ce)
        .unwrap()
        .primary_score();
    let out = temp_dir("ce-fit").join("reranker");
    let loader = sbert::train::DataLoader::new(toy_pairs(128, 1), 8);
    let config = sbert::train::FitConfig {
        epochs: 3,
        warmup_steps: 4,
        lr: 1e-2,
        max_seq_length: Some(16),
        evaluation_steps: 8,
        output_path: Some(out.clone()),
        show_progress_bar: false,
        ..Default::default()
    };
    let mut events = Vec::new();
    let log = ce
        .fit(&loader, &config, Some(&held_out), |e| {
            events.push((e.score, e.epoch, e.steps));
            std::ops::ControlFlow::Continue(())
        })
        .unwrap();
    assert_eq!(log.steps.len(), 48, "16 batches × 3 epochs");
    let mean = |s: &[(usize, usize, f64, f64)]| s.iter().map(|x| x.2).sum::<f64>() / s.len() as f64;
    let (first, last) = (mean(&log.steps[..8]), mean(&log.steps[40..]));
    assert!(
        last < 0.5 * first,
        "BCE loss should fall: first 8 steps {first:.4}, last 8 {last:.4}"
    );
    assert_eq!(
        events.len(),
        9,
        "2 mid-epoch evaluations + 1 at each epoch end, × 3"
    );
    assert_eq!(events[2].2, -1);
    let best = events.iter().map(|e| e.0).fold(f64::NEG_INFINITY, f64::max);
    assert!(
        best > before + 0.3,
        "held-out separation {before:.3} → {best:.3}"
    );
    assert_eq!(ce.max_length(), 16);

    // The saved best model: HF layout, reloads with the training max_length and the best score.
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["architectures"][0], "BertForSequenceClassification");
    assert_eq!(config["num_labels"], 1);
    let names =
        sbert::weights::load_safetensors(&out.join("model.safetensors"), &Device::Cpu).unwrap();
    // Hugging Face's names: the pooler inside the encoder, under `bert.`.
    assert!(
        names.contains_key("classifier.weight") && names.contains_key("bert.pooler.dense.weight"),
        "{:?}",
        names.keys().collect::<Vec<_>>()
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(out.join("model.safetensors"))
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o644
        );
    }
    let leftovers: Vec<_> = std::fs::read_dir(out.parent().unwrap())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name() != "reranker")
        .collect();
    assert!(
        leftovers.is_empty(),
        "no temporary folders left: {leftovers:?}"
    );
    let reloaded = CrossEncoder::from_dir(&out, &Device::Cpu).unwrap();
    assert_eq!(reloaded.max_length(), 16);
    let again = sbert::evaluation::Evaluator::evaluate(&held_out, &reloaded)
        .unwrap()
        .primary_score();
    assert_eq!(again, best, "the saved model is the best one");

    // Rust → Rust exactly: save the final model and reload it.
    let last_dir = out.parent().unwrap().join("last");
    ce.save(&last_dir).unwrap();
    let back = CrossEncoder::from_dir(&last_dir, &Device::Cpu).unwrap();
    let pairs: Vec<(&str, &str)> = held_out
        .0
        .iter()
        .map(|e| (e.texts[0].as_str(), e.texts[1].as_str()))
        .collect();
    let opts = PredictOptions {
        apply_activation: false,
        ..Default::default()
    };
    assert_eq!(
        ce.predict(&pairs, &opts).unwrap(),
        back.predict(&pairs, &opts).unwrap()
    );

    // Bad input and stopping.
    let bad =
        sbert::train::DataLoader::new(vec![sbert::train::InputExample::pair("w10", "w11", 2.0)], 2);
    assert!(ce
        .fit(
            &bad,
            &sbert::train::FitConfig {
                show_progress_bar: false,
                ..Default::default()
            },
            None,
            |_| std::ops::ControlFlow::Continue(())
        )
        .is_err());
    let stop = sbert::train::FitConfig {
        max_steps: Some(3),
        show_progress_bar: false,
        ..Default::default()
    };
    let log = ce
        .fit(
            &loader,
            &stop,
            None,
            |_| std::ops::ControlFlow::Continue(()),
        )
        .unwrap();
    assert!(log.stopped_early && log.steps.len() == 3);
}

/// `sbert fit-cross-encoder` trains from jsonl and writes a reranker that loads and predicts;
/// bad labels are an error with no output folder left behind.
#[test]
fn cli_fit_cross_encoder() {
    let bi = tiny_model_dir(true);
    let dir = temp_dir("cli-ce-fit");
    let lines: String = toy_pairs(32, 3)
        .iter()
        .map(|e| serde_json::to_string(e).unwrap() + "\n")
        .collect();
    std::fs::write(dir.join("train.jsonl"), lines).unwrap();
    let out = dir.join("ce");
    let run = |train: &str, out: &std::path::Path| {
        sbert(&[
            "fit-cross-encoder",
            "--model",
            bi.to_str().unwrap(),
            "--train",
            dir.join(train).to_str().unwrap(),
            "--batch-size",
            "8",
            "--warmup-steps",
            "1",
            "--max-seq-length",
            "32",
            "--output",
            out.to_str().unwrap(),
        ])
    };
    let o = run("train.jsonl", &out);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("trained 4 optimizer steps"));
    let ce = CrossEncoder::from_dir(&out, &Device::Cpu).unwrap();
    assert_eq!(ce.max_length(), 32);
    let s = ce
        .predict(&[("w10", "w50 w51")], &PredictOptions::default())
        .unwrap();
    assert!(s[0] > 0.0 && s[0] < 1.0);
    std::fs::write(
        dir.join("bad.jsonl"),
        "{\"texts\": [\"w10\", \"w11\"], \"label\": 3.0}\n",
    )
    .unwrap();
    let o = run("bad.jsonl", &dir.join("ce-bad"));
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("label in 0..1"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(!dir.join("ce-bad").exists());
}

/// `sbert rerank --json`: the documents of a file scored against a query, best first, as `rank` gives them.
#[test]
fn cli_rerank() {
    let (ce_dir, _, _) = tiny_cross_encoder(1);
    let dir = temp_dir("cli-rerank-docs");
    let docs = ["w12 w13 w14", "w33", "w21 w22", "w12 w13 w14"];
    std::fs::write(dir.join("docs.txt"), docs.join("\n") + "\n").unwrap();
    let o = sbert(&[
        "rerank",
        "--model",
        ce_dir.to_str().unwrap(),
        "--query",
        "w10 w11",
        "--input",
        dir.join("docs.txt").to_str().unwrap(),
        "--top-k",
        "3",
        "--json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let got: Vec<serde_json::Value> = serde_json::from_slice(&o.stdout).unwrap();
    let want = CrossEncoder::from_dir(&ce_dir, &Device::Cpu)
        .unwrap()
        .rank("w10 w11", &docs, Some(3), &PredictOptions::default())
        .unwrap();
    assert_eq!(got.len(), 3);
    for (g, w) in got.iter().zip(want.iter()) {
        assert_eq!(g["corpus_id"].as_u64().unwrap() as usize, w.corpus_id);
        assert!((g["score"].as_f64().unwrap() as f32 - w.score).abs() < 1e-6);
        assert_eq!(g["text"], w.text);
    }
}

/// Score interpolation on a hand-computed case: first-stage [0.9, 0.8, 0.1] → z ≈ [0.843, 0.562,
/// −1.405]; cross-encoder logits [−1, 2, 0] → z ≈ [−1.069, 1.336, −0.267]. d2 leads while
/// 0.562w + 1.336(1−w) > 0.843w − 1.069(1−w), i.e. w < 0.8954.
#[test]
fn interpolation_and_its_tuning() {
    use sbert::cross_encoder::{interpolate_scores, tune_interpolation};
    let s = |v: &[(&str, f32)]| {
        v.iter()
            .map(|(d, x)| (d.to_string(), *x))
            .collect::<Vec<_>>()
    };
    let first = vec![(
        "q".to_string(),
        s(&[("d1", 0.9), ("d2", 0.8), ("d3", 0.1), ("d4", 0.05)]),
    )];
    let cross = vec![(
        "q".to_string(),
        s(&[("d2", 2.0), ("d3", 0.0), ("d1", -1.0), ("d4", -2.0)]),
    )];
    let order = |w: f32| {
        interpolate_scores(&first, &cross, 3, w).unwrap()[0]
            .1
            .iter()
            .map(|d| d.0.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(order(0.0), ["d2", "d3", "d1", "d4"]);
    assert_eq!(order(0.5), ["d2", "d1", "d3", "d4"]);
    assert_eq!(order(0.89), ["d2", "d1", "d3", "d4"]);
    assert_eq!(order(0.9), ["d1", "d2", "d3", "d4"]);
    assert_eq!(order(1.0), ["d1", "d2", "d3", "d4"]);
    let fused = &interpolate_scores(&first, &cross, 3, 0.5).unwrap()[0].1;
    assert!(
        (fused[0].1 - 0.5 * (0.5620 + 1.3363)).abs() < 1e-3,
        "{fused:?}"
    );
    assert!(
        fused[3].1 < fused[2].1,
        "the tail stays below the re-ranked documents"
    );

    let qrels: sbert::evaluation::Qrels = [(
        "q".to_string(),
        [("d2".to_string(), 1)].into_iter().collect(),
    )]
    .into_iter()
    .collect();
    let sweep = tune_interpolation(
        &qrels,
        &first,
        &cross,
        3,
        sbert::evaluation::Measure::NdcgCut(10),
    )
    .unwrap();
    assert_eq!(sweep.values.len(), 21);
    assert_eq!(
        sweep.best, 0.85,
        "the largest weight that still puts d2 first"
    );
    assert!(sweep
        .values
        .iter()
        .all(|&(w, v)| if w < 0.8954 { v == 1.0 } else { v < 1.0 }));
    assert!(sweep.to_string().contains("best") && sweep.to_html().contains("<table"));

    assert!(interpolate_scores(&first, &cross, 3, 1.5).is_err());
    assert!(interpolate_scores(&first, &Vec::new(), 3, 0.5).is_err());
    let partial = vec![("q".to_string(), s(&[("d2", 2.0)]))];
    assert!(interpolate_scores(&first, &partial, 3, 0.5)
        .unwrap_err()
        .to_string()
        .contains("no cross-encoder score"));
}

/// Fine-tuned MS MARCO cross-encoders declare `"sbert_ce_default_activation_function":
/// "torch.nn.modules.linear.Identity"` (sentence-transformers 4+: `sentence_transformers.
/// activation_fn`): Python's `predict` then returns the raw logits, where sbert applied a sigmoid.
#[test]
fn declared_activation_is_applied() {
    let (dir, w, b) = tiny_cross_encoder(1);
    let pairs = [("w10 w11", "w12 w13"), ("w20", "w30 w31")];
    let oracle: Vec<f32> = pairs
        .iter()
        .map(|(a, d)| oracle_logit(a, d, &w, b))
        .collect();
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap();
    let with = |key: &str, value: serde_json::Value| {
        let mut c = config.clone();
        c[key] = value;
        std::fs::write(dir.join("config.json"), c.to_string()).unwrap();
        CrossEncoder::from_dir(&dir, &Device::Cpu)
    };
    let opts = PredictOptions::default();
    let sigmoid = |l: f32| 1.0 / (1.0 + (-l).exp());
    for (key, value, identity) in [
        (
            "sbert_ce_default_activation_function",
            serde_json::json!("torch.nn.modules.linear.Identity"),
            true,
        ),
        (
            "sentence_transformers",
            serde_json::json!({"activation_fn": "torch.nn.modules.linear.Identity"}),
            true,
        ),
        (
            "sentence_transformers",
            serde_json::json!({"activation_fn": "torch.nn.modules.activation.Sigmoid"}),
            false,
        ),
        ("unrelated", serde_json::json!(1), false),
    ] {
        let ce = with(key, value).unwrap();
        assert_eq!(ce.activation() == Activation::Identity, identity, "{key}");
        let got = ce.predict(&pairs, &opts).unwrap();
        for (g, o) in got.iter().zip(&oracle) {
            let want = if identity { *o } else { sigmoid(*o) };
            assert!((g - want).abs() < 1e-5, "{key}: {g} vs {want}");
        }
        // apply_activation: false is the raw logit either way.
        let raw = ce
            .predict(
                &pairs,
                &PredictOptions {
                    apply_activation: false,
                    ..opts.clone()
                },
            )
            .unwrap();
        assert!((raw[0] - oracle[0]).abs() < 1e-5);
    }
    let err = with(
        "sbert_ce_default_activation_function",
        serde_json::json!("torch.nn.modules.activation.Tanh"),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("Tanh") && err.contains("config.json"), "{err}");
}

/// The stand-in cross-encoder of `scripts/make_golden_ce_reranking.py`.
fn stand_in_score(query: &str, doc: &str) -> f32 {
    let q: std::collections::HashSet<&str> = query.split_whitespace().collect();
    let d: std::collections::HashSet<&str> = doc.split_whitespace().collect();
    let mut s = q.intersection(&d).count() as f64 - 0.001 * doc.chars().count() as f64;
    if doc.starts_with("tie") {
        s = (s * 2.0).round_ties_even() / 2.0;
    }
    s as f32
}

fn texts(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_string())
        .collect()
}

/// CrossEncoderRerankingEvaluator equals sentence-transformers 6.2's on every golden case
/// (negatives; documents with and without always_rerank_positives, positives the first stage
/// missed, a sample without positives; at_k 3; names): metrics to 1e-12, the CSV's name, header
/// and rows; `reranking_metrics` equals its `compute_metrics` on score lists with ties.
#[test]
fn reranking_evaluator_matches_python() {
    use sbert::cross_encoder::{
        reranking_metrics, CrossEncoderRerankingEvaluator, RerankingSample,
    };
    use sbert::evaluation::Evaluator;
    let g = repo_golden("ce_reranking.json");
    for case in g["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let samples = case["samples"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                let (q, p) = (s["query"].as_str().unwrap(), texts(&s["positive"]));
                match s.get("negative") {
                    Some(n) => RerankingSample::with_negatives(q, p, texts(n)),
                    None => RerankingSample::with_documents(q, p, texts(&s["documents"])),
                }
            })
            .collect();
        let mut ev = CrossEncoderRerankingEvaluator::new(samples)
            .at_k(case["at_k"].as_u64().unwrap() as usize)
            .name(case["label"].as_str().unwrap());
        ev.always_rerank_positives = case["always_rerank_positives"].as_bool().unwrap();
        let report = ev
            .evaluate_with(|pairs| Ok(pairs.iter().map(|(q, d)| stand_in_score(q, d)).collect()))
            .unwrap();
        let want = case["metrics"].as_object().unwrap();
        assert_eq!(
            report.metrics.len(),
            want.len(),
            "{name}: {:?}",
            report.metrics
        );
        for (k, v) in want {
            let got = report.metrics[k];
            assert!(
                (got - v.as_f64().unwrap()).abs() < 1e-12,
                "{name} {k}: {got} vs {v}"
            );
        }
        assert!(report.primary.ends_with(&format!("ndcg@{}", ev.at_k)));
        let dir = temp_dir("ce-reranking-csv");
        Evaluator::<CrossEncoder>::log_csv(&ev, &report, &dir, 1, 7).unwrap();
        Evaluator::<CrossEncoder>::log_csv(&ev, &report, &dir, 2, 14).unwrap();
        let file = case["csv_file"].as_str().unwrap();
        let got = std::fs::read_to_string(dir.join(file)).unwrap();
        let want = case["csv"].as_str().unwrap();
        let (got_lines, want_lines): (Vec<&str>, Vec<&str>) =
            (got.lines().collect(), want.lines().collect());
        assert_eq!(got_lines.len(), want_lines.len(), "{name}:\n{got}");
        assert_eq!(got_lines[0], want_lines[0], "{name}");
        for (g, w) in got_lines[1..].iter().zip(&want_lines[1..]) {
            let parse =
                |l: &str| -> Vec<f64> { l.split(',').map(|x| x.parse().unwrap()).collect() };
            for (a, b) in parse(g).iter().zip(parse(w)) {
                assert!((a - b).abs() < 1e-12, "{name}: {g} vs {w}");
            }
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
    for list in g["lists"].as_array().unwrap() {
        let relevant: Vec<bool> = list["relevant"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x == 1)
            .collect();
        let scores: Vec<f32> = f32s(&list["scores"]);
        let (mrr, ndcg, ap) =
            reranking_metrics(&relevant, &scores, list["at_k"].as_u64().unwrap() as usize);
        for (got, key) in [(mrr, "mrr"), (ndcg, "ndcg"), (ap, "ap")] {
            let want = list[key].as_f64().unwrap();
            assert!(
                (got - want).abs() < 1e-12,
                "{key}: {got} vs {want} in {list}"
            );
        }
    }
}

/// With a real cross-encoder: `evaluate` is `evaluate_with` its `predict`, each sample's values
/// are `reranking_metrics` of its scores, and `from_run` builds documents samples from qrels.
#[test]
fn reranking_evaluator_with_a_model_and_from_a_run() {
    use sbert::cross_encoder::{
        reranking_metrics, Candidates, CrossEncoderRerankingEvaluator, RerankingSample,
    };
    use sbert::evaluation::Evaluator;
    let (dir, _, _) = tiny_cross_encoder(1);
    let ce = CrossEncoder::load(dir.to_str().unwrap()).unwrap();
    let sample = RerankingSample::with_negatives(
        "w10 w11",
        vec!["w10 w12".into()],
        vec!["w30 w31".into(), "w11 w40".into(), "w50".into()],
    );
    let ev = CrossEncoderRerankingEvaluator::new(vec![sample.clone()]).at_k(2);
    let report = ev.evaluate(&ce).unwrap();
    let docs = ["w10 w12", "w30 w31", "w11 w40", "w50"];
    let pairs: Vec<(&str, &str)> = docs.iter().map(|d| ("w10 w11", *d)).collect();
    let scores = ce.predict(&pairs, &PredictOptions::default()).unwrap();
    let (mrr, ndcg, ap) = reranking_metrics(&[true, false, false, false], &scores, 2);
    assert_eq!(report.metrics["mrr@2"], mrr);
    assert_eq!(report.metrics["ndcg@2"], ndcg);
    assert_eq!(report.metrics["map"], ap);

    let dataset = sbert::datasets::RetrievalDataset {
        corpus: ["w10 w12", "w30 w31", "w11 w40"]
            .iter()
            .enumerate()
            .map(|(i, t)| sbert::datasets::Document {
                id: format!("d{i}"),
                title: String::new(),
                text: t.to_string(),
            })
            .collect(),
        queries: vec![sbert::datasets::Query {
            id: "q".into(),
            text: "w10 w11".into(),
        }],
        qrels: [(
            "q".to_string(),
            [("d0".to_string(), 1), ("d2".to_string(), 0)]
                .into_iter()
                .collect(),
        )]
        .into_iter()
        .collect(),
    };
    let run = vec![(
        "q".to_string(),
        vec![
            ("d1".to_string(), 2.0),
            ("d0".to_string(), 1.0),
            ("d2".to_string(), 0.5),
        ],
    )];
    let from_run = CrossEncoderRerankingEvaluator::from_run(&dataset, &run, 2).unwrap();
    assert_eq!(from_run.samples.len(), 1);
    assert_eq!(from_run.samples[0].positive, ["w10 w12"]);
    assert_eq!(
        from_run.samples[0].candidates,
        Candidates::Documents(vec!["w30 w31".into(), "w10 w12".into()])
    );
    let report = from_run.evaluate(&ce).unwrap();
    assert_eq!(report.metrics["base_mrr@10"], 0.5);
    let bad = vec![("q".to_string(), vec![("d9".to_string(), 1.0)])];
    let err = CrossEncoderRerankingEvaluator::from_run(&dataset, &bad, 2).unwrap_err();
    assert!(err.to_string().contains("d9"), "{err}");
    let err = CrossEncoderRerankingEvaluator::new(vec![])
        .evaluate(&ce)
        .unwrap_err();
    assert!(err.to_string().contains("at least one sample"), "{err}");
    let err = ev.clone().at_k(0).evaluate(&ce).unwrap_err();
    assert!(err.to_string().contains("at_k"), "{err}");
}
