//! Bad input through the public API and the CLI: a clear error or a correct result, never a panic
//! (a panic in a notebook cell loses the cell's variables). Each case panicked or gave a short
//! buffer before its fix.

mod common;

use common::*;
use sbert::prelude::*;

/// `config.json` sizes the encoder divides by: 0 heads divided by zero while loading; a hidden
/// size that is no multiple of the heads loaded and gave other numbers than PyTorch.
#[test]
fn encoder_config_sizes_are_checked_at_load() {
    let dir = tiny_model_dir(false);
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["hidden_size"], 32);
    for (key, value, says) in [
        (
            "num_attention_heads",
            0,
            "num_attention_heads must be at least 1",
        ),
        (
            "num_attention_heads",
            3,
            "not a multiple of num_attention_heads 3",
        ),
        ("hidden_size", 0, "hidden_size must be at least 1"),
        (
            "max_position_embeddings",
            0,
            "max_position_embeddings must be at least 1",
        ),
    ] {
        let mut bad = config.clone();
        bad[key] = value.into();
        std::fs::write(dir.join("config.json"), bad.to_string()).unwrap();
        let err = SentenceTransformer::from_dir(&dir, &candle_core::Device::Cpu)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(says) && err.contains("config.json"),
            "{key}={value}: {err}"
        );
    }
    let mut bad = config.clone();
    bad["layer_norm_eps"] = (-1.0).into();
    std::fs::write(dir.join("config.json"), bad.to_string()).unwrap();
    assert!(SentenceTransformer::from_dir(&dir, &candle_core::Device::Cpu).is_err());
    // The encoder itself refuses such a config when built in code.
    let mut cfg: sbert::config::BertConfig = serde_json::from_value(config).unwrap();
    cfg.num_attention_heads = 0;
    let vb = candle_nn::VarBuilder::zeros(candle_core::DType::F32, &candle_core::Device::Cpu);
    let err = sbert::models::Bert::new(&cfg, vb).unwrap_err().to_string();
    assert!(err.contains("num_attention_heads"), "{err}");
}

/// Embeddings of dimension 0: `rows()` gave no rows, so `semantic_search` indexed past the end of
/// the corpus norms. Now every row is there (empty) and every score is 0, ties by lower index.
#[test]
fn zero_dimension_embeddings() {
    let e = Embeddings::from_flat(Vec::new(), 3, 0).unwrap();
    assert_eq!(e.rows().count(), 3);
    assert_eq!(e.norms(), vec![0.0; 3]);
    assert_eq!(e.to_vec2(), vec![Vec::<f32>::new(); 3]);
    let m = cos_sim(&e, &e).unwrap();
    assert_eq!(m.shape(), (3, 3));
    assert!(m.as_slice().iter().all(|&s| s == 0.0));
    let hits = semantic_search(&e, &e, &SearchOptions::default().top_k(2)).unwrap();
    assert_eq!(hits.len(), 3);
    for h in hits.iter() {
        let ids: Vec<usize> = h.iter().map(|h| h.corpus_id).collect();
        assert_eq!(ids, [0, 1]);
    }
    let pairs = top_pairs(&e, 2).unwrap();
    assert_eq!(
        pairs.iter().map(|p| (p.i, p.j)).collect::<Vec<_>>(),
        [(0, 1), (0, 2)]
    );
}

/// Sizes whose product wraps (release builds) or cannot be allocated are errors, not a short
/// buffer that panics later or an abort.
#[test]
fn oversized_shapes_are_errors() {
    assert!(Embeddings::from_flat(Vec::new(), usize::MAX, 2).is_err());
    assert!(Embeddings::from_flat(vec![0.0; 2], (usize::MAX / 2) + 2, 2).is_err());
    let err = Embeddings::random_unit(usize::MAX / 4, 8, 0)
        .unwrap_err()
        .to_string();
    assert!(err.contains("do not fit"), "{err}");

    // A .npy header whose shape times 4 bytes wraps around to the real data length (16 bytes).
    let dir = temp_dir("npy-shape");
    let n = (1usize << 60) + 1;
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({n}, 4), }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend_from_slice(&[0u8; 16]);
    let path = dir.join("lying.npy");
    std::fs::write(&path, &bytes).unwrap();
    let err = sbert::npy::read_npy(&path).unwrap_err().to_string();
    assert!(
        err.contains("lying.npy") && err.contains("too large"),
        "{err}"
    );
}

