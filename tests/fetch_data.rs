//! The lab's data set-up (`scripts/fetch-data.py`): copied from the course's shared folder when
//! there is one, else downloaded — here from a local HTTP server serving archives shaped like the
//! public ones — checked, written whole or not at all, never over a user's folder; and what it
//! writes is what `sbert::datasets::scifact::load` reads, in either layout.

mod common;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use sbert::datasets::{beir, scifact, RetrievalDataset};
use sha2::{Digest, Sha256};

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/fetch-data.py")
}

fn fetch(args: &[&str]) -> std::process::Output {
    Command::new("python3")
        .arg(script())
        .args(args)
        .env_remove("SBERT_DATA")
        .output()
        .expect("python3 runs")
}

/// Serves `files` (URL path → bytes) on 127.0.0.1 until the test ends; returns the base URL.
fn serve(files: Vec<(String, Vec<u8>)>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut line = String::new();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).unwrap_or(0) <= 2 {
                    break;
                }
            }
            let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
            match files.iter().find(|(p, _)| *p == path) {
                Some((_, body)) => {
                    let _ = write!(
                        stream,
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = stream.write_all(body);
                }
                None => {
                    let _ = write!(
                        stream,
                        "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    );
                }
            }
        }
    });
    base
}

fn same(a: &RetrievalDataset, b: &RetrievalDataset) {
    let mut ca: Vec<_> = a
        .corpus
        .iter()
        .map(|d| (&d.id, &d.title, &d.text))
        .collect();
    let mut cb: Vec<_> = b
        .corpus
        .iter()
        .map(|d| (&d.id, &d.title, &d.text))
        .collect();
    ca.sort();
    cb.sort();
    assert_eq!(ca, cb);
    let mut qa: Vec<_> = a.queries.iter().map(|q| (&q.id, &q.text)).collect();
    let mut qb: Vec<_> = b.queries.iter().map(|q| (&q.id, &q.text)).collect();
    qa.sort();
    qb.sort();
    assert_eq!(qa, qb);
    assert_eq!(a.qrels, b.qrels);
}

