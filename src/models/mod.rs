//! The modules of a sentence-transformers pipeline and [`SentenceTransformer`] itself.
//!
//! A model is an ordered list of small modules read from `modules.json`:
//! [`Transformer`] (tokenizer + BERT) → [`Pooling`] → optional [`Dense`] → optional [`Normalize`].

pub mod bert;
pub(crate) mod cpu;
pub mod dense;
pub mod normalize;
pub(crate) mod ops;
pub mod pooling;
pub mod transformer;

use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};

pub use bert::Bert;
pub use dense::{Dense, DenseConfig};
pub use normalize::Normalize;
pub use pooling::{Pooling, PoolingConfig, PoolingMode};
pub use transformer::Transformer;

use crate::config::{read_json, ModuleEntry, SentenceTransformerConfig};
use crate::embeddings::Embeddings;
use crate::error::{Error, Result};
use crate::progress::Progress;
use crate::util::{ScoreFunction, SimilarityMatrix};

/// One step of the pipeline, keyed by the `type` in `modules.json`.
#[derive(Debug, Clone)]
pub enum Module {
    /// `sentence_transformers.models.Transformer`.
    Transformer(Transformer),
    /// `sentence_transformers.models.Pooling`.
    Pooling(Pooling),
    /// `sentence_transformers.models.Dense`.
    Dense(Dense),
    /// `sentence_transformers.models.Normalize`.
    Normalize(Normalize),
}

impl Module {
    fn load(entry: &ModuleEntry, root: &Path, device: &Device) -> Result<Self> {
        let dir = root.join(&entry.path);
        let kind = entry.type_.rsplit('.').next().unwrap_or("");
        match kind {
            "Transformer" => Ok(Module::Transformer(Transformer::load(&dir, device)?)),
            "Pooling" => Ok(Module::Pooling(Pooling::new(read_json(
                &dir.join("config.json"),
            )?)?)),
            "Dense" => Ok(Module::Dense(Dense::load(&dir, device)?)),
            // The folder of Normalize is often absent (it has no files): nothing to read.
            "Normalize" => Ok(Module::Normalize(Normalize)),
            _ => Err(Error::UnsupportedModule {
                type_: entry.type_.clone(),
            }),
        }
    }
}

/// Options of [`SentenceTransformer::encode`], with Python's names and defaults.
#[derive(Debug, Clone, PartialEq)]
#[must_use]
pub struct EncodeOptions {
    /// Sentences per forward pass (default 32).
    pub batch_size: usize,
    /// L2-normalise the output (default false; models with a Normalize module already are).
    pub normalize_embeddings: bool,
    /// Show a progress bar over batches (default false).
    pub show_progress_bar: bool,
    /// A prompt prepended to every sentence, e.g. `"query: "`.
    pub prompt: Option<String>,
    /// The name of a prompt in `config_sentence_transformers.json`.
    pub prompt_name: Option<String>,
    /// Keep the embeddings in this folder and reuse them when the same model (same weights, in
    /// memory) encodes the same texts with the same options again (default none): a notebook that
    /// is run again, or two notebooks that embed the same corpus, encode it once.
    pub cache_dir: Option<PathBuf>,
}

impl Default for EncodeOptions {
    fn default() -> Self {
        Self {
            batch_size: 32,
            normalize_embeddings: false,
            show_progress_bar: false,
            prompt: None,
            prompt_name: None,
            cache_dir: None,
        }
    }
}

impl EncodeOptions {
    /// Sets `batch_size`.
    pub fn batch_size(mut self, n: usize) -> Self {
        self.batch_size = n;
        self
    }
    /// Sets `normalize_embeddings`.
    pub fn normalize_embeddings(mut self, yes: bool) -> Self {
        self.normalize_embeddings = yes;
        self
    }
    /// Sets `show_progress_bar`.
    pub fn show_progress_bar(mut self, yes: bool) -> Self {
        self.show_progress_bar = yes;
        self
    }
    /// Sets a literal prompt.
    pub fn prompt(mut self, p: impl Into<String>) -> Self {
        self.prompt = Some(p.into());
        self
    }
    /// Sets a named prompt.
    pub fn prompt_name(mut self, p: impl Into<String>) -> Self {
        self.prompt_name = Some(p.into());
        self
    }
    /// Sets the embedding cache folder (see [`EncodeOptions::cache_dir`]).
    pub fn cache_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cache_dir = Some(dir.into());
        self
    }
}

