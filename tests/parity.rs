//! Parity with Python sentence-transformers 6.2 on the real all-MiniLM-L6-v2
//! (`../shared/golden/encode_parity.json`, `seed.json`).

mod common;
use common::*;
use sbert::prelude::*;

/// Python: `model.preprocess([text])["input_ids"]` for each of the 40 texts.
#[test]
fn token_ids_match_python_exactly() {
    let g = golden("encode_parity.json");
    let model = model();
    for item in g["items"].as_array().unwrap() {
        let text = item["text"].as_str().unwrap();
        let want: Vec<u32> = item["input_ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as u32)
            .collect();
        let got = model.tokenize(&[text]).unwrap().remove(0);
        assert_eq!(got, want, "token ids of case '{}'", item["name"]);
    }
}

/// Python: `model.encode(texts, batch_size=8)`; every component within 1e-5 — on every code path
/// this CPU runs (AVX-512, AVX2, scalar: `sbert::cpu::set_isa`), so a CI machine without AVX-512
/// still tests the AVX2 path and one with it tests both.
#[test]
fn embeddings_match_python_within_1e5() {
    let g = golden("encode_parity.json");
    let model = model();
    let items = g["items"].as_array().unwrap();
    let texts: Vec<&str> = items.iter().map(|i| i["text"].as_str().unwrap()).collect();
    let mut by_isa: Vec<(sbert::cpu::Isa, Vec<f32>)> = Vec::new();
    on_every_isa(|isa| {
        let emb = model
            .encode(&texts, &EncodeOptions::default().batch_size(8))
            .unwrap();
        assert_eq!(emb.shape(), (40, 384));
        let mut worst = 0f32;
        for (k, item) in items.iter().enumerate() {
            let want = f32s(&item["embedding"]);
            let d = max_abs_diff(&emb[k], &want);
            worst = worst.max(d);
            assert!(
                d <= 1e-5,
                "{isa}: case '{}': max abs diff {d}",
                item["name"]
            );
            // Truncation is reported, never silent.
            assert_eq!(
                emb.truncated().contains(&k),
                item["truncated"].as_bool().unwrap(),
                "truncated flag of '{}'",
                item["name"]
            );
            assert_eq!(
                emb.num_tokens()[k],
                item["num_tokens"].as_u64().unwrap() as usize
            );
        }
        eprintln!("encode parity ({isa}): max abs diff over 40 × 384 components = {worst:e}");
        by_isa.push((isa, (0..40).flat_map(|k| emb[k].to_vec()).collect()));
    });
    eprintln!(
        "paths tested: {}",
        by_isa
            .iter()
            .map(|(i, _)| i.name())
            .collect::<Vec<_>>()
            .join(", ")
    );
    for w in by_isa.windows(2) {
        let d = max_abs_diff(&w[0].1, &w[1].1);
        assert!(d <= 2e-6, "{} vs {}: {d}", w[0].0, w[1].0);
    }
}

/// Python: the same texts through `SentenceTransformer(modules=[model[0], model[1]])` (no Normalize).
#[test]
fn raw_mean_pooled_matches_python() {
    let g = golden("encode_parity.json");
    let model = model();
    let items = g["items"].as_array().unwrap();
    let texts: Vec<&str> = items.iter().map(|i| i["text"].as_str().unwrap()).collect();
    let t = model.transformer();
    let pooling = match &model.modules()[1] {
        sbert::models::Module::Pooling(p) => p.clone(),
        other => panic!("module 1 should be Pooling, is {other:?}"),
    };
    // One text at a time, unpadded, through Transformer + Pooling only.
    for (k, text) in texts.iter().enumerate() {
        let enc = t.tokenize(&[*text]).unwrap().remove(0);
        let s = enc.len();
        let dev = candle_core::Device::Cpu;
        let ids = candle_core::Tensor::from_vec(enc.get_ids().to_vec(), (1, s), &dev).unwrap();
        let types =
            candle_core::Tensor::from_vec(enc.get_type_ids().to_vec(), (1, s), &dev).unwrap();
        let mask = candle_core::Tensor::from_vec(vec![1u32; s], (1, s), &dev).unwrap();
        let tokens = t.encoder.forward_t(&ids, &types, &mask, false).unwrap();
        let pooled = pooling
            .forward(&tokens, &mask)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        let want = f32s(&items[k]["raw_mean_pooled"]);
        let norm = items[k]["raw_norm"].as_f64().unwrap() as f32;
        let d = max_abs_diff(&pooled, &want);
        assert!(
            d <= 1e-5 * norm.max(1.0),
            "case '{}': raw pooled diff {d}",
            items[k]["name"]
        );
    }
}

/// The lecture's slide 1: "This is a red cat with a hat." vs "Have you seen my red cat?" → 0.6153.
#[test]
fn red_cat_pair_cos_sim() {
    let g = golden("seed.json");
    let sentences: Vec<String> = serde_json::from_value(g["pair"]["sentences"].clone()).unwrap();
    let emb = model()
        .encode(&sentences, &EncodeOptions::default())
        .unwrap();
    let got = cos_sim(&emb[0], &emb[1]).unwrap().item().unwrap();
    let want = g["pair"]["cos_sim"].as_f64().unwrap() as f32;
    assert!((got - want).abs() < 1e-5, "cos_sim {got} vs Python {want}");
    assert_eq!(format!("{got:.4}"), "0.6153");
}

/// Slide 2: the nine sentences → the full cos_sim matrix and the top-5 pairs.
#[test]
fn nine_sentences_matrix_and_top5_pairs() {
    let g = golden("seed.json");
    let nine = &g["nine"];
    let sentences: Vec<String> = serde_json::from_value(nine["sentences"].clone()).unwrap();
    let emb = model()
        .encode(&sentences, &EncodeOptions::default())
        .unwrap();
    let m = cos_sim(&emb, &emb).unwrap();
    let want: Vec<Vec<f64>> = serde_json::from_value(nine["cos_sim_matrix"].clone()).unwrap();
    for (i, row) in want.iter().enumerate() {
        for (j, w) in row.iter().enumerate() {
            let got = m.get(i, j).unwrap();
            assert!(
                (got as f64 - w).abs() < 1e-5,
                "cos_sim[{i}][{j}] = {got}, Python {w}"
            );
        }
    }
    let pairs = top_pairs(&emb, 5).unwrap();
    let want_pairs = nine["top5_pairs"].as_array().unwrap();
    assert_eq!(pairs.len(), 5);
    for (p, w) in pairs.iter().zip(want_pairs) {
        let idx = pair_index(w);
        assert_eq!((p.i, p.j), idx, "pair order");
        let ws = w["score"].as_f64().unwrap() as f32;
        assert!((p.score - ws).abs() < 1e-5);
    }
    // All 36 pairs: same order as Python's sorted list.
    let all = top_pairs(&emb, 100).unwrap();
    let want_all = nine["all_pairs_sorted"].as_array().unwrap();
    assert_eq!(all.len(), 36);
    assert_eq!(want_all.len(), 36);
    for (p, w) in all.iter().zip(want_all) {
        let ws = w["score"].as_f64().unwrap() as f32;
        assert!(
            (p.score - ws).abs() < 1e-5,
            "score order differs at {:?}",
            (p.i, p.j)
        );
    }
}

fn pair_index(w: &serde_json::Value) -> (usize, usize) {
    if let Some(ix) = w.get("index") {
        (
            ix[0].as_u64().unwrap() as usize,
            ix[1].as_u64().unwrap() as usize,
        )
    } else {
        (
            w["i"].as_u64().unwrap() as usize,
            w["j"].as_u64().unwrap() as usize,
        )
    }
}

/// seed.json: the 11 lecture sentences, token ids and batched embeddings.
#[test]
fn lecture_sentences_ids_and_embeddings() {
    let g = golden("seed.json");
    let sentences: Vec<String> = serde_json::from_value(g["all_sentences"].clone()).unwrap();
    let model = model();
    let ids = model.tokenize(&sentences).unwrap();
    for (k, want) in g["input_ids"].as_array().unwrap().iter().enumerate() {
        let want: Vec<u32> = serde_json::from_value(want.clone()).unwrap();
        assert_eq!(ids[k], want);
    }
    let emb = model.encode(&sentences, &EncodeOptions::default()).unwrap();
    for (k, want) in g["embeddings"].as_array().unwrap().iter().enumerate() {
        assert!(max_abs_diff(&emb[k], &f32s(want)) <= 1e-5);
        // One at a time gives the same vector (batch composition does not matter).
        let alone = model.encode_one(&sentences[k]).unwrap();
        assert!(max_abs_diff(&alone, &f32s(&g["embeddings_encoded_alone"][k])) <= 1e-5);
    }
}

/// The fast CPU path (no padding, fused kernels) and the candle path (padded batch + mask, the
/// one used on GPUs and for training) give the same embeddings.
#[test]
fn fast_cpu_path_equals_candle_path() {
    use candle_core::{Device, Tensor};
    let g = golden("encode_parity.json");
    let model = model();
    let texts: Vec<&str> = g["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["text"].as_str().unwrap())
        .take(12)
        .collect();
    let fast = model.encode(&texts, &EncodeOptions::default()).unwrap();
    let ids = model.tokenize(&texts).unwrap();
    let s = ids.iter().map(Vec::len).max().unwrap();
    let b = ids.len();
    let mut flat = vec![0u32; b * s];
    let mut mask = vec![0u32; b * s];
    for (r, row) in ids.iter().enumerate() {
        flat[r * s..r * s + row.len()].copy_from_slice(row);
        mask[r * s..r * s + row.len()]
            .iter_mut()
            .for_each(|m| *m = 1);
    }
    let dev = Device::Cpu;
    let out = model
        .forward_t(
            &Tensor::from_vec(flat, (b, s), &dev).unwrap(),
            &Tensor::zeros((b, s), candle_core::DType::U32, &dev).unwrap(),
            &Tensor::from_vec(mask, (b, s), &dev).unwrap(),
            false,
        )
        .unwrap()
        .to_vec2::<f32>()
        .unwrap();
    for k in 0..b {
        let d = max_abs_diff(&fast[k], &out[k]);
        assert!(d <= 2e-6, "text {k}: fast vs candle path differ by {d}");
    }
}
