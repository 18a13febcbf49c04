//! The trainable BERT against PyTorch (`../shared/golden/tiny_bert_grad.json`): pooled
//! embeddings, MNRL loss, gradients of named parameters, and one AdamW step with
//! sentence-transformers' parameter groups (no weight decay on biases and LayerNorm).

mod common;
use candle_core::{Device, Tensor};
use candle_nn::{AdamW, Optimizer, ParamsAdamW, VarMap};
use common::*;
use sbert::config::BertConfig;
use sbert::losses::{Loss, MultipleNegativesRankingLoss};
use sbert::models::bert::{Bert, Mode};
use sbert::models::{Pooling, PoolingConfig, PoolingMode};

fn ids(v: &serde_json::Value) -> Tensor {
    let rows: Vec<Vec<u32>> = serde_json::from_value(v.clone()).unwrap();
    let (r, c) = (rows.len(), rows[0].len());
    Tensor::from_vec(rows.concat(), (r, c), &Device::Cpu).unwrap()
}

fn flat(v: &serde_json::Value) -> Vec<f32> {
    match v {
        serde_json::Value::Array(a) if a.first().is_some_and(|x| x.is_array()) => {
            a.iter().flat_map(flat).collect()
        }
        _ => f32s(v),
    }
}

/// On every code path this CPU runs (the fused kernels' forward and backward, the GEMMs).
#[test]
fn tiny_bert_forward_backward_and_adamw_match_pytorch() {
    on_every_isa(|_| forward_backward_and_adamw_match_pytorch());
}

fn forward_backward_and_adamw_match_pytorch() {
    let g = golden("tiny_bert_grad.json");
    let cfg: BertConfig = serde_json::from_value(g["config"].clone()).unwrap();
    let tensors = sbert::weights::load_safetensors(
        &shared().join("golden/tiny_bert.safetensors"),
        &Device::Cpu,
    )
    .unwrap();
    let varmap = VarMap::new();
    let bert = Bert::trainable(&cfg, tensors, &varmap, &Device::Cpu).unwrap();
    let (input, mask, types) = (
        ids(&g["input_ids"]),
        ids(&g["attention_mask"]),
        ids(&g["token_type_ids"]),
    );

    // Python: BertModel.eval() → last_hidden_state → masked mean pooling.
    let hidden = bert
        .forward_mode(&input, &types, &mask, Mode::EVAL_GRAD)
        .unwrap();
    let emb = Pooling::new(PoolingConfig::new(32, PoolingMode::Mean))
        .unwrap()
        .forward(&hidden, &mask)
        .unwrap();
    let got = emb.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    assert!(max_abs_diff(&got, &flat(&g["embeddings"])) <= 1e-5);

    // MNRL(scale 20): anchors rows 0-3, positives rows 4-7.
    let loss = MultipleNegativesRankingLoss::default()
        .compute_loss_from_embeddings(
            &[emb.narrow(0, 0, 4).unwrap(), emb.narrow(0, 4, 4).unwrap()],
            &[],
        )
        .unwrap();
    let l = loss.to_scalar::<f32>().unwrap() as f64;
    let want = g["loss"].as_f64().unwrap();
    assert!((l - want).abs() <= 1e-5 * want, "loss {l} vs {want}");

    // Gradients of the named parameters.
    let grads = loss.backward().unwrap();
    let vars = varmap.data().lock().unwrap().clone();
    let rows_recorded = g["word_embeddings_rows_recorded"].as_u64().unwrap() as usize;
    for (name, want) in g["grads"].as_object().unwrap() {
        let var = &vars[name];
        let mut got = grads
            .get(var.as_tensor())
            .unwrap_or_else(|| panic!("no gradient for {name}"))
            .clone();
        if name == "embeddings.word_embeddings.weight" {
            got = got.narrow(0, 0, rows_recorded).unwrap();
        }
        let got = got.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let want = flat(want);
        let scale = want.iter().fold(0f32, |m, v| m.max(v.abs()));
        let d = max_abs_diff(&got, &want);
        if name.contains("query") {
            assert!(d <= 1e-3 * scale, "{name}: grad diff {d} (scale {scale})");
        } else {
            assert!(
                d <= 1e-5 * scale.max(1.0),
                "{name}: grad diff {d} (scale {scale})"
            );
        }
    }
    // Row 0 (padding) and row 4 (unused id) get no gradient.
    let wg = grads
        .get(vars["embeddings.word_embeddings.weight"].as_tensor())
        .unwrap();
    for row in [0, 4] {
        assert!(wg
            .get(row)
            .unwrap()
            .to_vec1::<f32>()
            .unwrap()
            .iter()
            .all(|&v| v == 0.0));
    }

    // One AdamW step (lr 2e-5, wd 0.01 except bias / LayerNorm), two groups as in sentence-transformers' fit.
    let (mut decay, mut no_decay) = (Vec::new(), Vec::new());
    for (name, var) in &vars {
        if ["bias", "LayerNorm.bias", "LayerNorm.weight"]
            .iter()
            .any(|s| name.contains(s))
        {
            no_decay.push(var.clone());
        } else {
            decay.push(var.clone());
        }
    }
    let p = |wd: f64| ParamsAdamW {
        lr: 2e-5,
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
        weight_decay: wd,
    };
    AdamW::new(decay, p(0.01)).unwrap().step(&grads).unwrap();
    AdamW::new(no_decay, p(0.0)).unwrap().step(&grads).unwrap();
    for (name, want) in g["after_adamw_step"].as_object().unwrap() {
        let mut t = vars[name].as_tensor().clone();
        if name == "embeddings.word_embeddings.weight" {
            t = t.narrow(0, 0, rows_recorded).unwrap();
        }
        let d = max_abs_diff(
            &t.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
            &flat(want),
        );
        assert!(d <= 3e-7, "{name}: after AdamW diff {d}");
    }
}

