//! `SentenceTransformer`: load a pipeline from its folder, its accessors and its forward passes.

use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};

use super::config::{ModuleEntry, SentenceTransformerConfig};
use super::load_options::LoadOptions;
use super::module::Module;
use super::pooling::{Pooling, PoolingConfig, PoolingMode};
use super::transformer::Transformer;
use crate::core::fs::read_json;
use crate::core::{Dtype, Embeddings, Error, Result};
use crate::encoder::model::add_vars;
use crate::encoder::{Encoder, Mode};
use crate::util::similarity::score_matrix;
use crate::util::{SimilarityFunction, SimilarityMatrix};

/// A bi-encoder: sentences in, one embedding each out (Python's `SentenceTransformer`).
#[derive(Clone)]
pub struct SentenceTransformer {
    pub(crate) modules: Vec<Module>,
    pub(crate) entries: Vec<ModuleEntry>,
    pub(crate) config: SentenceTransformerConfig,
    pub(crate) device: Device,
    pub(crate) path: PathBuf,
}

impl std::fmt::Debug for SentenceTransformer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "SentenceTransformer(")?;
        for (e, m) in self.entries.iter().zip(&self.modules) {
            let inner = match m {
                Module::Transformer(t) => format!("{t:?}"),
                Module::Pooling(p) => format!("Pooling({:?}, dim {})", p.modes(), p.output_dim()),
                Module::Dense(d) => format!(
                    "Dense({} → {}, {})",
                    d.config.in_features, d.config.out_features, d.config.activation_function
                ),
                Module::Normalize(_) => "Normalize()".to_string(),
            };
            writeln!(f, "  ({}): {inner}", e.name)?;
        }
        write!(f, ")")
    }
}

impl SentenceTransformer {
    /// Loads a model by id (`all-MiniLM-L6-v2`, `sentence-transformers/all-MiniLM-L6-v2`) or
    /// folder path, on the CPU. See [`super::hub`] for where ids are looked up.
    pub fn load(id_or_path: &str) -> Result<Self> {
        Self::load_on(id_or_path, &Device::Cpu)
    }

    /// Like [`SentenceTransformer::load`], on the given device.
    pub fn load_on(id_or_path: &str, device: &Device) -> Result<Self> {
        let dir = super::hub::resolve_model_dir(id_or_path)?;
        Self::from_dir(&dir, device)
    }

    /// Like [`SentenceTransformer::load`], with a device and the [`Dtype`] inference computes in.
    pub fn load_with(id_or_path: &str, options: &LoadOptions) -> Result<Self> {
        let mut model = Self::load_on(id_or_path, &options.device)?;
        model.set_dtype(options.dtype)?;
        Ok(model)
    }

    /// The format the encoder's linear layers compute in at inference ([`Dtype::F32`] by default).
    pub fn dtype(&self) -> Dtype {
        self.transformer().encoder.dtype()
    }

    /// Switches inference to `dtype` (bf16 and int8: CPU only; the f32 weights are kept, so
    /// switching back is exact). Training and saving always use the f32 weights.
    pub fn set_dtype(&mut self, dtype: Dtype) -> Result<()> {
        self.transformer_mut().encoder.set_dtype(dtype)
    }

    /// Loads the model in folder `dir`.
    pub fn from_dir(dir: &Path, device: &Device) -> Result<Self> {
        let modules_path = dir.join("modules.json");
        let entries: Vec<ModuleEntry> = if modules_path.exists() {
            let mut e: Vec<ModuleEntry> = read_json(&modules_path)?;
            e.sort_by_key(|m| m.idx);
            // A module's path is a folder inside the model: saving writes there.
            for m in &e {
                let p = Path::new(&m.path);
                if p.components()
                    .any(|c| !matches!(c, std::path::Component::Normal(_)))
                {
                    return Err(Error::invalid_model(
                        &modules_path,
                        format!(
                            "module {:?} has path {:?}: a module's path must be a folder inside the model",
                            m.name, m.path
                        ),
                    ));
                }
            }
            e
        } else {
            // A plain Hugging Face model: Transformer + mean pooling, as Python does.
            Vec::new()
        };
        let mut modules = Vec::with_capacity(entries.len().max(2));
        let entries = if entries.is_empty() {
            let t = Transformer::load(dir, device)?;
            let dim = t.encoder.config().hidden_size;
            modules.push(Module::Transformer(t));
            modules.push(Module::Pooling(Pooling::new(PoolingConfig::new(
                dim,
                PoolingMode::Mean,
            ))?));
            vec![
                ModuleEntry {
                    idx: 0,
                    name: "0".into(),
                    path: "".into(),
                    type_: "sentence_transformers.models.Transformer".into(),
                },
                ModuleEntry {
                    idx: 1,
                    name: "1".into(),
                    path: "1_Pooling".into(),
                    type_: "sentence_transformers.models.Pooling".into(),
                },
            ]
        } else {
            for e in &entries {
                modules.push(Module::load(e, dir, device)?);
            }
            entries
        };
        if !matches!(modules.first(), Some(Module::Transformer(_))) {
            return Err(Error::invalid_model(
                modules_path,
                "the first module must be a Transformer",
            ));
        }
        let st_path = dir.join("config_sentence_transformers.json");
        let config = if st_path.exists() {
            read_json(&st_path)?
        } else {
            SentenceTransformerConfig::default()
        };
        Ok(Self {
            modules,
            entries,
            config,
            device: device.clone(),
            path: dir.to_path_buf(),
        })
    }

