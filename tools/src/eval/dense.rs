//! Dense and hybrid retrieval on a BEIR dataset: the corpus indexed with a vector per document
//! by the knowledge index's own ingest (title and text embedded together, as
//! sentence-transformers' BEIR evaluation joins them), and the queries ranked in each mode.

use std::path::Path;
use std::time::Duration;

use anymodel_core::{Embedder, Fusion, Result};

use super::beir::Dataset;
use super::benchmark::{Build, Latency, build, run_queries};
use super::metrics::Scores;
pub use crate::index::default_fusion;
use crate::index::{SearchMode, SearchSettings};

/// The figures of one ranking mode.
#[derive(Debug, Clone)]
pub struct ModeReport {
    /// The mode, as the table shows it.
    pub label: String,
    /// Ranking quality.
    pub scores: Scores,
    /// Time per query, embedding it included.
    pub latency: Latency,
}

/// BM25, dense and hybrid retrieval on one build of a dataset.
#[derive(Debug, Clone)]
pub struct DenseReport {
    /// The split whose queries ran.
    pub split: String,
    /// How many queries ran.
    pub queries: usize,
    /// How many documents the index holds.
    pub documents: u64,
    /// The embedder's name.
    pub embedder: String,
    /// The index's build time, embedding the corpus included.
    pub build: Duration,
    /// How many documents were embedded for it (none when a kept index was up to date).
    pub embedded: usize,
    /// Each mode's figures.
    pub modes: Vec<ModeReport>,
}

impl std::fmt::Display for DenseReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        writeln!(
            f,
            "split {}: {} queries over {} documents; embedder {}",
            self.split, self.queries, self.documents, self.embedder
        )?;
        let seconds = self.build.as_secs_f64();
        writeln!(
            f,
            "index build with embeddings: {seconds:.1} s, {} documents embedded ({:.1} documents/s)",
            self.embedded,
            self.embedded as f64 / seconds.max(1e-9)
        )?;
        writeln!(f, "| mode | nDCG@10 | Recall@100 | MRR@10 | query p50 / p99 ms |")?;
        write!(f, "| --- | --- | --- | --- | --- |")?;
        for mode in &self.modes {
            write!(
                f,
                "\n| {} | {:.4} | {:.4} | {:.4} | {:.2} / {:.2} |",
                mode.label,
                mode.scores.ndcg_at_10,
                mode.scores.recall_at_100,
                mode.scores.mrr_at_10,
                ms(mode.latency.p50),
                ms(mode.latency.p99)
            )?;
        }
        Ok(())
    }
}

/// Indexes the dataset in `folder` with `embedder`'s vectors (in `keep`, and kept, when given:
/// a later run embeds nothing again), and runs the queries of `split` in each of `modes`
/// (`bm25`, `dense`, `hybrid`), hybrid fused by `fusion`, all ranking BM25 with `settings`.
#[allow(clippy::too_many_arguments)] // The benchmark's knobs, each named by its caller.
pub async fn benchmark(
    folder: &Path,
    split: &str,
    embedder: &dyn Embedder,
    modes: &[&str],
    fusion: &Fusion,
    settings: SearchSettings,
    keep: Option<&Path>,
    progress: bool,
) -> Result<DenseReport> {
    let dataset = Dataset::load(folder, split)?;
    let how = Build { embedder: Some(embedder), keep, progress, ..Build::default() };
    let built = build(folder, &how).await?;
    let mut reports = Vec::new();
    for mode in modes {
        let (label, ranking) = match *mode {
            "bm25" => ("bm25".to_string(), SearchMode::Bm25),
            "dense" => ("dense".to_string(), SearchMode::Dense),
            "hybrid" => {
                (format!("hybrid ({})", describe(fusion)), SearchMode::Hybrid(fusion.clone()))
            }
            other => {
                return Err(anymodel_core::Error::config(format!(
                    "mode `{other}`: expected bm25, dense or hybrid"
                )));
            }
        };
        let (scores, latency) =
            run_queries(&built.index, &dataset, &ranking, Some(embedder), settings).await?;
        reports.push(ModeReport { label, scores, latency });
    }
    Ok(DenseReport {
        split: split.to_string(),
        queries: dataset.queries.len(),
        documents: built.documents,
        embedder: embedder.name().to_string(),
        build: built.build,
        embedded: built.embedded,
        modes: reports,
    })
}

/// The modes a mode word names: `all` is BM25, dense and hybrid on one build.
pub fn modes(mode: &str) -> Vec<&str> {
    match mode {
        "all" => vec!["bm25", "dense", "hybrid"],
        one => vec![one],
    }
}

/// A fusion as the report names it.
fn describe(fusion: &Fusion) -> String {
    match fusion {
        Fusion::Rrf { k, weights } => format!("rrf k {k}, weights {weights:?}"),
        Fusion::Blend { weights } => format!("blend, weights {weights:?}"),
        Fusion::Distribution { weights } => format!("distribution blend, weights {weights:?}"),
    }
}
