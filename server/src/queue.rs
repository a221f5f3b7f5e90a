//! The queue in front of a model that runs one generation at a time (a local model): at most so
//! many requests run at once, at most so many more wait their turn, first come first served, and
//! the rest are turned away at once with a time to come back, never left hanging.

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::metrics::gauge::Gauge;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::ApiError;

/// How a model takes concurrent requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueLimits {
    /// Requests that run at once (1 for a local model: its generations take turns anyway).
    pub concurrency: usize,
    /// Requests that may wait for their turn; one more is refused with 503 and `retry-after`.
    pub waiting: usize,
    /// The longest a request waits for its turn before it is refused the same way.
    pub max_wait: Duration,
}

impl Default for QueueLimits {
    /// One at a time, 16 waiting, for at most 5 minutes.
    fn default() -> Self {
        QueueLimits { concurrency: 1, waiting: 16, max_wait: Duration::from_secs(300) }
    }
}

/// A queue with [`QueueLimits`]; tokio's semaphore hands out turns in the order they were asked.
#[derive(Debug)]
pub(crate) struct Queue {
    turns: Arc<Semaphore>,
    limits: QueueLimits,
    /// The requests waiting, as `/metrics` shows them.
    depth: Gauge,
}

/// Counts a request as waiting until it has its turn or gives up (a client that leaves while it
/// waits drops it).
struct Waiting<'a>(&'a Gauge);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.dec();
    }
}

impl Queue {
    pub(crate) fn new(limits: QueueLimits, depth: Gauge) -> Self {
        let concurrency = limits.concurrency.max(1);
        Queue { turns: Arc::new(Semaphore::new(concurrency)), limits, depth }
    }

    /// A turn: held while the request runs (a stream holds it until it ends or its client
    /// leaves).
    pub(crate) async fn enter(&self, model: &str) -> Result<OwnedSemaphorePermit, ApiError> {
        if let Ok(turn) = self.turns.clone().try_acquire_owned() {
            return Ok(turn);
        }
        let _waiting = Waiting(&self.depth);
        if self.depth.inc() >= self.limits.waiting as i64 {
            return Err(ApiError::busy(model, self.limits.waiting, Duration::from_secs(1)));
        }
        match tokio::time::timeout(self.limits.max_wait, self.turns.clone().acquire_owned()).await {
            Ok(Ok(turn)) => Ok(turn),
            _ => Err(ApiError::busy(model, self.limits.waiting, Duration::from_secs(5))),
        }
    }
}
