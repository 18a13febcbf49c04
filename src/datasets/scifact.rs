//! SciFact as shipped in `scifact.zip` (`corpus_train.csv`, `claims_train.csv`, …) plus the BEIR
//! test topics and qrels beside it.
//!
//! The `abstract` column is a numpy repr of a string array, `['s1'\n 's2' "s3"]`, with **no commas**:
//! each literal is one sentence; they are joined with one space. Document text =
//! `(title + " " + abstract).strip()`.

use std::io::Read;
use std::path::Path;

use super::text::{parse_csv, parse_str_list};
use super::{trec, Document, RetrievalDataset};
use crate::core::{Error, Result};

/// Reads one member of a zip archive as UTF-8 text.
pub fn read_zip_member(zip_path: &Path, member: &str) -> Result<String> {
    let f = std::fs::File::open(zip_path)
        .map_err(|e| Error::io(format!("opening {}", zip_path.display()), e))?;
    let mut z = zip::ZipArchive::new(f).map_err(|e| {
        Error::InvalidInput(format!(
            "{}: not a readable zip file: {e}",
            zip_path.display()
        ))
    })?;
    let mut entry = z.by_name(member).map_err(|e| {
        Error::InvalidInput(format!("{}: no member {member}: {e}", zip_path.display()))
    })?;
    let mut s = String::new();
    entry
        .read_to_string(&mut s)
        .map_err(|e| Error::io(format!("reading {member} from {}", zip_path.display()), e))?;
    Ok(s)
}

fn columns<'a>(header: &'a [String], want: &[&str], what: &str) -> Result<Vec<usize>> {
    want.iter()
        .map(|w| {
            header.iter().position(|h| h.trim() == *w).ok_or_else(|| {
                Error::InvalidInput(format!("{what}: no column '{w}' in header {header:?}"))
            })
        })
        .collect()
}

/// The 5,183 documents of `corpus_train.csv`, in file order (abstract only in `text`).
pub fn read_corpus(zip_path: &Path) -> Result<Vec<Document>> {
    let what = format!("{}/corpus_train.csv", zip_path.display());
    let rows = parse_csv(&read_zip_member(zip_path, "corpus_train.csv")?, &what)?;
    let (_, header) = rows
        .first()
        .ok_or_else(|| Error::InvalidInput(format!("{what}: empty")))?;
    let c = columns(header, &["doc_id", "title", "abstract"], &what)?;
    rows[1..]
        .iter()
        .map(|(line, r)| {
            let get = |i: usize| {
                r.get(c[i])
                    .ok_or_else(|| Error::InvalidInput(format!("{what}:{line}: too few columns")))
            };
            let sentences = parse_str_list(get(2)?).ok_or_else(|| {
                Error::InvalidInput(format!(
                    "{what}:{line}: abstract is not a list of quoted sentences"
                ))
            })?;
            Ok(Document {
                id: get(0)?.trim().to_string(),
                title: get(1)?.to_string(),
                text: sentences.join(" "),
            })
        })
        .collect()
}

/// A training claim with the documents it cites.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// Claim id.
    pub id: String,
    /// The claim (the query).
    pub claim: String,
    /// Ids of the cited documents (`cited_doc_ids`, a numpy repr such as `[ 5152028 11705328]`).
    pub cited_doc_ids: Vec<String>,
}

/// The rows of `claims_train.csv` (1,261 rows for 809 claims; one row per evidence document).
pub fn read_claims(zip_path: &Path, member: &str) -> Result<Vec<Claim>> {
    let what = format!("{}/{member}", zip_path.display());
    let rows = parse_csv(&read_zip_member(zip_path, member)?, &what)?;
    let (_, header) = rows
        .first()
        .ok_or_else(|| Error::InvalidInput(format!("{what}: empty")))?;
    let c = columns(header, &["id", "claim", "cited_doc_ids"], &what)?;
    rows[1..]
        .iter()
        .map(|(line, r)| {
            let get = |i: usize| {
                r.get(c[i])
                    .ok_or_else(|| Error::InvalidInput(format!("{what}:{line}: too few columns")))
            };
            let cited = get(2)?
                .split(|ch: char| !ch.is_ascii_digit())
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect();
            Ok(Claim {
                id: get(0)?.trim().to_string(),
                claim: get(1)?.to_string(),
                cited_doc_ids: cited,
            })
        })
        .collect()
}

