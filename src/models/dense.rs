//! `sentence_transformers.models.Dense`: a linear layer with an activation on the sentence embedding.

use std::path::Path;

use candle_core::Device;
use serde::{Deserialize, Serialize};

use crate::core::fs::read_json;
use crate::core::{Error, Result};
use crate::encoder::Linear;

/// `2_Dense/config.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DenseConfig {
    /// Input size.
    pub in_features: usize,
    /// Output size.
    pub out_features: usize,
    /// Whether the layer has a bias.
    #[serde(default = "yes")]
    pub bias: bool,
    /// Python class of the activation, e.g. `torch.nn.modules.activation.Tanh`.
    #[serde(default = "identity")]
    pub activation_function: String,
}

fn yes() -> bool {
    true
}
fn identity() -> String {
    "torch.nn.modules.linear.Identity".into()
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Activation {
    Identity,
    Tanh,
    Relu,
    Sigmoid,
    Gelu,
}

/// The Dense module.
#[derive(Debug, Clone)]
pub struct Dense {
    /// Its on-disk configuration.
    pub config: DenseConfig,
    linear: Linear,
    activation: Activation,
}

impl Dense {
    /// Loads `config.json` and the weights (`model.safetensors` or `pytorch_model.bin`) from a
    /// module folder such as `2_Dense/`.
    pub fn load(dir: &Path, device: &Device) -> Result<Self> {
        let config: DenseConfig = read_json(&dir.join("config.json"))?;
        let act_name = config
            .activation_function
            .rsplit('.')
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        let activation = match act_name.as_str() {
            "identity" => Activation::Identity,
            "tanh" => Activation::Tanh,
            "relu" => Activation::Relu,
            "sigmoid" => Activation::Sigmoid,
            "gelu" => Activation::Gelu,
            other => {
                return Err(Error::invalid_model(
                    dir.join("config.json"),
                    format!("unsupported Dense activation '{other}'"),
                ))
            }
        };
        // model.safetensors, or (older folders) only pytorch_model.bin.
        let path = crate::encoder::weights::weights_file(dir)?;
        let mut t = crate::encoder::weights::load_file(&path, device)?;
        let weight = t
            .remove("linear.weight")
            .ok_or_else(|| Error::invalid_model(&path, "missing tensor linear.weight"))?;
        if weight.dims() != [config.out_features, config.in_features] {
            return Err(Error::invalid_model(
                &path,
                format!(
                    "linear.weight has shape {:?}, config says [{}, {}]",
                    weight.dims(),
                    config.out_features,
                    config.in_features
                ),
            ));
        }
        let bias = if config.bias {
            t.remove("linear.bias")
        } else {
            None
        };
        Ok(Self {
            config,
            linear: Linear::from_parts(weight, bias),
            activation,
        })
    }

    /// The layer's tensors under their names in the module's `model.safetensors`.
    pub(crate) fn named_tensors(&self) -> Vec<(String, candle_core::Tensor)> {
        std::iter::once(("linear.weight".to_string(), self.linear.weight.clone()))
            .chain(
                self.linear
                    .bias
                    .clone()
                    .map(|b| ("linear.bias".to_string(), b)),
            )
            .collect()
    }

    /// The same module on other tensors (trainable variables of the same shapes).
    pub(crate) fn with_tensors(
        &self,
        weight: candle_core::Tensor,
        bias: Option<candle_core::Tensor>,
    ) -> Self {
        Self {
            config: self.config.clone(),
            linear: Linear::from_parts(weight, bias),
            activation: self.activation,
        }
    }

    /// The layer's weight and bias (for fingerprints).
    pub(crate) fn tensors(&self) -> Vec<candle_core::Tensor> {
        std::iter::once(self.linear.weight.clone())
            .chain(self.linear.bias.clone())
            .collect()
    }

    /// `x`: `[b, in]` → `[b, out]`.
    pub fn forward(&self, x: &candle_core::Tensor) -> Result<candle_core::Tensor> {
        let y = self.linear.forward(x)?;
        Ok(match self.activation {
            Activation::Identity => y,
            Activation::Tanh => y.tanh()?,
            Activation::Relu => y.relu()?,
            Activation::Sigmoid => candle_nn::ops::sigmoid(&y)?,
            Activation::Gelu => y.gelu_erf()?,
        })
    }
}
