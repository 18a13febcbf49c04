//! `kill -9` at the most delicate moment of a write — `encode --output` between writing its
//! temporary and the rename, a model save between filling its folder and the swap, `fit` while
//! it saves a checkpoint — leaves the old file or model intact, and the next run leaves no debris.
//! The moment is reached with `SBERT_STALL_AT` (the writer stops there and says so); a second
//! test kills `encode` at many arbitrary moments.

mod common;

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::*;

fn exe() -> &'static str {
    option_env!("CARGO_BIN_EXE_sbert").expect("the sbert binary (feature `cli`)")
}

/// Runs sbert with `SBERT_STALL_AT=point`, waits until it stalls there, and kills it (SIGKILL).
fn kill_at(point: &str, args: &[&str]) {
    let mut child = Command::new(exe())
        .args(args)
        .env("SBERT_STALL_AT", point)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut seen = Vec::new();
    for line in std::io::BufReader::new(stderr).lines() {
        let line = line.unwrap();
        if line.contains(&format!("stalled at {point}")) {
            child.kill().unwrap(); // SIGKILL: no destructor, no cleanup runs
            child.wait().unwrap();
            return;
        }
        seen.push(line);
    }
    panic!(
        "sbert ended without reaching {point}: {:?}\n{}",
        child.wait(),
        seen.join("\n")
    );
}

/// Every entry under `dir` whose name starts with a dot (the temporaries).
fn debris(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.file_name().unwrap().to_string_lossy().starts_with('.') {
            out.push(p.clone());
        }
        if p.is_dir() {
            out.extend(debris(&p));
        }
    }
    out
}

/// Every file under `dir` but the temporaries (names starting with a dot): path → hash of its bytes.
fn tree(dir: &Path) -> Vec<(PathBuf, u64)> {
    use std::hash::{Hash, Hasher};
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.file_name().unwrap().to_string_lossy().starts_with('.') {
            continue;
        }
        if p.is_dir() {
            out.extend(tree(&p));
        } else {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            std::fs::read(&p).unwrap().hash(&mut h);
            out.push((p.clone(), h.finish()));
        }
    }
    out.sort();
    out
}

/// `sbert encode --model M --input IN --output OUT`.
fn encode_args(model: &Path, input: &Path, out: &Path) -> Vec<String> {
    [
        "encode",
        "--model",
        model.to_str().unwrap(),
        "--input",
        input.to_str().unwrap(),
    ]
    .into_iter()
    .chain(["--output", out.to_str().unwrap()])
    .map(String::from)
    .collect()
}

fn refs(a: &[String]) -> Vec<&str> {
    a.iter().map(String::as_str).collect()
}

