//! Every encoder family against Python (`../shared/golden/architectures/`, README §12): the tiny
//! random RoBERTa (weights only as `pytorch_model.bin`), DistilBERT (no `tokenizer.json`, CLS
//! pooling), MPNet (relative position bias) and XLM-R (Dense + tanh) models and their
//! cross-encoders. For each: token ids, embeddings on both encoder paths, MNRL loss and
//! gradients, cross-encoder pair ids and logits, save → load round trips, `fit` of both kinds.

mod common;
use std::path::PathBuf;

use candle_nn::VarMap;
use common::*;
use sbert::cross_encoder::{CrossEncoder, PredictOptions};
use sbert::losses::{Loss, MultipleNegativesRankingLoss};
use sbert::models::bert::Mode;
use sbert::{EncodeOptions, SentenceTransformer};

const FAMILIES: [&str; 4] = ["roberta", "distilbert", "mpnet", "xlm_roberta"];

fn dir(family: &str) -> PathBuf {
    shared().join("golden/architectures").join(family)
}

fn load(family: &str) -> SentenceTransformer {
    SentenceTransformer::load(dir(family).to_str().unwrap())
        .unwrap_or_else(|e| panic!("{family}: {e}"))
}

fn ids_of(v: &serde_json::Value) -> Vec<Vec<u32>> {
    serde_json::from_value(v.clone()).unwrap()
}

fn rows(v: &serde_json::Value) -> Vec<Vec<f32>> {
    v.as_array().unwrap().iter().map(f32s).collect()
}

fn refs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

fn worst(a: &[Vec<f32>], b: &[Vec<f32>]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| max_abs_diff(x, y))
        .fold(0.0, f32::max)
}

#[test]
fn token_ids_match_python() {
    for family in FAMILIES {
        let g = golden(&format!("architectures/{family}.json"));
        let model = load(family);
        let texts: Vec<String> = serde_json::from_value(g["texts"].clone()).unwrap();
        for (text, want) in texts.iter().zip(ids_of(&g["input_ids"])) {
            let got = model.tokenize(&[text]).unwrap().remove(0);
            assert_eq!(got, want, "{family}: ids of {text:?}");
        }
    }
}

#[test]
fn embeddings_match_python_on_both_encoder_paths() {
    for family in FAMILIES {
        let g = golden(&format!("architectures/{family}.json"));
        let model = load(family);
        let texts: Vec<String> = serde_json::from_value(g["texts"].clone()).unwrap();
        let want = rows(&g["embeddings"]);
        // The fast unpadded CPU path (what encode runs on the CPU).
        let got = model
            .encode(&texts, &EncodeOptions::default().batch_size(8))
            .unwrap()
            .to_vec2();
        let d = worst(&got, &want);
        println!("{family}: encode max |Δ| = {d:.2e}");
        assert!(d <= 1e-5, "{family}: embeddings differ by {d}");
        // The padded candle path (training, and inference off the CPU), in batches of 8.
        let mut padded = Vec::new();
        for chunk in texts.chunks(8) {
            let refs: Vec<&str> = chunk.iter().map(String::as_str).collect();
            let e = model
                .forward_train(&refs, model.max_seq_length(), Mode::INFERENCE)
                .unwrap();
            padded.extend(e.to_vec2::<f32>().unwrap());
        }
        let d = worst(&padded, &want);
        println!("{family}: padded path max |Δ| = {d:.2e}");
        assert!(d <= 1e-5, "{family}: padded-path embeddings differ by {d}");
    }
}

