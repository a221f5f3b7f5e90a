//! `GET /metrics`: what the server did, per model, in the Prometheus text format: requests by
//! API and status, tokens in and out, request durations, and how many requests wait in each
//! local model's queue.

use std::time::Instant;

use std::sync::Arc;

use anymodel_core::{EventStream, StreamEvent, Usage};
use futures::StreamExt;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// A metric's labels, by name.
type Labels = Vec<(String, String)>;

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// Durations from 5 ms to about 80 s, doubling.
fn duration_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.005, 2.0, 15))
}

/// The server's metrics and their registry.
pub(crate) struct Metrics {
    registry: Registry,
    requests: Family<Labels, Counter>,
    tokens: Family<Labels, Counter>,
    durations: Family<Labels, Histogram, fn() -> Histogram>,
    queued: Family<Labels, Gauge>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("anymodel");
        let requests = Family::<Labels, Counter>::default();
        let tokens = Family::<Labels, Counter>::default();
        let durations = Family::<Labels, Histogram, fn() -> Histogram>::new_with_constructor(
            duration_histogram,
        );
        let queued = Family::<Labels, Gauge>::default();
        registry.register(
            "requests",
            "Requests answered, by model, API and HTTP status",
            requests.clone(),
        );
        registry.register(
            "tokens",
            "Tokens read (input) and written (output), by model",
            tokens.clone(),
        );
        registry.register(
            "request_duration_seconds",
            "From a request's arrival to its reply's end, by model and API",
            durations.clone(),
        );
        registry.register("queue_depth", "Requests waiting their turn, by model", queued.clone());
        Metrics { registry, requests, tokens, durations, queued }
    }
}

impl Metrics {
    /// The gauge of requests waiting for `model`.
    pub(crate) fn queue_depth(&self, model: &str) -> Gauge {
        self.queued.get_or_create(&labels(&[("model", model)])).clone()
    }

    /// Records one request's end.
    pub(crate) fn finished(&self, at: &Recorder, status: u16, usage: Option<&Usage>) {
        let model = at.model.as_deref().unwrap_or("");
        let status = status.to_string();
        self.requests
            .get_or_create(&labels(&[("model", model), ("api", at.api), ("status", &status)]))
            .inc();
        self.durations
            .get_or_create(&labels(&[("model", model), ("api", at.api)]))
            .observe(at.started.elapsed().as_secs_f64());
        if let Some(usage) = usage {
            self.tokens
                .get_or_create(&labels(&[("model", model), ("kind", "input")]))
                .inc_by(usage.input_tokens);
            self.tokens
                .get_or_create(&labels(&[("model", model), ("kind", "output")]))
                .inc_by(usage.output_tokens);
        }
    }

    /// The text format.
    pub(crate) fn render(&self) -> String {
        let mut text = String::new();
        if prometheus_client::encoding::text::encode(&mut text, &self.registry).is_err() {
            text.clear();
        }
        text
    }
}

/// One request as it is measured: its API, its model once known, when it arrived.
#[derive(Debug, Clone)]
pub(crate) struct Recorder {
    pub(crate) api: &'static str,
    pub(crate) model: Option<String>,
    pub(crate) started: Instant,
}

impl Recorder {
    pub(crate) fn new(api: &'static str) -> Self {
        Recorder { api, model: None, started: Instant::now() }
    }
}

/// `events`, with the request's end recorded as it passes: 200 and the usage at the finish, the
/// error's status at a failure.
pub(crate) fn recorded(
    events: EventStream,
    metrics: Arc<Metrics>,
    recorder: Recorder,
) -> EventStream {
    let mut usage = Usage::default();
    Box::pin(events.map(move |event| {
        match &event {
            Ok(StreamEvent::Usage { usage: more }) => usage = usage.updated_by(*more),
            Ok(StreamEvent::Finish { .. }) => metrics.finished(&recorder, 200, Some(&usage)),
            Err(error) => {
                let status = crate::error::ApiError::from(error.clone()).status.as_u16();
                metrics.finished(&recorder, status, None);
            }
            Ok(_) => {}
        }
        event
    }))
}
