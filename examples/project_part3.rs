//! # Course project, part 3: pretrained vs fine-tuned, with IR metrics
//!
//! The same test topics through two models — the pretrained all-MiniLM-L6-v2 and the one
//! fine-tuned in notebook 05 (`target/lab/finetuned-scifact`) — evaluated with the course's
//! measures P@1, P@5, nDCG@5, MRR and MAP (trec_eval's numbers); then the queries that gained and
//! lost most, the best and the worst ones with their text and top hits, and the ski-jump plot
//! (each model's per-query nDCG@5, sorted). Then the rest of a report, as the course's projects
//! build it: a BM25 first stage (tantivy), BM25 fused with the dense run (RRF, CombSUM), BM25
//! re-ranked by notebook 04's cross-encoder, all of them side by side with significance marks
//! (as text, Markdown and LaTeX), the randomization test, more trec_eval measures, the
//! cross-encoder reranking evaluator, and the project plumbing: topic templates with `[TITLE]` /
//! `[BODY]` special tokens, graded labels and `CoSENTLoss`.
//!
//! Python (the course's part 3 uses `ranx` or `pytrec_eval` on run files):
//! ```python
//! qrels = Qrels.from_file("qrel_1.tsv"); run = Run.from_file("result_finetuned_1.tsv")
//! evaluate(qrels, run, ["precision@1", "precision@5", "ndcg@5", "mrr", "map"])
//! ```
//! The collection is the one notebook 05 trained on: SciFact written in the course's layout
//! (`Answers.json`; topic set 1 to train and validate on, topic set 2 — `topics_2.json`,
//! `qrel_2.tsv`, SciFact's 300 test claims — to test on, never trained on). With the course's own
//! files, point `course` at their folder.
//! Run: `cargo run --release --example project_part3` after `fine_tuning` (mirrored by
//! `notebooks/06_project_part3.ipynb`).

use std::ops::ControlFlow;

use sbert::bm25::{Analyzer, Bm25Index, Bm25Options};
use sbert::cross_encoder::{
    rerank_run, CrossEncoder, CrossEncoderRerankingEvaluator, PredictOptions,
};
use sbert::datasets::stackexchange;
use sbert::evaluation::retrieval::to_run;
use sbert::evaluation::{
    evaluate, fuse, Evaluator, FuseOptions, FusionMethod, InformationRetrievalEvaluator,
    MeanComparison, Measure, Norm, Report, ReportOptions, RunComparison,
};
use sbert::losses::CoSENTLoss;
use sbert::prelude::*;
use sbert::train::{fit, DataLoader, FitConfig, InputExample, Objective, SentencesDataset};

