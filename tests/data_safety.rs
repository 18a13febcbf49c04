//! Nothing a user owns is lost, changed or half-written: a model save keeps the other files of
//! its folder, refuses a file, and writes a sub-folder Transformer where it belongs; `fit` always
//! leaves a model at `output_path` and finds an unwritable one before training; files are
//! written through links and into FIFOs, and a killed writer's temporaries are cleaned up.
//! Each case failed before its fix.

mod common;

use std::ops::ControlFlow;

use common::*;
use sbert::evaluation::EmbeddingSimilarityEvaluator;
use sbert::losses::{MultipleNegativesRankingLoss, OnlineContrastiveLoss};
use sbert::prelude::*;
use sbert::train::{fit, DataLoader, FitConfig, InputExample, Objective};

fn tiny() -> SentenceTransformer {
    SentenceTransformer::from_dir(&tiny_model_dir(true), &candle_core::Device::Cpu).unwrap()
}

fn embed(m: &SentenceTransformer) -> Embeddings {
    m.encode(&["w10 w11", "w50 w51 w52"], &EncodeOptions::default())
        .unwrap()
}

fn names(dir: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    v.sort();
    v
}

/// Saving onto an existing folder deleted every other file in it. Now only the model's files are
/// replaced: notes and a README stay, a stale weights file of an older model goes.
#[test]
fn save_keeps_the_users_files() {
    let model = tiny();
    let dir = temp_dir("save-keep");
    let out = dir.join("model");
    model.save(&out).unwrap();
    std::fs::write(out.join("notes.txt"), "my notes").unwrap();
    std::fs::create_dir_all(out.join("runs")).unwrap();
    std::fs::write(out.join("runs/a.csv"), "1,2\n").unwrap();
    std::fs::write(
        out.join("pytorch_model.bin"),
        "stale weights of another model",
    )
    .unwrap();
    model.save(&out).unwrap();
    assert_eq!(
        std::fs::read_to_string(out.join("notes.txt")).unwrap(),
        "my notes"
    );
    assert_eq!(
        std::fs::read_to_string(out.join("runs/a.csv")).unwrap(),
        "1,2\n"
    );
    assert!(!out.join("pytorch_model.bin").exists());
    let again = SentenceTransformer::load(out.to_str().unwrap()).unwrap();
    assert_eq!(embed(&again), embed(&model));
    // Nothing is left beside the folder.
    assert_eq!(names(&dir), ["model"]);
}