#[test]
fn data_comes_from_the_shared_folder_and_is_checked_on_every_run() {
    let dest = temp_dir("fetch-shared");
    let shared = shared().join("data");
    let o = fetch(&[
        "--dest",
        dest.to_str().unwrap(),
        "--shared",
        shared.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for f in ["stsbenchmark/sts-dev.csv", "beir-scifact/scifact.zip"] {
        assert_eq!(
            std::fs::read(dest.join(f)).unwrap(),
            std::fs::read(shared.join(f)).unwrap()
        );
    }
    // What the notebooks read from it is the course's data.
    let test = scifact::load(&dest.join("beir-scifact"), "test").unwrap();
    assert_eq!((test.corpus.len(), test.queries.len()), (5183, 300));
    let o = fetch(&[
        "--dest",
        dest.to_str().unwrap(),
        "--shared",
        shared.to_str().unwrap(),
    ]);
    assert!(o.status.success());
    assert_eq!(
        String::from_utf8_lossy(&o.stderr)
            .matches("(checked)")
            .count(),
        2
    );
    // A file changed by the user: reported, left as it is, exit status 1.
    std::fs::write(dest.join("stsbenchmark/sts-dev.csv"), "mine\n").unwrap();
    let o = fetch(&[
        "--dest",
        dest.to_str().unwrap(),
        "--shared",
        shared.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("left as it is"));
    assert_eq!(
        std::fs::read_to_string(dest.join("stsbenchmark/sts-dev.csv")).unwrap(),
        "mine\n"
    );
    let _ = std::fs::remove_dir_all(&dest);
}

#[test]
fn data_is_downloaded_checked_and_written_whole_or_not_at_all() {
    let work = temp_dir("fetch-download");
    let shared = shared().join("data");
    // STS Benchmark's archive, with the real files (their sha256 is what the script checks).
    let sts = work.join("src/stsbenchmark");
    std::fs::create_dir_all(&sts).unwrap();
    for f in [
        "sts-train.csv",
        "sts-dev.csv",
        "sts-test.csv",
        "LICENSE.txt",
        "readme.txt",
    ] {
        std::fs::copy(shared.join("stsbenchmark").join(f), sts.join(f)).unwrap();
    }
    let tar = |out: &Path| {
        assert!(Command::new("tar")
            .args([
                "czf",
                out.to_str().unwrap(),
                "-C",
                work.join("src").to_str().unwrap(),
                "stsbenchmark"
            ])
            .status()
            .unwrap()
            .success());
        std::fs::read(out).unwrap()
    };
    let good_tar = tar(&work.join("good.tar.gz"));
    std::fs::write(sts.join("sts-dev.csv"), "tampered\n").unwrap();
    let bad_tar = tar(&work.join("bad.tar.gz"));
    // SciFact in BEIR's layout, made from the course's copy (train and test qrels).
    let course = shared.join("beir-scifact");
    let (train, test) = (
        scifact::load(&course, "train").unwrap(),
        scifact::load(&course, "test").unwrap(),
    );
    let mut all = test.clone();
    all.queries.extend(train.queries.iter().cloned());
    let beir_dir = work.join("zip/scifact");
    beir::write_dir(&all, &beir_dir, "test").unwrap();
    std::fs::write(beir_dir.join("qrels/train.tsv"), {
        let mut t = String::from("query-id\tcorpus-id\tscore\n");
        for (q, docs) in &train.qrels {
            for (d, g) in docs {
                t.push_str(&format!("{q}\t{d}\t{g}\n"));
            }
        }
        t
    })
    .unwrap();
    assert!(Command::new("python3")
        .current_dir(work.join("zip"))
        .args(["-m", "zipfile", "-c", "../scifact.zip", "scifact"])
        .status()
        .unwrap()
        .success());
    let zip = std::fs::read(work.join("scifact.zip")).unwrap();
    // The test's zip is not BEIR's: tell the script its md5 (the real one is pinned in the script).
    let md5 = String::from_utf8(
        Command::new("python3")
            .args([
                "-c",
                "import hashlib,sys; print(hashlib.md5(open(sys.argv[1],'rb').read()).hexdigest())",
            ])
            .arg(work.join("scifact.zip"))
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let checksums = work.join("checksums.json");
    std::fs::write(
        &checksums,
        serde_json::json!({"beir-scifact": {"archive_checksum": format!("md5:{}", md5.trim())}})
            .to_string(),
    )
    .unwrap();
    let no_shared = work.join("no-shared");
    std::fs::create_dir_all(&no_shared).unwrap();

    // A tampered archive: an error, and nothing of it in the data folder.
    let base = serve(vec![
        ("/stswiki/images/4/48/Stsbenchmark.tar.gz".into(), bad_tar),
        ("/thakur/BEIR/datasets/scifact.zip".into(), zip.clone()),
    ]);
    let dest = work.join("data");
    let args = |base: &str| {
        vec![
            "--dest".to_string(),
            dest.to_str().unwrap().into(),
            "--shared".into(),
            no_shared.to_str().unwrap().into(),
            "--base-url".into(),
            base.into(),
            "--checksums".into(),
            checksums.to_str().unwrap().into(),
        ]
    };
    let a = args(&base);
    let o = fetch(&a.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("sts-dev.csv from")
            && String::from_utf8_lossy(&o.stderr).contains("nothing written"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let left: Vec<_> = std::fs::read_dir(&dest)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "{left:?}");

    // The real archives: both data sets, checked, readable.
    let base = serve(vec![
        ("/stswiki/images/4/48/Stsbenchmark.tar.gz".into(), good_tar),
        ("/thakur/BEIR/datasets/scifact.zip".into(), zip),
    ]);
    let a = args(&base);
    let o = fetch(&a.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let dev = std::fs::read(dest.join("stsbenchmark/sts-dev.csv")).unwrap();
    assert_eq!(
        format!("{:x}", Sha256::digest(&dev)),
        "5d7e944d8b02734b07bfdb5df67db3420c64bed153fcaa1ba47ad03480cf4234"
    );
    same(
        &scifact::load(&dest.join("beir-scifact"), "test").unwrap(),
        &test,
    );
    same(
        &scifact::load(&dest.join("beir-scifact"), "train").unwrap(),
        &train,
    );
    let _ = std::fs::remove_dir_all(&work);
}
