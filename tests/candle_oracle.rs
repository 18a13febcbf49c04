//! A second, independent oracle: candle-transformers' own BERT, DistilBERT and XLM-RoBERTa models
//! (written apart from sbert's encoder, with their own key mapping, position rule and attention)
//! on the same weights give the same last hidden states as sbert's one `Encoder` — on the real
//! all-MiniLM-L6-v2 and on the tiny DistilBERT, RoBERTa and XLM-R models of
//! `../shared/golden/architectures`. (candle-transformers has no MPNet; MPNet is checked against
//! PyTorch in tests/families.rs and tests/mpnet.rs.)

mod common;
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::{bert, distilbert, xlm_roberta};
use common::*;
use sbert::SentenceTransformer;

/// The largest difference, over the 40 parity texts one at a time (unpadded), between the last
/// hidden states of sbert's `encoder` and of `theirs(input_ids [1, len])`.
fn worst_vs(
    encoder: &sbert::encoder::Encoder,
    tokenizer: &tokenizers::Tokenizer,
    theirs: impl Fn(&Tensor) -> Tensor,
) -> f32 {
    let mut d = 0f32;
    for text in texts() {
        let enc = tokenizer.encode(text.as_str(), true).unwrap();
        let (hidden, _) = encoder.forward_batch(&[&enc], &Device::Cpu).unwrap();
        let ours = hidden.squeeze(0).unwrap().to_vec2::<f32>().unwrap();
        let x = Tensor::from_vec(enc.get_ids().to_vec(), (1, enc.len()), &Device::Cpu).unwrap();
        let h = theirs(&x).squeeze(0).unwrap().to_vec2::<f32>().unwrap();
        d = ours
            .iter()
            .zip(&h)
            .map(|(a, b)| max_abs_diff(a, b))
            .fold(d, f32::max);
    }
    d
}

fn texts() -> Vec<String> {
    serde_json::from_value(golden("architectures/mpnet.json")["texts"].clone()).unwrap()
}

fn config(dir: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap()
}

fn weights(dir: &std::path::Path) -> VarBuilder<'static> {
    let (tensors, _) = sbert::encoder::load_weights(
        dir,
        sbert::encoder::Family::from_model_type(config(dir)["model_type"].as_str()).unwrap(),
        &Device::Cpu,
    )
    .unwrap();
    VarBuilder::from_tensors(tensors, DType::F32, &Device::Cpu)
}

#[test]
fn bert_matches_candle_transformers_on_the_real_model() {
    let model = model();
    let dir = model.transformer_dir();
    let cfg: bert::Config = serde_json::from_value(config(&dir)).unwrap();
    let theirs = bert::BertModel::load(weights(&dir), &cfg).unwrap();
    let t = model.transformer();
    let d = worst_vs(&t.encoder, &t.tokenizer, |x| {
        theirs
            .forward(x, &x.zeros_like().unwrap(), Some(&x.ones_like().unwrap()))
            .unwrap()
    });
    println!("all-MiniLM-L6-v2 vs candle-transformers BertModel: max |Δ| = {d:.2e}");
    assert!(d <= 2e-5, "hidden states differ by {d}");
}

#[test]
fn distilbert_matches_candle_transformers() {
    let dir = shared().join("golden/architectures/distilbert");
    let model = SentenceTransformer::load(dir.to_str().unwrap()).unwrap();
    let cfg: distilbert::Config = serde_json::from_value(config(&dir)).unwrap();
    let theirs = distilbert::DistilBertModel::load(weights(&dir), &cfg).unwrap();
    // candle-transformers runs DistilBERT's "gelu" as the tanh approximation, where transformers
    // (and sbert, within 2.3e-6 of PyTorch in tests/families.rs) use the exact erf form. So the
    // oracle is compared with sbert's encoder on the same weights with `gelu_new`: everything else
    // (key layout, positions, attention, LayerNorms) is checked independently.
    let mut ours_cfg: sbert::encoder::EncoderConfig = serde_json::from_value(config(&dir)).unwrap();
    ours_cfg.hidden_act = sbert::encoder::HiddenAct::GeluApproximate;
    let encoder = sbert::encoder::Encoder::new(&ours_cfg, weights(&dir)).unwrap();
    let d = worst_vs(&encoder, &model.transformer().tokenizer, |x| {
        // candle-transformers' DistilBERT mask is 1 where attention is blocked: none here.
        let mask = Tensor::zeros(x.dims(), DType::U8, &Device::Cpu).unwrap();
        theirs.forward(x, &mask).unwrap()
    });
    println!("tiny DistilBERT (tanh GELU) vs candle-transformers: max |Δ| = {d:.2e}");
    assert!(d <= 2e-5, "hidden states differ by {d}");
}

#[test]
fn roberta_and_xlm_roberta_match_candle_transformers() {
    // RoBERTa and XLM-R share the architecture; candle-transformers runs both as XLMRobertaModel.
    for family in ["xlm_roberta", "roberta"] {
        let dir = shared().join("golden/architectures").join(family);
        let model = SentenceTransformer::load(dir.to_str().unwrap()).unwrap();
        let mut c = config(&dir);
        c["position_embedding_type"] = "absolute".into();
        let cfg: xlm_roberta::Config = serde_json::from_value(c).unwrap();
        let theirs = xlm_roberta::XLMRobertaModel::new(&cfg, weights(&dir)).unwrap();
        let t = model.transformer();
        let d = worst_vs(&t.encoder, &t.tokenizer, |x| {
            theirs
                .forward(
                    x,
                    &x.ones_like().unwrap(),
                    &x.zeros_like().unwrap(),
                    None,
                    None,
                    None,
                )
                .unwrap()
        });
        println!("tiny {family} vs candle-transformers XLMRobertaModel: max |Δ| = {d:.2e}");
        assert!(d <= 2e-5, "{family}: hidden states differ by {d}");
    }
}