/// Claims as a retrieval collection over `corpus`: one query per claim (first occurrence order),
/// judged relevant (grade 1) the cited documents that are in the corpus; claims citing none of
/// them are left out. For validation splits of the train claims.
pub fn claims_dataset(claims: &[Claim], corpus: &[Document]) -> super::RetrievalDataset {
    let ids: std::collections::HashSet<&str> = corpus.iter().map(|d| d.id.as_str()).collect();
    let mut queries = Vec::new();
    let mut qrels = super::qrels::Qrels::new();
    for c in claims {
        let cited: Vec<&String> = c
            .cited_doc_ids
            .iter()
            .filter(|d| ids.contains(d.as_str()))
            .collect();
        if cited.is_empty() {
            continue;
        }
        if !qrels.contains_key(&c.id) {
            queries.push(super::Query {
                id: c.id.clone(),
                text: c.claim.clone(),
            });
        }
        let judged = qrels.entry(c.id.clone()).or_default();
        for d in cited {
            judged.insert(d.clone(), 1);
        }
    }
    super::RetrievalDataset {
        corpus: corpus.to_vec(),
        queries,
        qrels,
    }
}

/// The training positives: (claim id, claim, cited document id) for every cited document present
/// in `corpus`, each (claim, document) once, in file order (919 pairs from 809 claims for SciFact).
pub fn train_positives(claims: &[Claim], corpus: &[Document]) -> Vec<(String, String, String)> {
    let ids: std::collections::HashSet<&str> = corpus.iter().map(|d| d.id.as_str()).collect();
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for c in claims {
        for d in &c.cited_doc_ids {
            if ids.contains(d.as_str()) && seen.insert((c.id.as_str(), d.as_str())) {
                out.push((c.id.clone(), c.claim.clone(), d.clone()));
            }
        }
    }
    out
}

/// SciFact's `split` (`train`: the 809 training claims; `test`: BEIR's 300 test claims) from
/// either layout the lab's data folder may hold in `dir`:
/// - BEIR's download: `corpus.jsonl`, `queries.jsonl`, `qrels/{split}.tsv` (queries without
///   judgements in the split are left out);
/// - SciFact as the course ships it: `scifact.zip` (its `claims_train.csv` for train), with
///   Anserini's `topics…test.tsv.gz` and `qrels…test.txt` for test.
pub fn load(dir: &Path, split: &str) -> Result<RetrievalDataset> {
    if dir.join("corpus.jsonl").is_file() {
        return Ok(super::beir::load_dir(dir, split)?.judged_queries_only());
    }
    match split {
        "test" => load_test(dir),
        "train" => {
            let zip = dir.join("scifact.zip");
            let corpus = read_corpus(&zip)?;
            Ok(claims_dataset(
                &read_claims(&zip, "claims_train.csv")?,
                &corpus,
            ))
        }
        other => Err(Error::InvalidInput(format!(
            "SciFact has the splits train and test, not {other:?}"
        ))),
    }
}

/// The BEIR SciFact test collection from `../shared/data/beir-scifact/` (or another folder with
/// `scifact.zip`, `topics.beir-v1.0.0-scifact.test.tsv.gz` and `qrels.beir-v1.0.0-scifact.test.txt`).
pub fn load_test(dir: &Path) -> Result<RetrievalDataset> {
    Ok(RetrievalDataset {
        corpus: read_corpus(&dir.join("scifact.zip"))?,
        queries: trec::read_topics_tsv(&dir.join("topics.beir-v1.0.0-scifact.test.tsv.gz"))?,
        qrels: trec::read_qrels(&dir.join("qrels.beir-v1.0.0-scifact.test.txt"))?,
    })
}