/// Training mode has real dropout (outputs differ run to run); inference mode is deterministic and
/// equal to the differentiable path without dropout.
#[test]
fn dropout_only_in_training() {
    let g = golden("tiny_bert_grad.json");
    let cfg: BertConfig = serde_json::from_value(g["config"].clone()).unwrap();
    let tensors = sbert::weights::load_safetensors(
        &shared().join("golden/tiny_bert.safetensors"),
        &Device::Cpu,
    )
    .unwrap();
    let bert = Bert::trainable(&cfg, tensors, &VarMap::new(), &Device::Cpu).unwrap();
    let (input, mask, types) = (
        ids(&g["input_ids"]),
        ids(&g["attention_mask"]),
        ids(&g["token_type_ids"]),
    );
    let run = |mode| {
        bert.forward_mode(&input, &types, &mask, mode)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap()
    };
    let (a, b) = (run(Mode::TRAIN), run(Mode::TRAIN));
    assert!(
        max_abs_diff(&a, &b) > 1e-3,
        "dropout should make training passes differ"
    );
    // Compared on the real tokens: the padding's hidden states mean nothing (the candle path
    // computes some, the CPU training path leaves zeros).
    let real: Vec<bool> = mask
        .flatten_all()
        .unwrap()
        .to_vec1::<u32>()
        .unwrap()
        .iter()
        .flat_map(|&m| std::iter::repeat_n(m != 0, cfg.hidden_size))
        .collect();
    let keep = |v: Vec<f32>| -> Vec<f32> {
        v.into_iter()
            .zip(&real)
            .filter_map(|(x, &r)| r.then_some(x))
            .collect()
    };
    let (c, d) = (keep(run(Mode::INFERENCE)), keep(run(Mode::EVAL_GRAD)));
    assert!(!c.is_empty() && c.len() < real.len());
    assert!(max_abs_diff(&c, &d) <= 1e-5);
}