/// Saving onto an existing *file* turned it into a folder and kept the file only as a hidden
/// `.NAME.old-PID`. Now it is an error and the file is as it was.
#[test]
fn save_onto_a_file_is_refused() {
    let model = tiny();
    let dir = temp_dir("save-file");
    let file = dir.join("model");
    std::fs::write(&file, "a file of mine").unwrap();
    let err = model.save(&file).unwrap_err().to_string();
    assert!(err.contains("not a folder"), "{err}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "a file of mine");
    assert_eq!(names(&dir), ["model"]);
    // A folder of the user's that holds no model but files a save would replace: refused too.
    let own = dir.join("mine");
    std::fs::create_dir_all(&own).unwrap();
    std::fs::write(own.join("vocab.txt"), "my word list").unwrap();
    let err = model.save(&own).unwrap_err().to_string();
    assert!(err.contains("vocab.txt"), "{err}");
    assert_eq!(names(&own), ["vocab.txt"]);
    // An empty or unrelated folder is fine: the model goes in, the rest stays.
    std::fs::remove_file(own.join("vocab.txt")).unwrap();
    std::fs::write(own.join("todo.md"), "x").unwrap();
    model.save(&own).unwrap();
    assert!(own.join("todo.md").exists() && own.join("modules.json").exists());
}

/// A symlink to a model folder is saved through: the link stays a link.
#[test]
fn save_through_a_symlink() {
    let model = tiny();
    let dir = temp_dir("save-link");
    std::fs::create_dir_all(dir.join("real")).unwrap();
    std::os::unix::fs::symlink("real", dir.join("link")).unwrap();
    model.save(&dir.join("link")).unwrap();
    assert!(std::fs::symlink_metadata(dir.join("link"))
        .unwrap()
        .file_type()
        .is_symlink());
    assert!(dir.join("real/model.safetensors").exists());
}

/// A model whose Transformer lives in a sub-folder (`modules.json` path `0_Transformer`, as many
/// hub models have) was saved with its weights in the root: the saved model did not load.
#[test]
fn transformer_in_a_sub_folder_is_saved_there() {
    let dir = tiny_model_dir(true);
    let sub = dir.join("0_Transformer");
    std::fs::create_dir_all(&sub).unwrap();
    for f in [
        "config.json",
        "tokenizer.json",
        "model.safetensors",
        "sentence_bert_config.json",
    ] {
        std::fs::rename(dir.join(f), sub.join(f)).unwrap();
    }
    let modules = std::fs::read_to_string(dir.join("modules.json"))
        .unwrap()
        .replacen(r#""path":"""#, r#""path":"0_Transformer""#, 1);
    assert!(modules.contains("0_Transformer"), "{modules}");
    std::fs::write(dir.join("modules.json"), modules).unwrap();
    let model = SentenceTransformer::from_dir(&dir, &candle_core::Device::Cpu).unwrap();
    let out = temp_dir("save-sub").join("m");
    model.save(&out).unwrap();
    assert!(out.join("0_Transformer/model.safetensors").exists());
    assert!(!out.join("model.safetensors").exists());
    let again = SentenceTransformer::load(out.to_str().unwrap()).unwrap();
    assert_eq!(embed(&again), embed(&model));
    assert_eq!(again.max_seq_length(), 64);
}

/// A module path that leaves the model's folder would make `save` write outside it.
#[test]
fn module_paths_stay_inside_the_model() {
    for bad in ["../elsewhere", "/tmp/abs", "a/../../b"] {
        let dir = tiny_model_dir(true);
        let modules = std::fs::read_to_string(dir.join("modules.json"))
            .unwrap()
            .replace("1_Pooling", bad);
        std::fs::write(dir.join("modules.json"), modules).unwrap();
        let err = SentenceTransformer::from_dir(&dir, &candle_core::Device::Cpu)
            .unwrap_err()
            .to_string();
        assert!(err.contains("inside the model"), "{bad}: {err}");
    }
}

fn pairs() -> Vec<InputExample> {
    (5..45)
        .step_by(4)
        .map(|k| {
            InputExample::pair(
                format!("w{} w{}", k, k + 1),
                format!("w{} w{}", k + 2, k + 3),
                1.0,
            )
        })
        .collect()
}

fn evaluator(gold: Option<f32>) -> EmbeddingSimilarityEvaluator {
    let ex = pairs();
    let s1: Vec<String> = ex.iter().map(|e| e.texts[0].clone()).collect();
    let s2: Vec<String> = ex
        .iter()
        .enumerate()
        .map(|(i, e)| {
            if i % 2 == 0 {
                e.texts[1].clone()
            } else {
                "w90 w91".into()
            }
        })
        .collect();
    let scores: Vec<f32> = (0..ex.len())
        .map(|i| gold.unwrap_or(if i % 2 == 0 { 1.0 } else { 0.0 }))
        .collect();
    EmbeddingSimilarityEvaluator::new(&s1, &s2, &scores).unwrap()
}

/// `max_steps` reached in the middle of the first epoch, before any evaluation: nothing was
/// saved although `fit` said so. Now training is evaluated where it stopped and saved.
#[test]
fn fit_stopped_by_max_steps_saves() {
    let mut model = tiny();
    let loss = MultipleNegativesRankingLoss::default();
    let objectives = [Objective {
        loader: DataLoader::new(pairs(), 2),
        loss: &loss,
    }];
    let out = temp_dir("fit-max-steps").join("best");
    let config = FitConfig {
        max_steps: Some(2),
        warmup_steps: 1,
        lr: 1e-3,
        output_path: Some(out.clone()),
        show_progress_bar: false,
        ..FitConfig::default()
    };
    let ev = evaluator(None);
    let log = fit(&mut model, &objectives, &config, Some(&ev), |_| {
        ControlFlow::Continue(())
    })
    .unwrap();
    assert!(log.stopped_early);
    assert_eq!(log.evaluations.len(), 1);
    assert_eq!((log.evaluations[0].epoch, log.evaluations[0].steps), (0, 2));
    let saved = log.saved.clone().unwrap();
    assert!(saved.best && saved.global_step == 2, "{saved:?}");
    let again = SentenceTransformer::load(out.to_str().unwrap()).unwrap();
    assert_eq!(embed(&again), embed(&model));
}

/// Every evaluation NaN (STS gold scores all equal): nothing was saved. Now the final model is,
/// and the log says it is the final one.
#[test]
fn fit_with_nan_scores_saves_the_final_model() {
    let mut model = tiny();
    let loss = MultipleNegativesRankingLoss::default();
    let objectives = [Objective {
        loader: DataLoader::new(pairs(), 2),
        loss: &loss,
    }];
    let out = temp_dir("fit-nan").join("final");
    let config = FitConfig {
        epochs: 2,
        warmup_steps: 1,
        lr: 1e-3,
        evaluation_steps: 2,
        output_path: Some(out.clone()),
        show_progress_bar: false,
        ..FitConfig::default()
    };
    let ev = evaluator(Some(0.5));
    let log = fit(&mut model, &objectives, &config, Some(&ev), |_| {
        ControlFlow::Continue(())
    })
    .unwrap();
    assert!(log.evaluations.iter().all(|e| e.score.is_nan()));
    let saved = log.saved.clone().unwrap();
    assert!(!saved.best && saved.global_step == 10, "{saved:?}");
    let again = SentenceTransformer::load(out.to_str().unwrap()).unwrap();
    assert_eq!(embed(&again), embed(&model));
}

/// `fit` refuses, before the first step, what would have failed or trained nothing: an output
/// path that cannot be written, a NaN or infinite learning rate, a batch size of 0, labels that
/// OnlineContrastiveLoss cannot learn from.
#[test]
fn fit_refuses_bad_settings_before_training() {
    let dir = temp_dir("fit-refuse");
    std::fs::write(dir.join("a-file"), "x").unwrap();
    let mnrl = MultipleNegativesRankingLoss::default();
    let ocl = OnlineContrastiveLoss::default();
    let base = FitConfig {
        warmup_steps: 1,
        show_progress_bar: false,
        ..FitConfig::default()
    };
    let graded: Vec<InputExample> = pairs()
        .into_iter()
        .enumerate()
        .map(|(i, mut e)| {
            e.label = if i == 3 { 0.7 } else { 1.0 };
            e
        })
        .collect();
    let cases: Vec<(
        FitConfig,
        usize,
        &dyn sbert::losses::Loss,
        Vec<InputExample>,
        &str,
    )> =
        vec![
        (
            FitConfig {
                output_path: Some(dir.join("a-file").join("model")),
                ..base.clone()
            },
            2,
            &mnrl,
            pairs(),
            "not a folder",
        ),
        (
            FitConfig {
                output_path: Some(dir.join("a-file")),
                ..base.clone()
            },
            2,
            &mnrl,
            pairs(),
            "not a folder",
        ),
        (
            FitConfig {
                lr: f64::NAN,
                ..base.clone()
            },
            2,
            &mnrl,
            pairs(),
            "lr must be",
        ),
        (
            FitConfig {
                lr: f64::INFINITY,
                ..base.clone()
            },
            2,
            &mnrl,
            pairs(),
            "lr must be",
        ),
        (base.clone(), 0, &mnrl, pairs(), "batch_size must be at least 1"),
        (
            base.clone(),
            2,
            &ocl,
            graded,
            "example 3: OnlineContrastiveLoss needs labels 1 (similar) or 0 (dissimilar), got 0.7",
        ),
    ];
    for (config, batch, loss, examples, says) in cases {
        let mut model = tiny();
        let before = embed(&model);
        let objectives = [Objective {
            loader: DataLoader::new(examples, batch),
            loss,
        }];
        let mut calls = 0;
        let err = fit(&mut model, &objectives, &config, None, |_| {
            calls += 1;
            ControlFlow::Continue(())
        })
        .unwrap_err()
        .to_string();
        assert!(err.contains(says), "{says}: {err}");
        assert_eq!(calls, 0, "{says}: training ran");
        assert_eq!(embed(&model), before, "{says}: the model changed");
    }
    assert_eq!(std::fs::read_to_string(dir.join("a-file")).unwrap(), "x");
    assert_eq!(names(&dir), ["a-file"]);
}

/// `write_atomic` renamed over whatever the path was: a symlink was replaced by a file, a FIFO
/// by a file nobody reads. Now a link is written through, a FIFO is written into, a folder is
/// refused, and an existing file keeps its permissions.
#[test]
fn write_atomic_respects_what_the_path_is() {
    use sbert::npy::write_atomic;
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};
    let dir = temp_dir("write-kinds");
    std::fs::write(dir.join("target.txt"), "old").unwrap();
    std::os::unix::fs::symlink("target.txt", dir.join("link.txt")).unwrap();
    write_atomic(&dir.join("link.txt"), b"new").unwrap();
    assert!(std::fs::symlink_metadata(dir.join("link.txt"))
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(
        std::fs::read_to_string(dir.join("target.txt")).unwrap(),
        "new"
    );

    std::fs::set_permissions(
        dir.join("target.txt"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    write_atomic(&dir.join("target.txt"), b"newer").unwrap();
    let mode = std::fs::metadata(dir.join("target.txt"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    let fifo = dir.join("pipe");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read_to_string(fifo).unwrap())
    };
    write_atomic(&fifo, b"through the pipe").unwrap();
    assert_eq!(reader.join().unwrap(), "through the pipe");
    assert!(std::fs::symlink_metadata(&fifo)
        .unwrap()
        .file_type()
        .is_fifo());

    std::fs::create_dir_all(dir.join("folder")).unwrap();
    let err = write_atomic(&dir.join("folder"), b"x")
        .unwrap_err()
        .to_string();
    assert!(err.contains("is a folder"), "{err}");
    write_atomic(std::path::Path::new("/dev/null"), b"discarded").unwrap();
    assert_eq!(
        names(&dir),
        ["folder", "link.txt", "pipe", "target.txt"],
        "no temporaries left"
    );
}

/// Temporaries a killed process left (`.NAME.sbert-PID-SEQ.tmp`) are removed by the next write
/// of that path; those of a live process (this one) are not touched.
#[test]
fn a_killed_writers_temporaries_are_cleaned_up() {
    let dir = temp_dir("stale");
    let dead = dead_pid();
    std::fs::write(dir.join(format!(".run.txt.sbert-{dead}-0.tmp")), "half").unwrap();
    std::fs::create_dir_all(dir.join(format!(".model.sbert-{dead}-3.tmp"))).unwrap();
    let mine = format!(".run.txt.sbert-{}-999.tmp", std::process::id());
    std::fs::write(dir.join(&mine), "in use").unwrap();
    sbert::npy::write_atomic(&dir.join("run.txt"), b"ok").unwrap();
    tiny().save(&dir.join("model")).unwrap();
    assert_eq!(names(&dir), [mine.as_str(), "model", "run.txt"]);
}

/// Many threads writing the same path at once: per-call temporary names, created exclusively,
/// so each write is whole and the last one wins.
#[test]
fn concurrent_writes_of_one_path() {
    let dir = temp_dir("threads");
    let path = dir.join("out.txt");
    std::thread::scope(|s| {
        for t in 0..8 {
            let path = &path;
            s.spawn(move || {
                for _ in 0..20 {
                    let text = format!("{t}").repeat(10_000);
                    sbert::npy::write_atomic(path, text.as_bytes()).unwrap();
                }
            });
        }
    });
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.len(), 10_000);
    assert!(text.chars().all(|c| c == text.chars().next().unwrap()));
    assert_eq!(names(&dir), ["out.txt"]);
}

/// BEIR `write_dir` wrote each file on its own (a kill between them left a corpus of one data
/// set with the queries of another) and replaced nothing else: now one swap of the folder that
/// keeps the other splits' qrels.
#[test]
fn beir_write_is_one_swap_and_keeps_other_splits() {
    use sbert::datasets::{Document, Query, RetrievalDataset};
    let dir = temp_dir("beir").join("set");
    let ds = |n: usize| RetrievalDataset {
        corpus: (0..n)
            .map(|i| Document {
                id: format!("d{i}"),
                title: String::new(),
                text: format!("text {i}"),
            })
            .collect(),
        queries: vec![Query {
            id: "q1".into(),
            text: "query".into(),
        }],
        qrels: [(
            "q1".to_string(),
            [("d0".to_string(), 1)].into_iter().collect(),
        )]
        .into_iter()
        .collect(),
    };
    sbert::datasets::beir::write_dir(&ds(2), &dir, "train").unwrap();
    sbert::datasets::beir::write_dir(&ds(3), &dir, "test").unwrap();
    assert!(dir.join("qrels/train.tsv").exists() && dir.join("qrels/test.tsv").exists());
    let back = sbert::datasets::beir::load_dir(&dir, "test").unwrap();
    assert_eq!(back.corpus.len(), 3);
    assert!(sbert::datasets::beir::write_dir(&ds(1), &dir, "../x").is_err());
}