/// HTML entity decoding sliced the text 12 bytes after `&`, inside a multi-byte character when
/// non-ASCII text followed (real StackExchange answers: CJK, "——", emoji).
#[test]
fn entities_next_to_multibyte_text() {
    use sbert::datasets::text::{decode_entities, html_to_text};
    assert_eq!(decode_entities("&——x"), "&——x");
    assert_eq!(decode_entities("R&D 😀😀😀 &amp; b"), "R&D 😀😀😀 & b");
    assert_eq!(decode_entities("東京&amp;大阪&東京駅"), "東京&大阪&東京駅");
    assert_eq!(decode_entities("&#x6771;&#20140;"), "東京");
    assert_eq!(
        html_to_text("<p>Tom &amp; Jerry —— &日本語のテキストです</p>"),
        "Tom & Jerry —— &日本語のテキストです"
    );
}

/// `bench-fit --pairs usize::MAX` overflowed `pairs + 1` (a panic, exit 101).
#[test]
fn cli_bench_fit_pairs_beyond_the_file() {
    let dir = temp_dir("bench-fit-pairs");
    let input = dir.join("lines.txt");
    std::fs::write(&input, "a\nb\nc\n").unwrap();
    for pairs in [usize::MAX.to_string(), "3".to_string()] {
        let out = sbert(&[
            "bench-fit",
            "--input",
            input.to_str().unwrap(),
            "--pairs",
            &pairs,
        ]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains("--pairs") && stderr.contains("has 3"),
            "{stderr}"
        );
    }
}

/// A UTF-8 byte-order mark at the start of a qrels or run file became part of the first id: that
/// query's judgements and results no longer met (MAP 0.25 instead of 0.75 here).
#[test]
fn byte_order_mark_is_not_part_of_the_first_id() {
    use sbert::datasets::trec::{read_qrels, read_run};
    use sbert::evaluation::{evaluate, Measure};
    let dir = temp_dir("bom");
    let qrels = "q1 0 d1 1\nq2 0 d2 1\n";
    let run = "q1 Q0 d1 1 2.0 t\nq2 Q0 d9 1 2.0 t\nq2 Q0 d2 2 1.0 t\n";
    let map = |qrels_text: &str, run_text: &str| {
        std::fs::write(dir.join("qrels.txt"), qrels_text).unwrap();
        std::fs::write(dir.join("run.txt"), run_text).unwrap();
        let q = read_qrels(&dir.join("qrels.txt")).unwrap();
        let r = read_run(&dir.join("run.txt")).unwrap();
        assert!(q.contains_key("q1") && r.contains_key("q1"));
        evaluate(&q, &r, &[Measure::Map], 1).mean["map"]
    };
    let plain = map(qrels, run);
    assert_eq!(plain, 0.75);
    let (bom_qrels, bom_run) = (format!("\u{feff}{qrels}"), format!("\u{feff}{run}"));
    assert_eq!(map(&bom_qrels, run), plain);
    assert_eq!(map(qrels, &bom_run), plain);
    assert_eq!(map(&bom_qrels, &bom_run), plain);
    std::fs::write(dir.join("lines.txt"), "\u{feff}first\nsecond\n").unwrap();
    assert_eq!(
        sbert::data::read_lines(&dir.join("lines.txt")).unwrap(),
        ["first", "second"]
    );
}