#[test]
fn mnrl_loss_and_gradients_match_pytorch() {
    for family in FAMILIES {
        let g = golden(&format!("architectures/{family}.json"));
        let m = &g["mnrl"];
        let mut model = load(family);
        let varmap = VarMap::new();
        model.make_trainable(&varmap).unwrap();
        let col = |k: &str| -> Vec<String> { serde_json::from_value(m[k].clone()).unwrap() };
        let (a, p) = (col("anchors"), col("positives"));
        let max = model.max_seq_length();
        let ea = model
            .forward_train(&refs(&a), max, Mode::EVAL_GRAD)
            .unwrap();
        let ep = model
            .forward_train(&refs(&p), max, Mode::EVAL_GRAD)
            .unwrap();
        let loss = MultipleNegativesRankingLoss::default()
            .compute_loss_from_embeddings(&[ea, ep], &[])
            .unwrap();
        let l = loss.to_scalar::<f32>().unwrap() as f64;
        let want = m["loss"].as_f64().unwrap();
        assert!(
            (l - want).abs() <= 1e-5 * want,
            "{family}: loss {l} vs {want}"
        );
        let grads = loss.backward().unwrap();
        let vars = varmap.data().lock().unwrap().clone();
        let mut sq = 0f64;
        for var in vars.values() {
            if let Some(g) = grads.get(var.as_tensor()) {
                sq += g
                    .sqr()
                    .unwrap()
                    .sum_all()
                    .unwrap()
                    .to_scalar::<f32>()
                    .unwrap() as f64;
            }
        }
        for (name, want) in m["grads"].as_object().unwrap() {
            let var = vars
                .get(name)
                .unwrap_or_else(|| panic!("{family}: no variable {name}"));
            let mut got = grads
                .get(var.as_tensor())
                .unwrap_or_else(|| panic!("{family}: no gradient for {name}"))
                .clone();
            let want: Vec<f32> = if want.as_array().unwrap()[0].is_array() {
                rows(want).concat()
            } else {
                f32s(want)
            };
            if name == "embeddings.word_embeddings.weight" {
                got = got.narrow(0, 0, want.len() / got.dim(1).unwrap()).unwrap();
            }
            let got = got.flatten_all().unwrap().to_vec1::<f32>().unwrap();
            let scale = want.iter().fold(0f32, |s, v| s.max(v.abs()));
            let d = max_abs_diff(&got, &want);
            // As tiny_bert_grad.json's tolerances: abs 1e-5·max(1, max|g|); the small query
            // weight gradients relatively at 1e-3.
            let tol = if name.contains("q.weight")
                || name.contains("query.weight")
                || name.contains("q_lin.weight")
            {
                1e-3 * scale
            } else {
                1e-5 * scale.max(1.0)
            };
            assert!(d <= tol, "{family}: {name} grad diff {d} (scale {scale})");
        }
        // The total norm covers every trained parameter; XLM-R's pipeline has a Dense module
        // that Python trains too, so there the encoder's part is only a lower bound.
        let norm = sq.sqrt();
        let want_norm = m["grad_total_norm"].as_f64().unwrap();
        if family == "xlm_roberta" {
            assert!(
                norm <= want_norm * (1.0 + 1e-5),
                "{family}: encoder grad norm {norm} > total {want_norm}"
            );
        } else {
            assert!(
                (norm - want_norm).abs() <= 1e-4 * want_norm,
                "{family}: grad norm {norm} vs {want_norm}"
            );
        }
        println!(
            "{family}: loss {l:.7} (Python {want:.7}), grad norm {norm:.6} (Python {want_norm:.6})"
        );
    }
}

#[test]
fn cross_encoders_match_python() {
    for family in FAMILIES {
        let g = golden(&format!("architectures/{family}.json"));
        let c = &g["cross_encoder"];
        let ce = CrossEncoder::from_dir(
            &dir(&format!("{family}_cross_encoder")),
            &candle_core::Device::Cpu,
        )
        .unwrap_or_else(|e| panic!("{family}: {e}"));
        let pairs: Vec<(String, String)> = serde_json::from_value(c["pairs"].clone()).unwrap();
        for ((a, b), want) in pairs.iter().zip(ids_of(&c["input_ids"])) {
            let enc = ce
                .tokenizer()
                .encode((a.as_str(), b.as_str()), true)
                .unwrap();
            assert_eq!(
                enc.get_ids(),
                want.as_slice(),
                "{family}: pair ids of {a:?} / {b:?}"
            );
        }
        let logits: Vec<f32> = ce
            .predict_logits(&pairs, &PredictOptions::default())
            .unwrap()
            .into_iter()
            .map(|l| l[0])
            .collect();
        let d = max_abs_diff(&logits, &f32s(&c["logits"]));
        println!("{family}: cross-encoder logits max |Δ| = {d:.2e}");
        assert!(d <= 1e-4, "{family}: logits differ by {d}");
        let scores = ce.predict(&pairs, &PredictOptions::default()).unwrap();
        assert!(max_abs_diff(&scores, &f32s(&c["scores_sigmoid"])) <= 1e-4);
        // rank: best first, the same scores.
        let docs: Vec<&str> = pairs.iter().map(|p| p.1.as_str()).collect();
        let ranking = ce
            .rank(&pairs[0].0, &docs, None, &PredictOptions::default())
            .unwrap();
        assert!(ranking.windows(2).all(|w| w[0].score >= w[1].score));
    }
}

