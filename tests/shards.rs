//! Shard folders: `encode_to_shards` writes what `encode` computes, shard by shard; a folder
//! resumes after an interrupted run; `semantic_search_sharded` over the memory-mapped shards
//! equals `semantic_search` over the whole corpus; other folders are refused and left alone.

mod common;

use sbert::core::shards::{ShardWriter, ShardedEmbeddings, MANIFEST_FILE};
use sbert::prelude::*;
use sbert::util::semantic_search_sharded;

fn sentences() -> Vec<String> {
    let words = [
        "A man is eating food.",
        "A man is eating a piece of bread.",
        "The girl is carrying a baby.",
        "A man is riding a horse.",
        "A woman is playing violin.",
        "Two men pushed carts through the woods.",
        "A man is riding a white horse on an enclosed ground.",
        "A monkey is playing drums.",
        "A cheetah is running behind its prey.",
    ];
    (0..23)
        .map(|i| format!("{} ({i})", words[i % words.len()]))
        .collect()
}

#[test]
fn shards_hold_what_encode_computes_and_search_equals_the_whole() {
    let model = common::model();
    let texts = sentences();
    let dir = common::temp_dir("shards").join("corpus");
    let opts = EncodeOptions::default();
    let shards = model.encode_to_shards(&texts, &dir, 5, &opts).unwrap();
    assert_eq!(
        (shards.len(), shards.dim(), shards.shard_count()),
        (23, 384, 5)
    );
    shards.verify().unwrap();
    // Each shard is `encode` of its rows.
    for i in 0..shards.shard_count() {
        let (start, values) = shards.shard(i).unwrap();
        let rows = values.len() / 384;
        let want = model.encode(&texts[start..start + rows], &opts).unwrap();
        assert_eq!(values, want.as_slice(), "shard {i}");
    }
    // The search over the shards equals the search over all rows at once.
    let all = shards.rows(0..23).unwrap();
    let queries = model
        .encode(&["Someone is eating.", "An animal runs.", "Music."], &opts)
        .unwrap();
    for top_k in [1, 4, 10, 30] {
        for score in [ScoreFunction::Cosine, ScoreFunction::Dot] {
            let options = SearchOptions::default().top_k(top_k).score_function(score);
            let got = semantic_search_sharded(&queries, &shards, &options).unwrap();
            let want = semantic_search(&queries, &all, &options).unwrap();
            for (g, w) in got.iter().zip(want.iter()) {
                assert_eq!(g.len(), w.len().min(top_k));
                for (a, b) in g.iter().zip(w) {
                    assert_eq!(a.corpus_id, b.corpus_id, "top_k {top_k} {score}");
                    assert!((a.score - b.score).abs() < 1e-6);
                }
            }
        }
    }
    // Duplicated rows across shards tie: the lower corpus_id first, as in one search.
    let twice: Vec<String> = texts.iter().chain(texts.iter()).cloned().collect();
    let dir2 = common::temp_dir("shards-ties").join("corpus");
    let doubled = model.encode_to_shards(&twice, &dir2, 7, &opts).unwrap();
    let hits =
        semantic_search_sharded(&queries, &doubled, &SearchOptions::default().top_k(2)).unwrap();
    for h in hits.iter() {
        assert_eq!(h[1].corpus_id, h[0].corpus_id + 23);
        assert_eq!(h[0].score, h[1].score);
    }
}