/// `--metrics ,` printed nothing and exited 0.
#[test]
fn no_measure_is_an_error() {
    assert!(sbert::evaluation::Measure::parse_list(" , ")
        .unwrap_err()
        .to_string()
        .contains("no measure"));
    let dir = temp_dir("no-measure");
    std::fs::write(dir.join("qrels.txt"), "q1 0 d1 1\n").unwrap();
    std::fs::write(dir.join("run.txt"), "q1 Q0 d1 1 2.0 t\n").unwrap();
    let out = sbert(&[
        "evaluate",
        "--qrels",
        dir.join("qrels.txt").to_str().unwrap(),
        "--run",
        dir.join("run.txt").to_str().unwrap(),
        "--metrics",
        ",",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("no measure"), "{stderr}");
}

/// A tiny model folder whose tokenizer has no post-processor (adds no special tokens).
fn tiny_without_specials() -> std::path::PathBuf {
    let dir = tiny_model_dir(false);
    let mut tok = tiny_tokenizer_json();
    tok["post_processor"] = serde_json::Value::Null;
    std::fs::write(dir.join("tokenizer.json"), tok.to_string()).unwrap();
    dir
}

/// A cross-encoder pair that tokenizes to zero tokens (no post-processor, empty texts) panicked;
/// now it is an error naming the pair.
#[test]
fn cross_encoder_pair_without_tokens() {
    use sbert::cross_encoder::{CrossEncoder, PredictOptions};
    let dir = tiny_without_specials();
    let ce = CrossEncoder::new_from_encoder(dir.to_str().unwrap(), 1, 3).unwrap();
    let ok = ce
        .predict(&[("w10", "w11")], &PredictOptions::default())
        .unwrap();
    assert_eq!(ok.len(), 1);
    assert!(ok[0].is_finite());
    let err = ce
        .predict(&[("w10", "w11"), ("", "")], &PredictOptions::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("pair 1 tokenizes to no tokens"), "{err}");
}

/// `max_seq_length` below the special tokens (e.g. 1) silently turned truncation off: every input
/// ran at full length. Now it is an error, at load (naming the file's value) and when set.
#[test]
fn max_seq_length_leaves_room_for_text() {
    let dir = tiny_model_dir(false);
    let mut model = SentenceTransformer::from_dir(&dir, &candle_core::Device::Cpu).unwrap();
    for n in [1, 2] {
        let err = model.set_max_seq_length(n).unwrap_err().to_string();
        assert!(
            err.contains("leaves no room") && err.contains("at least 3"),
            "{n}: {err}"
        );
    }
    assert_eq!(
        model.max_seq_length(),
        64,
        "a refused length changes nothing"
    );
    model.set_max_seq_length(3).unwrap();
    let e = model
        .encode(&["w10 w11 w12 w13"], &EncodeOptions::default())
        .unwrap();
    assert_eq!(e.num_tokens(), [3]);
    assert_eq!(e.truncated(), [0]);
    std::fs::write(
        dir.join("sentence_bert_config.json"),
        r#"{"max_seq_length": 1, "do_lower_case": false}"#,
    )
    .unwrap();
    let err = SentenceTransformer::from_dir(&dir, &candle_core::Device::Cpu)
        .unwrap_err()
        .to_string();
    assert!(err.contains("max_seq_length 1"), "{err}");
    // A cross-encoder pair needs room for [CLS] A [SEP] B [SEP].
    let mut ce = sbert::cross_encoder::CrossEncoder::new_from_encoder(
        tiny_model_dir(false).to_str().unwrap(),
        1,
        3,
    )
    .unwrap();
    assert!(ce.set_max_length(3).is_err());
    ce.set_max_length(4).unwrap();
}

/// Duplicate corpus ids were accepted: the run listed one docid twice and rerank used the last
/// text. Now every reader of ids names both lines.
#[test]
fn duplicate_ids_are_refused() {
    let dir = temp_dir("dup-ids");
    let jsonl = dir.join("corpus.jsonl");
    std::fs::write(
        &jsonl,
        "{\"_id\": \"d1\", \"text\": \"a\"}\n\n{\"_id\": \"d2\", \"text\": \"b\"}\n{\"_id\": \"d1\", \"text\": \"c\"}\n",
    )
    .unwrap();
    let err = sbert::datasets::beir::read_corpus(&jsonl)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("line 4") && err.contains("\"d1\"") && err.contains("line 1"),
        "{err}"
    );
    let tsv = dir.join("corpus.tsv");
    std::fs::write(&tsv, "d1\ta\nd2\tb\nd2\tc\n").unwrap();
    let err = sbert::data::read_records(&tsv).unwrap_err().to_string();
    assert!(err.contains("line 3") && err.contains("\"d2\""), "{err}");
    assert!(sbert::data::read_records(&jsonl).is_err());
    let answers = dir.join("Answers.json");
    std::fs::write(
        &answers,
        r#"[{"Id": "7", "Text": "<p>a</p>"}, {"Id": "7", "Text": "<p>b</p>"}]"#,
    )
    .unwrap();
    let err = sbert::datasets::stackexchange::read_answers(&answers)
        .unwrap_err()
        .to_string();
    assert!(err.contains("\"7\""), "{err}");
}

/// `append_csv` appended rows under a header with other columns; now it refuses and appends nothing.
#[test]
fn append_csv_checks_the_header() {
    use sbert::evaluation::append_csv;
    let dir = temp_dir("csv-header");
    let csv = dir.join("results.csv");
    append_csv(&csv, &["score".into()], 0, 2, &[0.5]).unwrap();
    append_csv(&csv, &["score".into()], 0, -1, &[0.6]).unwrap();
    let before = std::fs::read_to_string(&csv).unwrap();
    assert_eq!(before, "epoch,steps,score\n0,2,0.5\n0,-1,0.6\n");
    let err = append_csv(&csv, &["map".into(), "ndcg".into()], 1, -1, &[0.1, 0.2])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("epoch,steps,score") && err.contains("nothing was appended"),
        "{err}"
    );
    assert!(append_csv(&csv, &["score".into()], 1, -1, &[0.1, 0.2]).is_err());
    assert_eq!(std::fs::read_to_string(&csv).unwrap(), before);
}

