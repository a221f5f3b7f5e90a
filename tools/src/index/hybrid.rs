//! The index searched three ways: BM25 over its text, dense over its vectors, or hybrid (both
//! rankings fused), and as a [`Retriever`] for agents in any of them.
//!
//! Another engine joins the same way: a [`Retriever`] over its client (Qdrant's vectors,
//! OpenSearch's BM25) fused with this index by [`anymodel_core::FusedRetriever`].

use std::sync::Arc;

use anymodel_core::{Embedder, Fusion, InputKind, Passage, RetrievalQuery, Retriever, async_trait};

use super::KnowledgeIndex;
use super::error::IndexError;
use super::search::{Hit, Ranked, Searcher};

/// How deep each ranking goes before fusion by default ([`super::SearchSettings::candidates`]).
pub const CANDIDATES: usize = 1000;

/// What ranks the chunks.
#[derive(Debug, Clone, PartialEq)]
pub enum SearchMode {
    /// BM25 over the chunks' text.
    Bm25,
    /// The chunks' vectors, nearest to the query's.
    Dense,
    /// Both, fused.
    Hybrid(Fusion),
}

impl SearchMode {
    /// Hybrid search with the default fusion ([`default_fusion`]).
    pub fn hybrid() -> Self {
        SearchMode::Hybrid(default_fusion())
    }

    /// The mode a word names: `bm25`, `dense` or `hybrid`.
    pub fn named(word: &str) -> Option<Self> {
        match word {
            "bm25" => Some(SearchMode::Bm25),
            "dense" => Some(SearchMode::Dense),
            "hybrid" => Some(SearchMode::hybrid()),
            _ => None,
        }
    }

    /// Whether it needs the query embedded.
    pub fn is_dense(&self) -> bool {
        !matches!(self, SearchMode::Bm25)
    }
}

/// The fusion hybrid search uses unless told otherwise: chosen on SciFact's train split
/// (`retrieval_benchmark --split train --mode hybrid --tune`: of reciprocal rank fusion with `k`
/// 1 to 100 and blends of min-max-normalised scores, each with dense weights 0.5 to 3, a blend
/// with the dense ranking weighted 0.75 ranked best, nDCG@10 0.7361), never on test.
pub fn default_fusion() -> Fusion {
    Fusion::Blend { weights: vec![1.0, 0.75] }
}

impl Searcher {
    /// The best `query.k` chunks for `query` in `mode`, best first. Dense and hybrid search
    /// embed the query with `embedder`, which must be the one whose vectors the index holds
    /// ([`IndexError::EmbedderMismatch`] otherwise; [`IndexError::NoVectors`] when it has none).
    pub async fn search_in(
        &self,
        query: &RetrievalQuery,
        mode: &SearchMode,
        embedder: Option<&dyn Embedder>,
    ) -> Result<Vec<Hit>, IndexError> {
        let fusion = match mode {
            SearchMode::Bm25 => return self.search(query),
            SearchMode::Dense => None,
            SearchMode::Hybrid(fusion) => Some(fusion),
        };
        let Some(space) = self.vectors()? else {
            return Err(IndexError::NoVectors { folder: self.folder().to_path_buf() });
        };
        let Some(embedder) = embedder else {
            return Err(IndexError::EmbedderNeeded { folder: self.folder().to_path_buf(), space });
        };
        space.accepts(self.folder(), embedder)?;
        let embedded =
            embedder.embed(std::slice::from_ref(&query.text), InputKind::Query).await.map_err(
                |source| IndexError::Embedding { folder: self.folder().to_path_buf(), source },
            )?;
        let vector = embedded.first().map(Vec::as_slice).unwrap_or_default();
        let Some(fusion) = fusion else { return self.search_vector(vector, query) };
        let deep = RetrievalQuery { k: self.settings().candidates.max(query.k), ..query.clone() };
        let swap = |ranked: Vec<Ranked>| ranked.into_iter().map(|(s, a)| (a, s)).collect();
        let rankings: [Vec<_>; 2] =
            [swap(self.ranked(&deep)?), swap(self.ranked_by_vector(vector, &deep)?)];
        let fused = fusion.fuse(&rankings, query.k);
        self.hits(fused.into_iter().map(|(address, score)| (score, address)).collect())
    }
}

/// The index as a [`Retriever`] in a given mode, for agents and the search tool.
pub struct IndexRetriever {
    index: Arc<KnowledgeIndex>,
    mode: SearchMode,
    embedder: Option<Arc<dyn Embedder>>,
}

impl IndexRetriever {
    /// Searches `index` in `mode`, embedding queries with `embedder` (needed by dense and
    /// hybrid search: the one whose vectors the index holds).
    pub fn new(
        index: Arc<KnowledgeIndex>,
        mode: SearchMode,
        embedder: Option<Arc<dyn Embedder>>,
    ) -> Self {
        IndexRetriever { index, mode, embedder }
    }
}

#[async_trait]
impl Retriever for IndexRetriever {
    async fn retrieve(&self, query: &RetrievalQuery) -> anymodel_core::Result<Vec<Passage>> {
        let searcher = self.index.searcher();
        let hits = searcher.search_in(query, &self.mode, self.embedder.as_deref()).await?;
        Ok(hits.iter().map(|hit| searcher.passage(hit)).collect::<Result<_, _>>()?)
    }
}
