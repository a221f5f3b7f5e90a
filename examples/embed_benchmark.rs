//! Embedding throughput of the local embedder on the first documents of a BEIR corpus (title
//! and text, as the retrieval benchmark embeds them): documents per second. `scripts/embed-bench.sh`
//! runs it beside sentence-transformers on the same texts.
//!
//! ```text
//! cargo run --release --example embed_benchmark -- ../shared/datasets/scifact/corpus.jsonl --documents 512 --threads 2
//! ```

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anymodel::backends::candle::BertEmbedder;
use clap::Parser;

/// Measures the local embedder's throughput.
#[derive(Parser)]
struct Args {
    /// A BEIR corpus.jsonl.
    corpus: PathBuf,
    /// How many of its documents to embed.
    #[arg(long, default_value_t = 512)]
    documents: usize,
    /// Threads.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// The embedding model's folder.
    #[arg(long, default_value = "models/all-MiniLM-L6-v2")]
    embedder: PathBuf,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let texts: Vec<String> = match std::fs::read_to_string(&args.corpus) {
        Ok(text) => text
            .lines()
            .take(args.documents)
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .map(|d| {
                format!(
                    "{} {}",
                    d["title"].as_str().unwrap_or(""),
                    d["text"].as_str().unwrap_or("")
                )
                .trim()
                .to_string()
            })
            .collect(),
        Err(error) => {
            eprintln!("{}: {error}", args.corpus.display());
            return ExitCode::FAILURE;
        }
    };
    let embedder = match BertEmbedder::load(&args.embedder, Some(args.threads)) {
        Ok(embedder) => embedder,
        Err(error) => {
            eprintln!("{error}");
            return ExitCode::FAILURE;
        }
    };
    // A warm-up batch, untimed.
    let _ = embedder.embed_blocking(&texts[..texts.len().min(16)]);
    let started = Instant::now();
    match embedder.embed_blocking(&texts) {
        Ok(vectors) => {
            let seconds = started.elapsed().as_secs_f64();
            println!(
                "anymodel (candle): {} documents in {seconds:.2} s: {:.1} documents/s",
                vectors.len(),
                vectors.len() as f64 / seconds
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("{error}");
            ExitCode::FAILURE
        }
    }
}