    /// The folder the model was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }
    /// The pipeline's modules in order.
    pub fn modules(&self) -> &[Module] {
        &self.modules
    }
    /// The device the model runs on.
    pub fn device(&self) -> &Device {
        &self.device
    }
    /// `config_sentence_transformers.json`.
    pub fn config(&self) -> &SentenceTransformerConfig {
        &self.config
    }

    /// The first module (always a Transformer; checked at load).
    pub fn transformer(&self) -> &Transformer {
        match &self.modules[0] {
            Module::Transformer(t) => t,
            _ => unreachable!("checked at load"),
        }
    }
    /// The folder the Transformer module was loaded from (its `config.json`, tokenizer files and weights).
    pub fn transformer_dir(&self) -> PathBuf {
        self.path.join(&self.entries[0].path)
    }
    pub(crate) fn transformer_mut(&mut self) -> &mut Transformer {
        match &mut self.modules[0] {
            Module::Transformer(t) => t,
            _ => unreachable!("checked at load"),
        }
    }

    /// Inputs longer than this many tokens are truncated (Python's `model.max_seq_length`).
    pub fn max_seq_length(&self) -> usize {
        self.transformer().max_seq_length()
    }
    /// Sets `max_seq_length` (1 to the model's position limit).
    pub fn set_max_seq_length(&mut self, n: usize) -> Result<()> {
        self.transformer_mut().set_max_seq_length(n)
    }

    /// Size of the embeddings (Python's `get_sentence_embedding_dimension()`).
    pub fn get_sentence_embedding_dimension(&self) -> usize {
        let mut dim = self.transformer().encoder.config().hidden_size;
        for m in &self.modules {
            match m {
                Module::Pooling(p) => dim = p.output_dim(),
                Module::Dense(d) => dim = d.config.out_features,
                _ => {}
            }
        }
        dim
    }

    /// The similarity function the model was trained for (`similarity_fn_name`; cosine when absent).
    pub fn similarity_fn_name(&self) -> Result<SimilarityFunction> {
        match &self.config.similarity_fn_name {
            None => Ok(SimilarityFunction::Cosine),
            Some(s) => s.parse(),
        }
    }

    /// Scores with the model's similarity function (Python's `model.similarity`).
    pub fn similarity(&self, a: &Embeddings, b: &Embeddings) -> Result<SimilarityMatrix> {
        score_matrix(a, b, self.similarity_fn_name()?)
    }

    /// Token ids of each text as the model sees them (`[CLS] … [SEP]`, truncated).
    pub fn tokenize<S: AsRef<str>>(&self, texts: &[S]) -> Result<Vec<Vec<u32>>> {
        Ok(self
            .transformer()
            .tokenize(texts)?
            .into_iter()
            .map(|e| e.get_ids().to_vec())
            .collect())
    }

    /// Token strings of one text, as the model sees them.
    pub fn tokens(&self, text: &str) -> Result<Vec<String>> {
        Ok(self
            .transformer()
            .tokenize(&[text])?
            .remove(0)
            .get_tokens()
            .to_vec())
    }