fn run_ok(args: &[&str]) {
    let out = sbert(args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn kill_during_encode_output() {
    let dir = temp_dir("kill-encode");
    let model = tiny_model_dir(true);
    std::fs::write(dir.join("lines.txt"), "w10 w11\nw20 w21\n").unwrap();
    let out = dir.join("emb.npy");
    std::fs::write(&out, b"the old embeddings").unwrap();
    let args = encode_args(&model, &dir.join("lines.txt"), &out);
    let args = refs(&args);
    kill_at("write-file", &args);
    assert_eq!(std::fs::read(&out).unwrap(), b"the old embeddings");
    assert_eq!(debris(&dir).len(), 1, "the killed run's temporary");
    run_ok(&args);
    assert_eq!(sbert::npy::read_npy(&out).unwrap().len(), 2);
    assert!(debris(&dir).is_empty(), "{:?}", debris(&dir));
}

#[test]
fn kill_during_model_save_and_checkpoint() {
    let dir = temp_dir("kill-save");
    let model = tiny_model_dir(true);
    std::fs::write(
        dir.join("train.jsonl"),
        "{\"texts\": [\"w10 w11\", \"w12 w13\"], \"label\": 1.0}\n{\"texts\": [\"w20 w21\", \"w22 w23\"], \"label\": 1.0}\n",
    )
    .unwrap();
    let out = dir.join("model");
    let ckpt = dir.join("ckpt");
    let args = |lr: &str| -> Vec<String> {
        [
            "fit",
            "--model",
            model.to_str().unwrap(),
            "--train",
            dir.join("train.jsonl").to_str().unwrap(),
            "--batch-size",
            "2",
            "--epochs",
            "2",
            "--lr",
            lr,
            "--warmup-steps",
            "1",
            "--loss",
            "mnrl",
            "--checkpoint-path",
            ckpt.to_str().unwrap(),
            "--checkpoint-steps",
            "1",
            "--output",
            out.to_str().unwrap(),
        ]
        .map(String::from)
        .to_vec()
    };
    let first = args("1e-3");
    run_ok(&refs(&first));
    std::fs::write(out.join("notes.txt"), "my notes").unwrap();
    let old_model = tree(&out);
    let old_ckpts = tree(&ckpt);
    assert_eq!(std::fs::read_dir(&ckpt).unwrap().count(), 2);

    // Killed while its first checkpoint (checkpoint-1) is about to replace the old one.
    let second = args("2e-3");
    kill_at("write-dir", &refs(&second));
    assert_eq!(tree(&ckpt), old_ckpts, "the old checkpoints are intact");
    assert_eq!(tree(&out), old_model, "the old model is intact");
    assert_eq!(debris(&ckpt).len(), 1, "the killed run's temporary folder");

    // Killed while the final model is about to replace the old one (checkpoints off).
    let mut third = args("3e-3");
    third.truncate(third.len() - 6);
    third.extend(["--output", out.to_str().unwrap()].map(String::from));
    kill_at("write-dir", &refs(&third));
    assert_eq!(tree(&out), old_model, "the old model is intact");
    let again = sbert::SentenceTransformer::load(out.to_str().unwrap()).unwrap();
    assert_eq!(again.get_sentence_embedding_dimension(), 32);

    // The next runs finish and clean up after the killed ones.
    run_ok(&refs(&second));
    assert!(debris(&dir).is_empty(), "{:?}", debris(&dir));
    assert_ne!(tree(&out), old_model, "the new model is in place");
    assert_eq!(
        std::fs::read_to_string(out.join("notes.txt")).unwrap(),
        "my notes"
    );
    sbert::SentenceTransformer::load(out.to_str().unwrap()).unwrap();
}

/// Kills at arbitrary moments (loading, encoding, writing): the output is always the whole old
/// file or the whole new one, and a finished run leaves no temporaries.
#[test]
fn kill_encode_at_arbitrary_moments() {
    let dir = temp_dir("kill-any");
    let model = tiny_model_dir(true);
    let lines: String = (0..3000)
        .map(|i| {
            format!(
                "w{} w{} w{}\n",
                5 + i % 90,
                5 + (i * 7) % 90,
                5 + (i * 13) % 90
            )
        })
        .collect();
    std::fs::write(dir.join("lines.txt"), lines).unwrap();
    let out = dir.join("emb.npy");
    let args = encode_args(&model, &dir.join("lines.txt"), &out);
    let args = refs(&args);
    run_ok(&args);
    let new = std::fs::read(&out).unwrap();
    let old = b"old".to_vec();
    let t0 = std::time::Instant::now();
    run_ok(&args);
    let full = t0.elapsed();
    for k in 0..12 {
        std::fs::write(&out, &old).unwrap();
        let mut child = Command::new(exe())
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(full.mul_f64(k as f64 / 10.0));
        let _ = child.kill();
        child.wait().unwrap();
        let now = std::fs::read(&out).unwrap();
        assert!(now == old || now == new, "kill {k}: a half-written output");
    }
    run_ok(&args);
    assert_eq!(std::fs::read(&out).unwrap(), new);
    assert!(debris(&dir).is_empty(), "{:?}", debris(&dir));
}

#[test]
fn kill_during_sharded_encode_resumes() {
    // `encode --output-dir` killed right after a shard is written (before the manifest lists it)
    // and again later: the next run resumes and the folder equals an uninterrupted run's.
    let dir = temp_dir("kill-shards");
    let model = tiny_model_dir(true);
    let lines: Vec<String> = (0..11)
        .map(|i| format!("w{}0 w{}1", i % 9 + 1, i % 7 + 1))
        .collect();
    std::fs::write(dir.join("lines.txt"), lines.join("\n") + "\n").unwrap();
    let args = |out: &str| -> Vec<String> {
        [
            "encode",
            "--model",
            model.to_str().unwrap(),
            "--input",
            dir.join("lines.txt").to_str().unwrap(),
            "--output-dir",
            dir.join(out).to_str().unwrap(),
            "--shard-size",
            "3",
        ]
        .into_iter()
        .map(String::from)
        .collect()
    };
    let killed = args("killed");
    kill_at("shard-written", &refs(&killed));
    let manifest = std::fs::read_to_string(dir.join("killed").join("sbert-shards.json")).unwrap();
    assert!(
        manifest.contains("\"shards\": []"),
        "killed before the manifest lists shard 0: {manifest}"
    );
    assert!(dir.join("killed").join("shard-00000.npy").exists());
    run_ok(&refs(&killed));
    let whole = args("whole");
    run_ok(&refs(&whole));
    assert_eq!(
        tree_names(&dir.join("killed")),
        tree_names(&dir.join("whole"))
    );
    for name in ["shard-00000.npy", "shard-00003.npy", "sbert-shards.json"] {
        let (a, b) = (dir.join("killed").join(name), dir.join("whole").join(name));
        assert_eq!(
            std::fs::read(a).unwrap(),
            std::fs::read(b).unwrap(),
            "{name}"
        );
    }
    assert!(debris(&dir.join("killed")).is_empty());
    // Killed once more in a finished folder's re-run: nothing is rewritten, nothing changes.
    let before = tree(&dir.join("killed"));
    run_ok(&refs(&killed));
    assert_eq!(tree(&dir.join("killed")), before);
}

/// File names under `dir`, sorted (temporaries excluded).
fn tree_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect();
    names.sort();
    names
}
