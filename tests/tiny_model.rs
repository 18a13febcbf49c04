//! The whole pipeline on a tiny BERT (no real model needed): `../shared/golden/tiny_bert.safetensors`
//! with PyTorch's pooled embeddings, plus loading rules and bad input.

mod common;
use common::*;
use sbert::prelude::*;

fn load(normalize: bool) -> SentenceTransformer {
    SentenceTransformer::from_dir(&tiny_model_dir(normalize), &candle_core::Device::Cpu).unwrap()
}

/// Python: `BertModel(...).eval()` on the golden batch, masked mean pooling → `embeddings` (1e-5).
#[test]
fn tiny_bert_mean_pooled_matches_pytorch() {
    let model = load(false);
    let (texts, want) = tiny_golden_batch();
    // Batches of 3 mix lengths and padding; the result must not depend on it.
    for bs in [1, 3, 8] {
        let emb = model
            .encode(&texts, &EncodeOptions::default().batch_size(bs))
            .unwrap();
        assert_eq!(emb.shape(), (8, 32));
        for (k, w) in want.iter().enumerate() {
            let d = max_abs_diff(&emb[k], w);
            assert!(d <= 1e-5, "row {k} batch {bs}: diff {d}");
        }
    }
}

/// Encodes from several threads at once — the forward runs inside rayon's pool, and a pool thread
/// waiting inside one forward must never pick up another (it would wait on the compute turn it
/// holds): every thread finishes within two minutes, each with the golden embeddings.
#[test]
fn concurrent_encodes_finish_with_the_golden_embeddings() {
    let model = std::sync::Arc::new(load(false));
    let (texts, want) = tiny_golden_batch();
    let (tx, rx) = std::sync::mpsc::channel();
    for i in 0..4 {
        let (model, texts, tx) = (model.clone(), texts.clone(), tx.clone());
        // Not scoped: a thread that never finishes must not keep the test from failing.
        std::thread::spawn(move || {
            for _ in 0..20 {
                let opts = EncodeOptions::default().batch_size(1 + i % 3);
                tx.send(model.encode(&texts, &opts).unwrap()).unwrap();
            }
        });
    }
    for n in 0..4 * 20 {
        let emb = rx
            .recv_timeout(std::time::Duration::from_secs(120))
            .unwrap_or_else(|e| panic!("encode {n} of 80 did not finish ({e}): a deadlock"));
        for (k, w) in want.iter().enumerate() {
            assert!(max_abs_diff(&emb[k], w) <= 1e-5, "row {k}");
        }
    }
}

#[test]
fn normalize_module_without_folder_normalizes() {
    let model = load(true);
    let (texts, want) = tiny_golden_batch();
    let emb = model.encode(&texts, &EncodeOptions::default()).unwrap();
    for (k, w) in want.iter().enumerate() {
        let n: f32 = w.iter().map(|v| v * v).sum::<f32>().sqrt();
        let w: Vec<f32> = w.iter().map(|v| v / n).collect();
        assert!(max_abs_diff(&emb[k], &w) <= 1e-5);
        assert!((emb.norms()[k] - 1.0).abs() < 1e-5);
    }
}

#[test]
fn tokenizer_fixed_padding_and_truncation_are_overridden() {
    let model = load(false);
    // tokenizer.json says: pad to 9, truncate at 7. The model must pad to nothing and cut at max_seq_length (64).
    let ids = model
        .tokenize(&["w10", "w10 w11 w12 w13 w14 w15 w16 w17 w18 w19"])
        .unwrap();
    assert_eq!(ids[0], vec![2, 10, 3]);
    assert_eq!(ids[1].len(), 12);
    assert_eq!(model.max_seq_length(), 64);
}

#[test]
fn truncation_is_reported() {
    let mut model = load(false);
    model.set_max_seq_length(5).unwrap();
    let emb = model
        .encode(
            &["w10 w11", "w10 w11 w12 w13 w14 w15"],
            &EncodeOptions::default(),
        )
        .unwrap();
    assert_eq!(emb.truncated(), &[1]);
    assert_eq!(emb.num_tokens(), &[4, 5]);
    // The truncated text embeds like its first 3 words.
    let cut = model
        .encode(&["w10 w11 w12"], &EncodeOptions::default())
        .unwrap();
    assert!(max_abs_diff(&emb[1], &cut[0]) <= 1e-6);
    assert!(model.set_max_seq_length(0).is_err());
    assert!(model.set_max_seq_length(65).is_err());
}

#[test]
fn empty_inputs() {
    let model = load(true);
    let none: Vec<String> = vec![];
    let emb = model.encode(&none, &EncodeOptions::default()).unwrap();
    assert_eq!(emb.shape(), (0, 32));
    // An empty string is [CLS] [SEP]: a valid, finite embedding.
    let e = model.encode(&[""], &EncodeOptions::default()).unwrap();
    assert_eq!(e.num_tokens(), &[2]);
    assert!(e[0].iter().all(|v| v.is_finite()));
    assert!(model
        .encode(&["x"], &EncodeOptions::default().batch_size(0))
        .is_err());
}

