//! The retrieval benchmark of the knowledge index on a BEIR dataset: build the index from the
//! corpus, run every query of a split, score the rankings, time the build and each query.

use std::path::Path;
use std::time::{Duration, Instant};

use anymodel_core::{Embedder, Result, RetrievalQuery};

use super::beir::Dataset;
use super::metrics::{self, Run, Scores};
use crate::index::{ChunkOptions, Hit, IngestOptions, KnowledgeIndex, SearchMode, SearchSettings};

/// How many results each query asks for: enough for Recall@100.
pub(crate) const DEPTH: usize = 100;

/// A dataset's corpus, indexed (in a temporary folder, removed when this is dropped, unless
/// the build was told to keep it).
pub struct BenchmarkIndex {
    /// The index.
    pub index: KnowledgeIndex,
    /// How long building it took, embedding and commit included.
    pub build: Duration,
    /// How many documents it holds.
    pub documents: u64,
    /// How many documents were embedded (none when the index was built already).
    pub embedded: usize,
    _folder: Option<tempfile::TempDir>,
}

/// How the benchmark's index is built.
#[derive(Default, Clone, Copy)]
pub struct Build<'a> {
    /// Indexing threads (0: one per core, at most 4).
    pub threads: usize,
    /// The embedder whose vectors the index also holds, for dense and hybrid search.
    pub embedder: Option<&'a dyn Embedder>,
    /// The folder to build the index in and keep, where a later build of the same corpus
    /// embeds nothing again; a temporary folder when `None`.
    pub keep: Option<&'a Path>,
    /// Whether to show progress on standard error.
    pub progress: bool,
}

/// Indexes `corpus.jsonl` of the dataset in `folder` through the ordinary ingest path, one
/// chunk per document (BEIR judges whole documents), with vectors when `how` has an embedder.
pub async fn build(folder: &Path, how: &Build<'_>) -> Result<BenchmarkIndex> {
    let (index, temp) = match how.keep {
        Some(keep) => (KnowledgeIndex::open_or_create(keep)?, None),
        None => {
            let temp = tempfile::tempdir()
                .map_err(|e| anymodel_core::Error::config(format!("temporary folder: {e}")))?;
            (KnowledgeIndex::create(temp.path())?, Some(temp))
        }
    };
    let whole = ChunkOptions { target_bytes: usize::MAX, overlap_bytes: 0 };
    let options = IngestOptions { chunking: whole, progress: how.progress, ..Default::default() };
    let corpus = [folder.join("corpus.jsonl")];
    let started = Instant::now();
    let mut writer = match how.threads {
        0 => index.writer()?,
        threads => index.writer_with_threads(threads)?,
    };
    let report = match how.embedder {
        Some(embedder) => writer.ingest_embedding(&corpus, &options, embedder).await?,
        None => writer.ingest(&corpus, &options)?,
    };
    writer.commit()?;
    let build = started.elapsed();
    let documents = index.searcher().chunks()?;
    Ok(BenchmarkIndex { index, build, documents, embedded: report.embedded, _folder: temp })
}

/// Query latency percentiles.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Latency {
    /// Median.
    pub p50: Duration,
    /// 95th percentile.
    pub p95: Duration,
    /// 99th percentile.
    pub p99: Duration,
    /// Slowest.
    pub max: Duration,
}

impl Latency {
    pub(crate) fn of(mut times: Vec<Duration>) -> Latency {
        times.sort_unstable();
        let at = |q: f64| {
            times
                .get(((times.len() as f64 * q).ceil() as usize).saturating_sub(1))
                .copied()
                .unwrap_or_default()
        };
        Latency { p50: at(0.50), p95: at(0.95), p99: at(0.99), max: at(1.0) }
    }
}

/// A BEIR query as the index takes it, `depth` results deep: BEIR queries are plain text, so
/// quotes in them are not phrases.
pub(crate) fn plain_query(text: &str, depth: usize) -> RetrievalQuery {
    RetrievalQuery::new(text.replace('"', " "), depth)
}

