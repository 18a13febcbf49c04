#![allow(dead_code)]
//! Shared test helpers: the `../shared` folder, the real model, JSON goldens.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use sbert::SentenceTransformer;

/// `../shared` beside the checkout (or `$SBERT_SHARED`).
pub fn shared() -> PathBuf {
    std::env::var_os("SBERT_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("..")
                .join("shared")
        })
}

pub fn golden(name: &str) -> serde_json::Value {
    let p = shared().join("golden").join(name);
    let text =
        std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()));
    serde_json::from_str(&text).expect("golden JSON")
}

/// A golden file committed with the repository (`tests/golden/NAME`, made by `scripts/make_golden_*.py`).
pub fn repo_golden(name: &str) -> serde_json::Value {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    let text =
        std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()));
    serde_json::from_str(&text).expect("golden JSON")
}

/// The real all-MiniLM-L6-v2. Fails (never skips) when it is missing: run `bash scripts/provision-model.sh`.
pub fn model() -> &'static SentenceTransformer {
    static M: OnceLock<SentenceTransformer> = OnceLock::new();
    M.get_or_init(|| {
        SentenceTransformer::load("all-MiniLM-L6-v2")
            .unwrap_or_else(|e| panic!("the real model is required for this test: {e}"))
    })
}

pub fn f32s(v: &serde_json::Value) -> Vec<f32> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().expect("number") as f32)
        .collect()
}

pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "length mismatch");
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// A fresh empty folder under the system temp dir.
pub fn temp_dir(tag: &str) -> PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    let p = std::env::temp_dir().join(format!(
        "sbert-test-{}-{}-{tag}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&p);
    std::fs::create_dir_all(&p).unwrap();
    p
}

/// A tokenizer.json for the tiny BERT: ids 0-4 are [PAD] [UNK] [CLS] [SEP] [MASK], id k ≥ 5 is the word `wk`.
pub fn tiny_tokenizer_json() -> serde_json::Value {
    let specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];
    let mut vocab = serde_json::Map::new();
    for (i, s) in specials.iter().enumerate() {
        vocab.insert(s.to_string(), i.into());
    }
    for k in 5..100 {
        vocab.insert(format!("w{k}"), k.into());
    }
    let added: Vec<_> = specials
        .iter()
        .enumerate()
        .map(|(i, s)| serde_json::json!({"id": i, "content": s, "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true}))
        .collect();
    serde_json::json!({
        "version": "1.0",
        "truncation": {"direction": "Right", "max_length": 7, "strategy": "LongestFirst", "stride": 0},
        "padding": {"strategy": {"Fixed": 9}, "direction": "Right", "pad_to_multiple_of": null, "pad_id": 0, "pad_type_id": 0, "pad_token": "[PAD]"},
        "added_tokens": added,
        "normalizer": {"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true, "strip_accents": null, "lowercase": true},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": {"type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "[SEP]", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}, {"SpecialToken": {"id": "[SEP]", "type_id": 1}}],
            "special_tokens": {"[CLS]": {"id": "[CLS]", "ids": [2], "tokens": ["[CLS]"]}, "[SEP]": {"id": "[SEP]", "ids": [3], "tokens": ["[SEP]"]}}},
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": true},
        "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##", "max_input_chars_per_word": 100, "vocab": vocab}
    })
}

/// A sentence-transformers folder around `../shared/golden/tiny_bert.safetensors`
/// (Transformer → mean Pooling [→ Normalize]); `max_seq_length` 64. The tokenizer.json carries a
/// fixed padding of 9 and truncation at 7 that the loader must override.
pub fn tiny_model_dir(normalize: bool) -> PathBuf {
    let dir = temp_dir("tiny");
    let g = golden("tiny_bert_grad.json");
    let mut config = g["config"].clone();
    config["model_type"] = "bert".into();
    std::fs::write(dir.join("config.json"), config.to_string()).unwrap();
    std::fs::write(
        dir.join("tokenizer.json"),
        tiny_tokenizer_json().to_string(),
    )
    .unwrap();
    std::fs::copy(
        shared().join("golden/tiny_bert.safetensors"),
        dir.join("model.safetensors"),
    )
    .unwrap();
    std::fs::write(
        dir.join("sentence_bert_config.json"),
        r#"{"max_seq_length": 64, "do_lower_case": false}"#,
    )
    .unwrap();
    std::fs::create_dir_all(dir.join("1_Pooling")).unwrap();
    std::fs::write(
        dir.join("1_Pooling/config.json"),
        r#"{"word_embedding_dimension": 32, "pooling_mode_cls_token": false, "pooling_mode_mean_tokens": true, "pooling_mode_max_tokens": false, "pooling_mode_mean_sqrt_len_tokens": false}"#,
    )
    .unwrap();
    let mut modules = vec![
        serde_json::json!({"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"}),
        serde_json::json!({"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}),
    ];
    if normalize {
        // The folder 2_Normalize is deliberately absent, as in the real all-MiniLM-L6-v2.
        modules.push(serde_json::json!({"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}));
    }
    std::fs::write(
        dir.join("modules.json"),
        serde_json::Value::from(modules).to_string(),
    )
    .unwrap();
    dir
}

/// The golden batch of the tiny BERT as texts ("w10 w11 …"), and its golden mean-pooled embeddings.
pub fn tiny_golden_batch() -> (Vec<String>, Vec<Vec<f32>>) {
    let g = golden("tiny_bert_grad.json");
    let texts = g["input_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            row.as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap())
                .filter(|&id| id == 1 || id >= 5)
                .map(|id| {
                    if id == 1 {
                        "zzz".to_string()
                    } else {
                        format!("w{id}")
                    }
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    let emb = g["embeddings"]
        .as_array()
        .unwrap()
        .iter()
        .map(f32s)
        .collect();
    (texts, emb)
}

/// Runs the `sbert` command line (built by Cargo for integration tests) with `args`.
pub fn sbert(args: &[&str]) -> std::process::Output {
    let exe = option_env!("CARGO_BIN_EXE_sbert").expect("the sbert binary (feature `cli`)");
    std::process::Command::new(exe)
        .args(args)
        .output()
        .expect("run sbert")
}

/// Deterministic pseudo-random numbers (xorshift64*), for tests without a `rand` dependency.
pub struct Rng(pub u64);
impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545F4914F6CDD1D)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
    pub fn uniform(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }
}

/// The pid of a process that has exited (free, until the system reuses it).
pub fn dead_pid() -> u32 {
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let id = child.id();
    child.wait().unwrap();
    id
}

/// Held while a test switches the process's code path ([`on_every_isa`]), and by a test whose exact
/// results must not see a switch made by another test running beside it.
pub fn isa_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Runs `body` once on every CPU code path this machine has (`sbert::cpu::set_isa`), widest first,
/// then returns the process to the default path. A CI machine without AVX-512 still tests the AVX2
/// and scalar paths; one with it tests all three.
pub fn on_every_isa(mut body: impl FnMut(sbert::cpu::Isa)) {
    let _held = isa_lock();
    for isa in sbert::cpu::Isa::supported().into_iter().rev() {
        sbert::cpu::set_isa(Some(isa)).unwrap();
        eprintln!("checking the {isa} path");
        body(isa);
    }
    sbert::cpu::set_isa(None).unwrap();
}

/// A run given in JSON as `{qid: [[docid, score], …]}` (the goldens' form).
pub fn run_from_json(v: &serde_json::Value) -> sbert::evaluation::Run {
    v.as_object()
        .unwrap()
        .iter()
        .map(|(q, docs)| {
            (
                q.clone(),
                docs.as_array()
                    .unwrap()
                    .iter()
                    .map(|d| (d[0].as_str().unwrap().to_string(), d[1].as_f64().unwrap()))
                    .collect(),
            )
        })
        .collect()
}

/// The first `docs` SciFact titles and `queries` test claims as `corpus.tsv` and `queries.tsv`
/// (id<TAB>text) in `dir`, for command-line tests that need short real texts; returns both paths.
pub fn write_scifact_titles(
    ds: &sbert::datasets::RetrievalDataset,
    dir: &Path,
    docs: usize,
    queries: usize,
) -> (String, String) {
    let corpus: String = ds.corpus[..docs]
        .iter()
        .map(|d| format!("{}\t{}\n", d.id, d.title))
        .collect();
    let qs: String = ds.queries[..queries]
        .iter()
        .map(|q| format!("{}\t{}\n", q.id, q.text))
        .collect();
    let (c, q) = (dir.join("corpus.tsv"), dir.join("queries.tsv"));
    std::fs::write(&c, corpus).unwrap();
    std::fs::write(&q, qs).unwrap();
    let s = |p: PathBuf| p.to_string_lossy().into_owned();
    (s(c), s(q))
}

/// Runs the `sbert` command line, asserts it succeeded (printing its stderr if not), and
/// returns its standard output.
pub fn sbert_ok(args: &[&str]) -> String {
    let out = sbert(args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
