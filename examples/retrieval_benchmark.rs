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
//!
//! `--mode dense` ranks by the local embedder's vectors (all-MiniLM-L6-v2 unless `--embedder`
//! names another model folder; `scripts/fetch-model.sh` fetches it), `--mode hybrid` fuses BM25
//! and dense rankings (by default as chosen on SciFact's train split;
//! `--fusion rrf|blend|distribution`, `--rrf-k K` for reciprocal rank fusion,
//! `--weights LEXICAL,DENSE` for the rankings' weights, `--candidates N` for how deep each
//! goes); `--mode all` runs the three on one build. With `--tune`, the hybrid mode tries a grid of fusions instead.
//! The corpus is indexed with its vectors by the knowledge index's own ingest; `--keep-index DIR`
//! keeps that index, so that a later run embeds nothing again.
//!
//! ```text
//! cargo run --release --example retrieval_benchmark -- ../shared/datasets/scifact --mode all
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use anymodel::backends::candle::BertEmbedder;
use anymodel::tools::eval::beir::Dataset;
use anymodel::tools::eval::benchmark::{self, Build};
use anymodel::tools::eval::dense;
use anymodel::tools::index::{Bm25, SearchMode, SearchSettings};
use anymodel::{Embedder, Fusion};
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
    /// What ranks: bm25, dense, hybrid, or all three.
    #[arg(long, default_value = "bm25")]
    mode: String,
    /// The embedding model's folder (sentence-transformers layout).
    #[arg(long, default_value = "models/all-MiniLM-L6-v2")]
    embedder: PathBuf,
    /// Embedding threads.
    #[arg(long, default_value_t = 2)]
    embed_threads: usize,
    /// How the hybrid mode fuses: rrf, blend or distribution (default: the fusion chosen on
    /// SciFact's train split).
    #[arg(long, value_enum)]
    fusion: Option<FusionKind>,
    /// Reciprocal rank fusion's k (60 when `--fusion rrf` does not say).
    #[arg(long)]
    rrf_k: Option<f32>,
    /// How deep each ranking goes before the hybrid mode fuses them (default: the index's).
    #[arg(long)]
    candidates: Option<usize>,
    /// The weights of the lexical and dense rankings.
    #[arg(long, value_delimiter = ',')]
    weights: Vec<f32>,
    /// Build the index (with its vectors) in this folder and keep it for later runs.
    #[arg(long)]
    keep_index: Option<PathBuf>,
}

/// The kinds of fusion `--fusion` names.
#[derive(Clone, Copy, clap::ValueEnum)]
enum FusionKind {
    Rrf,
    Blend,
    Distribution,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let settings = SearchSettings::overriding(args.k1, args.b, args.title_boost);
    let result = tokio::runtime::Runtime::new()
        .map_err(|e| anymodel::Error::config(format!("runtime: {e}")))
        .and_then(|runtime| {
            runtime.block_on(async {
                match args.mode.as_str() {
                    "bm25" if args.tune => tune(&args).await,
                    "bm25" => run(&args, settings).await,
                    "hybrid" if args.tune => tune_fusion(&args).await,
                    "dense" | "hybrid" | "all" => dense(&args, settings).await,
                    other => Err(anymodel::Error::config(format!(
                        "--mode {other}: expected bm25, dense, hybrid or all"
                    ))),
                }
            })
        });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: &Args, settings: SearchSettings) -> anymodel::Result<()> {
    let report = benchmark::benchmark(&args.dataset, &args.split, settings, args.threads).await?;
    println!("{report}");
    Ok(())
}

