//! The `sbert` command line on the real model: the stable contract of README § CLI.

mod common;
use common::*;
use sbert::prelude::*;

fn nine() -> Vec<String> {
    serde_json::from_value(golden("seed.json")["nine"]["sentences"].clone()).unwrap()
}

#[test]
fn encode_writes_npy_equal_to_library() {
    let dir = temp_dir("cli-encode");
    let input = dir.join("s.txt");
    std::fs::write(&input, nine().join("\n") + "\n").unwrap();
    let out = dir.join("e.npy");
    let o = sbert(&[
        "encode",
        "--model",
        "all-MiniLM-L6-v2",
        "--batch-size",
        "4",
        "--input",
        input.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
    ]);
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
    let o = sbert(&[
        "pairs",
        "--input",
        input.to_str().unwrap(),
        "--top-k",
        "5",
        "--json",
    ]);
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
    let corpus: String = s
        .iter()
        .enumerate()
        .map(|(i, t)| {
            format!(
                "{}\n",
                serde_json::json!({"_id": format!("d{i}"), "title": "", "text": t})
            )
        })
        .collect();
    std::fs::write(dir.join("corpus.jsonl"), corpus).unwrap();
    std::fs::write(dir.join("queries.jsonl"), "{\"_id\": \"q1\", \"text\": \"A man is eating pasta.\"}\n{\"_id\": \"q2\", \"text\": \"Someone plays drums.\"}\n").unwrap();
    let run = dir.join("run.txt");
    let o = sbert(&[
        "search",
        "--corpus",
        dir.join("corpus.jsonl").to_str().unwrap(),
        "--queries",
        dir.join("queries.jsonl").to_str().unwrap(),
        "--top-k",
        "3",
        "--run",
        run.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(&run).unwrap();
    let lines: Vec<Vec<&str>> = text.lines().map(|l| l.split(' ').collect()).collect();
    assert_eq!(lines.len(), 6);
    assert!(lines
        .iter()
        .all(|l| l.len() == 6 && l[1] == "Q0" && l[5] == "sbert"));
    assert_eq!((lines[0][0], lines[0][2], lines[0][3]), ("q1", "d0", "1"));
    assert_eq!((lines[3][0], lines[3][3]), ("q2", "1"));
    assert!(["d7", "d8"].contains(&lines[3][2]));
    // Scores are the library's semantic_search scores, best first.
    let model = model();
    let emb = model.encode(&s, &EncodeOptions::default()).unwrap();
    let q = model
        .encode(&["A man is eating pasta."], &EncodeOptions::default())
        .unwrap();
    let hits = semantic_search(&q, &emb, &SearchOptions::default().top_k(3)).unwrap();
    for (h, l) in hits[0].iter().zip(&lines[..3]) {
        assert_eq!(format!("d{}", h.corpus_id), l[2]);
        assert!((h.score - l[4].parse::<f32>().unwrap()).abs() < 1e-5);
    }
    // The same with id<TAB>text files and dot scoring.
    let tsv: String = s
        .iter()
        .enumerate()
        .map(|(i, t)| format!("d{i}\t{t}\n"))
        .collect();
    std::fs::write(dir.join("corpus.tsv"), tsv).unwrap();
    std::fs::write(dir.join("queries.tsv"), "q1\tA man is eating pasta.\n").unwrap();
    let o = sbert(&[
        "search",
        "--corpus",
        dir.join("corpus.tsv").to_str().unwrap(),
        "--queries",
        dir.join("queries.tsv").to_str().unwrap(),
        "--score",
        "dot",
        "--run",
        run.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(&run).unwrap();
    assert_eq!(text.lines().count(), 9);
    assert!(text.starts_with("q1 Q0 d0 1 "));
}

#[test]
fn bad_input_is_a_clear_error_and_leaves_no_file() {
    let dir = temp_dir("cli-bad");
    let out = dir.join("e.npy");
    let o = sbert(&[
        "encode",
        "--input",
        dir.join("missing.txt").to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("missing.txt"));
    assert!(!out.exists());
    std::fs::write(dir.join("s.txt"), "a\n").unwrap();
    let o = sbert(&[
        "encode",
        "--model",
        "no-such-model-xyz",
        "--input",
        dir.join("s.txt").to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("not found") && err.contains("provision"),
        "{err}"
    );
    std::fs::write(
        dir.join("c.jsonl"),
        "{\"_id\": \"d1\", \"text\": \"x\"}\n{not json\n",
    )
    .unwrap();
    let o = sbert(&[
        "search",
        "--corpus",
        dir.join("c.jsonl").to_str().unwrap(),
        "--queries",
        dir.join("c.jsonl").to_str().unwrap(),
        "--run",
        dir.join("r").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("c.jsonl:2"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(!dir.join("r").exists());
    let o = sbert(&[
        "search",
        "--corpus",
        dir.join("c.jsonl").to_str().unwrap(),
        "--queries",
        dir.join("c.jsonl").to_str().unwrap(),
        "--score",
        "l2",
        "--run",
        dir.join("r").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn evaluate_matches_pytrec_eval_on_the_golden_run() {
    let g = golden("scifact_pretrained.json");
    let qrels = shared().join("data/beir-scifact/qrels.beir-v1.0.0-scifact.test.txt");
    let run = shared().join("golden/scifact_minilm.run");
    let o = sbert(&[
        "evaluate",
        "--qrels",
        qrels.to_str().unwrap(),
        "--run",
        run.to_str().unwrap(),
        "--metrics",
        "ndcg_cut_10,recall_100,map,recip_rank,P_5",
        "--json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    for (m, want) in g["metrics_mean"].as_object().unwrap() {
        assert!(
            (v["mean"][m].as_f64().unwrap() - want.as_f64().unwrap()).abs() < 1e-9,
            "{m}"
        );
    }
    // Text form: trec_eval rows; BEIR qrels give the same numbers.
    let dir = temp_dir("cli-eval");
    let o = sbert(&[
        "convert",
        "scifact",
        "--data-dir",
        shared().join("data/beir-scifact").to_str().unwrap(),
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        std::fs::read_to_string(dir.join("corpus.jsonl"))
            .unwrap()
            .lines()
            .count(),
        5183
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("queries.jsonl"))
            .unwrap()
            .lines()
            .count(),
        300
    );
    let o = sbert(&[
        "evaluate",
        "--qrels",
        dir.join("qrels/test.tsv").to_str().unwrap(),
        "--run",
        run.to_str().unwrap(),
        "--metrics",
        "ndcg_cut_10,map",
        "--per-query",
    ]);
    let text = String::from_utf8_lossy(&o.stdout);
    let last: Vec<&str> = text.lines().last().unwrap().split_whitespace().collect();
    assert_eq!(last, vec!["map", "all", "0.6031"]);
    assert!(text.lines().any(|l| l.split_whitespace().collect::<Vec<_>>() == vec!["ndcg_cut_10", "1", "0.3869"]), "{text}");
    assert_eq!(text.lines().count(), 2 * 300 + 2);
}

#[test]
fn compare_writes_svg_and_json() {
    let dir = temp_dir("cli-compare");
    let qrels = shared().join("data/beir-scifact/qrels.beir-v1.0.0-scifact.test.txt");
    let run_a = shared().join("golden/scifact_minilm.run");
    // Run B: the same run with each query's first two documents swapped.
    let text = std::fs::read_to_string(&run_a).unwrap();
    let mut rows: Vec<Vec<String>> = text
        .lines()
        .map(|l| l.split(' ').map(str::to_string).collect())
        .collect();
    for i in 0..rows.len() - 1 {
        if rows[i][3] == "1" && rows[i + 1][3] == "2" {
            let (s1, s2) = (rows[i][4].clone(), rows[i + 1][4].clone());
            rows[i][4] = s2;
            rows[i + 1][4] = s1;
        }
    }
    let b: String = rows
        .iter()
        .map(|c| format!("{} Q0 {} {} {} swapped\n", c[0], c[2], c[3], c[4]))
        .collect();
    std::fs::write(dir.join("b.run"), b).unwrap();
    let svg = dir.join("ski.svg");
    let o = sbert(&[
        "compare",
        "--qrels",
        qrels.to_str().unwrap(),
        run_a.to_str().unwrap(),
        dir.join("b.run").to_str().unwrap(),
        "--metric",
        "recip_rank",
        "--names",
        "orig,swapped",
        "--svg",
        svg.to_str().unwrap(),
        "--json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(std::fs::read_to_string(&svg).unwrap().starts_with("<svg"));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["rows"].as_array().unwrap().len(), 300);
    assert_eq!(v["names"], serde_json::json!(["orig", "swapped"]));
    // A query whose relevant document was first now has it second: RR 1 → 0.5.
    let row = v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["a"] == 1.0)
        .unwrap();
    assert_eq!(row["b"], 0.5);
}

#[test]
fn sts_cli_and_convert_sts() {
    let dir = temp_dir("cli-sts");
    let full = std::fs::read_to_string(shared().join("data/stsbenchmark/sts-test.csv")).unwrap();
    let head: String = full.lines().take(40).map(|l| format!("{l}\n")).collect();
    std::fs::write(dir.join("sts.csv"), head).unwrap();
    let o = sbert(&[
        "sts",
        "--data",
        dir.join("sts.csv").to_str().unwrap(),
        "--json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["pairs"], 40);
    let pairs = sbert::datasets::sts::read_sts(&dir.join("sts.csv")).unwrap();
    let lib = sbert::evaluation::Evaluator::evaluate(
        &sbert::evaluation::EmbeddingSimilarityEvaluator::from_sts(&pairs).unwrap(),
        model(),
    )
    .unwrap();
    assert!((v["spearman_cosine"].as_f64().unwrap() - lib.metrics["spearman_cosine"]).abs() < 1e-9);
    let o = sbert(&[
        "convert",
        "sts",
        "--input",
        shared()
            .join("data/stsbenchmark/sts-test.csv")
            .to_str()
            .unwrap(),
        "--out",
        dir.join("sts.jsonl").to_str().unwrap(),
    ]);
    assert!(o.status.success());
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(dir.join("sts.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1379);
    assert_eq!(
        lines[0]["texts"],
        serde_json::json!([
            "A girl is styling her hair.",
            "A girl is brushing her hair."
        ])
    );
    assert!((lines[0]["label"].as_f64().unwrap() - 0.5).abs() < 1e-6);
}

#[test]
fn bench_search_reports_json() {
    let o = sbert(&[
        "bench-search",
        "--corpus-size",
        "3000",
        "--queries",
        "20",
        "--dim",
        "16",
        "--top-k",
        "5",
        "--json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v["seconds"].as_f64().unwrap() >= 0.0);
    assert_eq!(v["corpus_size"], 3000);
    // The benchmark's data are unit vectors and its first hit is the brute-force best.
    let c = sbert::Embeddings::random_unit(3000, 16, 42).unwrap();
    let q = sbert::Embeddings::random_unit(20, 16, 43).unwrap();
    assert!(c.norms().iter().all(|n| (n - 1.0).abs() < 1e-5));
    let best = (0..3000)
        .map(|j| (j, q[0].iter().zip(&c[j]).map(|(a, b)| a * b).sum::<f32>()))
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .unwrap();
    assert_eq!(v["first_hit"][0], best.0);
}

/// 28 pairs of the tiny model's words, half positive, as `sbert fit` reads them: `dir/train.jsonl`.
fn write_train_jsonl(dir: &std::path::Path) {
    let mut lines = String::new();
    for k in (5..60).step_by(4) {
        lines.push_str(&format!("{}\n", serde_json::json!({"texts": [format!("w{k} w{}", k + 1), format!("w{} w{}", k + 2, k + 3)], "label": 1.0})));
        lines.push_str(&format!("{}\n", serde_json::json!({"texts": [format!("w{k} w{}", k + 1), format!("w{} w{}", 90 - k / 2, 91 - k / 2)], "label": 0.0})));
    }
    std::fs::write(dir.join("train.jsonl"), lines).unwrap();
}

/// `sbert fit --use-amp` trains in bf16 mixed precision where the CPU multiplies bf16: the model
/// differs from the f32 one of the same seed by bf16 rounding only; elsewhere it is the f32 model.
#[test]
fn fit_cli_use_amp_is_mixed_precision_where_the_cpu_has_bf16() {
    let dir = temp_dir("cli-fit-amp");
    let model_dir = tiny_model_dir(true);
    write_train_jsonl(&dir);
    let jsonl = dir.join("train.jsonl");
    let train = |name: &str, amp: bool| {
        let out = dir.join(name);
        let mut args = vec![
            "fit",
            "--model",
            model_dir.to_str().unwrap(),
            "--train",
            jsonl.to_str().unwrap(),
            "--batch-size",
            "4",
            "--warmup-steps",
            "1",
            "--lr",
            "1e-3",
            "--max-steps",
            "3",
            "--output",
            out.to_str().unwrap(),
        ];
        if amp {
            args.push("--use-amp");
        }
        let o = sbert(&args);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        SentenceTransformer::load(out.to_str().unwrap())
            .unwrap()
            .encode(&["w10 w11", "w30 w31 w32"], &EncodeOptions::default())
            .unwrap()
    };
    let (f32_model, amp_model) = (train("f32", false), train("amp", true));
    let base = SentenceTransformer::load(model_dir.to_str().unwrap())
        .unwrap()
        .encode(&["w10 w11", "w30 w31 w32"], &EncodeOptions::default())
        .unwrap();
    for i in 0..2 {
        let moved = max_abs_diff(&f32_model[i], &base[i]);
        let apart = max_abs_diff(&amp_model[i], &f32_model[i]);
        if sbert::cpu::Isa::current().uses_bf16() {
            assert!(apart > 0.0, "--use-amp trained in f32");
            assert!(
                apart < 0.1 * moved,
                "bf16 moved the model {apart}, training {moved}"
            );
        } else {
            assert_eq!(apart, 0.0, "no bf16 here: --use-amp must train in f32");
        }
    }
}

#[test]
fn fit_cli_trains_and_saves_a_loadable_model() {
    let dir = temp_dir("cli-fit");
    let model_dir = tiny_model_dir(true);
    write_train_jsonl(&dir);
    let out = dir.join("model");
    let o = sbert(&[
        "fit",
        "--model",
        model_dir.to_str().unwrap(),
        "--train",
        dir.join("train.jsonl").to_str().unwrap(),
        "--batch-size",
        "4",
        "--warmup-steps",
        "1",
        "--lr",
        "1e-3",
        "--max-steps",
        "3",
        "--progress",
        "--output",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("trained 6 optimizer steps"), "{stderr}");
    // Not a terminal: the epoch's bar is printed as lines, and the last one says why it ended
    // at 3 of 4 steps.
    assert!(
        stderr.contains("Epoch 1/1:  75%|███████████████     | 3/4 [")
            && stderr.contains("] — stopped by max_steps = 3"),
        "{stderr}"
    );
    let trained = SentenceTransformer::load(out.to_str().unwrap()).unwrap();
    let base = SentenceTransformer::load(model_dir.to_str().unwrap()).unwrap();
    let a = trained
        .encode(&["w10 w11"], &EncodeOptions::default())
        .unwrap();
    let b = base
        .encode(&["w10 w11"], &EncodeOptions::default())
        .unwrap();
    assert!(
        max_abs_diff(&a[0], &b[0]) > 1e-6,
        "training should change the model"
    );
    for f in [
        "modules.json",
        "config.json",
        "tokenizer.json",
        "model.safetensors",
        "sentence_bert_config.json",
        "1_Pooling/config.json",
        "config_sentence_transformers.json",
    ] {
        assert!(out.join(f).exists(), "{f} missing");
    }
    #[cfg(unix)]
    {
        // A normal file's permissions (the safetensors crate's temporary file is 0600).
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
    // Bad input: a line that is not an InputExample.
    std::fs::write(dir.join("bad.jsonl"), "{\"texts\": [\"only one\"]}\n").unwrap();
    let o = sbert(&[
        "fit",
        "--model",
        model_dir.to_str().unwrap(),
        "--train",
        dir.join("bad.jsonl").to_str().unwrap(),
        "--output",
        dir.join("m2").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("bad.jsonl:1"));
    assert!(!dir.join("m2").exists());
}

/// `sbert fuse` writes ranx's fused scores as a TREC run (the golden runs of tests/fusion.rs),
/// refuses wsum without weights, and leaves no file behind an error.
#[test]
fn fuse_writes_ranx_scores() {
    let g: serde_json::Value = repo_golden("fusion.json");
    let dir = temp_dir("cli-fuse");
    let mut paths = Vec::new();
    for (i, run) in g["runs"].as_array().unwrap().iter().enumerate() {
        let mut text = String::new();
        for (q, docs) in run.as_object().unwrap() {
            for (r, d) in docs.as_array().unwrap().iter().enumerate() {
                text += &format!(
                    "{q} Q0 {} {} {} run{i}\n",
                    d[0].as_str().unwrap(),
                    r + 1,
                    d[1]
                );
            }
        }
        let p = dir.join(format!("run{i}.txt"));
        std::fs::write(&p, text).unwrap();
        paths.push(p.to_str().unwrap().to_string());
    }
    let out = dir.join("fused.run");
    for (method, extra, norm) in [
        ("rrf", vec![], "none"),
        ("wsum", vec!["--weights", "0.5,0.3,0.2"], "zmuv"),
    ] {
        let mut args = vec![
            "fuse",
            "--method",
            method,
            "--norm",
            norm,
            "--run",
            out.to_str().unwrap(),
        ];
        args.extend(extra);
        args.extend(paths.iter().map(String::as_str));
        let o = sbert(&args);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let got = sbert::datasets::trec::read_run(&out).unwrap();
        let case = g["cases"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| {
                c["method"] == method
                    && c["norm"] == norm
                    && (method != "rrf" || c["params"]["k"] == 60)
            })
            .unwrap();
        for (q, docs) in case["fused"].as_object().unwrap() {
            assert_eq!(
                got[q].len(),
                docs.as_object().unwrap().len(),
                "{method} {q}"
            );
            for (d, s) in &got[q] {
                let w = docs[d].as_f64().unwrap();
                assert!(
                    (s - w).abs() <= 1e-6 * w.abs().max(1.0),
                    "{method} {q} {d}: {s} vs {w}"
                );
            }
        }
    }
    std::fs::remove_file(&out).unwrap();
    let o = sbert(&[
        "fuse",
        "--method",
        "wsum",
        "--run",
        out.to_str().unwrap(),
        &paths[0],
        &paths[1],
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--weights"));
    let o = sbert(&["fuse", "--run", out.to_str().unwrap(), &paths[0]]);
    assert_eq!(o.status.code(), Some(2));
    assert!(!out.exists());
}

/// `sbert report` prints the library's `Report` (Markdown here) for runs given as files.
#[test]
fn report_prints_the_library_report() {
    use sbert::evaluation::{Report, ReportOptions};
    let dir = temp_dir("cli-report");
    let qrels_path = shared().join("data/beir-scifact/qrels.beir-v1.0.0-scifact.test.txt");
    let run_a = shared().join("golden/scifact_minilm.run");
    // B: A with every other query's ranking reversed.
    let a = sbert::datasets::trec::read_run(&run_a).unwrap();
    let b: sbert::evaluation::Run = a
        .iter()
        .enumerate()
        .map(|(i, (q, docs))| {
            let docs = if i % 2 == 0 {
                docs.iter().map(|(d, s)| (d.clone(), -s)).collect()
            } else {
                docs.clone()
            };
            (q.clone(), docs)
        })
        .collect();
    let run_b = dir.join("b.run");
    let ranked = sbert::datasets::ranked(&b);
    sbert::datasets::trec::write_run(&run_b, &ranked, "b").unwrap();
    let o = sbert(&[
        "report",
        "--qrels",
        qrels_path.to_str().unwrap(),
        "--names",
        "minilm,reversed",
        "--markdown",
        run_a.to_str().unwrap(),
        run_b.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let qrels = sbert::datasets::trec::read_qrels(&qrels_path).unwrap();
    let b_read = sbert::datasets::trec::read_run(&run_b).unwrap();
    let want = Report::new(
        &qrels,
        &[("minilm", &a), ("reversed", &b_read)],
        &ReportOptions::default(),
    )
    .unwrap();
    assert_eq!(String::from_utf8_lossy(&o.stdout), want.to_markdown());
    assert_eq!(
        want.marks(0, 0),
        "b",
        "reversing half the queries is significantly worse"
    );
}
