//! The optimizer of `fit`: AdamW over sentence-transformers' two parameter groups, and gradient
//! clipping.

use candle_core::{backprop::GradStore, Tensor, Var};
use candle_nn::{AdamW, Optimizer, ParamsAdamW, VarMap};

use crate::core::Result;

/// The factor that brings the gradients' global L2 norm to at most `max_norm` (PyTorch's
/// `clip_grad_norm_`: `max_norm / (norm + 1e-6)` when the norm is larger, else 1).
pub(crate) fn clip_grad_scale(grads: &GradStore, vars: &[Var], max_norm: f64) -> Result<f64> {
    let mut total = 0f64;
    for v in vars {
        if let Some(g) = grads.get(v.as_tensor()) {
            total += g.sqr()?.sum_all()?.to_scalar::<f32>()? as f64;
        }
    }
    let norm = total.sqrt();
    Ok(if max_norm > 0.0 && norm > max_norm {
        max_norm / (norm + 1e-6)
    } else {
        1.0
    })
}

/// AdamW over two parameter groups, as sentence-transformers builds them: weight decay for
/// every parameter whose name contains none of `bias`, `LayerNorm.bias`, `LayerNorm.weight`.
///
/// PyTorch's `torch.optim.AdamW` update (β 0.9/0.999, ε 1e-8, decoupled weight decay, bias
/// correction). On the CPU each parameter is updated in one fused pass (moments kept as plain
/// vectors); candle's composed `AdamW` made ~16 full passes — a dozen 47 MB temporaries per step
/// for the word embeddings alone. Other devices use candle's `AdamW`.
pub struct GroupedAdamW {
    params: Vec<AdamParam>,
    lr: f64,
    t: i32,
    fallback: Option<(AdamW, AdamW, Vec<Var>)>,
}

struct AdamParam {
    var: Var,
    weight_decay: f64,
    m: Vec<f32>,
    v: Vec<f32>,
}

const BETA1: f64 = 0.9;
const BETA2: f64 = 0.999;
const ADAM_EPS: f64 = 1e-8;

impl GroupedAdamW {
    /// Groups `varmap`'s variables by name.
    pub fn new(varmap: &VarMap, lr: f64, weight_decay: f64) -> Result<Self> {
        let data = varmap
            .data()
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let no_decay = |name: &str| {
            ["bias", "LayerNorm.bias", "LayerNorm.weight"]
                .iter()
                .any(|s| name.contains(s))
        };
        if data.values().any(|v| !v.device().is_cpu()) {
            let (mut d, mut nd) = (Vec::new(), Vec::new());
            for (name, var) in data.iter() {
                if no_decay(name) {
                    nd.push(var.clone())
                } else {
                    d.push(var.clone())
                }
            }
            let p = |wd| ParamsAdamW {
                lr,
                beta1: BETA1,
                beta2: BETA2,
                eps: ADAM_EPS,
                weight_decay: wd,
            };
            let all = d.iter().chain(&nd).cloned().collect();
            let fallback = Some((
                AdamW::new(d, p(weight_decay))?,
                AdamW::new(nd, p(0.0))?,
                all,
            ));
            return Ok(Self {
                params: Vec::new(),
                lr,
                t: 0,
                fallback,
            });
        }
        let mut names: Vec<&String> = data.keys().collect();
        names.sort();
        let params = names
            .into_iter()
            .map(|name| {
                let var = data[name].clone();
                let n = var.elem_count();
                AdamParam {
                    var,
                    weight_decay: if no_decay(name) { 0.0 } else { weight_decay },
                    m: vec![0.0; n],
                    v: vec![0.0; n],
                }
            })
            .collect();
        Ok(Self {
            params,
            lr,
            t: 0,
            fallback: None,
        })
    }
    /// Sets the learning rate of both groups.
    pub fn set_learning_rate(&mut self, lr: f64) {
        self.lr = lr;
        if let Some((d, nd, _)) = &mut self.fallback {
            d.set_learning_rate(lr);
            nd.set_learning_rate(lr);
        }
    }
    /// One update.
    pub fn step(&mut self, grads: &GradStore) -> Result<()> {
        if let Some((d, nd, _)) = &mut self.fallback {
            d.step(grads)?;
            nd.step(grads)?;
            return Ok(());
        }
        self.fused_step(grads, 1.0)
    }
    /// One update with every gradient multiplied by `grad_scale` (gradient clipping; on the CPU
    /// without rewriting the gradients).
    pub(crate) fn step_scaled(&mut self, grads: &mut GradStore, grad_scale: f64) -> Result<()> {
        if let Some((_, _, vars)) = &self.fallback {
            if grad_scale != 1.0 {
                for v in vars {
                    if let Some(g) = grads.remove(v.as_tensor()) {
                        grads.insert(v.as_tensor(), (g * grad_scale)?);
                    }
                }
            }
            return self.step(grads);
        }
        self.fused_step(grads, grad_scale)
    }
    fn fused_step(&mut self, grads: &GradStore, grad_scale: f64) -> Result<()> {
        use rayon::prelude::*;
        self.t += 1;
        let (bc1, bc2) = (1.0 - BETA1.powi(self.t), 1.0 - BETA2.powi(self.t));
        let step_size = (self.lr / bc1) as f32;
        let bc2_sqrt = bc2.sqrt() as f32;
        let (b1, b2, eps, gs) = (
            BETA1 as f32,
            BETA2 as f32,
            ADAM_EPS as f32,
            grad_scale as f32,
        );
        for p in &mut self.params {
            let Some(g) = grads.get(p.var.as_tensor()) else {
                continue;
            };
            let g = g.flatten_all()?.to_vec1::<f32>()?;
            let mut theta = p.var.as_tensor().flatten_all()?.to_vec1::<f32>()?;
            let decay = (1.0 - self.lr * p.weight_decay) as f32;
            const CHUNK: usize = 1 << 14;
            theta
                .par_chunks_mut(CHUNK)
                .zip(g.par_chunks(CHUNK))
                .zip(p.m.par_chunks_mut(CHUNK))
                .zip(p.v.par_chunks_mut(CHUNK))
                .for_each(|(((th, g), m), v)| {
                    for (((th, &g), m), v) in
                        th.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut())
                    {
                        let g = g * gs;
                        *th *= decay;
                        *m = b1 * *m + (1.0 - b1) * g;
                        *v = b2 * *v + (1.0 - b2) * g * g;
                        *th -= step_size * *m / ((*v).sqrt() / bc2_sqrt + eps);
                    }
                });
            p.var
                .set(&Tensor::from_vec(theta, p.var.shape(), p.var.device())?)?;
        }
        Ok(())
    }
}
