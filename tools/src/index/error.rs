//! What can go wrong with a knowledge index.

use std::path::{Path, PathBuf};

use super::vectors::VectorSpace;

/// A knowledge index could not be opened, written or searched.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IndexError {
    /// A file or folder could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The system's error.
        source: std::io::Error,
    },
    /// There is no index at the folder.
    #[error("no index at {}: create it first", folder.display())]
    Missing {
        /// The folder.
        folder: PathBuf,
    },
    /// The folder exists but holds something other than an anymodel index.
    #[error("{} is not an anymodel index (no {marker}); refusing to use it", folder.display())]
    NotAnIndex {
        /// The folder.
        folder: PathBuf,
        /// The file that marks an index, which it lacks.
        marker: &'static str,
    },
    /// The index was written by a version with another format.
    #[error(
        "the index at {} has format version {found}, this version of anymodel reads version {expected}: \
         delete the folder and ingest again",
        folder.display()
    )]
    Version {
        /// The folder.
        folder: PathBuf,
        /// The version it holds.
        found: u32,
        /// The version this build reads.
        expected: u32,
    },
    /// The index's files are damaged.
    #[error("the index at {} is damaged: {message}", path.display())]
    Corrupt {
        /// The file or folder found damaged.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Another process (or another writer in this one) is writing to the index.
    #[error("the index at {} is being written by another process; try again when it is done", folder.display())]
    Locked {
        /// The folder.
        folder: PathBuf,
    },
    /// Something of the ingested tree could not be used (a path given that does not exist).
    #[error("{}: {message}", path.display())]
    Input {
        /// The path given.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// The index holds vectors, and files were added without an embedder to make theirs.
    #[error(
        "the index at {} holds vectors of {space}: add files with that embedder (anymodel index add --embed {})",
        folder.display(),
        space.named.as_deref().unwrap_or(&space.embedder)
    )]
    EmbedderNeeded {
        /// The folder.
        folder: PathBuf,
        /// The vectors it holds.
        space: VectorSpace,
    },
    /// Vectors of another embedder than the index's were given (to add or to search with).
    #[error(
        "the index at {} holds vectors of {held}, not of {given}: use {} with it, or index into another folder",
        folder.display(),
        held.named.as_deref().unwrap_or(&held.embedder)
    )]
    EmbedderMismatch {
        /// The folder.
        folder: PathBuf,
        /// The vectors it holds.
        held: VectorSpace,
        /// The embedder given, with its vector size.
        given: String,
    },
    /// Vectors were to be added to an index without any, but not for all of its files.
    #[error(
        "the index at {} has no vectors, and {outside} of its files are not under the paths given:          add every folder it holds with --embed, or index into another folder",
        folder.display()
    )]
    WithoutVectors {
        /// The folder.
        folder: PathBuf,
        /// How many indexed files the ingest would have left without vectors.
        outside: usize,
    },
    /// A dense or hybrid search of an index that holds no vectors.
    #[error(
        "the index at {} holds no vectors: add its files with an embedder (anymodel index add --embed NAME PATHS), or search with --mode bm25",
        folder.display()
    )]
    NoVectors {
        /// The folder.
        folder: PathBuf,
    },
    /// The embedder failed while vectors were made or a query embedded.
    #[error("embedding for the index at {}: {source}", folder.display())]
    Embedding {
        /// The folder.
        folder: PathBuf,
        /// The embedder's error.
        source: anymodel_core::Error,
    },
    /// The search engine failed otherwise.
    #[error("index error at {}: {message}", folder.display())]
    Engine {
        /// The index folder.
        folder: PathBuf,
        /// The engine's message.
        message: String,
    },
}

impl IndexError {
    /// A [`IndexError::Corrupt`] naming `path`.
    pub(crate) fn corrupt(path: &Path, message: impl std::fmt::Display) -> Self {
        IndexError::Corrupt { path: path.to_path_buf(), message: message.to_string() }
    }

    /// Classifies an error of the engine on the index at `folder`.
    pub(crate) fn engine(folder: &Path, error: tantivy::TantivyError) -> Self {
        use tantivy::TantivyError as E;
        match error {
            E::LockFailure(..) => IndexError::Locked { folder: folder.to_path_buf() },
            E::DataCorruption(corruption) => IndexError::corrupt(folder, format!("{corruption:?}")),
            E::OpenReadError(e) => IndexError::corrupt(folder, e),
            E::OpenDirectoryError(e) => IndexError::corrupt(folder, e),
            E::SchemaError(e) => IndexError::corrupt(folder, e),
            E::IncompatibleIndex(e) => IndexError::corrupt(folder, format!("{e:?}")),
            other => {
                IndexError::Engine { folder: folder.to_path_buf(), message: other.to_string() }
            }
        }
    }
}

impl From<IndexError> for anymodel_core::Error {
    fn from(error: IndexError) -> Self {
        match error {
            IndexError::Locked { .. } => anymodel_core::Error::transient(error.to_string()),
            IndexError::Missing { .. }
            | IndexError::NotAnIndex { .. }
            | IndexError::Version { .. }
            | IndexError::Input { .. }
            | IndexError::EmbedderNeeded { .. }
            | IndexError::EmbedderMismatch { .. }
            | IndexError::WithoutVectors { .. }
            | IndexError::NoVectors { .. } => anymodel_core::Error::config(error.to_string()),
            IndexError::Embedding { source, .. } => source,
            other => anymodel_core::Error::Backend { message: other.to_string() },
        }
    }
}
