//! `sbert convert`: data sets to BEIR jsonl, STS pairs to training jsonl.

use std::path::PathBuf;

use clap::Subcommand;

#[derive(Subcommand)]
pub enum ConvertKind {
    /// SciFact as shipped (scifact.zip + BEIR topics and qrels) → BEIR folder.
    Scifact {
        /// Folder with scifact.zip, topics.beir-v1.0.0-scifact.test.tsv.gz, qrels.beir-v1.0.0-scifact.test.txt.
        #[arg(long)]
        data_dir: PathBuf,
        #[arg(long)]
        out: PathBuf,
    },
    /// The course's StackExchange format (Answers.json, topics_N.json, qrel_N.tsv) → BEIR folder.
    Stackexchange {
        #[arg(long)]
        answers: PathBuf,
        #[arg(long)]
        topics: PathBuf,
        #[arg(long)]
        qrels: Option<PathBuf>,
        /// Each topic's query text: {title}, {body}, {tags}, {id} replaced (e.g. "{title}" or
        /// "[TITLE] {title} [BODY] {body}").
        #[arg(long, default_value = "{title} {body}")]
        template: String,
        #[arg(long)]
        out: PathBuf,
    },
    /// STS Benchmark TSV → jsonl `{"texts": [s1, s2], "label": score / 5}` (the training format).
    Sts {
        #[arg(long)]
        input: PathBuf,
        #[arg(long)]
        out: PathBuf,
    },
}

/// Runs `sbert convert …`.
pub fn convert(what: ConvertKind) -> sbert::Result<()> {
    match what {
        ConvertKind::Scifact { data_dir, out } => {
            let ds = sbert::datasets::scifact::load_test(&data_dir)?;
            write_beir(&ds, &out)?;
        }
        ConvertKind::Stackexchange {
            answers,
            topics,
            qrels,
            template,
            out,
        } => {
            let ds = sbert::datasets::stackexchange::load_with_template(
                &answers,
                &topics,
                qrels.as_deref(),
                &template,
            )?;
            write_beir(&ds, &out)?;
        }
        ConvertKind::Sts { input, out } => {
            let pairs = sbert::datasets::sts::read_sts(&input)?;
            sbert::datasets::sts::write_training_jsonl(&pairs, &out)?;
            eprintln!("wrote {} pairs to {}", pairs.len(), out.display());
        }
    }
    Ok(())
}

fn write_beir(ds: &sbert::datasets::RetrievalDataset, out: &std::path::Path) -> sbert::Result<()> {
    ds.write_beir(out)?;
    eprintln!(
        "wrote {} documents, {} queries to {}",
        ds.corpus.len(),
        ds.queries.len(),
        out.display()
    );
    Ok(())
}
