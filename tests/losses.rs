//! Loss math and gradients against PyTorch (`../shared/golden/losses.json`): values to 1e-5
//! relative, gradients w.r.t. the embeddings to 1e-6, mined-out pairs' gradients exactly 0.

mod common;
use candle_core::{Device, Tensor, Var};
use common::*;
use sbert::losses::*;

fn matrix(v: &serde_json::Value) -> Vec<Vec<f32>> {
    v.as_array().unwrap().iter().map(f32s).collect()
}

/// A golden case's embedding columns as variables (for gradients) and as the tensors a loss takes.
fn embedding_vars(columns: &serde_json::Value) -> (Vec<Var>, Vec<Tensor>) {
    let vars: Vec<Var> = columns
        .as_array()
        .unwrap()
        .iter()
        .map(|col| {
            let m = matrix(col);
            let (r, c) = (m.len(), m[0].len());
            Var::from_tensor(&Tensor::from_vec(m.concat(), (r, c), &Device::Cpu).unwrap()).unwrap()
        })
        .collect();
    let tensors = vars.iter().map(|v| v.as_tensor().clone()).collect();
    (vars, tensors)
}

/// Per column: (d loss / d embeddings, all 0 where the loss does not reach the column; the golden).
fn gradients(
    loss: &Tensor,
    vars: &[Var],
    golden: &serde_json::Value,
) -> Vec<(Vec<Vec<f32>>, Vec<Vec<f32>>)> {
    let grads = loss.backward().unwrap();
    vars.iter()
        .enumerate()
        .map(|(c, var)| {
            let want = matrix(&golden[c]);
            let got = grads
                .get(var.as_tensor())
                .map(|t| t.to_vec2::<f32>().unwrap())
                .unwrap_or_else(|| vec![vec![0.0; want[0].len()]; want.len()]);
            (got, want)
        })
        .collect()
}

