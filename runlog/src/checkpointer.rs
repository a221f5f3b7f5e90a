//! Write-ahead-log checkpoints off the writers' path. SQLite's own run inside the commit that
//! crosses its threshold, and copy the log back into the database with an fsync: milliseconds,
//! landing on whichever model call's write crossed it (most of the p99 of logging). Here a
//! thread of the log's own, with a connection of its own, checkpoints every so many commits and
//! once more when the log is dropped, so a commit never waits for one.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{SyncSender, sync_channel};
use std::thread::JoinHandle;

use rusqlite::Connection;

/// Commits between two checkpoints: a few hundred pages of log, well under SQLite's own 1,000.
const EVERY: usize = 64;

/// The checkpointing thread, asked to run by commits.
pub(crate) struct Checkpointer {
    commits: AtomicUsize,
    /// Dropped to stop the thread (after a last checkpoint).
    signal: Option<SyncSender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// A thread checkpointing the database at `path`; `None` when it cannot start (the writers
    /// then keep SQLite's own checkpoints).
    pub(crate) fn start(path: &Path) -> Option<Checkpointer> {
        let connection = Connection::open(path).ok()?;
        let (signal, asked) = sync_channel::<()>(1);
        let thread = std::thread::Builder::new()
            .name("runlog-checkpoint".into())
            .spawn(move || {
                // Until the log is dropped (the channel closes), then once more.
                while asked.recv().is_ok() {
                    checkpoint(&connection);
                }
                checkpoint(&connection);
            })
            .ok()?;
        Some(Checkpointer {
            commits: AtomicUsize::new(0),
            signal: Some(signal),
            thread: Some(thread),
        })
    }

    /// Counts a commit; every [`EVERY`] commits the thread is asked to checkpoint, without
    /// waiting for it.
    pub(crate) fn committed(&self) {
        if self.commits.fetch_add(1, Ordering::Relaxed) % EVERY != EVERY - 1 {
            return;
        }
        if let Some(signal) = &self.signal {
            // Full: a request is pending already, and stands for this one too.
            let _ = signal.try_send(());
        }
    }
}

/// A passive checkpoint: copies what it can without waiting on readers or writers.
fn checkpoint(connection: &Connection) {
    if let Err(error) = connection.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
        tracing::debug!(%error, "run log checkpoint skipped");
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.signal.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