/// The documents of `hits` in rank order with their scores, each once (at its best chunk):
/// BEIR judges documents, and a document may have several chunks.
pub(crate) fn documents(hits: Vec<Hit>) -> Vec<(String, f32)> {
    let mut seen = std::collections::HashSet::new();
    hits.into_iter()
        .filter(|hit| seen.insert(hit.document.clone()))
        .map(|hit| (hit.document, hit.score))
        .collect()
}

/// Runs every query of `dataset` against `index` in `mode` with `settings` (after one untimed
/// pass, so that the timings are of a warm index) and scores the rankings. Each query's time
/// includes embedding it (dense and hybrid modes, with `embedder`).
pub async fn run_queries(
    index: &KnowledgeIndex,
    dataset: &Dataset,
    mode: &SearchMode,
    embedder: Option<&dyn Embedder>,
    settings: SearchSettings,
) -> Result<(Scores, Latency)> {
    let searcher = index.searcher().with_settings(settings);
    let mut queries: Vec<(&String, RetrievalQuery)> =
        dataset.queries.iter().map(|(id, text)| (id, plain_query(text, DEPTH))).collect();
    queries.sort_by(|a, b| a.0.cmp(b.0));
    for (_, query) in &queries {
        searcher.search_in(query, mode, embedder).await?;
    }
    let mut run = Run::new();
    let mut times = Vec::with_capacity(queries.len());
    for (id, query) in &queries {
        let started = Instant::now();
        let hits = searcher.search_in(query, mode, embedder).await?;
        times.push(started.elapsed());
        run.insert((*id).clone(), documents(hits).into_iter().map(|(id, _)| id).collect());
    }
    Ok((metrics::evaluate(&dataset.qrels, &run), Latency::of(times)))
}

/// The benchmark's figures.
#[derive(Debug, Clone)]
pub struct BenchmarkReport {
    /// The split whose queries ran.
    pub split: String,
    /// Documents indexed.
    pub documents: u64,
    /// Index build time.
    pub build: Duration,
    /// Ranking quality.
    pub scores: Scores,
    /// Time per query.
    pub latency: Latency,
    /// The ranking settings used.
    pub settings: SearchSettings,
}

impl std::fmt::Display for BenchmarkReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let s = &self.settings;
        writeln!(
            f,
            "split {}: {} queries over {} documents",
            self.split, self.scores.queries, self.documents
        )?;
        writeln!(f, "settings: k1 {} b {} title boost {}", s.bm25.k1, s.bm25.b, s.title_boost)?;
        writeln!(
            f,
            "nDCG@10 {:.4}  Recall@100 {:.4}  MRR@10 {:.4}",
            self.scores.ndcg_at_10, self.scores.recall_at_100, self.scores.mrr_at_10
        )?;
        writeln!(f, "index build {:.2} s", self.build.as_secs_f64())?;
        write!(
            f,
            "query latency p50 {:.3} ms  p95 {:.3} ms  p99 {:.3} ms  max {:.3} ms",
            ms(self.latency.p50),
            ms(self.latency.p95),
            ms(self.latency.p99),
            ms(self.latency.max)
        )
    }
}

/// Builds the index of the dataset in `folder` and runs the queries of `split` with `settings`
/// (BM25 alone).
pub async fn benchmark(
    folder: &Path,
    split: &str,
    settings: SearchSettings,
    threads: usize,
) -> Result<BenchmarkReport> {
    let dataset = Dataset::load(folder, split)?;
    let built = build(folder, &Build { threads, ..Build::default() }).await?;
    let (scores, latency) =
        run_queries(&built.index, &dataset, &SearchMode::Bm25, None, settings).await?;
    Ok(BenchmarkReport {
        split: split.into(),
        documents: built.documents,
        build: built.build,
        scores,
        latency,
        settings,
    })
}
