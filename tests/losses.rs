//! Loss math and gradients against PyTorch (`../shared/golden/losses.json`): values to 1e-5
//! relative, gradients w.r.t. the embeddings to 1e-6, mined-out pairs' gradients exactly 0.

mod common;
use candle_core::{Device, Tensor, Var};
use common::*;
use sbert::losses::*;

fn matrix(v: &serde_json::Value) -> Vec<Vec<f32>> {
    v.as_array().unwrap().iter().map(f32s).collect()
}

#[test]
fn every_loss_matches_pytorch_value_and_gradients() {
    let g = golden("losses.json");
    let mut cases = 0;
    for case in g["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let labels: Vec<f32> = case["labels"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect();
        let vars: Vec<Var> = case["embeddings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|col| {
                let m = matrix(col);
                let (r, c) = (m.len(), m[0].len());
                Var::from_tensor(&Tensor::from_vec(m.concat(), (r, c), &Device::Cpu).unwrap()).unwrap()
            })
            .collect();
        let tensors: Vec<Tensor> = vars.iter().map(|v| v.as_tensor().clone()).collect();
        let loss: Box<dyn Loss> = match case["loss"].as_str().unwrap() {
            "MultipleNegativesRankingLoss" => Box::new(MultipleNegativesRankingLoss::default()),
            "OnlineContrastiveLoss" => Box::new(OnlineContrastiveLoss::default()),
            "ContrastiveLoss" => Box::new(ContrastiveLoss::default()),
            "CosineSimilarityLoss" => Box::new(CosineSimilarityLoss),
            other => panic!("unknown loss {other}"),
        };
        let value = loss.compute_loss_from_embeddings(&tensors, &labels).unwrap();
        let got = value.to_scalar::<f32>().unwrap() as f64;
        let want = case["loss_value"].as_f64().unwrap();
        assert!((got - want).abs() <= 1e-5 * want.abs().max(1e-6), "{name}: loss {got} vs {want}");
        let grads = value.backward().unwrap();
        for (c, var) in vars.iter().enumerate() {
            let want = matrix(&case["grads"][c]);
            let got = grads.get(var.as_tensor()).map(|t| t.to_vec2::<f32>().unwrap()).unwrap_or_else(|| vec![vec![0.0; want[0].len()]; want.len()]);
            for (r, (gr, wr)) in got.iter().zip(&want).enumerate() {
                for (k, (a, b)) in gr.iter().zip(wr).enumerate() {
                    if *b == 0.0 {
                        assert_eq!(*a, 0.0, "{name}: grad column {c} [{r}][{k}] must be exactly 0");
                    }
                    assert!((a - b).abs() <= 1e-6, "{name}: grad column {c} [{r}][{k}] {a} vs {b}");
                }
            }
        }
        cases += 1;
    }
    assert_eq!(cases, 11);
}

#[test]
fn losses_reject_bad_input() {
    let t = Tensor::zeros((2, 3), candle_core::DType::F32, &Device::Cpu).unwrap();
    assert!(MultipleNegativesRankingLoss::default().compute_loss_from_embeddings(&[t.clone()], &[]).is_err());
    assert!(OnlineContrastiveLoss::default().compute_loss_from_embeddings(&[t.clone(), t.clone()], &[1.0]).is_err());
}
