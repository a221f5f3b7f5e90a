//! Dense and hybrid retrieval on a BEIR dataset: the corpus embedded (title and text, as
//! sentence-transformers' BEIR evaluation joins them), queries ranked by exact vector search,
//! alone or fused with BM25.

use std::time::{Duration, Instant};

use anymodel_core::{Embedder, Fusion, InputKind, Result};

use super::beir::Dataset;
use super::benchmark::{DEPTH, Latency, documents, plain_query};
use super::metrics::{self, Run, Scores};
pub use crate::index::default_fusion;
use crate::index::{CANDIDATES, KnowledgeIndex, SearchSettings, Searcher};
use crate::vectors::VectorIndex;

/// Texts embedded per call: enough for the embedder to batch well, few enough to show progress.
const EMBED_BATCH: usize = 256;

/// The corpus's vectors, and how long making them took.
pub struct DenseCorpus {
    /// One vector per document, keyed by its id.
    pub vectors: VectorIndex,
    /// The time to embed the corpus.
    pub embedding: Duration,
}

impl DenseCorpus {
    /// Documents embedded per second.
    pub fn throughput(&self) -> f64 {
        self.vectors.len() as f64 / self.embedding.as_secs_f64().max(1e-9)
    }
}

/// Embeds every document of `dataset` with `embedder`; `progress` is told how many are done.
pub async fn embed_corpus(
    dataset: &Dataset,
    embedder: &dyn Embedder,
    progress: &dyn Fn(usize),
) -> Result<DenseCorpus> {
    let started = Instant::now();
    let mut vectors = VectorIndex::new(embedder.dimensions());
    for documents in dataset.corpus.chunks(EMBED_BATCH) {
        let texts: Vec<String> = documents
            .iter()
            .map(|d| {
                if d.title.is_empty() { d.text.clone() } else { format!("{} {}", d.title, d.text) }
            })
            .collect();
        let embedded = embedder.embed(&texts, InputKind::Document).await?;
        for (document, vector) in documents.iter().zip(embedded) {
            vectors.push(document.id.clone(), &vector);
        }
        progress(vectors.len());
    }
    Ok(DenseCorpus { vectors, embedding: started.elapsed() })
}

/// What ranks the documents.
#[derive(Debug, Clone, PartialEq)]
pub enum Ranking {
    /// Vector search alone.
    Dense,
    /// BM25 (over this index) and vector search, fused.
    Hybrid(Fusion),
}

/// Runs every query of `dataset` (after one untimed pass) and scores the rankings; each query's
/// time includes embedding it.
pub async fn run_queries(
    dataset: &Dataset,
    corpus: &DenseCorpus,
    embedder: &dyn Embedder,
    lexical: Option<&KnowledgeIndex>,
    ranking: &Ranking,
) -> Result<(Scores, Latency)> {
    let mut ids: Vec<&String> = dataset.queries.keys().collect();
    ids.sort();
    let searcher = lexical.map(KnowledgeIndex::searcher);
    for id in &ids {
        rank(&dataset.queries[*id], corpus, embedder, searcher.as_ref(), ranking).await?;
    }
    let mut run = Run::new();
    let mut times = Vec::with_capacity(ids.len());
    for id in ids {
        let started = Instant::now();
        let ranked =
            rank(&dataset.queries[id], corpus, embedder, searcher.as_ref(), ranking).await?;
        times.push(started.elapsed());
        run.insert(id.clone(), ranked);
    }
    Ok((metrics::evaluate(&dataset.qrels, &run), Latency::of(times)))
}

/// The documents for the query `text`, best first.
async fn rank(
    text: &str,
    corpus: &DenseCorpus,
    embedder: &dyn Embedder,
    searcher: Option<&Searcher>,
    ranking: &Ranking,
) -> Result<Vec<String>> {
    let vector = embedder.embed(&[text.to_string()], InputKind::Query).await?;
    let depth = if matches!(ranking, Ranking::Dense) { DEPTH } else { CANDIDATES };
    let dense: Vec<(String, f32)> = corpus
        .vectors
        .search(vector.first().map(Vec::as_slice).unwrap_or_default(), depth)
        .into_iter()
        .filter_map(|(at, score)| Some((corpus.vectors.key(at)?.to_string(), score)))
        .collect();
    let (Ranking::Hybrid(fusion), Some(searcher)) = (ranking, searcher) else {
        return Ok(dense.into_iter().map(|(id, _)| id).collect());
    };
    let lexical = documents(searcher.search(&plain_query(text, CANDIDATES))?);
    Ok(fusion.fuse(&[lexical, dense], DEPTH).into_iter().map(|(id, _)| id).collect())
}

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
    /// The embedder's name.
    pub embedder: String,
    /// The BM25 index's build time.
    pub bm25_build: Duration,
    /// The corpus's embedding: documents and time.
    pub embedded: (usize, Duration),
    /// Each mode's figures.
    pub modes: Vec<ModeReport>,
}

impl std::fmt::Display for DenseReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let (documents, time) = self.embedded;
        writeln!(
            f,
            "split {}: {} queries over {documents} documents; embedder {}",
            self.split, self.queries, self.embedder
        )?;
        writeln!(
            f,
            "index build: BM25 {:.2} s, embeddings {:.1} s ({:.1} documents/s)",
            self.bm25_build.as_secs_f64(),
            time.as_secs_f64(),
            documents as f64 / time.as_secs_f64().max(1e-9)
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

/// Builds the BM25 index of the dataset in `folder`, embeds its corpus, and runs the queries
/// of `split` in each of `modes` (`bm25`, `dense`, `hybrid`), hybrid fused by `fusion`; BM25
/// alone ranks with `settings`, hybrid with the index's defaults.
pub async fn benchmark(
    folder: &std::path::Path,
    split: &str,
    embedder: &dyn Embedder,
    modes: &[&str],
    fusion: &Fusion,
    settings: SearchSettings,
    progress: &dyn Fn(usize),
) -> Result<DenseReport> {
    let dataset = Dataset::load(folder, split)?;
    let built = super::benchmark::build(folder, 0)?;
    let corpus = embed_corpus(&dataset, embedder, progress).await?;
    let mut reports = Vec::new();
    for mode in modes {
        let (label, (scores, latency)) = match *mode {
            "bm25" => (
                "bm25".to_string(),
                super::benchmark::run_queries(&built.index, &dataset, settings)?,
            ),
            "dense" => (
                "dense".to_string(),
                run_queries(&dataset, &corpus, embedder, None, &Ranking::Dense).await?,
            ),
            "hybrid" => (
                format!("hybrid ({})", describe(fusion)),
                run_queries(
                    &dataset,
                    &corpus,
                    embedder,
                    Some(&built.index),
                    &Ranking::Hybrid(fusion.clone()),
                )
                .await?,
            ),
            other => {
                return Err(anymodel_core::Error::config(format!(
                    "mode `{other}`: expected bm25, dense or hybrid"
                )));
            }
        };
        reports.push(ModeReport { label, scores, latency });
    }
    Ok(DenseReport {
        split: split.to_string(),
        queries: dataset.queries.len(),
        embedder: embedder.name().to_string(),
        bm25_build: built.build,
        embedded: (corpus.vectors.len(), corpus.embedding),
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
    }
}