    /// Makes the encoder trainable: every weight becomes a [`candle_core::Var`] in `varmap` (what
    /// `fit` optimises); encoding keeps working on the same variables.
    pub fn make_trainable(&mut self, varmap: &candle_nn::VarMap) -> Result<()> {
        let encoder = &self.transformer().encoder;
        let trainable = Encoder::trainable(
            encoder.config(),
            encoder.named_tensors().into_iter().collect(),
            varmap,
            &self.device,
        )?;
        self.set_encoder(trainable);
        // Dense modules train too (Python's fit optimises every parameter of the pipeline), under
        // their sentence-transformers names: `{module index}.linear.weight`.
        for (i, m) in self.modules.iter_mut().enumerate() {
            if let Module::Dense(d) = m {
                let named = d
                    .named_tensors()
                    .into_iter()
                    .map(|(n, t)| (format!("{i}.{n}"), t));
                let mut vars = add_vars(varmap, named, &self.device)?.into_iter();
                let weight = vars
                    .next()
                    .ok_or_else(|| Error::Internal("Dense module without a weight".into()))?;
                *d = d.with_tensors(weight, vars.next());
            }
        }
        Ok(())
    }

    /// The training forward of one text column: tokenized (truncated at `max_len` tokens, the
    /// final `[SEP]` kept), padded, through the encoder in `mode` (dropout, gradients) and the
    /// pooling modules → `[texts.len(), dim]`.
    pub fn forward_train(&self, texts: &[&str], max_len: usize, mode: Mode) -> Result<Tensor> {
        let enc = self.transformer().tokenize(texts)?;
        let encs: Vec<&tokenizers::Encoding> = enc.iter().collect();
        let (tokens, batch) =
            self.transformer()
                .encoder
                .forward_padded(&encs, max_len, mode, &self.device)?;
        self.pool_tokens(tokens, &batch.mask)
    }

    /// Runs the pipeline on one padded batch. `ids`, `type_ids`, `mask`: `[b, s]`. Returns `[b, dim]`.
    pub fn forward_t(
        &self,
        ids: &Tensor,
        type_ids: &Tensor,
        mask: &Tensor,
        train: bool,
    ) -> Result<Tensor> {
        let tokens = self
            .transformer()
            .encoder
            .forward_t(ids, type_ids, mask, train)?;
        self.forward_from_tokens(tokens, mask)
    }

    /// The modules after the Transformer: token embeddings `[b, s, h]` + mask `[b, s]` → `[b, dim]`.
    pub fn pool_tokens(&self, tokens: Tensor, mask: &Tensor) -> Result<Tensor> {
        self.forward_from_tokens(tokens, mask)
    }

    /// Replaces the encoder's weights (used by `fit` to switch to trainable variables).
    pub fn set_encoder(&mut self, encoder: Encoder) {
        self.transformer_mut().encoder = encoder;
    }

    /// The old name of [`SentenceTransformer::set_encoder`].
    pub fn set_bert(&mut self, encoder: Encoder) {
        self.set_encoder(encoder);
    }
}

impl SentenceTransformer {
    pub(crate) fn forward_from_tokens(&self, tokens: Tensor, mask: &Tensor) -> Result<Tensor> {
        self.forward_pooled(|p| p.forward(&tokens, mask))
    }

    /// [`Self::forward_from_tokens`] on the unpadded token embeddings of the fast CPU path
    /// (`lens[i]` rows of `hidden` per sequence, one after another): no padded copy, no mask.
    pub(crate) fn forward_from_ragged(&self, hidden: &[f32], lens: &[usize]) -> Result<Tensor> {
        let h = self.transformer().encoder.config().hidden_size;
        self.forward_pooled(|p| {
            let pooled = p.forward_ragged(hidden, lens, h)?;
            Ok(Tensor::from_vec(
                pooled,
                (lens.len(), p.output_dim()),
                &self.device,
            )?)
        })
    }

    /// The pipeline after the Transformer, its Pooling module's output made by `pool`.
    fn forward_pooled(&self, pool: impl Fn(&Pooling) -> Result<Tensor>) -> Result<Tensor> {
        let mut sentence: Option<Tensor> = None;
        for m in &self.modules {
            match m {
                Module::Transformer(_) => {}
                Module::Pooling(p) => sentence = Some(pool(p)?),
                Module::Dense(d) => sentence = Some(d.forward(self.sentence_of(&sentence)?)?),
                Module::Normalize(n) => sentence = Some(n.forward(self.sentence_of(&sentence)?)?),
            }
        }
        sentence.ok_or_else(|| {
            Error::invalid_model(
                self.path.join("modules.json"),
                "the pipeline has no Pooling module",
            )
        })
    }

    fn sentence_of<'t>(&self, s: &'t Option<Tensor>) -> Result<&'t Tensor> {
        s.as_ref().ok_or_else(|| {
            Error::invalid_model(
                self.path.join("modules.json"),
                "Dense/Normalize before Pooling",
            )
        })
    }
}