#[test]
fn every_family_saves_and_reloads_with_the_same_numbers() {
    for family in FAMILIES {
        let g = golden(&format!("architectures/{family}.json"));
        let texts: Vec<String> = serde_json::from_value(g["texts"].clone()).unwrap();
        let texts = &texts[..12];
        let model = load(family);
        let out = temp_dir(&format!("save-{family}"));
        let path = out.join("model");
        model.save(&path).unwrap();
        let again = SentenceTransformer::load(path.to_str().unwrap()).unwrap();
        let (a, b) = (
            model.encode(texts, &EncodeOptions::default()).unwrap(),
            again.encode(texts, &EncodeOptions::default()).unwrap(),
        );
        assert_eq!(
            a.as_slice(),
            b.as_slice(),
            "{family}: saved model encodes differently"
        );
        assert!(path.join("model.safetensors").exists());

        let ce = CrossEncoder::from_dir(
            &dir(&format!("{family}_cross_encoder")),
            &candle_core::Device::Cpu,
        )
        .unwrap();
        let ce_path = out.join("ce");
        ce.save(&ce_path).unwrap();
        let cfg: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(ce_path.join("config.json")).unwrap())
                .unwrap();
        let want_class =
            golden(&format!("architectures/{family}.json"))["cross_encoder"]["hf_class"].clone();
        assert_eq!(
            cfg["architectures"][0], want_class,
            "{family}: saved architectures"
        );
        let ce2 = CrossEncoder::from_dir(&ce_path, &candle_core::Device::Cpu).unwrap();
        let pairs = [("a question", "an answer"), ("hello", "world")];
        let o = PredictOptions::default();
        assert_eq!(
            ce.predict(&pairs, &o).unwrap(),
            ce2.predict(&pairs, &o).unwrap()
        );
        let _ = std::fs::remove_dir_all(&out);
    }
}

