//! Property tests of the file readers (proptest, a fixed number of cases so CI time is bounded):
//! any bytes give `Ok` or a clear `Err`, never a panic; what sbert writes it reads back exactly;
//! a file cut short at any byte is an error, not a short result. Readers: TREC runs and qrels,
//! BEIR jsonl and qrels, STS Benchmark TSV, StackExchange `Answers.json` and its HTML,
//! `.npy` and `model.safetensors` headers.

mod common;

use std::path::PathBuf;

use common::temp_dir;
use proptest::prelude::*;
use sbert::datasets::{beir, stackexchange, sts, text, trec};

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 160,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// One file per call (the readers take paths).
fn file(bytes: &[u8]) -> PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = DIR.get_or_init(|| temp_dir("properties"));
    let p = dir.join(format!("f{}", N.fetch_add(1, Ordering::Relaxed)));
    std::fs::write(&p, bytes).unwrap();
    p
}

/// Text that looks like the formats: their separators, numbers, quotes, braces, entities,
/// multi-byte characters, a byte-order mark, CR/LF.
fn texty() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            Just(" ".to_string()),
            Just("\t".to_string()),
            Just("\n".to_string()),
            Just("\r\n".to_string()),
            Just("\u{feff}".to_string()),
            Just("Q0".to_string()),
            Just("{\"_id\": ".to_string()),
            Just("\"text\": \"".to_string()),
            Just("\"".to_string()),
            Just("}".to_string()),
            Just(",".to_string()),
            Just("&amp;".to_string()),
            Just("&#x".to_string()),
            Just("&".to_string()),
            Just("<p>".to_string()),
            Just("</".to_string()),
            Just("——".to_string()),
            Just("東京".to_string()),
            Just("😀".to_string()),
            Just("NaN".to_string()),
            Just("-1e309".to_string()),
            "[a-z0-9.]{1,6}",
            any::<i32>().prop_map(|i| i.to_string()),
            any::<f32>().prop_map(|f| f.to_string()),
        ],
        0..40,
    )
    .prop_map(|v| v.concat())
}

fn id() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_.-]{1,8}"
}

