//! Layers that wrap any model and keep the [`anymodel_core::Model`] trait, so the caller cannot
//! tell: [`Retry`] (with [`RetryLayer`], a `tower_layer::Layer`), [`Fallback`], [`Router`]
//! (spreading requests over several models, with cool-downs and concurrency limits), and
//! [`SamplingDefaults`] (a configured model's sampling settings).
//!
//! Retry and fallback act on a stream only before it has yielded anything: once output has reached the
//! caller, trying again would repeat it, so later errors pass through.

mod defaults;
mod fallback;
mod retry;
mod router;

pub use defaults::SamplingDefaults;
pub use fallback::Fallback;
pub use retry::{Retry, RetryLayer, RetryPolicy};
pub use router::{Router, RouterPolicy, Spread};
/// tower's `Layer`, re-exported so that `RetryLayer::layer` needs no extra dependency.
pub use tower_layer::Layer;

use anymodel_core::{EventStream, Result};
use futures::{StreamExt, stream};

/// The name of a model made of `models`: `KIND(a, b)`, or `KIND(N models)` when the members'
/// names together are long (fallbacks of fallbacks would otherwise nest without bound).
fn combined_name(kind: &str, models: &[std::sync::Arc<dyn anymodel_core::Model>]) -> String {
    let names: Vec<&str> = models.iter().map(|m| m.name()).collect();
    let joined = names.join(", ");
    if joined.len() <= 160 {
        format!("{kind}({joined})")
    } else {
        format!("{kind}({} models)", names.len())
    }
}

/// The provider every one of `models` has, or OpenTelemetry's `_OTHER` when they differ: the
/// provider of a fallback or a router, which may answer from any of them.
fn shared_provider<'a>(mut models: impl Iterator<Item = &'a dyn anymodel_core::Model>) -> &'a str {
    let Some(first) = models.next().map(|model| model.provider()) else { return "_OTHER" };
    if models.all(|model| model.provider() == first) { first } else { "_OTHER" }
}

/// Waits for a stream's first item: an error there means nothing was yielded, and is returned
/// as the call's error; otherwise the stream is handed back whole.
async fn first_event(mut events: EventStream) -> Result<EventStream> {
    match events.next().await {
        None => Ok(Box::pin(stream::empty())),
        Some(Err(err)) => Err(err),
        Some(Ok(first)) => Ok(Box::pin(stream::once(async { Ok(first) }).chain(events))),
    }
}
