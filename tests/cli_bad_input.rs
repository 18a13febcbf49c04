//! Bad input through the command line, one case per row: each ends in a clear error that names
//! the file, the line or the argument (exit 2), or in a correct result (exit 0) — never a panic
//! (exit 101), and never a changed, deleted or new file that the command does not own.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::*;

/// Every file under `dir` (relative path → bytes), symlinks as their target.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(root).unwrap().to_path_buf();
            let m = std::fs::symlink_metadata(&p).unwrap();
            if m.file_type().is_symlink() {
                out.insert(
                    rel,
                    std::fs::read_link(&p)
                        .unwrap()
                        .into_os_string()
                        .into_encoded_bytes(),
                );
            } else if m.is_dir() {
                out.insert(rel.join("."), Vec::new());
                walk(root, &p, out);
            } else {
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// How a case must end.
enum Ends {
    /// Exit 2 and stderr containing every one of these.
    Error(&'static [&'static str]),
    /// Exit 0 and stdout containing every one of these; the command owns these output paths.
    Ok(&'static [&'static str], &'static [&'static str]),
}

struct Sandbox {
    dir: PathBuf,
}

impl Sandbox {
    fn new() -> Self {
        let dir = temp_dir("cli-bad-input");
        let model = tiny_model_dir(true);
        copy_tree(&model, &dir.join("model"));
        let w = |name: &str, text: &[u8]| {
            let p = dir.join(name);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        };
        w("lines.txt", b"w10 w11\nw20 w21 w22\nw30\n");
        w("empty.txt", b"");
        w("one.txt", b"w10 w11\n");
        w("bom.txt", "\u{feff}w10 w11\nw20\n".as_bytes());
        w("binary.txt", &[0xff, 0xfe, 0x00, 0x80, b'\n']);
        w("a-file", b"a file of mine");
        w("corpus.tsv", b"d1\tw10 w11\nd2\tw20 w21\nd3\tw30 w31\n");
        w("queries.tsv", b"q1\tw10\nq2\tw20\n");
        w("dup.tsv", b"d1\tw10\nd2\tw20\nd1\tw30\n");
        w("notab.tsv", b"d1\tw10\nd2 w20\n");
        w("space-id.tsv", b"d 1\tw10\n");
        w(
            "corpus.jsonl",
            b"{\"_id\": \"d1\", \"text\": \"w10\"}\n{\"_id\": \"d2\", \"text\": \"w20\"}\n",
        );
        w(
            "badjson.jsonl",
            b"{\"_id\": \"d1\", \"text\": \"w10\"}\n{\"_id\": \"d2\", \n",
        );
        w("noid.jsonl", b"{\"text\": \"w10\"}\n");
        w("qrels.txt", b"q1 0 d1 1\nq2 0 d2 1\n");
        w("qrels3.txt", b"q1 0 d1\n");
        w("qrels-grade.txt", b"q1 0 d1 high\n");
        w(
            "run.txt",
            b"q1 Q0 d1 1 2.0 t\nq2 Q0 d9 1 2.0 t\nq2 Q0 d2 2 1.0 t\n",
        );
        w(
            "run-bom.txt",
            "\u{feff}q1 Q0 d1 1 2.0 t\nq2 Q0 d2 1 1.0 t\n".as_bytes(),
        );
        w("run-nan.txt", b"q1 Q0 d1 1 NaN t\n");
        w("run-short.txt", b"q1 Q0 d1 1\n");
        w("run-rank.txt", b"q1 Q0 d1 first 2.0 t\n");
        w(
            "sts.tsv",
            b"g\tf\t2012\t1\t5.0\tw10 w11\tw10 w11\ng\tf\t2012\t2\t0.0\tw10\tw80\ng\tf\t2012\t3\t2.5\tw20\tw21\n",
        );
        w("sts-badscore.tsv", b"g\tf\t2012\t1\tfive\tw10\tw11\n");
        w("sts-short.tsv", b"g\tf\t2012\t1\t5.0\tw10\n");
        w(
            "train.jsonl",
            b"{\"texts\": [\"w10 w11\", \"w12 w13\"], \"label\": 1.0}\n{\"texts\": [\"w20 w21\", \"w22 w23\"], \"label\": 1.0}\n{\"texts\": [\"w30\", \"w60\"], \"label\": 0.0}\n",
        );
        w(
            "train-graded.jsonl",
            b"{\"texts\": [\"w10 w11\", \"w12 w13\"], \"label\": 1.0}\n{\"texts\": [\"w20 w21\", \"w22 w23\"], \"label\": 0.7}\n",
        );
        w(
            "train-label2.jsonl",
            b"{\"texts\": [\"w10 w11\", \"w12 w13\"], \"label\": 2.0}\n",
        );
        w(
            "train-onetext.jsonl",
            b"{\"texts\": [\"w10\"], \"label\": 1.0}\n",
        );
        w(
            "train-bad.jsonl",
            b"{\"texts\": [\"w10\", \"w11\"], \"label\": \"yes\"}\n",
        );
        w("answers-bad.json", b"[{\"Id\": \"1\"}]");
        w("topics.json", b"[]");
        w(
            "answers.json",
            b"[{\"Id\": \"1\", \"Text\": \"<p>w10</p>\"}]",
        );
        w(
            "topics1.json",
            b"[{\"Id\": \"7\", \"Title\": \"w10\", \"Body\": \"w11\", \"Tags\": \"['a']\"}]",
        );
        w("out-folder/keep.txt", b"keep me");
        w("not-index/meta.json", b"{\"mine\": true}");
        let bm25_docs = sbert::data::read_records(&dir.join("corpus.tsv")).unwrap();
        let analyzer = sbert::bm25::Analyzer::default();
        sbert::bm25::Bm25Index::build(&dir.join("bm25-index"), &bm25_docs, &analyzer).unwrap();
        sbert::bm25::Bm25Index::build(&dir.join("bm25-broken"), &bm25_docs, &analyzer).unwrap();
        sbert::bm25::Bm25Index::build(&dir.join("bm25-rebuild"), &bm25_docs, &analyzer).unwrap();
        w("bm25-broken/meta.json", b"{");
        // Broken models: each a copy of the tiny model with one thing wrong.
        let broken = |name: &str, f: &dyn Fn(&Path)| {
            let d = dir.join(name);
            copy_tree(&dir.join("model"), &d);
            f(&d);
        };
        broken("model-badconfig", &|d| {
            std::fs::write(d.join("config.json"), "{\"hidden_size\": ").unwrap()
        });
        broken("model-truncated", &|d| {
            let b = std::fs::read(d.join("model.safetensors")).unwrap();
            std::fs::write(d.join("model.safetensors"), &b[..b.len() / 3]).unwrap()
        });
        broken("model-noweights", &|d| {
            std::fs::remove_file(d.join("model.safetensors")).unwrap()
        });
        broken("model-heads0", &|d| {
            let mut c: serde_json::Value =
                serde_json::from_slice(&std::fs::read(d.join("config.json")).unwrap()).unwrap();
            c["num_attention_heads"] = 0.into();
            std::fs::write(d.join("config.json"), c.to_string()).unwrap()
        });
        broken("model-maxlen1", &|d| {
            std::fs::write(
                d.join("sentence_bert_config.json"),
                r#"{"max_seq_length": 1, "do_lower_case": false}"#,
            )
            .unwrap()
        });
        broken("model-badmodule", &|d| {
            let m = std::fs::read_to_string(d.join("modules.json"))
                .unwrap()
                .replace("1_Pooling", "../outside");
            std::fs::write(d.join("modules.json"), m).unwrap()
        });
        broken("model-type", &|d| {
            let mut c: serde_json::Value =
                serde_json::from_slice(&std::fs::read(d.join("config.json")).unwrap()).unwrap();
            c["model_type"] = "gpt2".into();
            std::fs::write(d.join("config.json"), c.to_string()).unwrap()
        });
        // ANN indexes: one built by the CLI (ids, model), one without ids, one broken.
        let path = |name: &str| dir.join(name).to_string_lossy().into_owned();
        for (name, extra) in [
            ("ann-index", None),
            ("ann-broken", None),
            ("ann-bin", Some("binary")),
        ] {
            let (model, corpus, index) = (path("model"), path("corpus.tsv"), path(name));
            let mut args = vec!["index", "build", "--model", &model];
            args.extend(["--corpus", &corpus, "--index", &index]);
            if let Some(p) = extra {
                args.extend(["--precision", p, "--rescore-precision", "int8"]);
            }
            let out = sbert(&args);
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        w("ann-broken/sbert-ann.json", b"{");
        let e = sbert::Embeddings::from_flat(vec![1.0, 0.0, 0.0, 1.0], 2, 2).unwrap();
        sbert::ann::AnnIndex::build(&e, &Default::default())
            .unwrap()
            .save(&dir.join("ann-noids"))
            .unwrap();
        Self { dir }
    }
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

/// The rows: arguments (`@` stands for the sandbox folder) and how each must end.
fn cases() -> Vec<(&'static str, Ends)> {
    use Ends::*;
    vec![
        // encode
        ("encode --model @/model --input @/missing.txt --output @/o.npy", Error(&["missing.txt"])),
        ("encode --model @/model --input @/out-folder --output @/o.npy", Error(&["out-folder"])),
        ("encode --model @/model --input @/binary.txt --output @/o.npy", Error(&["binary.txt"])),
        ("encode --model @/model --input @/lines.txt --output @/o.npy --batch-size 0", Error(&["batch_size"])),
        ("encode --model @/model --input @/lines.txt --output @/a-file/o.npy", Error(&["a-file", "not a folder"])),
        ("encode --model @/model --input @/lines.txt --output @/out-folder", Error(&["out-folder", "is a folder"])),
        ("encode --model @/nowhere --input @/lines.txt --output @/o.npy", Error(&["nowhere"])),
        ("encode --model @/model-badconfig --input @/lines.txt --output @/o.npy", Error(&["config.json"])),
        ("encode --model @/model-truncated --input @/lines.txt --output @/o.npy", Error(&["model.safetensors"])),
        ("encode --model @/model-noweights --input @/lines.txt --output @/o.npy", Error(&["model-noweights"])),
        ("encode --model @/model-heads0 --input @/lines.txt --output @/o.npy", Error(&["num_attention_heads"])),
        ("encode --model @/model-maxlen1 --input @/lines.txt --output @/o.npy", Error(&["max_seq_length 1"])),
        ("encode --model @/model-badmodule --input @/lines.txt --output @/o.npy", Error(&["modules.json", "inside the model"])),
        ("encode --model @/model-type --input @/lines.txt --output @/o.npy", Error(&["gpt2"])),
        ("encode --model @/model --input @/lines.txt --output @/o.npy --batch-size x", Error(&["--batch-size"])),
        ("encode --model @/model --input @/empty.txt --output @/o.npy", Ok(&[], &["o.npy"])),
        ("encode --model @/model --input @/bom.txt --output @/o.npy", Ok(&[], &["o.npy"])),
        ("encode --model @/model --input @/lines.txt --output /dev/null", Ok(&[], &[])),
        // /dev/stdout is a pipe here (reached through /proc's magic link): written into.
        ("encode --model @/model --input @/lines.txt --output /dev/stdout", Ok(&["NUMPY"], &[])),
        // encode --precision
        ("encode --model @/model --input @/lines.txt --output @/o.npy --precision binary", Ok(&[], &["o.npy"])),
        ("encode --model @/model --input @/lines.txt --output @/o.npy --precision int8 --ranges-output @/r.npy", Ok(&[], &["o.npy", "r.npy"])),
        ("encode --model @/model --input @/empty.txt --output @/o.npy --precision ubinary", Ok(&[], &["o.npy"])),
        ("encode --model @/model --input @/one.txt --output @/o.npy --precision int8", Error(&["calibrate", "1 embedding"])),
        ("encode --model @/model --input @/lines.txt --output @/o.npy --precision float32", Error(&["float32"])),
        ("encode --model @/model --input @/lines.txt --output @/o.npy --precision int4", Error(&["int4"])),
        ("encode --model @/model --input @/lines.txt --output @/o.npy --precision binary --ranges-output @/r.npy", Error(&["--ranges-output", "int8"])),
        ("encode --model @/model --input @/lines.txt --output @/o.npy --ranges @/lines.txt", Error(&["--ranges", "int8"])),
        ("encode --model @/model --input @/lines.txt --output @/o.npy --precision int8 --ranges-output @/o.npy", Error(&["--ranges-output", "--output"])),
        ("encode --model @/model --input @/lines.txt --output @/o.npy --precision int8 --ranges @/lines.txt", Error(&["lines.txt", ".npy"])),
        ("encode --model @/model --input @/lines.txt --output @/o.npy --precision int8 --ranges-output @/a-file/r.npy", Error(&["a-file", "not a folder"])),
        // encode --output-dir (shards)
        ("encode --model @/model --input @/lines.txt --output-dir @/shards --shard-size 2", Ok(&[], &["shards"])),
        ("encode --model @/model --corpus @/corpus.tsv --output-dir @/shards", Ok(&[], &["shards"])),
        ("encode --model @/model --input @/empty.txt --output-dir @/shards", Ok(&[], &["shards"])),
        ("encode --model @/model --input @/lines.txt --output @/o.npy --output-dir @/shards", Error(&["--output-dir"])),
        ("encode --model @/model --input @/lines.txt --output-dir @/shards --shard-size 0", Error(&["shard_size"])),
        ("encode --model @/model --input @/lines.txt --output-dir @/a-file", Error(&["a-file", "not a folder"])),
        ("encode --model @/model --input @/lines.txt --output-dir @/out-folder", Error(&["out-folder", "not sbert shards"])),
        ("encode --model @/model --input @/lines.txt --output-dir @/shards --precision int8", Error(&["--output-dir", "--precision"])),
        ("encode --model @/model --input @/lines.txt --corpus @/corpus.tsv --output @/o.npy", Error(&["--corpus"])),
        ("encode --model @/model --output @/o.npy", Error(&["--input"])),
        ("encode --model @/model --input @/lines.txt --output @/o.npy --shard-size 5", Error(&["--output-dir"])),
        // similarity, pairs
        ("similarity --model @/model --input @/missing.txt", Error(&["missing.txt"])),
        ("similarity --model @/model --input @/empty.txt --json", Ok(&["[]"], &[])),
        ("pairs --model @/model --input @/one.txt --json", Ok(&["[]"], &[])),
        ("pairs --model @/model --input @/lines.txt --top-k 0 --json", Ok(&["[]"], &[])),
        ("pairs --model @/model --input @/lines.txt --top-k 99 --json", Ok(&["\"score\""], &[])),
        // search
        ("search --model @/model --corpus @/corpus.tsv --queries @/queries.tsv --run @/r.txt --corpus-embeddings @/missing", Error(&["missing", "not a shard folder"])),
        ("search --model @/model --corpus @/corpus.tsv --queries @/queries.tsv --run @/r.txt --corpus-embeddings @/out-folder", Error(&["out-folder", "not a shard folder"])),
        ("search --model @/model --corpus @/corpus.tsv --queries @/queries.tsv --run @/r.txt --corpus-embeddings @/out-folder --corpus-precision int8", Error(&["--corpus-precision"])),
        ("search --model @/model --corpus @/corpus.tsv --queries @/queries.tsv --run @/r.txt --corpus-precision binary --rescore-precision int8", Ok(&[], &["r.txt"])),
        ("search --model @/model --corpus @/corpus.tsv --queries @/queries.tsv --run @/r.txt --corpus-precision int8 --rescore-multiplier 0", Ok(&[], &["r.txt"])),
        ("search --model @/model --corpus @/corpus.tsv --queries @/queries.tsv --run @/r.txt --rescore-precision int8", Error(&["--corpus-precision"])),
        ("search --model @/model --corpus @/corpus.tsv --queries @/queries.tsv --run @/r.txt --corpus-precision binary --rescore-precision int8 --rescore-multiplier 0", Error(&["--rescore-multiplier"])),
        ("search --model @/model --corpus @/corpus.tsv --queries @/queries.tsv --run @/r.txt --corpus-precision int8 --score manhattan", Error(&["manhattan"])),
        ("search --model @/model --corpus @/corpus.tsv --queries @/queries.tsv --run @/r.txt --corpus-precision int8 --asymmetric", Error(&["--asymmetric", "binary"])),
        ("search --model @/model --corpus @/corpus.tsv --queries @/queries.tsv --run @/r.txt --asymmetric", Error(&["--asymmetric"])),
        ("search --model @/model --corpus @/corpus.tsv --queries @/queries.tsv --run @/r.txt --corpus-precision ubinary --rescore-precision int8 --asymmetric", Ok(&[], &["r.txt"])),
        ("search --model @/model --corpus @/dup.tsv --queries @/queries.tsv --run @/r.txt", Error(&["dup.tsv", "line 3", "\"d1\""])),
        ("search --model @/model --corpus @/notab.tsv --queries @/queries.tsv --run @/r.txt", Error(&["notab.tsv:2"])),
        ("search --model @/model --corpus @/space-id.tsv --queries @/queries.tsv --run @/r.txt", Error(&["d 1"])),
        ("search --model @/model --corpus @/badjson.jsonl --queries @/queries.tsv --run @/r.txt", Error(&["badjson.jsonl:2"])),
        ("search --model @/model --corpus @/noid.jsonl --queries @/queries.tsv --run @/r.txt", Error(&["noid.jsonl:1", "_id"])),
        ("search --model @/model --corpus @/corpus.tsv --queries @/missing.tsv --run @/r.txt", Error(&["missing.tsv"])),
        ("search --model @/model --corpus @/corpus.tsv --queries @/queries.tsv --run @/r.txt --score manhattan", Error(&["manhattan"])),
        ("search --model @/model --corpus @/corpus.tsv --queries @/queries.tsv --run @/out-folder", Error(&["out-folder", "is a folder"])),
        ("search --model @/model --corpus @/corpus.tsv --queries @/queries.tsv --run @/a-file/r.txt", Error(&["a-file"])),
        ("search --model @/model --corpus @/corpus.tsv --queries @/queries.tsv --run @/r.txt --top-k 0", Error(&["top_k"])),
        ("search --model @/model --corpus @/corpus.tsv --queries @/queries.tsv --run @/r.txt --interpolate 2 --rerank @/model", Error(&["interpolate"])),
        ("search --model @/model --corpus @/corpus.tsv --queries @/queries.tsv --run @/r.txt --rerank @/model", Error(&["model.safetensors"])),
        ("search --model @/model --corpus @/empty.txt --queries @/queries.tsv --run @/r.txt", Error(&["empty.txt"])),
        ("search --model @/model --corpus @/corpus.jsonl --queries @/queries.tsv --run @/r.txt --top-k 5", Ok(&[], &["r.txt"])),
        // rerank
        ("rerank --model @/model --query w10 --input @/lines.txt", Error(&["model.safetensors"])),
        ("rerank --model @/nowhere --query w10 --input @/lines.txt", Error(&["nowhere"])),
        // evaluate
        ("evaluate --qrels @/qrels3.txt --run @/run.txt", Error(&["qrels3.txt"])),
        ("evaluate --qrels @/qrels-grade.txt --run @/run.txt", Error(&["qrels-grade.txt:1"])),
        ("evaluate --qrels @/qrels.txt --run @/run-nan.txt", Error(&["run-nan.txt:1"])),
        ("evaluate --qrels @/qrels.txt --run @/run-short.txt", Error(&["run-short.txt:1"])),
        // trec_eval reads but ignores the rank column (it ranks by score): accepted, as there.
        ("evaluate --qrels @/qrels.txt --run @/run-rank.txt --metrics map --json", Ok(&["\"map\": 1.0"], &[])),
        ("evaluate --qrels @/qrels.txt --run @/run.txt --metrics ,", Error(&["no measure"])),
        ("evaluate --qrels @/qrels.txt --run @/run.txt --metrics P_x", Error(&["P_x"])),
        ("evaluate --qrels @/missing.txt --run @/run.txt", Error(&["missing.txt"])),
        ("evaluate --qrels @/empty.txt --run @/run.txt", Error(&["empty.txt"])),
        ("evaluate --qrels @/qrels.txt --run @/run-bom.txt --metrics map --json", Ok(&["\"map\": 1.0"], &[])),
        ("evaluate --qrels @/qrels.txt --run @/run.txt --metrics map --json", Ok(&["\"map\": 0.75"], &[])),
        // sts
        ("sts --model @/model --data @/sts-badscore.tsv", Error(&["sts-badscore.tsv:1", "five"])),
        ("sts --model @/model --data @/sts-short.tsv", Error(&["sts-short.tsv:1"])),
        ("sts --model @/model --data @/empty.txt", Error(&["empty.txt", "at least 2"])),
        ("sts --model @/model --data @/sts.tsv --json", Ok(&["spearman"], &[])),
        // compare
        ("compare --qrels @/qrels.txt @/run.txt @/missing.txt", Error(&["missing.txt"])),
        ("compare --qrels @/qrels.txt @/run.txt @/run.txt --metric P_x", Error(&["P_x"])),
        ("compare --qrels @/qrels.txt @/run.txt @/run.txt --svg @/out-folder", Error(&["out-folder"])),
        ("compare --qrels @/qrels.txt @/run.txt @/run.txt --names A", Error(&["--names"])),
        ("compare --qrels @/qrels.txt @/run.txt @/run-bom.txt --svg @/ski.svg", Ok(&[], &["ski.svg"])),
        // rerank-run
        ("rerank-run --run @/missing.txt --model @/model --corpus @/corpus.tsv --queries @/queries.tsv --output @/o.run", Error(&["missing.txt"])),
        ("rerank-run --run @/run-nan.txt --model @/model --corpus @/corpus.tsv --queries @/queries.tsv --output @/o.run", Error(&["run-nan.txt:1"])),
        ("rerank-run --run @/run.txt --model @/model --corpus @/corpus.tsv --queries @/queries.tsv --output @/o.run --top 0", Error(&["--top"])),
        ("rerank-run --run @/run.txt --model @/model --corpus @/corpus.tsv --queries @/queries.tsv --output @/o.run --interpolate 2", Error(&["interpolate"])),
        ("rerank-run --run @/run.txt --model @/model --corpus @/corpus.tsv --queries @/queries.tsv --output @/out-folder", Error(&["out-folder", "is a folder"])),
        ("rerank-run --run @/run.txt --model @/model --corpus @/corpus.tsv --queries @/queries.tsv --output @/o.run", Error(&["model.safetensors"])),
        // report
        ("report --qrels @/qrels.txt @/run.txt @/missing.txt", Error(&["missing.txt"])),
        ("report --qrels @/qrels.txt @/run.txt @/run.txt --test z", Error(&["--test"])),
        ("report --qrels @/qrels.txt @/run.txt @/run.txt --names a", Error(&["--names"])),
        ("report --qrels @/qrels.txt @/run.txt @/run.txt --alpha 2", Error(&["alpha"])),
        ("report --qrels @/qrels.txt @/run.txt @/run.txt --metrics P_x", Error(&["P_x"])),
        ("report --qrels @/qrels.txt @/run.txt @/run-bom.txt --latex", Ok(&["tabular"], &[])),
        // bm25
        ("bm25 index --corpus @/missing.tsv --index @/idx", Error(&["missing.tsv"])),
        ("bm25 index --corpus @/dup.tsv --index @/idx", Error(&["dup.tsv"])),
        ("bm25 index --corpus @/notab.tsv --index @/idx", Error(&["notab.tsv:2"])),
        ("bm25 index --corpus @/empty.txt --index @/idx", Error(&["no documents"])),
        ("bm25 index --corpus @/answers-bad.json --index @/idx", Error(&["answers-bad.json"])),
        ("bm25 index --corpus @/corpus.tsv --index @/a-file", Error(&["a-file", "not a folder"])),
        ("bm25 index --corpus @/corpus.tsv --index @/not-index", Error(&["not-index", "meta.json"])),
        ("bm25 index --corpus @/corpus.tsv --index @/idx --stop-words @/missing.txt", Error(&["missing.txt"])),
        ("bm25 index --corpus @/corpus.tsv --index @/out-folder", Ok(&["\"documents\": 3"], &["out-folder"])),
        ("bm25 index --corpus @/corpus.jsonl --index @/bm25-rebuild", Ok(&["\"documents\": 2"], &["bm25-rebuild"])),
        ("bm25 search --index @/out-folder --queries @/queries.tsv --run @/b.run", Error(&["out-folder", "not a BM25 index"])),
        ("bm25 search --index @/nowhere --queries @/queries.tsv --run @/b.run", Error(&["nowhere", "not a BM25 index"])),
        ("bm25 search --index @/bm25-broken --queries @/queries.tsv --run @/b.run", Error(&["bm25-broken"])),
        ("bm25 search --index @/bm25-index --queries @/missing.tsv --run @/b.run", Error(&["missing.tsv"])),
        ("bm25 search --index @/bm25-index --queries @/empty.txt --run @/b.run", Error(&["no queries"])),
        ("bm25 search --index @/bm25-index --queries @/queries.tsv --run @/b.run --b 2", Error(&["b must"])),
        ("bm25 search --index @/bm25-index --queries @/queries.tsv --run @/b.run --k1=-1", Error(&["k1"])),
        ("bm25 search --index @/bm25-index --queries @/queries.tsv --run @/b.run --top-k 0", Error(&["top_k"])),
        ("bm25 search --index @/bm25-index --queries @/queries.tsv --run @/out-folder", Error(&["out-folder", "is a folder"])),
        ("bm25 search --index @/bm25-index --queries @/queries.tsv --run @/b.run", Ok(&[], &["b.run"])),
        // index (ANN)
        ("index build --model @/model --corpus @/missing.tsv --index @/ix", Error(&["missing.tsv"])),
        ("index build --model @/model --corpus @/dup.tsv --index @/ix", Error(&["dup.tsv"])),
        ("index build --model @/model --corpus @/empty.txt --index @/ix", Error(&["no records"])),
        ("index build --model @/model --corpus @/corpus.tsv --index @/ix --precision float16", Error(&["float16", "float32"])),
        ("index build --model @/model --corpus @/corpus.tsv --index @/ix --precision ubinary", Error(&["float32, int8 or binary"])),
        ("index build --model @/model --corpus @/corpus.tsv --index @/ix --rescore-precision binary", Error(&["--rescore-precision"])),
        ("index build --model @/model --corpus @/corpus.tsv --index @/ix --connectivity 1", Error(&["connectivity"])),
        ("index build --model @/model --corpus @/corpus.tsv --index @/ix --corpus-embeddings @/nowhere", Error(&["nowhere"])),
        ("index build --model @/nowhere --corpus @/corpus.tsv --index @/ix", Error(&["nowhere"])),
        ("index build --model @/model --corpus @/corpus.tsv --index @/a-file", Error(&["a-file", "not a folder"])),
        ("index search --index @/nowhere --model @/model --queries @/queries.tsv --run @/a.run", Error(&["nowhere", "not an ANN index"])),
        ("index search --index @/out-folder --model @/model --queries @/queries.tsv --run @/a.run", Error(&["out-folder", "not an ANN index"])),
        ("index search --index @/ann-broken --model @/model --queries @/queries.tsv --run @/a.run", Error(&["sbert-ann.json"])),
        ("index search --index @/ann-noids --model @/model --queries @/queries.tsv --run @/a.run", Error(&["no document ids"])),
        ("index search --index @/ann-index --model @/model --queries @/queries.tsv --run @/a.run --rescore-multiplier 4", Error(&["no rescoring copy"])),
        ("index search --index @/ann-bin --model @/model --queries @/queries.tsv --run @/a.run --rescore-multiplier 0", Error(&["rescore_multiplier"])),
        ("index search --index @/ann-index --model @/model --queries @/missing.tsv --run @/a.run", Error(&["missing.tsv"])),
        ("index search --index @/ann-index --model @/model --queries @/empty.txt --run @/a.run", Error(&["no queries"])),
        ("index search --index @/ann-index --model @/model --queries @/queries.tsv --run @/a.run --top-k 0", Error(&["--top-k"])),
        ("index search --index @/ann-index --model @/model --queries @/queries.tsv --run @/a.run --expansion-search 0", Error(&["expansion_search"])),
        ("index search --index @/ann-index --model @/model --queries @/queries.tsv --run @/out-folder", Error(&["out-folder", "is a folder"])),
        ("index search --index @/ann-index --model @/model --queries @/queries.tsv --run @/a.run", Ok(&[], &["a.run"])),
        ("index search --index @/ann-bin --model @/model --queries @/queries.tsv --run @/a.run --rescore-multiplier 2", Ok(&[], &["a.run"])),
        ("index build --model @/model --corpus @/corpus.tsv --index @/not-index", Ok(&["\"documents\": 3"], &["not-index/sbert-ann.json", "not-index/index.usearch", "not-index/ids.txt"])),
        ("index build --model @/model --corpus @/corpus.jsonl --index @/ann-broken", Ok(&["\"documents\": 2"], &["ann-broken"])),
        // fuse
        ("fuse --run @/f.run @/run.txt @/missing.txt", Error(&["missing.txt"])),
        ("fuse --run @/f.run @/run.txt @/run-nan.txt", Error(&["run-nan.txt:1"])),
        ("fuse --run @/out-folder @/run.txt @/run.txt", Error(&["out-folder", "is a folder"])),
        ("fuse --method wsum --weights 1,x --run @/f.run @/run.txt @/run.txt", Error(&["weight"])),
        ("fuse --method wsum --weights 1 --run @/f.run @/run.txt @/run.txt", Error(&["1 weights for 2 runs"])),
        ("fuse --method borda --run @/f.run @/run.txt @/run.txt", Error(&["borda"])),
        ("fuse --norm softmax --run @/f.run @/run.txt @/run.txt", Error(&["softmax"])),
        ("fuse --k NaN --run @/f.run @/run.txt @/run.txt", Error(&["k must be"])),
        ("fuse --run @/f.run @/run.txt @/run-bom.txt", Ok(&[], &["f.run"])),
        // fit
        ("fit --model @/model --train @/train.jsonl --output @/m --batch-size 0", Error(&["batch_size"])),
        ("fit --model @/model --train @/train.jsonl --output @/a-file/m", Error(&["a-file", "not a folder"])),
        ("fit --model @/model --train @/train.jsonl --output @/a-file", Error(&["a-file", "not a folder"])),
        ("fit --model @/model --train @/train.jsonl --output @/m --epochs 0", Error(&["epochs"])),
        ("fit --model @/model --train @/train.jsonl --output @/m --lr NaN", Error(&["lr"])),
        ("fit --model @/model --train @/train.jsonl --output @/m --lr inf", Error(&["lr"])),
        ("fit --model @/model --train @/train.jsonl --output @/m --loss NoSuchLoss", Error(&["NoSuchLoss"])),
        ("fit --model @/model --train @/train-graded.jsonl --output @/m --loss OnlineContrastiveLoss", Error(&["example 1", "0.7"])),
        ("fit --model @/model --train @/train-onetext.jsonl --output @/m", Error(&["train-onetext.jsonl:1"])),
        ("fit --model @/model --train @/train-bad.jsonl --output @/m", Error(&["train-bad.jsonl:1"])),
        ("fit --model @/model --train @/empty.txt --output @/m", Error(&["examples"])),
        ("fit --model @/model --train @/train.jsonl --output @/m --eval-sts @/missing.tsv", Error(&["missing.tsv"])),
        ("fit --model @/model --train @/train.jsonl --output @/m --max-seq-length 1", Error(&["max_seq_length"])),
        ("fit --model @/model --train @/train.jsonl --output @/m --max-steps 0", Error(&["max_steps"])),
        ("fit --model @/model --train @/train.jsonl --output @/m --max-steps 1 --eval-sts @/sts.tsv --batch-size 1", Ok(&[], &["m"])),
        ("fit --model @/model --train @/train.jsonl --output @/out-folder --max-steps 1 --batch-size 2", Ok(&[], &["out-folder"])),
        // fit-cross-encoder
        ("fit-cross-encoder --model @/model --train @/train-label2.jsonl --output @/ce", Error(&["label"])),
        ("fit-cross-encoder --model @/model --train @/train.jsonl --output @/a-file --max-seq-length 16", Error(&["a-file", "not a folder"])),
        ("fit-cross-encoder --model @/model --train @/train.jsonl --output @/ce --max-seq-length 2", Error(&["max_length"])),
        // convert
        ("convert sts --input @/missing.tsv --out @/o.jsonl", Error(&["missing.tsv"])),
        ("convert sts --input @/sts-badscore.tsv --out @/o.jsonl", Error(&["sts-badscore.tsv:1"])),
        ("convert sts --input @/sts.tsv --out @/a-file/o.jsonl", Error(&["a-file"])),
        ("convert stackexchange --answers @/answers-bad.json --topics @/topics.json --out @/beir", Error(&["answers-bad.json"])),
        ("convert stackexchange --answers @/missing.json --topics @/topics.json --out @/beir", Error(&["missing.json"])),
        ("convert stackexchange --answers @/answers.json --topics @/topics1.json --template {author} --out @/beir", Error(&["template", "author"])),
        ("convert scifact --data-dir @/nowhere --out @/beir", Error(&["nowhere"])),
        ("convert sts --input @/sts.tsv --out @/o.jsonl", Ok(&[], &["o.jsonl"])),
        // benchmarks
        ("bench-encode --model @/model --input @/missing.txt", Error(&["missing.txt"])),
        ("bench-encode --model @/model --input @/empty.txt", Error(&["empty.txt"])),
        ("bench-search --corpus-size 0 --queries 1 --dim 8", Error(&["corpus-size"])),
        ("bench-search --corpus-size 10 --queries 1 --dim 0", Error(&["dim"])),
        ("bench-search --corpus-size 18446744073709551615 --queries 1 --dim 8", Error(&["do not fit"])),
        ("bench-search --corpus-size 100 --queries 3 --dim 8 --top-k 200 --json", Ok(&["\"seconds\""], &[])),
        ("--isa sse9 bench-search --corpus-size 10 --queries 1 --dim 8", Error(&["unknown instruction set", "avx2"])),
        ("bench-search --isa scalar --corpus-size 100 --queries 3 --dim 8 --json", Ok(&["\"isa\": \"scalar\"", "\"dtype\": \"f32\""], &[])),
        ("bench-fit --model @/model --input @/lines.txt --pairs 0", Error(&["--pairs"])),
        ("encode --model @/model --dtype f16 --input @/lines.txt --output @/o.npy", Error(&["unknown dtype", "int8"])),
        ("bench-encode --model @/model --input @/lines.txt --dtype int8 --json", Ok(&["\"dtype\": \"int8\""], &[])),
        ("encode --model @/model --dtype bf16 --input @/lines.txt --output @/bf16.npy", Ok(&[], &["bf16.npy"])),
        // arguments
        ("encode --model @/model --input @/lines.txt", Error(&["--output"])),
        ("no-such-command", Error(&["no-such-command"])),
    ]
}

#[test]
fn every_bad_input_ends_in_a_clear_error_or_a_correct_result() {
    let sandbox = Sandbox::new();
    let dir = &sandbox.dir;
    let mut failures = Vec::new();
    let cases = cases();
    for (line, ends) in &cases {
        let before = snapshot(dir);
        let args: Vec<String> = line
            .split_whitespace()
            .map(|a| a.replace('@', dir.to_str().unwrap()))
            .collect();
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = sbert(&refs);
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        );
        let code = out.status.code();
        let owned: &[&str] = match ends {
            Ends::Error(says) => {
                if code != Some(2) || !says.iter().all(|s| stderr.contains(s)) {
                    failures.push(format!(
                        "{line}\n  exit {code:?}, wanted 2 naming {says:?}\n  stderr: {stderr}"
                    ));
                }
                &[]
            }
            Ends::Ok(says, owned) => {
                if code != Some(0) || !says.iter().all(|s| stdout.contains(s)) {
                    failures.push(format!("{line}\n  exit {code:?}, wanted 0 with {says:?}\n  stdout: {stdout}\n  stderr: {stderr}"));
                }
                owned
            }
        };
        // Files the command does not own: unchanged, none deleted, no new file, no debris.
        let after = snapshot(dir);
        let owns = |p: &Path| owned.iter().any(|o| p.starts_with(o));
        for (p, bytes) in &before {
            if !owns(p) && after.get(p) != Some(bytes) {
                failures.push(format!("{line}\n  changed or deleted {}", p.display()));
            }
        }
        for p in after.keys() {
            if !before.contains_key(p) && !owns(p) {
                failures.push(format!("{line}\n  left {}", p.display()));
            }
        }
        // Outputs of a successful case go, so the next case starts from the same files.
        for o in owned {
            let p = dir.join(o);
            if *o == "out-folder" {
                for f in std::fs::read_dir(&p).unwrap() {
                    let f = f.unwrap();
                    if f.file_name() != "keep.txt" {
                        let _ = std::fs::remove_dir_all(f.path());
                        let _ = std::fs::remove_file(f.path());
                    }
                }
                assert_eq!(
                    std::fs::read_to_string(p.join("keep.txt")).unwrap(),
                    "keep me"
                );
            } else {
                let _ = std::fs::remove_dir_all(&p);
                let _ = std::fs::remove_file(&p);
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    eprintln!("{} bad-input cases through the CLI", cases.len());
}
