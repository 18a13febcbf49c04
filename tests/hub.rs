//! Downloading a model from the hub (the `hub` feature), against a real HTTP server on 127.0.0.1
//! started here that serves a tiny model in the hub's URL layout — `/api/models/{repo}/revision/main`
//! (the file list) and `/{repo}/resolve/main/{file}` with the headers and byte ranges the hub
//! sends — not a mock of the client. One test function: it sets process-wide environment variables
//! (`HF_ENDPOINT`, `HF_HUB_CACHE`, `HF_HUB_OFFLINE`).
#![cfg(feature = "hub")]

mod common;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use common::*;
use sbert::{EncodeOptions, SentenceTransformer};

const REPO: &str = "sbert-test/tiny-roberta";
const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

/// Every file under `root`, as hub names (`1_Pooling/config.json`).
fn files(root: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(
                    p.strip_prefix(root)
                        .unwrap()
                        .to_string_lossy()
                        .replace('\\', "/"),
                );
            }
        }
    }
    out.sort();
    out
}

/// Answers one HTTP/1.1 request as the hub would, then closes the connection.
fn serve(mut stream: TcpStream, root: &std::path::Path, log: &Mutex<Vec<String>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
    let mut range_start: Option<u64> = None;
    let mut range_end: Option<u64> = None;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
            break;
        }
        if let Some(v) = h.to_ascii_lowercase().strip_prefix("range: bytes=") {
            let (a, b) = v.trim().split_once('-').unwrap_or((v.trim(), ""));
            range_start = a.parse().ok();
            range_end = b.parse().ok();
        }
    }
    log.lock().unwrap().push(path.clone());
    let respond =
        |stream: &mut TcpStream, status: &str, headers: &[(String, String)], body: &[u8]| {
            let mut head = format!(
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n",
                body.len()
            );
            for (k, v) in headers {
                head.push_str(&format!("{k}: {v}\r\n"));
            }
            head.push_str("\r\n");
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(body);
        };
    let api = format!("/api/models/{REPO}/revision/main");
    let resolve = format!("/{REPO}/resolve/main/");
    if path == api {
        let siblings: Vec<_> = files(root)
            .into_iter()
            .map(|f| serde_json::json!({ "rfilename": f }))
            .collect();
        let body = serde_json::json!({ "sha": COMMIT, "siblings": siblings }).to_string();
        respond(
            &mut stream,
            "200 OK",
            &[("Content-Type".into(), "application/json".into())],
            body.as_bytes(),
        );
    } else if let Some(name) = path.strip_prefix(&resolve) {
        let file = root.join(name);
        let Ok(data) = std::fs::read(&file) else {
            respond(
                &mut stream,
                "404 Not Found",
                &[("X-Error-Code".into(), "EntryNotFound".into())],
                b"",
            );
            return;
        };
        let len = data.len() as u64;
        let etag = format!(
            "\"{:x}-{len}\"",
            data.iter()
                .fold(0u64, |h, &b| h.wrapping_mul(31).wrapping_add(b as u64))
        );
        let mut headers = vec![
            ("ETag".to_string(), etag),
            ("X-Repo-Commit".to_string(), COMMIT.to_string()),
        ];
        let start = range_start.unwrap_or(0).min(len);
        let end = range_end.map_or(len.saturating_sub(1), |e| e.min(len.saturating_sub(1)));
        let body = if len == 0 {
            &data[..]
        } else {
            &data[start as usize..=end as usize]
        };
        headers.push(("Content-Range".into(), format!("bytes {start}-{end}/{len}")));
        respond(&mut stream, "206 Partial Content", &headers, body);
    } else {
        respond(&mut stream, "404 Not Found", &[], b"");
    }
    let mut rest = Vec::new();
    let _ = reader.read_to_end(&mut rest);
}

#[test]
fn load_downloads_from_the_hub_layout_and_respects_the_environment() {
    // The tiny RoBERTa: weights only as pytorch_model.bin, as older hub repositories have them.
    let root: PathBuf = shared().join("golden/architectures/roberta");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let log = Arc::new(Mutex::new(Vec::new()));
    {
        let (root, log) = (root.clone(), log.clone());
        std::thread::spawn(move || {
            for s in listener.incoming().flatten() {
                let (root, log) = (root.clone(), log.clone());
                std::thread::spawn(move || serve(s, &root, &log));
            }
        });
    }
    let cache = temp_dir("hub-cache");
    std::env::set_var("HF_ENDPOINT", format!("http://127.0.0.1:{port}"));
    std::env::set_var("HF_HUB_CACHE", &cache);

    // Offline: a clear error, and no request reaches the server.
    std::env::set_var("HF_HUB_OFFLINE", "1");
    let err = SentenceTransformer::load(REPO).unwrap_err().to_string();
    assert!(err.contains("HF_HUB_OFFLINE"), "{err}");
    assert!(log.lock().unwrap().is_empty(), "offline load made requests");
    std::env::remove_var("HF_HUB_OFFLINE");

    // Online: the files land in the hub cache layout, and the model gives Python's numbers.
    let model = SentenceTransformer::load(REPO).unwrap_or_else(|e| panic!("download: {e}"));
    let snapshot = cache
        .join("models--sbert-test--tiny-roberta")
        .join("snapshots")
        .join(COMMIT);
    assert_eq!(model.path(), snapshot.as_path());
    for f in [
        "config.json",
        "modules.json",
        "pytorch_model.bin",
        "tokenizer.json",
        "1_Pooling/config.json",
    ] {
        assert!(snapshot.join(f).exists(), "{f} not downloaded");
    }
    assert_eq!(
        std::fs::read_to_string(cache.join("models--sbert-test--tiny-roberta/refs/main")).unwrap(),
        COMMIT
    );
    let g = golden("architectures/roberta.json");
    let texts: Vec<String> = serde_json::from_value(g["texts"].clone()).unwrap();
    let got = model
        .encode(&texts[..8], &EncodeOptions::default())
        .unwrap();
    for (row, want) in got.rows().zip(g["embeddings"].as_array().unwrap()) {
        assert!(max_abs_diff(row, &f32s(want)) <= 1e-5);
    }
    let requests = log.lock().unwrap().len();
    assert!(requests > 0);

    // A second load is served from the cache: no new request.
    SentenceTransformer::load(REPO).unwrap();
    assert_eq!(
        log.lock().unwrap().len(),
        requests,
        "cached model was downloaded again"
    );

    // A repository the server does not have: a clear error naming it.
    let err = SentenceTransformer::load("sbert-test/missing")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("sbert-test/missing") && err.contains("hub download"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&cache);
}
