//! # Course project, part 3: pretrained vs fine-tuned, with IR metrics
//!
//! The same queries through two models — the pretrained all-MiniLM-L6-v2 and the one fine-tuned in
//! notebook 05 (`target/lab/finetuned-scifact`) — evaluated with trec_eval's measures P@1, P@5,
//! nDCG@5, MRR and MAP; then the queries that gained and lost most, the best and the worst ones
//! with their text and top hits, and the ski-jump plot (each model's per-query nDCG@5, sorted).
//!
//! Python (the course's part 3 uses `ranx` or `pytrec_eval` on run files):
//! ```python
//! qrels = Qrels.from_file("qrel_1.tsv"); run = Run.from_file("result_tfidf_1.tsv")
//! evaluate(qrels, run, ["precision@1", "precision@5", "ndcg@5", "mrr", "map"])
//! ```
//! On SciFact (shipped in `../shared/data/`) and, with the same function, on the course's
//! StackExchange collection: topics and qrels from `../shared/data/cos470-travel-fall2024/`, the
//! answers from the file named by `SBERT_ANSWERS_JSON` (the course's `Answers.json`).
//! Run: `cargo run --release --example project_part3` after `fine_tuning` (mirrored by
//! `notebooks/06_project_part3.ipynb`).

use sbert::datasets::{scifact, stackexchange, RetrievalDataset};
use sbert::evaluation::retrieval::to_run;
use sbert::evaluation::{InformationRetrievalEvaluator, MeanComparison, Measure, RunComparison};
use sbert::prelude::*;

/// Both models on one collection: the mean of each course measure, and the per-query comparison
/// on nDCG@5 (best/worst queries, gains and losses, ski-jump plot).
fn compare_models(
    dataset: &RetrievalDataset,
    pretrained: &SentenceTransformer,
    finetuned: &SentenceTransformer,
) -> sbert::Result<(MeanComparison, RunComparison)> {
    // Embeddings are cached: the pretrained model's SciFact corpus comes back from notebook 04.
    let evaluator = InformationRetrievalEvaluator::new(dataset.clone())
        .measures(&Measure::course())
        .encode_options(EncodeOptions::default().cache_dir("target/lab/embeddings"));
    let run_a = evaluator.retrieve(pretrained)?;
    let run_b = evaluator.retrieve(finetuned)?;
    let means = MeanComparison::new(&[
        ("pretrained", &evaluator.evaluate_run(&run_a)),
        ("fine-tuned", &evaluator.evaluate_run(&run_b)),
    ]);
    let comparison = RunComparison::new(
        &evaluator.dataset.qrels,
        &to_run(&run_a),
        &to_run(&run_b),
        Measure::NdcgCut(5),
        1,
    )
    .names("pretrained", "fine-tuned")
    .with_texts(&evaluator.dataset.queries, &evaluator.dataset.corpus);
    Ok((means, comparison))
}

fn main() -> sbert::Result<()> {
    // # The two models
    let pretrained = SentenceTransformer::load("all-MiniLM-L6-v2")?;
    let finetuned = SentenceTransformer::load("target/lab/finetuned-scifact")?;

    // # SciFact test: the course's measures for both models
    // Each model encodes the 5,183 abstracts (a few minutes each on a laptop CPU; the pretrained
    // model's embeddings are read back from notebook 04's cache when it ran first).
    let data = sbert::datasets::shared_dir()?.join("data");
    let scifact_test = scifact::load_test(&data.join("beir-scifact"))?;
    let (means, comparison) = compare_models(&scifact_test, &pretrained, &finetuned)?;
    println!("{means}");

    // # Best and worst queries, and the ski-jump plot
    // Why a query does well or badly: read its text next to its top hits (✓ = judged relevant).
    // Typical failures: the claim uses other words than the abstract (a number, an abbreviation,
    // a negation), or the cited abstract is about a broader topic than the claim.
    let (gained, lost, same) = comparison.counts();
    println!("fine-tuning helped {gained} queries, hurt {lost}, left {same} unchanged (nDCG@5)");
    sbert::npy::write_atomic(
        std::path::Path::new("target/lab/ski_jump_scifact.svg"),
        comparison.ski_jump_svg().as_bytes(),
    )?;
    println!("{comparison}");

    // # The same code on the course's StackExchange collection (Travel)
    // Set SBERT_ANSWERS_JSON to the course's Answers.json; topics and qrels come from the shared data.
    let travel = data.join("cos470-travel-fall2024");
    match std::env::var_os("SBERT_ANSWERS_JSON") {
        Some(answers) => {
            let dataset = stackexchange::load(std::path::Path::new(&answers), &travel.join("topics_1.json"), Some(&travel.join("qrel_1.tsv")))?;
            let (travel_means, travel_comparison) = compare_models(&dataset, &pretrained, &finetuned)?;
            println!("{travel_means}");
            println!("{travel_comparison}");
        }
        None => println!("SBERT_ANSWERS_JSON is not set: the Travel answers (Answers.json) are not shipped here; set it to run this cell on them."),
    }
    Ok(())
}
