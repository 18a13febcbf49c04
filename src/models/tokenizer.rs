//! The one tokenizer set-up of the crate: load `tokenizer.json` — or, where a folder has none,
//! build the tokenizer from `vocab.txt` (WordPiece) or `vocab.json` + `merges.txt` (byte-level
//! BPE) with `tokenizer_config.json`'s settings, as `transformers`' converters do — then no
//! padding, right-side longest-first truncation at a maximum length (what sentence-transformers'
//! `Transformer` and `CrossEncoder` do).

use std::path::Path;

use serde::Deserialize;
use tokenizers::decoders::byte_level::ByteLevel as ByteLevelDecoder;
use tokenizers::decoders::wordpiece::WordPiece as WordPieceDecoder;
use tokenizers::models::bpe::BPE;
use tokenizers::models::wordpiece::WordPiece;
use tokenizers::normalizers::bert::BertNormalizer;
use tokenizers::pre_tokenizers::bert::BertPreTokenizer;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::processors::roberta::RobertaProcessing;
use tokenizers::processors::template::TemplateProcessing;
use tokenizers::{
    AddedToken, Tokenizer, TruncationDirection, TruncationParams, TruncationStrategy,
};

use crate::core::fs::read_json;
use crate::core::{Error, Result};
use crate::encoder::Family;

/// Loads `path` (a `tokenizer.json`) with a clear error when it is missing or unreadable.
pub fn load_tokenizer(path: &Path) -> Result<Tokenizer> {
    if !path.exists() {
        return Err(Error::invalid_model(path, "tokenizer.json is missing"));
    }
    Tokenizer::from_file(path)
        .map_err(|e| Error::invalid_model(path, format!("cannot load tokenizer: {e}")))
}

/// The tokenizer of a model folder: its `tokenizer.json`, or one built from the vocabulary files
/// ([`build_tokenizer`]) when it has none.
pub fn load_model_tokenizer(dir: &Path, family: Family) -> Result<Tokenizer> {
    let json = dir.join("tokenizer.json");
    if json.exists() {
        return load_tokenizer(&json);
    }
    build_tokenizer(dir, family)
}

/// `tokenizer_config.json`: the settings `transformers`' slow-to-fast converters read.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct TokenizerConfig {
    do_lower_case: Option<bool>,
    strip_accents: Option<bool>,
    tokenize_chinese_chars: Option<bool>,
    add_prefix_space: Option<bool>,
    trim_offsets: Option<bool>,
    unk_token: Option<SpecialToken>,
    cls_token: Option<SpecialToken>,
    sep_token: Option<SpecialToken>,
    pad_token: Option<SpecialToken>,
    mask_token: Option<SpecialToken>,
    bos_token: Option<SpecialToken>,
    eos_token: Option<SpecialToken>,
}

/// A special token as `tokenizer_config.json` writes it: a string or `{"content": …}`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum SpecialToken {
    Text(String),
    Object { content: String },
}

impl SpecialToken {
    fn text(&self) -> &str {
        match self {
            SpecialToken::Text(s) | SpecialToken::Object { content: s } => s,
        }
    }
}

