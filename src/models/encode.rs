//! `model.encode`: options with Python's names, length-sorted batching, the embedding cache.

use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};

use super::module::Module;
use super::sentence_transformer::SentenceTransformer;
use crate::core::compute::normalize_rows;
use crate::core::fs::write_atomic;
use crate::core::npy::{read_npy, write_npy};
use crate::core::{Embeddings, Error, Result};
use crate::display::Progress;
use crate::util::quantization::{quantize_embeddings, Precision, QuantizedEmbeddings};

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
    /// The most bytes of embeddings the cache folder keeps (default 2 GiB): past it, the entries
    /// used longest ago are removed (every evaluation during `fit` makes a new entry).
    pub cache_max_bytes: u64,
    /// Quantize the output (Python's `precision=`: `"int8"`, `"uint8"`, `"binary"`, `"ubinary"`;
    /// default none, float32). Quantized output is another type: call
    /// [`SentenceTransformer::encode_quantized`] (`encode` refuses an options value that sets it).
    pub precision: Option<Precision>,
}

/// [`EncodeOptions::cache_max_bytes`]'s default: 2 GiB.
pub const DEFAULT_CACHE_MAX_BYTES: u64 = 2 << 30;

impl Default for EncodeOptions {
    fn default() -> Self {
        Self {
            batch_size: 32,
            normalize_embeddings: false,
            show_progress_bar: false,
            prompt: None,
            prompt_name: None,
            cache_dir: None,
            cache_max_bytes: DEFAULT_CACHE_MAX_BYTES,
            precision: None,
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
    /// Sets the cache's size limit (see [`EncodeOptions::cache_max_bytes`]).
    pub fn cache_max_bytes(mut self, n: u64) -> Self {
        self.cache_max_bytes = n;
        self
    }
    /// Sets the precision of [`SentenceTransformer::encode_quantized`].
    pub fn precision(mut self, p: Precision) -> Self {
        self.precision = Some(p);
        self
    }
}

impl SentenceTransformer {
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
    /// the model's weights, its pipeline, the options that change the numbers, and the token ids
    /// the model sees — so texts that differ only in what the tokenizer discards, such as runs of
    /// spaces for BERT's tokenizer, share an entry) and stored there after computing.
    pub fn encode<S: AsRef<str>>(
        &self,
        sentences: &[S],
        opts: &EncodeOptions,
    ) -> Result<Embeddings> {
        if let Some(p) = opts.precision {
            return Err(Error::InvalidInput(format!(
                "encode returns float32 embeddings; for {p} ones call encode_quantized with these options"
            )));
        }
        let texts: Vec<String> = sentences.iter().map(|s| s.as_ref().to_string()).collect();
        self.encode_texts(texts, opts)
    }

    /// Embeds sentences and quantizes them to `opts.precision` (Python's `model.encode(…,
    /// precision="int8")`): int8 / uint8 ranges are calibrated on these embeddings themselves, as
    /// Python does; to quantize a corpus encoded in parts alike, encode in float32 and call
    /// [`quantize_embeddings`](crate::util::quantize_embeddings) with shared ranges.
    pub fn encode_quantized<S: AsRef<str>>(
        &self,
        sentences: &[S],
        opts: &EncodeOptions,
    ) -> Result<QuantizedEmbeddings> {
        let Some(precision) = opts.precision else {
            return Err(Error::InvalidInput(
                "encode_quantized needs a precision (EncodeOptions::precision)".into(),
            ));
        };
        let texts: Vec<String> = sentences.iter().map(|s| s.as_ref().to_string()).collect();
        let embeddings = self.encode_texts(texts, opts)?;
        quantize_embeddings(&embeddings, precision, None, None)
    }

    fn encode_texts(&self, texts: Vec<String>, opts: &EncodeOptions) -> Result<Embeddings> {
        if opts.batch_size == 0 {
            return Err(Error::InvalidInput("batch_size must be at least 1".into()));
        }
        let prompt = self.prompt(opts)?;
        let encodings = match &prompt {
            Some(p) => {
                let inputs: Vec<String> = texts.iter().map(|t| format!("{p}{t}")).collect();
                self.transformer().tokenize(&inputs)?
            }
            None => self.transformer().tokenize(&texts)?,
        };
        let Some(dir) = &opts.cache_dir else {
            return self.encode_tokenized(texts, &encodings, opts);
        };
        let key = self.cache_key(&encodings, opts)?;
        let (npy, meta) = (
            dir.join(format!("{key}.npy")),
            dir.join(format!("{key}.json")),
        );
        if let Some(hit) = read_cache_entry(
            &npy,
            &meta,
            texts.len(),
            self.get_sentence_embedding_dimension(),
        ) {
            // Recently used: the last to be evicted.
            for p in [&npy, &meta] {
                if let Ok(f) = std::fs::File::options().append(true).open(p) {
                    let _ = f.set_modified(std::time::SystemTime::now());
                }
            }
            let (e, m) = hit;
            return Ok(e.with_meta(texts, m.num_tokens, m.truncated));
        }
        // A missing, truncated or foreign entry is recomputed and rewritten.
        let e = self.encode_tokenized(texts, &encodings, opts)?;
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        write_npy(&npy, &e)?;
        let m = CacheMeta {
            num_tokens: e.num_tokens().to_vec(),
            truncated: e.truncated().to_vec(),
        };
        let text = serde_json::to_string(&m)
            .map_err(Error::serialize("the embedding cache's metadata"))?;
        write_atomic(&meta, text.as_bytes())?;
        evict_cache(dir, opts.cache_max_bytes, &npy);
        Ok(e)
    }

    /// The embedding cache's key: a 128-bit hash of the weights as they are in memory (a model
    /// trained in place gets a new key), the pipeline, the dtype, the options that change the numbers, and
    /// each text's token ids after truncation (the prompt included) with whether it was cut.
    fn cache_key(
        &self,
        encodings: &[tokenizers::Encoding],
        opts: &EncodeOptions,
    ) -> Result<String> {
        use std::hash::{Hash, Hasher};
        let mut hashers = self.model_hashers(opts)?;
        for e in encodings {
            let cut = !e.get_overflowing().is_empty();
            (e.get_ids(), cut).hash(&mut hashers[0]);
            (e.get_ids(), cut).hash(&mut hashers[1]);
        }
        Ok(format!(
            "emb-{:016x}{:016x}",
            hashers[0].finish(),
            hashers[1].finish()
        ))
    }

    /// A fingerprint of what decides the embeddings besides the texts: the model's weights and
    /// pipeline, its dtype and max_seq_length, and the options that change the numbers (the
    /// normalisation and the prompt). Two encodings with equal fingerprints of equal texts are
    /// equal.
    pub fn fingerprint(&self, opts: &EncodeOptions) -> Result<String> {
        use std::hash::Hasher;
        let mut hashers = self.model_hashers(opts)?;
        let prompt = self.prompt(opts)?.unwrap_or_default();
        hashers.iter_mut().for_each(|h| {
            h.write(&(prompt.len() as u64).to_le_bytes());
            h.write(prompt.as_bytes())
        });
        Ok(format!(
            "{:016x}{:016x}",
            hashers[0].finish(),
            hashers[1].finish()
        ))
    }

    /// Two hashers fed with the model's weights and pipeline and the options that change the
    /// numbers (the embedding cache adds the token ids).
    fn model_hashers(&self, opts: &EncodeOptions) -> Result<[std::hash::DefaultHasher; 2]> {
        use std::hash::Hasher;
        let mut hashers = [
            std::hash::DefaultHasher::new(),
            std::hash::DefaultHasher::new(),
        ];
        hashers[1].write_u64(0x9E37_79B9_7F4A_7C15);
        let mut feed = |bytes: &[u8]| hashers.iter_mut().for_each(|h| h.write(bytes));
        feed(env!("CARGO_PKG_VERSION").as_bytes());
        feed(
            format!(
                "{:?}|{}|{}|{}",
                self,
                self.max_seq_length(),
                opts.normalize_embeddings,
                self.dtype()
            )
            .as_bytes(),
        );
        let mut tensors: Vec<Tensor> = self
            .transformer()
            .encoder
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
        Ok(hashers)
    }

    /// Runs the model on `encodings` (the tokenized `texts`, prompt included).
    fn encode_tokenized(
        &self,
        texts: Vec<String>,
        encodings: &[tokenizers::Encoding],
        opts: &EncodeOptions,
    ) -> Result<Embeddings> {
        let dim = self.get_sentence_embedding_dimension();
        let n = texts.len();
        let lens: Vec<usize> = encodings.iter().map(|e| e.len()).collect();
        let truncated: Vec<usize> = encodings
            .iter()
            .enumerate()
            .filter(|(_, e)| !e.get_overflowing().is_empty())
            .map(|(i, _)| i)
            .collect();
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&a, &b| lens[b].cmp(&lens[a]));

        let mut out = vec![0f32; n * dim];
        let mut progress = Progress::new(
            n.div_ceil(opts.batch_size) as u64,
            "Batches",
            opts.show_progress_bar,
        );
        for batch in order.chunks(opts.batch_size) {
            let b = batch.len();
            let encs: Vec<&tokenizers::Encoding> = batch.iter().map(|&i| &encodings[i]).collect();
            let encoder = &self.transformer().encoder;
            let emb = if self.device.is_cpu() {
                // The fast CPU path pools its unpadded output directly.
                let hidden = encoder.forward_ragged(&encs)?;
                let lens: Vec<usize> = encs.iter().map(|e| e.len()).collect();
                self.forward_from_ragged(&hidden, &lens)?
            } else {
                let (tokens, padded_batch) = encoder.forward_batch(&encs, &self.device)?;
                self.forward_from_tokens(tokens, &padded_batch.mask)?
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
            normalize_rows(&mut out, dim);
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

/// A cache entry, if it is whole and fits: `n` rows of `dim` values with metadata for each row.
/// Anything else (a file cut short by a kill or a full disk, another model's entry) is a miss.
fn read_cache_entry(
    npy: &Path,
    meta: &Path,
    n: usize,
    dim: usize,
) -> Option<(Embeddings, CacheMeta)> {
    let m: CacheMeta = serde_json::from_str(&std::fs::read_to_string(meta).ok()?).ok()?;
    let e = read_npy(npy).ok()?;
    (e.len() == n && (n == 0 || e.dim() == dim) && m.num_tokens.len() == n).then_some((e, m))
}

/// Removes the cache entries used longest ago until the folder's entries (`emb-*.npy` and their
/// `.json`) take at most `max_bytes`; `keep` (the entry just written) stays.
fn evict_cache(dir: &Path, max_bytes: u64, keep: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut files: Vec<(std::time::SystemTime, u64, PathBuf)> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().to_string();
            if !(name.starts_with("emb-") && name.ends_with(".npy")) {
                return None;
            }
            let m = e.metadata().ok()?;
            let json = e.path().with_extension("json");
            let size = m.len() + std::fs::metadata(&json).map_or(0, |j| j.len());
            Some((m.modified().ok()?, size, e.path()))
        })
        .collect();
    let mut total: u64 = files.iter().map(|f| f.1).sum();
    files.sort();
    for (_, size, p) in files {
        if total <= max_bytes {
            break;
        }
        if p == keep {
            continue;
        }
        let _ = std::fs::remove_file(&p);
        let _ = std::fs::remove_file(p.with_extension("json"));
        total -= size;
    }
}