proptest! {
    #![proptest_config(config())]

    /// Arbitrary text through every text reader: Ok or Err, never a panic.
    #[test]
    fn text_readers_never_panic(s in texty()) {
        let p = file(s.as_bytes());
        let _ = trec::read_run(&p);
        let _ = trec::read_qrels(&p);
        let _ = beir::read_corpus(&p);
        let _ = beir::read_queries(&p);
        let _ = beir::read_qrels(&p);
        let _ = sts::read_sts(&p);
        let _ = stackexchange::read_answers(&p);
        let _ = stackexchange::read_topics(&p);
        let _ = sbert::data::read_records(&p);
        let _ = sbert::data::read_any_qrels(&p);
        let _ = sbert::train::read_examples(&p);
        let _ = text::decode_entities(&s);
        let _ = text::html_to_text(&s);
    }

    /// Arbitrary bytes (invalid UTF-8 included) the same.
    #[test]
    fn readers_never_panic_on_bytes(b in prop::collection::vec(any::<u8>(), 0..300)) {
        let p = file(&b);
        let _ = trec::read_run(&p);
        let _ = beir::read_corpus(&p);
        let _ = sts::read_sts(&p);
        let _ = sbert::npy::read_npy(&p);
        let _ = sbert::weights::load_safetensors(&p, &candle_core::Device::Cpu);
    }

    /// A run sbert writes reads back as written (scores to f32 precision, each query's order).
    #[test]
    fn trec_run_round_trip(
        run in prop::collection::btree_map(id(), prop::collection::btree_map(id(), -1e6f32..1e6, 1..6), 1..6)
    ) {
        let ranked: Vec<(String, Vec<(String, f32)>)> = run
            .iter()
            .map(|(q, docs)| (q.clone(), docs.iter().map(|(d, s)| (d.clone(), *s)).collect()))
            .collect();
        let p = file(b"");
        trec::write_run(&p, &ranked, "tag").unwrap();
        let back = trec::read_run(&p).unwrap();
        prop_assert_eq!(back.len(), ranked.len());
        for (q, docs) in &ranked {
            let got = &back[q];
            prop_assert_eq!(got.len(), docs.len());
            for ((d, s), (gd, gs)) in docs.iter().zip(got) {
                prop_assert_eq!(d, gd);
                prop_assert_eq!(*s, *gs as f32);
            }
        }
    }

    /// Qrels in TREC format read back as written, with or without a byte-order mark and CRLF.
    #[test]
    fn trec_qrels_round_trip(
        qrels in prop::collection::btree_map(id(), prop::collection::btree_map(id(), -1i32..4, 1..5), 1..5),
        bom in any::<bool>(),
        crlf in any::<bool>(),
    ) {
        let mut s = if bom { "\u{feff}".to_string() } else { String::new() };
        for (q, docs) in &qrels {
            for (d, g) in docs {
                s.push_str(&format!("{q} 0 {d} {g}{}", if crlf { "\r\n" } else { "\n" }));
            }
        }
        let p = file(s.as_bytes());
        prop_assert_eq!(trec::read_qrels(&p).unwrap(), qrels.clone());
        prop_assert_eq!(sbert::data::read_any_qrels(&p).unwrap(), qrels);
    }

    /// A BEIR folder sbert writes loads back as the same data set.
    #[test]
    fn beir_round_trip(
        docs in prop::collection::btree_map(id(), (texty(), texty()), 1..6),
        queries in prop::collection::btree_map(id(), texty(), 1..4),
    ) {
        use sbert::datasets::{Document, Query, RetrievalDataset};
        let corpus: Vec<Document> = docs
            .iter()
            .map(|(id, (title, text))| Document { id: id.clone(), title: title.clone(), text: text.clone() })
            .collect();
        let qs: Vec<Query> = queries.iter().map(|(id, t)| Query { id: id.clone(), text: t.clone() }).collect();
        let qrels = qs
            .iter()
            .map(|q| (q.id.clone(), [(corpus[0].id.clone(), 1)].into_iter().collect()))
            .collect();
        let ds = RetrievalDataset { corpus, queries: qs, qrels };
        let dir = file(b"").with_extension("beir");
        beir::write_dir(&ds, &dir, "test").unwrap();
        prop_assert_eq!(beir::load_dir(&dir, "test").unwrap(), ds);
    }

    /// STS Benchmark lines: the score and both sentences come back, whatever the sentences hold
    /// (no TAB or newline).
    #[test]
    fn sts_round_trip(
        rows in prop::collection::vec((0f32..5.0, "[^\t\r\n]{0,20}", "[^\t\r\n]{0,20}"), 1..8)
    ) {
        let mut s = String::new();
        for (score, a, b) in &rows {
            s.push_str(&format!("main-captions\tMSRvid\t2012test\t0001\t{score}\t{a}\t{b}\n"));
        }
        let p = file(s.as_bytes());
        let pairs = sts::read_sts(&p).unwrap();
        let kept: Vec<_> = rows.iter().collect();
        prop_assert_eq!(pairs.len(), kept.len());
        for (pair, (score, a, b)) in pairs.iter().zip(kept) {
            prop_assert_eq!(pair.score, *score);
            prop_assert_eq!(&pair.sentence1, a);
            prop_assert_eq!(&pair.sentence2, b);
        }
    }

    /// HTML to text: never a panic, no tag survives, text without markup or entities is kept.
    #[test]
    fn html_to_text_properties(words in prop::collection::vec("[a-zA-Z0-9東京😀—]{1,8}", 1..10), s in texty()) {
        let plain = words.join(" ");
        prop_assert_eq!(text::html_to_text(&format!("<p>{plain}</p>")), plain.clone());
        prop_assert_eq!(text::decode_entities(&plain), plain);
        let out = text::html_to_text(&format!("<div>{s}</div>"));
        prop_assert!(!out.contains("<div>"));
        // Answers.json with that HTML: one document per entry, ids kept.
        let answers = serde_json::json!([{"Id": "1", "Text": s}, {"Id": "2", "Text": "<b>x</b>"}]);
        let docs = stackexchange::read_answers(&file(answers.to_string().as_bytes())).unwrap();
        prop_assert_eq!(docs.len(), 2);
        prop_assert_eq!(&docs[1].text, "x");
    }

    /// `.npy`: what sbert writes reads back bit for bit; cut short at any byte it is an error;
    /// any byte of the header changed gives Ok with the right size or an error.
    #[test]
    fn npy_round_trip_truncation_and_header_damage(
        n in 0usize..5, d in 1usize..6, seed in any::<u64>(), cut in any::<prop::sample::Index>(),
        at in any::<prop::sample::Index>(), byte in any::<u8>(),
    ) {
        let e = sbert::Embeddings::random_unit(n, d, seed).unwrap();
        let bytes = sbert::npy::to_npy_bytes(&e);
        let p = file(&bytes);
        let back = sbert::npy::read_npy(&p).unwrap();
        prop_assert_eq!(back.as_slice(), e.as_slice());
        prop_assert_eq!((back.len(), back.dim()), (n, d));
        let c = cut.index(bytes.len());
        if c < bytes.len() {
            prop_assert!(sbert::npy::read_npy(&file(&bytes[..c])).is_err(), "cut at {c}");
        }
        let mut damaged = bytes.clone();
        let i = at.index(damaged.len().min(128));
        damaged[i] = byte;
        if let Ok(r) = sbert::npy::read_npy(&file(&damaged)) {
            prop_assert_eq!(r.as_slice().len(), r.len() * r.dim());
        }
    }

    /// `model.safetensors`: a file of random tensors loads back exactly; cut short anywhere it
    /// is an error; a damaged header byte gives Ok or an error, never a panic.
    #[test]
    fn safetensors_round_trip_truncation_and_header_damage(
        shapes in prop::collection::vec(prop::collection::vec(1usize..4, 1..3), 1..4),
        cut in any::<prop::sample::Index>(),
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let mut header = serde_json::Map::new();
        let mut data = Vec::new();
        let mut expect = Vec::new();
        for (k, shape) in shapes.iter().enumerate() {
            let count: usize = shape.iter().product();
            let values: Vec<f32> = (0..count).map(|i| (k * 100 + i) as f32 * 0.5).collect();
            let start = data.len();
            data.extend(values.iter().flat_map(|v| v.to_le_bytes()));
            header.insert(
                format!("t{k}"),
                serde_json::json!({"dtype": "F32", "shape": shape, "data_offsets": [start, data.len()]}),
            );
            expect.push((format!("t{k}"), values));
        }
        let h = serde_json::Value::from(header).to_string();
        let mut bytes = (h.len() as u64).to_le_bytes().to_vec();
        bytes.extend(h.as_bytes());
        bytes.extend(&data);
        let load = |b: &[u8]| sbert::weights::load_safetensors(&file(b), &candle_core::Device::Cpu);
        let tensors = load(&bytes).unwrap();
        for (name, values) in &expect {
            let got = tensors[name].flatten_all().unwrap().to_vec1::<f32>().unwrap();
            prop_assert_eq!(&got, values);
        }
        let c = cut.index(bytes.len());
        prop_assert!(load(&bytes[..c]).is_err(), "cut at {c} of {}", bytes.len());
        let mut damaged = bytes.clone();
        damaged[at.index(8 + h.len())] = byte;
        let _ = load(&damaged);
    }
}
