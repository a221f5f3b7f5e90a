//! What can go wrong with the run log, each naming the database file and what fixes it.

use std::path::PathBuf;

/// A run log failure. The run it was recording goes on without it: a caller prints the answer
/// and says the log was not written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LogError {
    /// Another process held the database's write lock for longer than the log waits.
    #[error(
        "the run log {path} is locked by another process (waited {waited_ms} ms); try again when it is done"
    )]
    Locked {
        /// The database file.
        path: PathBuf,
        /// How long it waited.
        waited_ms: u64,
    },
    /// The database was written by a newer anymodel.
    #[error(
        "the run log {path} has version {found}, newer than this anymodel knows ({known}): update anymodel, or move the file aside to start a new log"
    )]
    Newer {
        /// The database file.
        path: PathBuf,
        /// Its version.
        found: u32,
        /// The newest version this build knows.
        known: u32,
    },
    /// The file is not a SQLite database, or it is damaged.
    #[error(
        "the run log {path} is damaged or not a database ({message}): move it aside and a new log is started"
    )]
    Corrupt {
        /// The database file.
        path: PathBuf,
        /// SQLite's message.
        message: String,
    },
    /// Any other database failure (a full disk, permissions).
    #[error("the run log {path}: {message}")]
    Database {
        /// The database file.
        path: PathBuf,
        /// SQLite's message.
        message: String,
    },
    /// The log's folder could not be made.
    #[error("the run log's folder {path}: {source}")]
    Io {
        /// The folder.
        path: PathBuf,
        /// The system's error.
        #[source]
        source: std::io::Error,
    },
    /// No run or conversation has this id.
    #[error("the run log {path} has no {what} {id} (anymodel logs lists them)")]
    Missing {
        /// The database file.
        path: PathBuf,
        /// `run` or `conversation`.
        what: &'static str,
        /// The id asked for.
        id: i64,
    },
}

impl LogError {
    /// SQLite's error, classed, for the database at `path`.
    pub(crate) fn sqlite(path: &std::path::Path, error: rusqlite::Error, waited_ms: u64) -> Self {
        use rusqlite::ErrorCode as Code;
        let path = path.to_path_buf();
        match error.sqlite_error_code() {
            Some(Code::DatabaseBusy | Code::DatabaseLocked) => LogError::Locked { path, waited_ms },
            Some(Code::NotADatabase | Code::DatabaseCorrupt) => {
                LogError::Corrupt { path, message: error.to_string() }
            }
            _ => LogError::Database { path, message: error.to_string() },
        }
    }
}