fn main() -> sbert::Result<()> {
    // # The two models
    let pretrained = SentenceTransformer::load("all-MiniLM-L6-v2")?;
    let finetuned = SentenceTransformer::load("target/lab/finetuned-scifact")?;

    // # The test topics: topic set 2, which notebook 05 never saw
    let course = std::path::PathBuf::from("target/lab/scifact-course");
    let test = stackexchange::load(
        &course.join("Answers.json"),
        &course.join("topics_2.json"),
        Some(&course.join("qrel_2.tsv")),
    )?;
    println!(
        "{} test topics, {} answers",
        test.queries.len(),
        test.corpus.len()
    );

    // # Both models' runs: the top 100 answers of every test topic
    // Each model's embeddings of the 5,183 answers are read back from `target/lab/embeddings`
    // (notebooks 04 and 05 made them; without them, each takes a few minutes on a laptop CPU).
    let evaluator = InformationRetrievalEvaluator::new(test)
        .measures(&Measure::course())
        .encode_options(EncodeOptions::default().cache_dir("target/lab/embeddings"));
    let run_pretrained = evaluator.retrieve(&pretrained)?;
    let run_finetuned = evaluator.retrieve(&finetuned)?;

    // # The course's measures for both models
    // Measured on SciFact's 300 test claims: the fine-tuned model ranks better at the top and
    // over the whole list — P@1 0.5033 → 0.5267, MRR 0.6110 → 0.6264, MAP 0.6031 → 0.6174,
    // nDCG@10 0.6451 → 0.6618 (+0.0167; the README's `finetune_scifact` +0.0172, Python +0.0210)
    // — while nDCG@5 stays level (0.6293 → 0.6303) and P@5 drops a little. One gentle epoch on
    // 827 pairs moves a model trained on a billion pairs only a little: the next cell says how
    // sure these differences are.
    let means = MeanComparison::new(&[
        ("pretrained", &evaluator.evaluate_run(&run_pretrained)),
        ("fine-tuned", &evaluator.evaluate_run(&run_finetuned)),
    ]);
    println!("{means}");

    // # Is the difference more than chance?
    // A paired t-test per measure over the test topics (Python: `scipy.stats.ttest_rel` on the
    // per-query values, as `ranx.compare` does): p is how often two equally good models would
    // differ this much on these topics; below 0.05 is the usual bar for "significant". Measured:
    // nDCG@10 p = 0.026, P@1 0.071, MRR 0.069, MAP 0.091, nDCG@5 0.90 — a consistent but small
    // gain, significant on 300 topics for nDCG@10 only; a report should say exactly that.
    let (qrels, run_a, run_b) = (
        evaluator.dataset.qrels.clone(),
        to_run(&run_pretrained),
        to_run(&run_finetuned),
    );
    for measure in [
        Measure::P(1),
        Measure::NdcgCut(5),
        Measure::NdcgCut(10),
        Measure::RecipRank,
        Measure::Map,
    ] {
        let c = RunComparison::new(&qrels, &run_a, &run_b, measure, 1);
        println!(
            "{:12} {:.4} → {:.4} ({:+.4})  {}",
            measure.to_string(),
            c.mean.0,
            c.mean.1,
            c.mean.1 - c.mean.0,
            c.t_test()
        );
    }

    // # Query by query: who gained, who lost
    // The best and worst tables are ordered by the model's nDCG@5 and, among equal values, by the
    // difference between the two models: the queries where fine-tuning changed something first.
    let comparison = RunComparison::new(&qrels, &run_a, &run_b, Measure::NdcgCut(5), 1)
        .names("pretrained", "fine-tuned")
        .with_texts(&evaluator.dataset.queries, &evaluator.dataset.corpus);
    let (gained, lost, same) = comparison.counts();
    println!("fine-tuning helped {gained} queries, hurt {lost}, left {same} unchanged (nDCG@5)");
    sbert::npy::write_atomic(
        std::path::Path::new("target/lab/ski_jump_scifact.svg"),
        comparison.ski_jump_svg().as_bytes(),
    )?;
    println!("{comparison}");

    // # The query that gained most, explained
    // Read the claim, the abstracts judged relevant, and what each model ranked first. Typical
    // reasons: the claim uses other words than the abstract (a number, an abbreviation, a
    // negation), or the relevant abstract is about a broader topic than the claim.
    let most_gained = comparison
        .gained(1)
        .first()
        .map(|r| r.qid.clone())
        .unwrap_or_default();
    let best_gain = comparison.explain(&most_gained);
    println!("{best_gain}");

    // # The query that lost most, explained
    let most_lost = comparison
        .lost(1)
        .first()
        .map(|r| r.qid.clone())
        .unwrap_or_default();
    let worst_loss = comparison.explain(&most_lost);
    println!("{worst_loss}");

    // # A lexical first stage: BM25
    // The project's earlier parts ranked with BM25 (PyTerrier's `pt.BatchRetrieve(index,
    // wmodel="BM25")`). sbert indexes the answers with tantivy, using Lucene's English analysis
    // (lower case, stop words, Snowball stemming) and BM25 with k1 0.9, b 0.4 as Anserini's BEIR
    // runs. The index is written to `target/lab/bm25-scifact` and reopened in a later session with
    // `Bm25Index::open`. The first line shows what BM25 sees of the first test claim.
    let started = std::time::Instant::now();
    let bm25_index = Bm25Index::build(
        std::path::Path::new("target/lab/bm25-scifact"),
        &evaluator.dataset.corpus,
        &Analyzer::default(),
    )?;
    println!(
        "{:?}",
        bm25_index
            .analyzer()
            .analyze(&evaluator.dataset.queries[0].text)
    );
    println!(
        "indexed {} answers in {:.2} s, {:.1} MB on disk",
        bm25_index.len(),
        started.elapsed().as_secs_f64(),
        bm25_index.size_bytes() as f64 / 1e6
    );
    let run_bm25 = bm25_index.search_all(
        &evaluator.dataset.queries,
        &Bm25Options::default().top_k(100),
    )?;

    // # Hybrid retrieval: fuse BM25 with the dense run
    // BM25 matches words, the bi-encoder meaning: they fail on different claims, so fusing their
    // runs helps. Reciprocal rank fusion adds 1 / (60 + rank) over the runs; CombSUM adds the
    // scores, each min-max normalised per query first (Python: `ranx.fuse(runs, norm="min-max",
    // method="sum")`).
    let (bm25_run, dense_run) = (to_run(&run_bm25), to_run(&run_finetuned));
    let rrf = fuse(&[&bm25_run, &dense_run], &FuseOptions::default())?;
    let combsum = fuse(
        &[&bm25_run, &dense_run],
        &FuseOptions::default()
            .method(FusionMethod::Sum)
            .norm(Norm::MinMax),
    )?;

    // # Re-ranking the BM25 run with the cross-encoder of notebook 04
    // Any first stage can be re-ranked, as the students re-ranked PyTerrier's BM25: the
    // cross-encoder trained in notebook 04 (`target/lab/reranker-scifact`) re-scores each claim's
    // BM25 top 10; the rest of the top 100 keeps BM25's order. In the lab that cross-encoder has
    // trained 60 steps (`SBERT_FULL=1` runs its whole epoch), and alone it is a weak ranker: the
    // table below shows it, as notebook 04 showed it on the bi-encoder's run. With a strong
    // cross-encoder (a pretrained MS MARCO one, downloaded where there is internet) this is the
    // step that gains most.
    let cross_encoder = CrossEncoder::load("target/lab/reranker-scifact")?;
    // The activation `predict` applies is read from the model's config as Python reads it
    // (`activation_fn`, or MS MARCO's `sbert_ce_default_activation_function`: Identity gives raw
    // logits); re-ranking only needs the order, so it asks for logits.
    println!(
        "activation from the config: {:?}",
        cross_encoder.activation()
    );
    let corpus_text: std::collections::HashMap<String, String> = evaluator
        .dataset
        .corpus
        .iter()
        .map(|d| (d.id.clone(), d.contents()))
        .collect();
    let bm25_reranked = rerank_run(
        &cross_encoder,
        &evaluator.dataset.queries,
        &run_bm25,
        |id| corpus_text.get(id).cloned(),
        10,
        &PredictOptions {
            apply_activation: false,
            ..Default::default()
        },
    )?;

    // # BM25, dense, hybrid and re-ranked side by side, with significance marks
    // The table a report needs: each system's means, and after a mean the letters of the systems
    // it beats significantly (paired t-test over the 300 claims, p < 0.05), as `ranx.compare`
    // prints it. Measured: BM25 nDCG@10 0.6830 beats both dense models (0.6451, 0.6618); fusing
    // BM25 with the fine-tuned model beats every single system (RRF 0.7244, CombSUM 0.7479); the
    // weak cross-encoder alone falls to 0.3917. The measures are given by the names students bring: ranx's (`ndcg@10`,
    // `precision@5`, `mrr`), PyTerrier's (`AP`, `R@100`); trec_eval's (`ndcg_cut_10`, `P_5`) work
    // too.
    let measures = ["ndcg@10", "precision@5", "mrr", "AP", "R@100"]
        .iter()
        .map(|name| name.parse())
        .collect::<sbert::Result<Vec<Measure>>>()?;
    let report = Report::new(
        &qrels,
        &[
            ("BM25", &bm25_run),
            ("pretrained", &run_a),
            ("fine-tuned", &dense_run),
            ("BM25 + fine-tuned (RRF)", &rrf),
            ("BM25 + fine-tuned (CombSUM)", &combsum),
            ("BM25 → cross-encoder", &to_run(&bm25_reranked)),
        ],
        &ReportOptions {
            measures,
            ..Default::default()
        },
    )?;
    println!("{report}");

    // # The same table for the report: Markdown and LaTeX
    // Paste one into the report (the LaTeX needs `\usepackage{booktabs}`).
    println!("{}", report.to_markdown());
    println!("{}", report.to_latex());

    // # A second opinion: the randomization test
    // The t-test assumes the per-query differences are roughly normal; Fisher's randomization
    // test does not (it swaps the two systems' values on random claims, 100,000 times). For
    // fine-tuned against pretrained on nDCG@10 they agree: p = 0.026 and 0.025.
    let ndcg10 = RunComparison::new(&qrels, &run_a, &dense_run, Measure::NdcgCut(10), 1);
    println!("{}", ndcg10.t_test());
    println!("{}", ndcg10.randomization_test()?);

    // # trec_eval's other measures
    // What `trec_eval -m all_trec` prints beyond the course's measures, e.g. the geometric mean
    // AP, R-precision, interpolated precision at recall 0.5 and the relevant documents found.
    let extra = [
        "gm_map",
        "Rprec",
        "iprec_at_recall_0.50",
        "num_rel_ret",
        "num_rel",
    ]
    .iter()
    .map(|name| name.parse())
    .collect::<sbert::Result<Vec<Measure>>>()?;
    let extra_means = MeanComparison::new(&[
        ("BM25", &evaluate(&qrels, &bm25_run, &extra, 1)),
        ("fine-tuned", &evaluate(&qrels, &dense_run, &extra, 1)),
    ]);
    println!("{extra_means}");

    // # Monitoring a cross-encoder as Python's CrossEncoderRerankingEvaluator does
    // Samples of `{query, positive, documents}` from the BM25 run (its top 10 of the first 100
    // claims, relevant answers judged by the qrels): the cross-encoder re-orders each list, and
    // MAP, MRR@10 and nDCG@10 are reported before (`base_`) and after, as Python's evaluator
    // does when `fit` monitors a cross-encoder. Here the weak cross-encoder takes nDCG@10 from
    // BM25's 0.728 to 0.481: the evaluator says at a glance whether re-ranking helps.
    let ce_evaluator = CrossEncoderRerankingEvaluator::from_run(
        &evaluator.dataset,
        &run_bm25[..100].to_vec(),
        10,
    )?
    .name("bm25-top10");
    let ce_report = ce_evaluator.evaluate(&cross_encoder)?;
    println!("{ce_report}");

    // # Query text from a template, with marker tokens
    // Two of the course's projects wrote each topic as `[TITLE] title [BODY] body` and added the
    // markers to the tokenizer as special tokens, so that they stay single tokens (Python:
    // `tokenizer.add_tokens(["[TITLE]", "[BODY]"], special_tokens=True)` then
    // `resize_token_embeddings(len(tokenizer))`). The new embedding rows start as the mean row
    // and are learnt in fine-tuning; `save` writes the grown tokenizer, so Python loads the model.
    // (SciFact's topics have no body.)
    let marked = stackexchange::load_with_template(
        &course.join("Answers.json"),
        &course.join("topics_1.json"),
        Some(&course.join("qrel_1.tsv")),
        stackexchange::templates::MARKED,
    )?;
    let mut marked_model = SentenceTransformer::load("all-MiniLM-L6-v2")?;
    let before = marked_model.tokenize(&[marked.queries[0].text.as_str()])?[0].len();
    let added = marked_model.add_tokens(&["[TITLE]", "[BODY]"], true)?;
    marked_model.resize_token_embeddings(marked_model.tokenizer_len())?;
    let after = marked_model.tokenize(&[marked.queries[0].text.as_str()])?[0].len();
    println!("{:?}", marked.queries[0].text);
    println!(
        "{added} tokens added, vocabulary {}; the query is {before} tokens before, {after} after",
        marked_model.tokenizer_len()
    );

    // # Graded labels and CoSENTLoss
    // The course's qrels grade answers 0, 1 or 2; projects turned them into training labels
    // grade / max grade (2 → 1.0, 1 → 0.5), trained with a loss that takes graded labels:
    // `CosineSimilarityLoss` or `CoSENTLoss`. SciFact grades every judged answer 1, so every label
    // here is 1.0 and the random answers of notebook 05 (label 0) are added to contrast them.
    // Twenty steps show the loop (their per-batch losses are noise around the start); notebook
    // 05's `fit` is the full recipe. The model, with its markers, is saved to
    // `target/lab/marked-cosent`.
    let graded = marked.graded_examples(None, marked.grade_over_max());
    let negatives: Vec<InputExample> = marked
        .training_pairs(&Default::default(), 42)?
        .into_iter()
        .filter(|e| e.label == 0.0)
        .collect();
    println!(
        "{} graded pairs (label {}), {} random ones (label 0)",
        graded.len(),
        graded[0].label,
        negatives.len()
    );
    let cosent_samples: Vec<InputExample> = graded.into_iter().chain(negatives).collect();
    let cosent_loader = DataLoader::new(SentencesDataset::new(cosent_samples, &marked_model), 16);
    let cosent = CoSENTLoss::default();
    let cosent_log = fit(
        &mut marked_model,
        &[Objective {
            loader: cosent_loader,
            loss: &cosent,
        }],
        &FitConfig {
            max_steps: Some(20),
            max_seq_length: Some(128),
            output_path: Some("target/lab/marked-cosent".into()),
            ..FitConfig::default()
        },
        None,
        |_| ControlFlow::Continue(()),
    )?;
    let cosent_chart = cosent_log.loss_chart(&["CoSENTLoss"]);
    println!("{cosent_chart}");
    Ok(())
}