/// Builds the tokenizer `transformers` would from a folder without `tokenizer.json`:
/// - `vocab.txt`: WordPiece with BERT's normaliser (lower-casing, accent stripping and CJK
///   splitting as configured) and pre-tokeniser; `[CLS] A [SEP] B [SEP]` for BERT and DistilBERT,
///   `<s> A </s></s> B </s>` for MPNet;
/// - `vocab.json` + `merges.txt`: byte-level BPE (RoBERTa), `<s> A </s></s> B </s>`.
///
/// The special tokens of `tokenizer_config.json` are matched in raw text, as Python's are.
pub fn build_tokenizer(dir: &Path, family: Family) -> Result<Tokenizer> {
    let cfg_path = dir.join("tokenizer_config.json");
    let cfg: TokenizerConfig = if cfg_path.exists() {
        read_json(&cfg_path)?
    } else {
        TokenizerConfig::default()
    };
    let token = |t: &Option<SpecialToken>, default: &str| {
        t.as_ref()
            .map_or(default.to_string(), |t| t.text().to_string())
    };
    let roberta_style = family != Family::Bert && family != Family::DistilBert;
    let (vocab_txt, vocab_json, merges) = (
        dir.join("vocab.txt"),
        dir.join("vocab.json"),
        dir.join("merges.txt"),
    );
    let bad =
        |p: &Path, e: String| Error::invalid_model(p, format!("cannot build the tokenizer: {e}"));
    let mut tokenizer = if vocab_txt.exists() {
        let (cls, sep) = if roberta_style {
            ("<s>", "</s>")
        } else {
            ("[CLS]", "[SEP]")
        };
        let model = WordPiece::from_file(&vocab_txt.to_string_lossy())
            .unk_token(token(&cfg.unk_token, "[UNK]"))
            .continuing_subword_prefix("##".into())
            .max_input_chars_per_word(100)
            .build()
            .map_err(|e| bad(&vocab_txt, e.to_string()))?;
        let (cls, cls_id) = special(&model, token(&cfg.cls_token, cls), &vocab_txt)?;
        let (sep, sep_id) = special(&model, token(&cfg.sep_token, sep), &vocab_txt)?;
        // BERT: [CLS] A [SEP] B [SEP]; MPNet: <s> A </s></s> B </s>.
        let between = if roberta_style {
            format!("{sep}:0 {sep}:0")
        } else {
            format!("{sep}:0")
        };
        let single = format!("{cls}:0 $A:0 {sep}:0");
        let pair = format!("{cls}:0 $A:0 {between} $B:1 {sep}:1");
        let post = TemplateProcessing::builder()
            .try_single(single.as_str())
            .and_then(|b| b.try_pair(pair.as_str()))
            .map_err(|e| bad(&vocab_txt, e.to_string()))?
            .special_tokens(vec![(cls, cls_id), (sep, sep_id)])
            .build()
            .map_err(|e| bad(&vocab_txt, e.to_string()))?;
        let lower = cfg.do_lower_case.unwrap_or(true);
        let mut t = Tokenizer::new(model);
        t.with_normalizer(Some(BertNormalizer::new(
            true,
            cfg.tokenize_chinese_chars.unwrap_or(true),
            cfg.strip_accents,
            lower,
        )))
        .with_pre_tokenizer(Some(BertPreTokenizer))
        .with_post_processor(Some(post))
        .with_decoder(Some(WordPieceDecoder::default()));
        t
    } else if vocab_json.exists() && merges.exists() {
        let model = BPE::from_file(&vocab_json.to_string_lossy(), &merges.to_string_lossy())
            .build()
            .map_err(|e| bad(&vocab_json, e.to_string()))?;
        let cls = special(&model, token(&cfg.cls_token, "<s>"), &vocab_json)?;
        let sep = special(&model, token(&cfg.sep_token, "</s>"), &vocab_json)?;
        let prefix = cfg.add_prefix_space.unwrap_or(false);
        let mut t = Tokenizer::new(model);
        t.with_pre_tokenizer(Some(ByteLevel::default().add_prefix_space(prefix)))
            .with_post_processor(Some(
                RobertaProcessing::new(sep, cls)
                    .trim_offsets(cfg.trim_offsets.unwrap_or(true))
                    .add_prefix_space(prefix),
            ))
            .with_decoder(Some(ByteLevelDecoder::default()));
        t
    } else {
        return Err(Error::invalid_model(
            dir.join("tokenizer.json"),
            "no tokenizer: the folder has no tokenizer.json, no vocab.txt, and no vocab.json + merges.txt",
        ));
    };
    let specials: Vec<AddedToken> = [
        &cfg.unk_token,
        &cfg.cls_token,
        &cfg.sep_token,
        &cfg.pad_token,
        &cfg.mask_token,
        &cfg.bos_token,
        &cfg.eos_token,
    ]
    .into_iter()
    .flatten()
    .map(|t| {
        let mut a = AddedToken::from(t.text().to_string(), true);
        if t.text() == "<mask>" {
            // RoBERTa's mask token swallows the space before it (lstrip), as transformers sets it.
            a = a.lstrip(true);
        }
        a
    })
    .collect();
    tokenizer.add_special_tokens(&specials);
    Ok(tokenizer)
}

/// `model_max_length` of the folder's `tokenizer_config.json`, if it has one (the longest input
/// the tokenizer was made for: sentence-transformers' default `max_seq_length`, and where
/// Python's `CrossEncoder` truncates pairs).
pub fn model_max_length(dir: &Path) -> Option<f64> {
    read_json::<serde_json::Value>(&dir.join("tokenizer_config.json"))
        .ok()?
        .get("model_max_length")?
        .as_f64()
}

/// A special token of the tokenizer config and its id in `model`'s vocabulary (read from `path`).
fn special(model: &impl tokenizers::Model, token: String, path: &Path) -> Result<(String, u32)> {
    let id = model.token_to_id(&token).ok_or_else(|| {
        Error::invalid_model(
            path,
            format!("cannot build the tokenizer: special token {token} is not in the vocabulary"),
        )
    })?;
    Ok((token, id))
}

/// Turns padding off and truncates every input (a text or a pair) to `max_length` tokens,
/// specials included, cutting the longest side first (`pairs`: the length is for two texts, whose
/// special tokens it must leave room for). A length that leaves no room for text is an error.
pub fn set_truncation(tokenizer: &mut Tokenizer, max_length: usize, pairs: bool) -> Result<()> {
    check_room_for_text(tokenizer, max_length, pairs)?;
    tokenizer.with_padding(None);
    tokenizer
        .with_truncation(Some(TruncationParams {
            direction: TruncationDirection::Right,
            max_length,
            strategy: TruncationStrategy::LongestFirst,
            stride: 0,
        }))
        .map_err(|e| Error::Tokenizer(e.to_string()))?;
    Ok(())
}

/// Whether `max_length` tokens leave room for at least one token of text beside the special
/// tokens the tokenizer adds (to one text, or to a pair). The tokenizers crate quietly skips
/// truncation when the special tokens alone are longer: every input then ran at full length.
pub fn check_room_for_text(tokenizer: &Tokenizer, max_length: usize, pairs: bool) -> Result<()> {
    let added = tokenizer
        .get_post_processor()
        .map_or(0, |p| tokenizers::PostProcessor::added_tokens(p, pairs));
    if max_length <= added {
        let (what, unit) = if pairs {
            ("max_length", "pair")
        } else {
            ("max_seq_length", "text")
        };
        return Err(Error::InvalidInput(format!(
            "{what} {max_length} leaves no room for the {unit}: the tokenizer adds {added} special tokens, so it must be at least {}",
            added + 1
        )));
    }
    Ok(())
}