#[test]
fn an_interrupted_folder_resumes_and_others_are_refused() {
    let model = common::model();
    let texts = sentences();
    let opts = EncodeOptions::default();
    let base = common::temp_dir("shards-resume");
    let dir = base.join("corpus");
    // A run that stopped after two of five shards (the manifest lists them).
    let done = model
        .encode_to_shards(&texts[..10], &base.join("first10"), 5, &opts)
        .unwrap();
    {
        let header = ShardedEmbeddings::open(&base.join("first10"))
            .unwrap()
            .manifest()
            .clone();
        let mut header = header;
        header.rows = 23;
        header.texts_sha256 = sbert::core::shards::texts_sha256(&texts);
        let mut writer = ShardWriter::open(&dir, header).unwrap();
        assert_eq!(writer.next_range(), Some(0..5));
        writer.append(&done.rows(0..5).unwrap()).unwrap();
        writer.append(&done.rows(5..10).unwrap()).unwrap();
        assert_eq!(writer.next_range(), Some(10..15));
    }
    assert!(ShardedEmbeddings::open(&dir)
        .unwrap_err()
        .to_string()
        .contains("10 of 23 rows"));
    let first = std::fs::read(dir.join("shard-00000.npy")).unwrap();
    let resumed = model.encode_to_shards(&texts, &dir, 5, &opts).unwrap();
    assert_eq!(resumed.len(), 23);
    assert_eq!(std::fs::read(dir.join("shard-00000.npy")).unwrap(), first);
    let fresh = model
        .encode_to_shards(&texts, &base.join("fresh"), 5, &opts)
        .unwrap();
    assert_eq!(
        resumed.rows(0..23).unwrap().as_slice(),
        fresh.rows(0..23).unwrap().as_slice()
    );

    // Another corpus, another shard size, or other options in that folder: refused, unchanged.
    let manifest = std::fs::read(dir.join(MANIFEST_FILE)).unwrap();
    for (t, size, o) in [
        (&texts[..20], 5, opts.clone()),
        (&texts[..], 4, opts.clone()),
        (&texts[..], 5, opts.clone().normalize_embeddings(true)),
    ] {
        let err = model.encode_to_shards(t, &dir, size, &o).unwrap_err();
        assert!(err.to_string().contains("another corpus"), "{err}");
    }
    assert_eq!(std::fs::read(dir.join(MANIFEST_FILE)).unwrap(), manifest);

    // A shard changed after it was written: found, nothing overwritten.
    let shard = dir.join("shard-00001.npy");
    let mut bytes = std::fs::read(&shard).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&shard, &bytes).unwrap();
    let err = model.encode_to_shards(&texts, &dir, 5, &opts).unwrap_err();
    assert!(err.to_string().contains("changed"), "{err}");
    assert!(ShardedEmbeddings::open(&dir).unwrap().verify().is_err());

    // A folder of the user's own files is refused and left alone.
    let mine = base.join("mine");
    std::fs::create_dir_all(&mine).unwrap();
    std::fs::write(mine.join("notes.txt"), b"mine").unwrap();
    let err = model.encode_to_shards(&texts, &mine, 5, &opts).unwrap_err();
    assert!(err.to_string().contains("not sbert shards"), "{err}");
    assert_eq!(std::fs::read_dir(&mine).unwrap().count(), 1);
    // Shard size 0, quantized options, a folder without a manifest: clear errors.
    assert!(model
        .encode_to_shards(&texts, &base.join("zero"), 0, &opts)
        .is_err());
    let q = opts.clone().precision(sbert::util::Precision::Binary);
    assert!(model
        .encode_to_shards(&texts, &base.join("q"), 5, &q)
        .is_err());
    assert!(ShardedEmbeddings::open(&mine).is_err());
    // A query of another dimension.
    let other = Embeddings::random_unit(1, 7, 1).unwrap();
    assert!(semantic_search_sharded(&other, &resumed, &SearchOptions::default()).is_err());
}

#[test]
fn cli_search_over_shards_ranks_as_the_plain_search() {
    let dir = common::temp_dir("shards-cli");
    let texts = sentences();
    let corpus: String = texts
        .iter()
        .enumerate()
        .map(|(i, t)| format!("d{i}\t{t}\n"))
        .collect();
    std::fs::write(dir.join("corpus.tsv"), corpus).unwrap();
    std::fs::write(
        dir.join("queries.tsv"),
        "q1\tSomeone is eating.\nq2\tAn animal runs.\nq3\tMusic.\n",
    )
    .unwrap();
    let p = |name: &str| dir.join(name).to_str().unwrap().to_string();
    let run = |args: &[&str]| {
        let out = common::sbert(args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&[
        "encode",
        "--corpus",
        &p("corpus.tsv"),
        "--output-dir",
        &p("shards"),
        "--shard-size",
        "4",
    ]);
    let (corpus_path, queries_path) = (p("corpus.tsv"), p("queries.tsv"));
    let search = |extra: &[&str], out: &str| {
        let mut args = vec![
            "search",
            "--corpus",
            &corpus_path,
            "--queries",
            &queries_path,
            "--top-k",
            "7",
            "--run",
        ];
        let out = p(out);
        args.push(&out);
        args.extend_from_slice(extra);
        let o = common::sbert(&args);
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stderr).to_string(),
            std::fs::read_to_string(&out).ok(),
        )
    };
    let shards_dir = p("shards");
    let (code, err, sharded) = search(&["--corpus-embeddings", &shards_dir], "sharded.run");
    assert_eq!(code, Some(0), "{err}");
    let (_, _, plain) = search(&[], "plain.run");
    let ranking = |run: &str| -> Vec<(String, String)> {
        run.lines()
            .map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                (f[0].to_string(), f[2].to_string())
            })
            .collect()
    };
    assert_eq!(ranking(&sharded.unwrap()), ranking(&plain.unwrap()));
    // The shards of another corpus are refused.
    std::fs::write(dir.join("corpus.tsv"), "d0\tSomething else.\n").unwrap();
    let (code, err, _) = search(&["--corpus-embeddings", &shards_dir], "other.run");
    assert_eq!(code, Some(2));
    assert!(err.contains("another corpus"), "{err}");
}