#[test]
fn every_family_trains_both_ways() {
    use sbert::train::{fit, DataLoader, FitConfig, InputExample, Objective};
    for family in FAMILIES {
        let out = temp_dir(&format!("fit-{family}"));
        // Bi-encoder: MNRL on (anchor, positive) pairs.
        let mut model = load(family);
        let pairs = [
            (
                "How do I renew my passport?",
                "Passports are renewed at the consulate.",
            ),
            ("A man is playing a guitar.", "Someone plays an instrument."),
            (
                "Which vaccine prevents measles?",
                "The MMR vaccine protects against measles.",
            ),
            ("Where is Tokyo?", "Tokyo is the capital of Japan."),
        ];
        let examples: Vec<InputExample> = pairs
            .iter()
            .map(|(a, b)| InputExample::pair(*a, *b, 1.0))
            .collect();
        let loader = DataLoader::new(examples, 4);
        let before = model
            .encode(&[pairs[0].0], &EncodeOptions::default())
            .unwrap();
        // The MNRL loss of the training pairs without dropout (the losses `fit` logs carry
        // dropout's noise: with three steps their trend depends on the masks drawn).
        let clean_loss = |m: &SentenceTransformer| -> f64 {
            let (a, p): (Vec<&str>, Vec<&str>) = pairs.iter().copied().unzip();
            let max = m.max_seq_length();
            let ea = m.forward_train(&a, max, Mode::EVAL_GRAD).unwrap();
            let ep = m.forward_train(&p, max, Mode::EVAL_GRAD).unwrap();
            MultipleNegativesRankingLoss::default()
                .compute_loss_from_embeddings(&[ea, ep], &[])
                .unwrap()
                .to_scalar::<f32>()
                .unwrap() as f64
        };
        let loss_before = clean_loss(&model);
        let config = FitConfig {
            epochs: 3,
            warmup_steps: 0,
            lr: 1e-3,
            output_path: Some(out.join("bi")),
            ..FitConfig::default()
        };
        let loss = MultipleNegativesRankingLoss::default();
        let objectives = [Objective {
            loader,
            loss: &loss,
        }];
        let log = fit(&mut model, &objectives, &config, None, |_| {
            std::ops::ControlFlow::Continue(())
        })
        .unwrap_or_else(|e| panic!("{family}: fit: {e}"));
        assert_eq!(log.steps.len(), 3, "{family}: one step per epoch");
        assert!(!log.mixed_precision, "{family}: f32 training reported bf16");
        let loss_after = clean_loss(&model);
        assert!(
            loss_after < loss_before,
            "{family}: MNRL loss did not fall: {loss_before} → {loss_after}"
        );
        let after = model
            .encode(&[pairs[0].0], &EncodeOptions::default())
            .unwrap();
        assert_ne!(before.as_slice(), after.as_slice());
        let saved = SentenceTransformer::load(out.join("bi").to_str().unwrap()).unwrap();
        let again = saved
            .encode(&[pairs[0].0], &EncodeOptions::default())
            .unwrap();
        assert!(
            max_abs_diff(again.as_slice(), after.as_slice()) <= 1e-6,
            "{family}: saved ≠ trained"
        );

        // Cross-encoder: a fresh head of the family on the same encoder, binary cross-entropy.
        let mut ce = CrossEncoder::new_from_encoder(dir(family).to_str().unwrap(), 1, 3).unwrap();
        let labelled: Vec<InputExample> = pairs
            .iter()
            .enumerate()
            .flat_map(|(i, (q, a))| {
                let wrong = pairs[(i + 1) % pairs.len()].1;
                [
                    InputExample::pair(*q, *a, 1.0),
                    InputExample::pair(*q, wrong, 0.0),
                ]
            })
            .collect();
        let loader = DataLoader::new(labelled, 8);
        let config = FitConfig {
            epochs: 20,
            warmup_steps: 0,
            lr: 3e-3,
            output_path: Some(out.join("ce")),
            ..FitConfig::default()
        };
        let log = ce
            .fit(&loader, &config, None, |_| {
                std::ops::ControlFlow::Continue(())
            })
            .unwrap_or_else(|e| panic!("{family}: CrossEncoder::fit: {e}"));
        let losses: Vec<f64> = log.steps.iter().map(|s| s.2).collect();
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        let n = losses.len();
        assert!(
            mean(&losses[n - 3..]) < mean(&losses[..3]),
            "{family}: BCE loss did not fall: {losses:?}"
        );
        let saved = CrossEncoder::from_dir(&out.join("ce"), &candle_core::Device::Cpu).unwrap();
        let p = [(pairs[0].0, pairs[0].1)];
        let o = PredictOptions::default();
        let (x, y) = (ce.predict(&p, &o).unwrap(), saved.predict(&p, &o).unwrap());
        assert!(
            (x[0] - y[0]).abs() <= 1e-6,
            "{family}: saved cross-encoder ≠ trained"
        );
        let _ = std::fs::remove_dir_all(&out);
    }
}

/// RoBERTa's byte-level BPE built from `vocab.json` + `merges.txt` (what older hub folders have
/// instead of `tokenizer.json`) gives Python's ids.
/// `use_amp` runs bf16 products where the CPU training path trains the family and the CPU
/// multiplies bf16, and the log says so; MPNet (relative attention bias: candle's ops) and CPUs
/// without bf16 train in f32 and report f32.
#[test]
fn use_amp_reports_the_precision_that_ran() {
    use sbert::train::{fit, DataLoader, FitConfig, InputExample, Objective};
    for family in FAMILIES {
        let mut model = load(family);
        let examples = vec![
            InputExample::pair(
                "A man is playing a guitar.",
                "Someone plays an instrument.",
                1.0,
            ),
            InputExample::pair("Where is Tokyo?", "Tokyo is the capital of Japan.", 1.0),
        ];
        let loss = MultipleNegativesRankingLoss::default();
        let objectives = [Objective {
            loader: DataLoader::new(examples, 2),
            loss: &loss,
        }];
        let config = FitConfig {
            warmup_steps: 0,
            use_amp: true,
            show_progress_bar: false,
            ..FitConfig::default()
        };
        let log = fit(&mut model, &objectives, &config, None, |_| {
            std::ops::ControlFlow::Continue(())
        })
        .unwrap_or_else(|e| panic!("{family}: fit: {e}"));
        let want = sbert::cpu::Isa::current().uses_bf16() && family != "mpnet";
        assert_eq!(log.mixed_precision, want, "{family}");
    }
}

