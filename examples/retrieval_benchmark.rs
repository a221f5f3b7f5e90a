//! The retrieval benchmark of the knowledge index on a BEIR dataset (corpus.jsonl,
//! queries.jsonl, qrels/<split>.tsv): index build time, nDCG@10, Recall@100, MRR@10 and query
//! latency percentiles.
//!
//! ```text
//! cargo run --release --example retrieval_benchmark -- ../shared/datasets/scifact --split test
//! cargo run --release --example retrieval_benchmark -- ../shared/datasets/scifact --split train --tune
//! ```
//!
//! `--tune` tries a grid of BM25 settings on the split and prints them best first: choose on
//! `train`, report `test`.

use std::path::PathBuf;
use std::process::ExitCode;

use anymodel::tools::eval::beir::Dataset;
use anymodel::tools::eval::benchmark;
use anymodel::tools::index::{Bm25, SearchSettings};
use clap::Parser;

/// Benchmarks the knowledge index on a BEIR dataset.
#[derive(Parser)]
struct Args {
    /// The dataset's folder.
    dataset: PathBuf,
    /// The split whose queries run (`test`, `train`, `dev`).
    #[arg(long, default_value = "test")]
    split: String,
    /// BM25 k1 (default: the index's default settings).
    #[arg(long)]
    k1: Option<f32>,
    /// BM25 b.
    #[arg(long)]
    b: Option<f32>,
    /// The weight of title matches.
    #[arg(long)]
    title_boost: Option<f32>,
    /// Indexing threads (0: one per core).
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Try a grid of settings on the split and print them best first (by nDCG@10).
    #[arg(long)]
    tune: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let settings = SearchSettings::overriding(args.k1, args.b, args.title_boost);
    let result = if args.tune { tune(&args) } else { run(&args, settings) };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args, settings: SearchSettings) -> anymodel::Result<()> {
    let report = benchmark::benchmark(&args.dataset, &args.split, settings, args.threads)?;
    println!("{report}");
    Ok(())
}

fn tune(args: &Args) -> anymodel::Result<()> {
    let dataset = Dataset::load(&args.dataset, &args.split)?;
    let built = benchmark::build(&args.dataset, args.threads)?;
    let mut results = Vec::new();
    for k1 in [0.6, 0.9, 1.2, 1.5] {
        for b in [0.3, 0.4, 0.5, 0.6, 0.75, 0.9] {
            for title_boost in [0.0, 0.5, 1.0] {
                let settings = SearchSettings { bm25: Bm25 { k1, b }, title_boost };
                let (scores, _) = benchmark::run_queries(&built.index, &dataset, settings)?;
                results.push((settings, scores));
            }
        }
    }
    results.sort_by(|a, b| b.1.ndcg_at_10.total_cmp(&a.1.ndcg_at_10));
    println!("split {}: {} settings, best first", args.split, results.len());
    println!("  k1    b     title  nDCG@10  Recall@100  MRR@10");
    for (s, scores) in results {
        println!(
            "  {:<5} {:<5} {:<6} {:.4}   {:.4}      {:.4}",
            s.bm25.k1,
            s.bm25.b,
            s.title_boost,
            scores.ndcg_at_10,
            scores.recall_at_100,
            scores.mrr_at_10
        );
    }
    Ok(())
}