/// A bi-encoder: sentences in, one embedding each out (Python's `SentenceTransformer`).
#[derive(Clone)]
pub struct SentenceTransformer {
    modules: Vec<Module>,
    entries: Vec<ModuleEntry>,
    config: SentenceTransformerConfig,
    device: Device,
    path: PathBuf,
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
    /// folder path, on the CPU. See [`crate::hub`] for where ids are looked up.
    pub fn load(id_or_path: &str) -> Result<Self> {
        Self::load_on(id_or_path, &Device::Cpu)
    }

    /// Like [`SentenceTransformer::load`], on the given device.
    pub fn load_on(id_or_path: &str, device: &Device) -> Result<Self> {
        let dir = crate::hub::resolve_model_dir(id_or_path)?;
        Self::from_dir(&dir, device)
    }

    /// Loads the model in folder `dir`.
    pub fn from_dir(dir: &Path, device: &Device) -> Result<Self> {
        let modules_path = dir.join("modules.json");
        let entries: Vec<ModuleEntry> = if modules_path.exists() {
            let mut e: Vec<ModuleEntry> = read_json(&modules_path)?;
            e.sort_by_key(|m| m.idx);
            e
        } else {
            // A plain Hugging Face model: Transformer + mean pooling, as Python does.
            Vec::new()
        };
        let mut modules = Vec::with_capacity(entries.len().max(2));
        let entries = if entries.is_empty() {
            let t = Transformer::load(dir, device)?;
            let dim = t.bert.config().hidden_size;
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
    fn transformer_mut(&mut self) -> &mut Transformer {
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
        let mut dim = self.transformer().bert.config().hidden_size;
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
    pub fn similarity_fn_name(&self) -> Result<ScoreFunction> {
        match &self.config.similarity_fn_name {
            None => Ok(ScoreFunction::Cosine),
            Some(s) => s.parse(),
        }
    }

    /// Scores with the model's similarity function (Python's `model.similarity`).
    pub fn similarity(&self, a: &Embeddings, b: &Embeddings) -> Result<SimilarityMatrix> {
        match self.similarity_fn_name()? {
            ScoreFunction::Cosine => crate::util::cos_sim(a, b),
            ScoreFunction::Dot => crate::util::dot_score(a, b),
        }
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
            .bert
            .forward_t(ids, type_ids, mask, train)?;
        self.forward_from_tokens(tokens, mask)
    }

    /// The modules after the Transformer: token embeddings `[b, s, h]` + mask `[b, s]` → `[b, dim]`.
    pub fn pool_tokens(&self, tokens: Tensor, mask: &Tensor) -> Result<Tensor> {
        self.forward_from_tokens(tokens, mask)
    }

    /// Replaces the encoder's weights (used by `fit` to switch to trainable variables).
    pub fn set_bert(&mut self, bert: Bert) {
        self.transformer_mut().bert = bert;
    }

    /// Saves the model in the sentence-transformers format (loadable by `SentenceTransformer::load`
    /// and by Python's `SentenceTransformer(path)`). Written to a temporary folder beside `path`
    /// and renamed into place, so a crash never leaves a half-written model.
    pub fn save(&self, path: &Path) -> Result<()> {
        crate::npy::write_dir_atomic(path, |tmp| self.write_to(tmp))
    }

    fn write_to(&self, dir: &Path) -> Result<()> {
        let io = |what: &Path| {
            let what = what.display().to_string();
            move |e| Error::io(format!("writing {what}"), e)
        };
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let json = |p: &Path, v: &dyn erased_json::Json| -> Result<()> {
            std::fs::write(p, v.to_pretty()).map_err(io(p))
        };
        // Weights: the encoder's, plus any other tensor of the source file (e.g. the pooler).
        let mut tensors: std::collections::HashMap<String, Tensor> = self
            .transformer()
            .bert
            .named_tensors()
            .into_iter()
            .map(|(k, t)| Ok((k, t.to_device(&Device::Cpu)?)))
            .collect::<Result<_>>()?;
        let src = self.path.join("model.safetensors");
        if src.exists() {
            for (k, t) in crate::weights::load_safetensors(&src, &Device::Cpu)? {
                tensors.entry(k).or_insert(t);
            }
        }
        crate::npy::save_safetensors(&tensors, &dir.join("model.safetensors"))?;
        for f in [
            "config.json",
            "tokenizer.json",
            "tokenizer_config.json",
            "special_tokens_map.json",
            "vocab.txt",
        ] {
            let from = self.path.join(f);
            if from.exists() {
                std::fs::copy(&from, dir.join(f)).map_err(io(&dir.join(f)))?;
            }
        }
        json(&dir.join("modules.json"), &self.entries)?;
        let mut sb = self.transformer().config.clone();
        sb.max_seq_length = Some(self.max_seq_length());
        json(&dir.join("sentence_bert_config.json"), &sb)?;
        json(&dir.join("config_sentence_transformers.json"), &self.config)?;
        for (e, m) in self.entries.iter().zip(&self.modules) {
            let sub = dir.join(&e.path);
            match m {
                Module::Transformer(_) => {}
                Module::Pooling(p) => {
                    std::fs::create_dir_all(&sub).map_err(io(&sub))?;
                    json(&sub.join("config.json"), &p.config)?;
                }
                Module::Dense(_) => {
                    std::fs::create_dir_all(&sub).map_err(io(&sub))?;
                    for f in ["config.json", "model.safetensors"] {
                        std::fs::copy(self.path.join(&e.path).join(f), sub.join(f))
                            .map_err(io(&sub.join(f)))?;
                    }
                }
                Module::Normalize(_) => std::fs::create_dir_all(&sub).map_err(io(&sub))?,
            }
        }
        Ok(())
    }

    fn forward_from_tokens(&self, tokens: Tensor, mask: &Tensor) -> Result<Tensor> {
        let tokens = Some(tokens);
        let mut sentence: Option<Tensor> = None;
        for m in &self.modules {
            match m {
                Module::Transformer(_) => {}
                Module::Pooling(p) => {
                    let tok = tokens
                        .as_ref()
                        .ok_or_else(|| Error::InvalidInput("Pooling before Transformer".into()))?;
                    sentence = Some(p.forward(tok, mask)?);
                }
                Module::Dense(d) => sentence = Some(d.forward(sentence_of(&sentence)?)?),
                Module::Normalize(n) => sentence = Some(n.forward(sentence_of(&sentence)?)?),
            }
        }
        sentence.ok_or_else(|| Error::InvalidInput("the pipeline has no Pooling module".into()))
    }

    fn prompt(&self, opts: &EncodeOptions) -> Result<Option<String>> {
        if let Some(p) = &opts.prompt {
            return Ok(Some(p.clone()));
        }
        let name = opts
            .prompt_name
            .as_ref()
            .or(self.config.default_prompt_name.as_ref());
        match name {
            None => Ok(None),
            Some(n) => self
                .config
                .prompts
                .get(n)
                .cloned()
                .map(Some)
                .ok_or_else(|| {
                    Error::InvalidInput(format!(
                        "prompt_name '{n}' is not among the model's prompts {:?}",
                        self.config.prompts.keys().collect::<Vec<_>>()
                    ))
                }),
        }
    }

    /// Embeds sentences (Python's `model.encode`).
    ///
    /// Sentences are tokenized, sorted by length (longest first) so batches carry little padding,
    /// run `batch_size` at a time, and put back in input order. Inputs longer than
    /// `max_seq_length` tokens are truncated and listed in [`Embeddings::truncated`].
    /// An empty list gives a `0 × dim` result.
    ///
    /// With [`EncodeOptions::cache_dir`], the result is looked up there first (keyed by a hash of
    /// the model's weights, its pipeline, the options that change the numbers, and the texts) and
    /// stored there after computing.
    pub fn encode<S: AsRef<str>>(
        &self,
        sentences: &[S],
        opts: &EncodeOptions,
    ) -> Result<Embeddings> {
        let texts: Vec<String> = sentences.iter().map(|s| s.as_ref().to_string()).collect();
        self.encode_texts(texts, opts)
    }

    fn encode_texts(&self, texts: Vec<String>, opts: &EncodeOptions) -> Result<Embeddings> {
        if opts.batch_size == 0 {
            return Err(Error::InvalidInput("batch_size must be at least 1".into()));
        }
        let prompt = self.prompt(opts)?;
        let Some(dir) = &opts.cache_dir else {
            return self.encode_uncached(texts, prompt, opts);
        };
        let key = self.cache_key(&texts, &prompt, opts)?;
        let (npy, meta) = (
            dir.join(format!("{key}.npy")),
            dir.join(format!("{key}.json")),
        );
        if npy.exists() && meta.exists() {
            let m: CacheMeta = serde_json::from_str(
                &std::fs::read_to_string(&meta).map_err(io(&meta))?,
            )
            .map_err(|e| Error::InvalidInput(format!("embedding cache {}: {e}", meta.display())))?;
            let e = crate::npy::read_npy(&npy)?;
            if e.len() == texts.len() && m.num_tokens.len() == texts.len() {
                return Ok(e.with_meta(texts, m.num_tokens, m.truncated));
            }
        }
        let e = self.encode_uncached(texts, prompt, opts)?;
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        crate::npy::write_npy(&npy, &e)?;
        let m = CacheMeta {
            num_tokens: e.num_tokens().to_vec(),
            truncated: e.truncated().to_vec(),
        };
        let text = serde_json::to_string(&m).map_err(|e| Error::InvalidInput(e.to_string()))?;
        crate::npy::write_atomic(&meta, text.as_bytes())?;
        Ok(e)
    }

    /// The embedding cache's key: a 128-bit hash of the weights as they are in memory (a model
    /// trained in place gets a new key), the pipeline, the options that change the numbers, and
    /// the texts.
    fn cache_key(
        &self,
        texts: &[String],
        prompt: &Option<String>,
        opts: &EncodeOptions,
    ) -> Result<String> {
        use std::hash::{Hash, Hasher};
        let mut hashers = [
            std::hash::DefaultHasher::new(),
            std::hash::DefaultHasher::new(),
        ];
        hashers[1].write_u64(0x9E37_79B9_7F4A_7C15);
        let mut feed = |bytes: &[u8]| hashers.iter_mut().for_each(|h| h.write(bytes));
        feed(env!("CARGO_PKG_VERSION").as_bytes());
        feed(
            format!(
                "{:?}|{}|{:?}|{}",
                self,
                self.max_seq_length(),
                prompt,
                opts.normalize_embeddings
            )
            .as_bytes(),
        );
        let mut tensors: Vec<Tensor> = self
            .transformer()
            .bert
            .named_tensors()
            .into_iter()
            .map(|(_, t)| t)
            .collect();
        for m in &self.modules {
            if let Module::Dense(d) = m {
                tensors.extend(d.tensors());
            }
        }
        for t in tensors {
            let v = t.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?;
            feed(&(v.len() as u64).to_le_bytes());
            let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
            feed(&bytes);
        }
        for t in texts {
            t.hash(&mut hashers[0]);
            t.hash(&mut hashers[1]);
        }
        Ok(format!(
            "emb-{:016x}{:016x}",
            hashers[0].finish(),
            hashers[1].finish()
        ))
    }

    fn encode_uncached(
        &self,
        texts: Vec<String>,
        prompt: Option<String>,
        opts: &EncodeOptions,
    ) -> Result<Embeddings> {
        let dim = self.get_sentence_embedding_dimension();
        let n = texts.len();
        let inputs: Vec<String> = match &prompt {
            Some(p) => texts.iter().map(|t| format!("{p}{t}")).collect(),
            None => texts.clone(),
        };
        let encodings = self.transformer().tokenize(&inputs)?;
        let lens: Vec<usize> = encodings.iter().map(|e| e.len()).collect();
        let truncated: Vec<usize> = encodings
            .iter()
            .enumerate()
            .filter(|(_, e)| !e.get_overflowing().is_empty())
            .map(|(i, _)| i)
            .collect();
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&a, &b| lens[b].cmp(&lens[a]));

        let pad = self.transformer().bert.config().pad_token_id as u32;
        let mut out = vec![0f32; n * dim];
        let mut progress = Progress::new(
            n.div_ceil(opts.batch_size) as u64,
            "Batches",
            opts.show_progress_bar,
        );
        for batch in order.chunks(opts.batch_size) {
            let b = batch.len();
            let encs: Vec<&tokenizers::Encoding> = batch.iter().map(|&i| &encodings[i]).collect();
            let padded_batch = pad_batch(&encs, usize::MAX, pad, &self.device)?;
            let s = padded_batch.seq_len;
            let mask = padded_batch.mask;
            let emb = if self.device.is_cpu() {
                // Fast path: no padding inside BERT; the hidden states are laid out padded only for pooling.
                let seqs: Vec<(&[u32], &[u32])> = batch
                    .iter()
                    .map(|&i| (encodings[i].get_ids(), encodings[i].get_type_ids()))
                    .collect();
                let hidden = cpu::forward(&self.transformer().bert, &seqs)?;
                let h = self.transformer().bert.config().hidden_size;
                let mut padded = vec![0f32; b * s * h];
                let mut at = 0;
                for (r, &i) in batch.iter().enumerate() {
                    let l = lens[i];
                    padded[r * s * h..(r * s + l) * h]
                        .copy_from_slice(&hidden[at * h..(at + l) * h]);
                    at += l;
                }
                let tokens = Tensor::from_vec(padded, (b, s, h), &self.device)?;
                self.forward_from_tokens(tokens, &mask)?
            } else {
                self.forward_t(&padded_batch.ids, &padded_batch.types, &mask, false)?
            };
            let emb = emb
                .to_device(&Device::Cpu)?
                .flatten_all()?
                .to_vec1::<f32>()?;
            if emb.len() != b * dim {
                return Err(Error::DimensionMismatch {
                    what: "pipeline output".into(),
                    left: emb.len() / b.max(1),
                    right: dim,
                });
            }
            for (r, &i) in batch.iter().enumerate() {
                out[i * dim..(i + 1) * dim].copy_from_slice(&emb[r * dim..(r + 1) * dim]);
            }
            progress.inc(1);
        }
        progress.finish();
        if opts.normalize_embeddings {
            normalize::normalize_rows(&mut out, dim);
        }
        Ok(Embeddings::from_flat(out, n, dim)?.with_meta(texts, lens, truncated))
    }

    /// Embeds one sentence with default options.
    pub fn encode_one(&self, sentence: &str) -> Result<Vec<f32>> {
        Ok(self
            .encode(&[sentence], &EncodeOptions::default())?
            .into_flat())
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |e| Error::io(format!("embedding cache {}", path.display()), e)
}

/// What the embedding cache keeps beside the `.npy`.
#[derive(serde::Serialize, serde::Deserialize)]
struct CacheMeta {
    num_tokens: Vec<usize>,
    truncated: Vec<usize>,
}

/// Token ids, type ids and attention mask of a batch, right-padded to its longest sequence.
pub(crate) struct PaddedBatch {
    pub ids: Tensor,
    pub types: Tensor,
    pub mask: Tensor,
    pub seq_len: usize,
}

/// Pads `encodings` into `[b, s]` tensors (`pad` in the padding, mask 0 there). Sequences longer
/// than `max_len` are cut to it, keeping their final token (the closing `[SEP]`).
pub(crate) fn pad_batch(
    encodings: &[&tokenizers::Encoding],
    max_len: usize,
    pad: u32,
    device: &Device,
) -> Result<PaddedBatch> {
    let b = encodings.len();
    let s = encodings
        .iter()
        .map(|e| e.len().min(max_len))
        .max()
        .unwrap_or(1)
        .max(1);
    let (mut ids, mut types, mut mask) = (vec![pad; b * s], vec![0u32; b * s], vec![0u32; b * s]);
    for (r, e) in encodings.iter().enumerate() {
        let l = e.len().min(max_len);
        ids[r * s..r * s + l].copy_from_slice(&e.get_ids()[..l]);
        types[r * s..r * s + l].copy_from_slice(&e.get_type_ids()[..l]);
        mask[r * s..r * s + l].iter_mut().for_each(|m| *m = 1);
        if l < e.len() && l > 0 {
            ids[r * s + l - 1] = e.get_ids()[e.len() - 1];
        }
    }
    Ok(PaddedBatch {
        ids: Tensor::from_vec(ids, (b, s), device)?,
        types: Tensor::from_vec(types, (b, s), device)?,
        mask: Tensor::from_vec(mask, (b, s), device)?,
        seq_len: s,
    })
}

mod erased_json {
    /// Serialises any serde value as pretty JSON (object-safe helper for `write_to`).
    pub trait Json {
        fn to_pretty(&self) -> String;
    }
    impl<T: serde::Serialize> Json for T {
        fn to_pretty(&self) -> String {
            serde_json::to_string_pretty(self).unwrap_or_default()
        }
    }
}

fn sentence_of(s: &Option<Tensor>) -> Result<&Tensor> {
    s.as_ref()
        .ok_or_else(|| Error::InvalidInput("Dense/Normalize before Pooling in modules.json".into()))
}