/// An evaluator given embeddings of two different dimensions compared them pair by pair up to
/// the shorter one; now it says so.
#[test]
fn evaluator_embeddings_of_two_dimensions() {
    use sbert::evaluation::EmbeddingSimilarityEvaluator;
    let ev = EmbeddingSimilarityEvaluator::new(&["a", "b"], &["c", "d"], &[0.0, 1.0]).unwrap();
    let e1 = Embeddings::from_flat(vec![1.0, 0.0, 0.0, 1.0], 2, 2).unwrap();
    let e2 = Embeddings::from_flat(vec![1.0, 0.0, 0.0, 0.0, 1.0, 0.0], 2, 3).unwrap();
    let err = ev.evaluate_embeddings(&e1, &e2).unwrap_err().to_string();
    assert!(
        err.contains("dimension") && err.contains('2') && err.contains('3'),
        "{err}"
    );
    assert!(ev.evaluate_embeddings(&e1, &e1).is_ok());
}

/// The embedding cache: a truncated entry made every later `encode` fail instead of recomputing;
/// an entry of another dimension was returned; nothing was ever evicted.
#[test]
fn embedding_cache_survives_damage_and_is_bounded() {
    let model =
        SentenceTransformer::from_dir(&tiny_model_dir(false), &candle_core::Device::Cpu).unwrap();
    let cache = temp_dir("cache-damage");
    let opts = EncodeOptions::default().cache_dir(&cache);
    let texts = ["w10 w11", "w20 w21 w22"];
    let fresh = model.encode(&texts, &EncodeOptions::default()).unwrap();
    let first = model.encode(&texts, &opts).unwrap();
    assert_eq!(first, fresh);
    let npy = std::fs::read_dir(&cache)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "npy"))
        .unwrap();
    // Cut short, as a kill or a full disk leaves it.
    let bytes = std::fs::read(&npy).unwrap();
    std::fs::write(&npy, &bytes[..bytes.len() / 2]).unwrap();
    assert_eq!(model.encode(&texts, &opts).unwrap(), fresh);
    assert_eq!(
        std::fs::read(&npy).unwrap(),
        bytes,
        "the entry was rewritten"
    );
    // An entry of another dimension under this key is a miss.
    sbert::npy::write_npy(&npy, &Embeddings::from_flat(vec![0.0; 6], 2, 3).unwrap()).unwrap();
    assert_eq!(model.encode(&texts, &opts).unwrap(), fresh);
    // Bounded: with room for about one entry, older entries go.
    let small = opts.clone().cache_max_bytes(bytes.len() as u64 + 200);
    for k in 0..5 {
        let t = format!("w{} w{}", 30 + k, 31 + k);
        model.encode(&[t.as_str()], &small).unwrap();
    }
    let npys = std::fs::read_dir(&cache)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "npy")
        })
        .count();
    assert!(npys <= 2, "{npys} entries kept");
    assert_eq!(
        std::fs::read_dir(&cache).unwrap().count(),
        2 * npys,
        "each .npy has its .json and nothing else is left"
    );
}

/// A data set built in code with a repeated document id: retrieval refuses it (the readers
/// already do) instead of listing the document twice.
#[test]
fn retrieval_refuses_repeated_ids() {
    use sbert::datasets::{Document, Query, RetrievalDataset};
    let model =
        SentenceTransformer::from_dir(&tiny_model_dir(true), &candle_core::Device::Cpu).unwrap();
    let doc = |id: &str| Document {
        id: id.into(),
        title: String::new(),
        text: "w10 w11".into(),
    };
    let mut ds = RetrievalDataset {
        corpus: vec![doc("d1"), doc("d2"), doc("d1")],
        queries: vec![Query {
            id: "q1".into(),
            text: "w10".into(),
        }],
        qrels: Default::default(),
    };
    let err = sbert::evaluation::retrieval::retrieve(
        &model,
        &ds,
        3,
        sbert::util::ScoreFunction::Cosine,
        &EncodeOptions::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("\"d1\"") && err.contains("twice"), "{err}");
    ds.corpus.pop();
    let run = sbert::evaluation::retrieval::retrieve(
        &model,
        &ds,
        3,
        sbert::util::ScoreFunction::Cosine,
        &EncodeOptions::default(),
    )
    .unwrap();
    assert_eq!(run[0].1.len(), 2);
}
