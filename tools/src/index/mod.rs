//! The knowledge index: the user's documents, chunked and indexed with tantivy in a folder,
//! searched with BM25, by their vectors (one per chunk, from an [`Embedder`], in the same
//! commit), or both fused ([`SearchMode`]). One index serves the library, the CLI and the
//! agent's search tool.
//!
//! ```no_run
//! use anymodel_core::RetrievalQuery;
//! use anymodel_tools::index::{IngestOptions, KnowledgeIndex};
//!
//! # fn main() -> Result<(), anymodel_tools::index::IndexError> {
//! let index = KnowledgeIndex::open_or_create(".anymodel/index")?;
//! let report = index.ingest(&["docs"], &IngestOptions::default())?;
//! println!("{report}");
//! let searcher = index.searcher();
//! for hit in searcher.search(&RetrievalQuery::new("install on linux", 5))? {
//!     let passage = searcher.passage(&hit)?;
//!     println!("{:.2} {}", hit.score, passage.source);
//! }
//! # Ok(())
//! # }
//! ```
//!
//! Dense search is exact (every vector scored) until the index holds a million chunks; from
//! there its large segments also get an approximate nearest-neighbour graph, made at commit
//! ([`GraphPolicy`]).
//!
//! Writing is exclusive (a second writer, in this process or another, gets
//! [`IndexError::Locked`]); readers never wait for a writer and see each commit whole. A commit
//! is atomic: a crash mid-ingest leaves the last commit as it was.

mod analyzer;
mod chunk;
mod document;
mod error;
mod graphs;
mod hybrid;
mod ingest;
mod schema;
mod search;
mod vectors;

use std::path::{Path, PathBuf};

use anymodel_core::{Embedder, Passage, RetrievalQuery, Retriever, async_trait};
use tantivy::{Index, IndexReader, ReloadPolicy};

pub use analyzer::SplitIdentifiers;
pub use chunk::{Chunk, ChunkOptions, Structure, chunk};
pub use error::IndexError;
pub use graphs::GraphPolicy;
pub use hybrid::{CANDIDATES, IndexRetriever, SearchMode, default_fusion};
pub use ingest::{IngestOptions, IngestReport, SkipReason, Skipped, Writer};
pub use schema::FORMAT_VERSION;
pub use search::{Bm25, Hit, SearchSettings, Searcher, Snippet};
pub use vectors::VectorSpace;

use schema::Fields;

/// A knowledge index in a folder.
pub struct KnowledgeIndex {
    folder: PathBuf,
    index: Index,
    reader: IndexReader,
    fields: Fields,
    settings: SearchSettings,
    vectors: vectors::SegmentCache,
    graphs: GraphPolicy,
}

impl std::fmt::Debug for KnowledgeIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KnowledgeIndex")
            .field("folder", &self.folder)
            .field("settings", &self.settings)
            .finish()
    }
}

impl KnowledgeIndex {
    /// Opens the index at `folder`. A folder that is missing, is not an index, holds another
    /// format version or is damaged gives the matching [`IndexError`].
    pub fn open(folder: impl AsRef<Path>) -> Result<Self, IndexError> {
        let folder = folder.as_ref();
        if !folder.is_dir() {
            return Err(IndexError::Missing { folder: folder.to_path_buf() });
        }
        schema::check_marker(folder)?;
        let index = Index::open_in_dir(folder).map_err(|e| IndexError::engine(folder, e))?;
        let (expected, fields) = schema::schema();
        if index.schema() != expected {
            return Err(IndexError::corrupt(folder, "its fields are not the ones this format has"));
        }
        Self::ready(folder, index, fields)
    }