#[test]
fn every_loss_matches_pytorch_value_and_gradients() {
    let g = golden("losses.json");
    let mut cases = 0;
    for case in g["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let labels: Vec<f32> = case["labels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap() as f32)
            .collect();
        let (vars, tensors) = embedding_vars(&case["embeddings"]);
        let loss: Box<dyn Loss> = match case["loss"].as_str().unwrap() {
            "MultipleNegativesRankingLoss" => Box::new(MultipleNegativesRankingLoss::default()),
            "OnlineContrastiveLoss" => Box::new(OnlineContrastiveLoss::default()),
            "ContrastiveLoss" => Box::new(ContrastiveLoss::default()),
            "CosineSimilarityLoss" => Box::new(CosineSimilarityLoss),
            other => panic!("unknown loss {other}"),
        };
        let value = loss
            .compute_loss_from_embeddings(&tensors, &labels)
            .unwrap();
        let got = value.to_scalar::<f32>().unwrap() as f64;
        let want = case["loss_value"].as_f64().unwrap();
        assert!(
            (got - want).abs() <= 1e-5 * want.abs().max(1e-6),
            "{name}: loss {got} vs {want}"
        );
        for (c, (got, want)) in gradients(&value, &vars, &case["grads"]).iter().enumerate() {
            for (r, (gr, wr)) in got.iter().zip(want).enumerate() {
                for (k, (a, b)) in gr.iter().zip(wr).enumerate() {
                    if *b == 0.0 {
                        assert_eq!(
                            *a, 0.0,
                            "{name}: grad column {c} [{r}][{k}] must be exactly 0"
                        );
                    }
                    assert!(
                        (a - b).abs() <= 1e-6,
                        "{name}: grad column {c} [{r}][{k}] {a} vs {b}"
                    );
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
    assert!(MultipleNegativesRankingLoss::default()
        .compute_loss_from_embeddings(&[t.clone()], &[])
        .is_err());
    assert!(OnlineContrastiveLoss::default()
        .compute_loss_from_embeddings(&[t.clone(), t.clone()], &[1.0])
        .is_err());
}

/// BCEWithLogits against its textbook definition in f64 (−[y·ln σ(x) + (1−y)·ln(1−σ(x))]) and
/// the analytic gradient (σ(x) − y)/n, including logits far in the tails where a naive
/// implementation overflows.
#[test]
fn binary_cross_entropy_matches_the_definition_and_its_gradient() {
    let xs = [-30.0f32, -4.0, -0.5, 0.0, 0.25, 3.0, 17.0, 40.0];
    let ys = [0.0f32, 1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0];
    let sig = |x: f64| 1.0 / (1.0 + (-x).exp());
    // ln σ(x) = −ln(1+e^−x); ln(1−σ(x)) = −ln(1+e^x), both evaluated stably in f64.
    let ln1pexp = |z: f64| {
        if z > 30.0 {
            z + (-z).exp().ln_1p()
        } else {
            z.exp().ln_1p()
        }
    };
    let n = xs.len() as f64;
    let want: f64 = xs
        .iter()
        .zip(&ys)
        .map(|(&x, &y)| {
            let (x, y) = (x as f64, y as f64);
            y * ln1pexp(-x) + (1.0 - y) * ln1pexp(x)
        })
        .sum::<f64>()
        / n;
    let v = Var::from_slice(&xs, xs.len(), &Device::Cpu).unwrap();
    let loss = BinaryCrossEntropyLoss
        .compute_loss_from_logits(v.as_tensor(), &ys)
        .unwrap();
    let got = loss.to_scalar::<f32>().unwrap() as f64;
    assert!(
        (got - want).abs() < 1e-5 * want.max(1.0),
        "loss {got} vs {want}"
    );
    let g = loss
        .backward()
        .unwrap()
        .get(v.as_tensor())
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    for ((&x, &y), &gi) in xs.iter().zip(&ys).zip(&g) {
        let want = (sig(x as f64) - y as f64) / n;
        assert!(
            (gi as f64 - want).abs() < 1e-6,
            "grad at x={x}: {gi} vs {want}"
        );
    }
    assert!(BinaryCrossEntropyLoss
        .compute_loss_from_logits(v.as_tensor(), &ys[..3])
        .is_err());
}

/// CoSENTLoss against sentence-transformers 6.2 (tests/golden/cosent.json from
/// scripts/make_golden_cosent.py): value to 1e-5 relative, gradients to 1e-5 (scale 20 magnifies
/// them), and graded labels accepted by `fit`'s check.
#[test]
fn cosent_matches_pytorch_value_and_gradients() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/cosent.json");
    let g: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut cases = 0;
    for case in g["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let labels = f32s(&case["labels"]);
        let (vars, tensors) = embedding_vars(&case["embeddings"]);
        let loss = CoSENTLoss {
            scale: case["scale"].as_f64().unwrap() as f32,
        };
        let value = loss
            .compute_loss_from_embeddings(&tensors, &labels)
            .unwrap();
        let got = value.to_scalar::<f32>().unwrap() as f64;
        let want = case["loss"].as_f64().unwrap();
        assert!(
            (got - want).abs() <= 1e-5 * want.abs().max(1e-6),
            "{name}: loss {got} vs {want}"
        );
        for (c, (got, want)) in gradients(&value, &vars, &case["grads"]).iter().enumerate() {
            for (r, (gr, wr)) in got.iter().zip(want).enumerate() {
                for (k, (a, b)) in gr.iter().zip(wr).enumerate() {
                    assert!(
                        (a - b).abs() <= 1e-5 * b.abs().max(1.0),
                        "{name}: grad column {c} [{r}][{k}] {a} vs {b}"
                    );
                }
            }
        }
        cases += 1;
    }
    assert_eq!(cases, 3);
    let by_name = loss_by_name("cosent").unwrap();
    assert_eq!(by_name.name(), "CoSENTLoss");
    assert!(by_name.check_label(0.75).is_ok());
    assert!(by_name.check_label(f32::NAN).is_err());
}