async fn tune(args: &Args) -> anymodel::Result<()> {
    let dataset = Dataset::load(&args.dataset, &args.split)?;
    let how = Build { threads: args.threads, ..Build::default() };
    let built = benchmark::build(&args.dataset, &how).await?;
    let mut results = Vec::new();
    for k1 in [0.6, 0.9, 1.2, 1.5] {
        for b in [0.3, 0.4, 0.5, 0.6, 0.75, 0.9] {
            for title_boost in [0.0, 0.5, 1.0] {
                let settings =
                    SearchSettings { bm25: Bm25 { k1, b }, title_boost, ..Default::default() };
                let (scores, _) = benchmark::run_queries(
                    &built.index,
                    &dataset,
                    &SearchMode::Bm25,
                    None,
                    settings,
                )
                .await?;
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

async fn dense(args: &Args, settings: SearchSettings) -> anymodel::Result<()> {
    let embedder = BertEmbedder::load(&args.embedder, Some(args.embed_threads))?;
    let default = dense::default_fusion();
    let weights = args.weights.clone();
    let fusion = match (args.fusion, args.rrf_k) {
        (None, None) if weights.is_empty() => default,
        (Some(FusionKind::Rrf), k) | (None, k @ Some(_)) => {
            Fusion::Rrf { k: k.unwrap_or(60.0), weights }
        }
        (Some(FusionKind::Blend), _) => Fusion::Blend { weights },
        (Some(FusionKind::Distribution), _) => Fusion::Distribution { weights },
        (None, None) => match default {
            Fusion::Rrf { k, .. } => Fusion::Rrf { k, weights },
            Fusion::Blend { .. } => Fusion::Blend { weights },
            Fusion::Distribution { .. } => Fusion::Distribution { weights },
        },
    };
    let candidates = args.candidates.unwrap_or(settings.candidates);
    let settings = SearchSettings { candidates, ..settings };
    let report = dense::benchmark(
        &args.dataset,
        &args.split,
        &embedder,
        &dense::modes(&args.mode),
        &fusion,
        settings,
        args.keep_index.as_deref(),
        true,
    )
    .await?;
    println!("{report}");
    Ok(())
}

/// Tries a grid of fusions of BM25 and dense rankings on the split, best first.
async fn tune_fusion(args: &Args) -> anymodel::Result<()> {
    let embedder = BertEmbedder::load(&args.embedder, Some(args.embed_threads))?;
    let dataset = Dataset::load(&args.dataset, &args.split)?;
    let how = Build {
        threads: args.threads,
        embedder: Some(&embedder),
        keep: args.keep_index.as_deref(),
        progress: true,
    };
    let built = benchmark::build(&args.dataset, &how).await?;
    // Each query is embedded once for the whole grid.
    let embedder = Remembering { inner: &embedder, seen: Default::default() };
    let mut fusions = Vec::new();
    for k in [1.0, 5.0, 10.0, 20.0, 60.0] {
        for dense_weight in [0.5, 0.75, 1.0, 1.25, 1.5] {
            fusions.push(Fusion::Rrf { k, weights: vec![1.0, dense_weight] });
        }
    }
    for dense_weight in [0.5, 0.75, 1.0, 1.25, 1.5, 2.0] {
        fusions.push(Fusion::Blend { weights: vec![1.0, dense_weight] });
        fusions.push(Fusion::Distribution { weights: vec![1.0, dense_weight] });
    }
    let mut results = Vec::new();
    for candidates in [100, 300, 1000] {
        let settings = SearchSettings { candidates, ..SearchSettings::default() };
        for fusion in &fusions {
            let mode = SearchMode::Hybrid(fusion.clone());
            let (scores, _) =
                benchmark::run_queries(&built.index, &dataset, &mode, Some(&embedder), settings)
                    .await?;
            results.push((format!("{fusion:?}, depth {candidates}"), scores));
        }
    }
    results.sort_by(|a, b| b.1.ndcg_at_10.total_cmp(&a.1.ndcg_at_10));
    println!("split {}: {} fusions, best first", args.split, results.len());
    println!("  {:<48} nDCG@10  Recall@100  MRR@10", "fusion, candidates per ranking");
    for (fusion, scores) in results {
        println!(
            "  {:<48} {:.4}   {:.4}      {:.4}",
            fusion, scores.ndcg_at_10, scores.recall_at_100, scores.mrr_at_10
        );
    }
    Ok(())
}

/// An embedder that embeds each text once: the fusion grid runs the same queries many times.
struct Remembering<'a> {
    inner: &'a BertEmbedder,
    seen: std::sync::Mutex<std::collections::HashMap<String, Vec<f32>>>,
}

#[anymodel::async_trait]
impl Embedder for Remembering<'_> {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn dimensions(&self) -> usize {
        self.inner.dimensions()
    }

    async fn embed(
        &self,
        texts: &[String],
        kind: anymodel::InputKind,
    ) -> anymodel::Result<Vec<Vec<f32>>> {
        let known = |t: &String| self.seen.lock().ok().and_then(|seen| seen.get(t).cloned());
        if let Some(vectors) = texts.iter().map(known).collect::<Option<Vec<_>>>() {
            return Ok(vectors);
        }
        let vectors = self.inner.embed(texts, kind).await?;
        if let Ok(mut seen) = self.seen.lock() {
            for (text, vector) in texts.iter().zip(&vectors) {
                seen.insert(text.clone(), vector.clone());
            }
        }
        Ok(vectors)
    }
}