#[test]
fn prompts() {
    let dir = tiny_model_dir(false);
    std::fs::write(dir.join("config_sentence_transformers.json"), r#"{"prompts": {"query": "w50 "}, "default_prompt_name": null, "similarity_fn_name": "dot"}"#).unwrap();
    let model = SentenceTransformer::from_dir(&dir, &candle_core::Device::Cpu).unwrap();
    let a = model
        .encode(&["w10"], &EncodeOptions::default().prompt_name("query"))
        .unwrap();
    let b = model
        .encode(&["w50 w10"], &EncodeOptions::default())
        .unwrap();
    assert!(max_abs_diff(&a[0], &b[0]) == 0.0);
    assert!(model
        .encode(&["w10"], &EncodeOptions::default().prompt_name("nope"))
        .is_err());
    assert_eq!(model.similarity_fn_name().unwrap(), ScoreFunction::Dot);
    let s = model.similarity(&a, &b).unwrap().item().unwrap();
    let dot: f32 = a[0].iter().zip(&b[0]).map(|(x, y)| x * y).sum();
    assert!((s - dot).abs() < 1e-4 * dot.abs().max(1.0));
}

#[test]
fn dense_module() {
    let dir = tiny_model_dir(false);
    let mut rng = Rng(7);
    let w: Vec<f32> = (0..16 * 32).map(|_| rng.uniform() - 0.5).collect();
    let b: Vec<f32> = (0..16).map(|_| rng.uniform() - 0.5).collect();
    std::fs::create_dir_all(dir.join("2_Dense")).unwrap();
    let dev = candle_core::Device::Cpu;
    let tensors = std::collections::HashMap::from([
        (
            "linear.weight".to_string(),
            candle_core::Tensor::from_vec(w.clone(), (16, 32), &dev).unwrap(),
        ),
        (
            "linear.bias".to_string(),
            candle_core::Tensor::from_vec(b.clone(), 16, &dev).unwrap(),
        ),
    ]);
    candle_core::safetensors::save(&tensors, dir.join("2_Dense/model.safetensors")).unwrap();
    std::fs::write(dir.join("2_Dense/config.json"), r#"{"in_features": 32, "out_features": 16, "bias": true, "activation_function": "torch.nn.modules.activation.Tanh"}"#).unwrap();
    let modules = r#"[{"idx":0,"name":"0","path":"","type":"sentence_transformers.models.Transformer"},{"idx":1,"name":"1","path":"1_Pooling","type":"sentence_transformers.models.Pooling"},{"idx":2,"name":"2","path":"2_Dense","type":"sentence_transformers.models.Dense"}]"#;
    std::fs::write(dir.join("modules.json"), modules).unwrap();
    let model = SentenceTransformer::from_dir(&dir, &dev).unwrap();
    assert_eq!(model.get_sentence_embedding_dimension(), 16);
    let (texts, pooled) = tiny_golden_batch();
    let emb = model.encode(&texts, &EncodeOptions::default()).unwrap();
    for (k, x) in pooled.iter().enumerate() {
        let want: Vec<f32> = (0..16)
            .map(|o| (b[o] + (0..32).map(|i| w[o * 32 + i] * x[i]).sum::<f32>()).tanh())
            .collect();
        assert!(max_abs_diff(&emb[k], &want) <= 1e-5);
    }
}

#[test]
fn missing_model_error_lists_every_place() {
    let err = SentenceTransformer::load("no-such-org/no-such-model-xyz")
        .unwrap_err()
        .to_string();
    assert!(err.contains("no-such-org/no-such-model-xyz"), "{err}");
    assert!(err.contains("directory"), "{err}");
    assert!(
        err.contains("models--no-such-org--no-such-model-xyz"),
        "{err}"
    );
    assert!(err.contains("hub download"), "{err}");
    // A bare name means sentence-transformers/NAME, as in Python.
    let err = SentenceTransformer::load("not-a-model-abc")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("models--sentence-transformers--not-a-model-abc"),
        "{err}"
    );
}

#[test]
fn hf_cache_layout_is_resolved() {
    let cache = temp_dir("hfcache");
    let snap = cache.join("models--myorg--tiny/snapshots/abc123");
    std::fs::create_dir_all(snap.parent().unwrap()).unwrap();
    std::fs::rename(tiny_model_dir(true), &snap).unwrap();
    std::fs::create_dir_all(cache.join("models--myorg--tiny/refs")).unwrap();
    std::fs::write(cache.join("models--myorg--tiny/refs/main"), "abc123").unwrap();
    assert_eq!(
        sbert::hub::cached_snapshot(&cache, "myorg/tiny").unwrap(),
        snap
    );
    assert!(sbert::hub::cached_snapshot(&cache, "myorg/other").is_none());
    assert_eq!(
        sbert::hub::full_model_id("all-MiniLM-L6-v2"),
        "sentence-transformers/all-MiniLM-L6-v2"
    );
}

#[test]
fn corrupt_and_truncated_safetensors_are_clear_errors() {
    let dir = tiny_model_dir(false);
    let path = dir.join("model.safetensors");
    let bytes = std::fs::read(&path).unwrap();
    // Truncated: half the file.
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let err = SentenceTransformer::from_dir(&dir, &candle_core::Device::Cpu)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("model.safetensors") && err.contains("truncated"),
        "{err}"
    );
    // Garbage.
    std::fs::write(&path, b"this is not a safetensors file at all").unwrap();
    let err = SentenceTransformer::from_dir(&dir, &candle_core::Device::Cpu)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("model.safetensors") && err.contains("corrupt"),
        "{err}"
    );
    // Too short.
    std::fs::write(&path, b"abc").unwrap();
    assert!(SentenceTransformer::from_dir(&dir, &candle_core::Device::Cpu).is_err());
    // Missing tensor: a valid file with one tensor only.
    let t = std::collections::HashMap::from([(
        "x".to_string(),
        candle_core::Tensor::zeros(3, candle_core::DType::F32, &candle_core::Device::Cpu).unwrap(),
    )]);
    candle_core::safetensors::save(&t, &path).unwrap();
    let err = SentenceTransformer::from_dir(&dir, &candle_core::Device::Cpu)
        .unwrap_err()
        .to_string();
    assert!(err.contains("embeddings"), "{err}");
}