    /// Creates an empty index at `folder`, which must be missing or empty (a folder holding
    /// anything else is refused rather than mixed with the index's files).
    ///
    /// The index is made in a folder beside it and renamed into place, so no other process ever
    /// sees a half-made index: two that create the same index at once both end up opening the
    /// one that was renamed first.
    pub fn create(folder: impl AsRef<Path>) -> Result<Self, IndexError> {
        let folder = folder.as_ref();
        let io = |source| IndexError::Io { path: folder.to_path_buf(), source };
        let parent = match folder.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        };
        std::fs::create_dir_all(parent).map_err(io)?;
        if folder.is_dir() && std::fs::read_dir(folder).map_err(io)?.next().is_some() {
            return match schema::check_marker(folder) {
                Ok(()) => Err(IndexError::Input {
                    path: folder.to_path_buf(),
                    message: "an index is already there".into(),
                }),
                Err(_) => Err(IndexError::NotAnIndex {
                    folder: folder.to_path_buf(),
                    marker: schema::MARKER_FILE,
                }),
            };
        }
        let staging =
            tempfile::Builder::new().prefix(".anymodel-index-").tempdir_in(parent).map_err(io)?;
        schema::write_marker(staging.path())?;
        let (schema, _) = schema::schema();
        drop(
            Index::create_in_dir(staging.path(), schema)
                .map_err(|e| IndexError::engine(folder, e))?,
        );
        match std::fs::rename(staging.path(), folder) {
            Ok(()) => {
                // The folder now holds it: nothing is left to clean up.
                let _ = staging.keep();
            }
            // Another process renamed its index into place first: that one is opened.
            Err(_) if folder.is_dir() && schema::check_marker(folder).is_ok() => {}
            Err(source) => return Err(io(source)),
        }
        Self::open(folder)
    }

    /// Opens the index at `folder`, creating it when the folder is missing or empty.
    pub fn open_or_create(folder: impl AsRef<Path>) -> Result<Self, IndexError> {
        let folder = folder.as_ref();
        let empty = match std::fs::read_dir(folder) {
            Ok(mut entries) => entries.next().is_none(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => true,
            Err(source) => return Err(IndexError::Io { path: folder.to_path_buf(), source }),
        };
        if empty { Self::create(folder) } else { Self::open(folder) }
    }

    fn ready(folder: &Path, index: Index, fields: Fields) -> Result<Self, IndexError> {
        index.tokenizers().register(analyzer::ANALYZER, analyzer::analyzer());
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::OnCommitWithDelay)
            .try_into()
            .map_err(|e| IndexError::engine(folder, e))?;
        Ok(KnowledgeIndex {
            folder: folder.to_path_buf(),
            index,
            reader,
            fields,
            settings: SearchSettings::default(),
            vectors: vectors::SegmentCache::default(),
            graphs: GraphPolicy::default(),
        })
    }

    /// The same index, ranking with `settings`.
    pub fn with_settings(mut self, settings: SearchSettings) -> Self {
        self.settings = settings;
        self
    }

    /// The same index, making approximate graphs at commit as `policy` says (by default once
    /// it holds a million chunks; [`GraphPolicy`]).
    pub fn with_graph_policy(mut self, policy: GraphPolicy) -> Self {
        self.graphs = policy;
        self
    }

    /// The folder the index lives in.
    pub fn folder(&self) -> &Path {
        &self.folder
    }

    /// Adds the files and folders at `paths` (walking folders, honouring `.gitignore`), or
    /// brings them up to date: files whose content changed are indexed again, unchanged ones
    /// left alone, and files that were indexed under these paths but are gone are removed.
    /// Binary and unreadable files are skipped and counted in the report. Everything is
    /// committed at once at the end.
    pub fn ingest<P: AsRef<Path>>(
        &self,
        paths: &[P],
        options: &IngestOptions,
    ) -> Result<IngestReport, IndexError> {
        let mut writer = self.writer()?;
        let report = writer.ingest(paths, options)?;
        writer.commit()?;
        Ok(report)
    }

    /// As [`KnowledgeIndex::ingest`], with a vector for each new chunk from `embedder`
    /// ([`Writer::ingest_embedding`]), for dense and hybrid search. Needed for every ingest
    /// once the index holds vectors.
    pub async fn ingest_embedding<P: AsRef<Path>>(
        &self,
        paths: &[P],
        options: &IngestOptions,
        embedder: &dyn Embedder,
    ) -> Result<IngestReport, IndexError> {
        let mut writer = self.writer()?;
        let report = writer.ingest_embedding(paths, options, embedder).await?;
        writer.commit()?;
        Ok(report)
    }

    /// Removes every file whose indexed path starts with `prefix`; returns how many.
    pub fn remove(&self, prefix: &str) -> Result<usize, IndexError> {
        let mut writer = self.writer()?;
        let removed = writer.remove(prefix)?;
        writer.commit()?;
        Ok(removed)
    }

    /// The index's one writer, indexing on a thread per core (at most 4), to stage several
    /// ingests and removals into one commit. [`IndexError::Locked`] when another writer, in this
    /// process or another, holds the index.
    pub fn writer(&self) -> Result<Writer<'_>, IndexError> {
        Writer::new(self, 0)
    }

    /// [`KnowledgeIndex::writer`] with `threads` indexing threads.
    pub fn writer_with_threads(&self, threads: usize) -> Result<Writer<'_>, IndexError> {
        Writer::new(self, threads.max(1))
    }

    /// A view of the index as of its last commit, to search. Cheap; take one per request.
    pub fn searcher(&self) -> Searcher {
        Searcher::new(
            self.reader.searcher(),
            self.fields,
            self.settings,
            self.folder.clone(),
            self.vectors.clone(),
        )
    }
}

#[async_trait]
impl Retriever for KnowledgeIndex {
    /// Searches synchronously: a query takes well under a millisecond on indexes of thousands of
    /// documents, less than handing it to another thread would.
    async fn retrieve(&self, query: &RetrievalQuery) -> anymodel_core::Result<Vec<Passage>> {
        let searcher = self.searcher();
        let hits = searcher.search(query)?;
        Ok(hits.iter().map(|hit| searcher.passage(hit)).collect::<Result<_, _>>()?)
    }
}