#[test]
fn roberta_tokenizer_from_vocab_json_and_merges() {
    let src = dir("roberta");
    let tmp = temp_dir("roberta-bpe");
    for entry in std::fs::read_dir(&src).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name == "tokenizer.json" {
            continue;
        }
        let to = tmp.join(&name);
        if entry.path().is_dir() {
            std::fs::create_dir_all(&to).unwrap();
            for f in std::fs::read_dir(entry.path()).unwrap() {
                let f = f.unwrap();
                std::fs::copy(f.path(), to.join(f.file_name())).unwrap();
            }
        } else {
            std::fs::copy(entry.path(), to).unwrap();
        }
    }
    let tok: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(src.join("tokenizer.json")).unwrap())
            .unwrap();
    std::fs::write(tmp.join("vocab.json"), tok["model"]["vocab"].to_string()).unwrap();
    let merges: Vec<String> = tok["model"]["merges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| match m {
            serde_json::Value::Array(p) => {
                format!("{} {}", p[0].as_str().unwrap(), p[1].as_str().unwrap())
            }
            s => s.as_str().unwrap().to_string(),
        })
        .collect();
    std::fs::write(
        tmp.join("merges.txt"),
        format!("#version: 0.2\n{}\n", merges.join("\n")),
    )
    .unwrap();
    let model = SentenceTransformer::load(tmp.to_str().unwrap()).unwrap();
    let g = golden("architectures/roberta.json");
    let texts: Vec<String> = serde_json::from_value(g["texts"].clone()).unwrap();
    for (text, want) in texts.iter().zip(ids_of(&g["input_ids"])) {
        assert_eq!(
            model.tokenize(&[text]).unwrap().remove(0),
            want,
            "ids of {text:?}"
        );
    }
    let _ = std::fs::remove_dir_all(&tmp);
}

/// A folder whose `model_type` sbert does not run names the supported families.
#[test]
fn unknown_model_type_lists_the_families() {
    let tmp = temp_dir("gpt2");
    for f in [
        "config.json",
        "modules.json",
        "tokenizer.json",
        "model.safetensors",
        "sentence_bert_config.json",
    ] {
        std::fs::copy(dir("mpnet").join(f), tmp.join(f)).unwrap();
    }
    let mut cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(tmp.join("config.json")).unwrap()).unwrap();
    cfg["model_type"] = "gpt2".into();
    std::fs::write(tmp.join("config.json"), cfg.to_string()).unwrap();
    let err = SentenceTransformer::load(tmp.to_str().unwrap())
        .unwrap_err()
        .to_string();
    for name in [
        "'gpt2'",
        "bert",
        "roberta",
        "xlm-roberta",
        "distilbert",
        "mpnet",
    ] {
        assert!(err.contains(name), "{err}");
    }
    let _ = std::fs::remove_dir_all(&tmp);
}

/// `pytorch_model.bin` archives holding anything but tensors are refused before anything is read
/// (a pickle may name any Python callable; Python's `torch.load` would call it).
#[test]
fn pickles_that_are_not_plain_tensor_archives_are_refused() {
    use std::io::Write;
    let write_archive = |path: &std::path::Path, pickle: &[u8]| {
        let mut z = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
        let o = zip::write::SimpleFileOptions::default();
        z.start_file("archive/data.pkl", o).unwrap();
        z.write_all(pickle).unwrap();
        z.start_file("archive/version", o).unwrap();
        z.write_all(b"3\n").unwrap();
        z.finish().unwrap();
    };
    let tmp = temp_dir("pickle");
    // pickle.dumps of an object whose __reduce__ is (posix.system, ("echo",)), protocol 2.
    let evil = b"\x80\x02cposix\nsystem\nq\x00X\x04\x00\x00\x00echoq\x01\x85q\x02Rq\x03.";
    write_archive(&tmp.join("evil.bin"), evil);
    let err = sbert::core::pth::load_pth(&tmp.join("evil.bin"), &candle_core::Device::Cpu)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("posix.system") && err.contains("refusing"),
        "{err}"
    );
    // {"a": 1}: a dict, but not of tensors.
    let not_tensors = b"\x80\x02}q\x00X\x01\x00\x00\x00aq\x01K\x01s.";
    write_archive(&tmp.join("ints.bin"), not_tensors);
    let err = sbert::core::pth::load_pth(&tmp.join("ints.bin"), &candle_core::Device::Cpu)
        .unwrap_err()
        .to_string();
    assert!(err.contains("0 of the state dict's 1 entries"), "{err}");
    // Not a zip at all.
    std::fs::write(tmp.join("junk.bin"), b"not a zip").unwrap();
    assert!(sbert::core::pth::load_pth(&tmp.join("junk.bin"), &candle_core::Device::Cpu).is_err());
    let _ = std::fs::remove_dir_all(&tmp);
}