#[test]
fn bad_config_files_are_clear_errors() {
    let dir = tiny_model_dir(false);
    std::fs::write(dir.join("modules.json"), "[{\"idx\": 0").unwrap();
    let err = SentenceTransformer::from_dir(&dir, &candle_core::Device::Cpu)
        .unwrap_err()
        .to_string();
    assert!(err.contains("modules.json"), "{err}");
    std::fs::write(dir.join("modules.json"), r#"[{"idx":0,"name":"0","path":"","type":"sentence_transformers.models.Transformer"},{"idx":1,"name":"1","path":"x","type":"sentence_transformers.models.LSTM"}]"#).unwrap();
    let err = SentenceTransformer::from_dir(&dir, &candle_core::Device::Cpu)
        .unwrap_err()
        .to_string();
    assert!(err.contains("LSTM"), "{err}");
    // No modules.json: a plain Hugging Face model gets mean pooling, as in Python.
    std::fs::remove_file(dir.join("modules.json")).unwrap();
    let model = SentenceTransformer::from_dir(&dir, &candle_core::Device::Cpu).unwrap();
    let (texts, want) = tiny_golden_batch();
    let emb = model
        .encode(&texts[..2], &EncodeOptions::default())
        .unwrap();
    assert!(max_abs_diff(&emb[1], &want[1]) <= 1e-5);
}

#[test]
fn pooling_modes() {
    use candle_core::{Device, Tensor};
    use sbert::models::{Pooling, PoolingConfig, PoolingMode};
    // 1 sentence, 3 positions (the last padded), hidden 2.
    let tokens =
        Tensor::from_vec(vec![1f32, 2., 3., -4., 100., 100.], (1, 3, 2), &Device::Cpu).unwrap();
    let mask = Tensor::from_vec(vec![1u32, 1, 0], (1, 2 + 1), &Device::Cpu).unwrap();
    let run = |m: PoolingMode| {
        Pooling::new(PoolingConfig::new(2, m))
            .unwrap()
            .forward(&tokens, &mask)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap()
    };
    assert_eq!(run(PoolingMode::Mean), vec![2.0, -1.0]);
    assert_eq!(run(PoolingMode::Cls), vec![1.0, 2.0]);
    assert_eq!(run(PoolingMode::Max), vec![3.0, 2.0]);
    assert_eq!(run(PoolingMode::LastToken), vec![3.0, -4.0]);
    let s = run(PoolingMode::MeanSqrtLen);
    assert!((s[0] - 4.0 / 2f32.sqrt()).abs() < 1e-6);
    assert_eq!(
        run(PoolingMode::WeightedMean),
        vec![(1.0 + 6.0) / 3.0, (2.0 - 8.0) / 3.0]
    );
    // The on-disk flags round-trip exactly.
    let json = r#"{"word_embedding_dimension":384,"pooling_mode_cls_token":false,"pooling_mode_mean_tokens":true,"pooling_mode_max_tokens":false,"pooling_mode_mean_sqrt_len_tokens":false}"#;
    let c: PoolingConfig = serde_json::from_str(json).unwrap();
    assert_eq!(c.modes(), vec![PoolingMode::Mean]);
    assert_eq!(serde_json::to_string(&c).unwrap(), json);
}
