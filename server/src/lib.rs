//! Any anymodel model behind the HTTP APIs programs already speak: OpenAI's Chat Completions
//! (`POST /v1/chat/completions`) and Responses (`POST /v1/responses`), and Anthropic's Messages
//! (`POST /v1/messages`), whole or streamed, and embedders at OpenAI's `POST /v1/embeddings`,
//! with `GET /v1/models` and `GET /health`.
//! Every SDK, chat UI or coding agent that takes an OpenAI `base_url` can then use a local
//! Llama run in-process, a fallback chain or a router, unchanged.
//!
//! ```no_run
//! # async fn serve(model: std::sync::Arc<dyn anymodel_core::Model>) -> std::io::Result<()> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! anymodel_server::Server::new().model("local", model).serve(listener).await
//! # }
//! ```
//!
//! Requests are checked against the server's keys (`Authorization: Bearer KEY`, compared in
//! constant time) when it has any, bodies are bounded, and errors come in the API's own shape
//! with the status clients' retry logic reads: an upstream rate limit is a 429 with its
//! `retry-after`.

mod anthropic;
mod embeddings;
mod error;
mod metrics;
mod openai;
mod queue;
mod responses;
mod state;

use std::collections::BTreeMap;
use std::sync::Arc;

use anymodel_core::Model;
use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;

pub use error::ApiError;
use queue::Queue;
pub use queue::QueueLimits;
use state::{AppState, Served};

/// The largest request body taken by default: room for a long conversation with a few images.
pub const DEFAULT_BODY_LIMIT: usize = 32 * 1024 * 1024;

/// The longest a request may take by default, from its turn to its reply's end.
pub const DEFAULT_REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(600);

/// A server of models by name: build it, then [`Server::serve`] it on a listener (or mount
/// [`Server::router`] in an app of one's own).
pub struct Server {
    models: BTreeMap<String, Served>,
    embedders: BTreeMap<String, Arc<dyn anymodel_core::Embedder>>,
    keys: Vec<String>,
    body_limit: usize,
    request_timeout: std::time::Duration,
    metrics: Arc<metrics::Metrics>,
}

impl Default for Server {
    fn default() -> Self {
        Server::new()
    }
}

impl Server {
    /// A server with no models, no keys (every request is let in) and the default body limit.
    pub fn new() -> Self {
        Server {
            models: BTreeMap::new(),
            embedders: BTreeMap::new(),
            keys: Vec::new(),
            body_limit: DEFAULT_BODY_LIMIT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            metrics: Default::default(),
        }
    }

    /// Serves `model` under `name`: the `model` field of a request picks it. Requests reach it
    /// as they come, concurrently (remote models).
    pub fn model(mut self, name: impl Into<String>, model: Arc<dyn Model>) -> Self {
        self.models.insert(name.into(), Served { model, queue: None });
        self
    }

    /// Serves `model` under `name` behind a fair queue with these limits (local models, which
    /// generate one reply at a time).
    pub fn queued_model(
        mut self,
        name: impl Into<String>,
        model: Arc<dyn Model>,
        limits: QueueLimits,
    ) -> Self {
        let name = name.into();
        let queue = Queue::new(limits, self.metrics.queue_depth(&name));
        self.models.insert(name, Served { model, queue: Some(queue) });
        self
    }

    /// Serves `embedder` under `name` at `POST /v1/embeddings` (OpenAI's shape).
    pub fn embedder(
        mut self,
        name: impl Into<String>,
        embedder: Arc<dyn anymodel_core::Embedder>,
    ) -> Self {
        self.embedders.insert(name.into(), embedder);
        self
    }

    /// Lets in requests that carry this key; once one is set, requests without a key it knows
    /// are refused (401).
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.keys.push(key.into());
        self
    }

    /// The largest request body taken (413 above it).
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }

    /// The longest one request may take, from its turn to its reply's end: past it the reply is
    /// stopped (a stream ends with an error event) and the request counts as failed (503).
    pub fn request_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// The routes, for serving or mounting.
    pub fn router(self) -> Router {
        let limit = self.body_limit;
        let state = Arc::new(AppState::new(
            self.models,
            self.embedders,
            self.keys,
            limit,
            self.metrics,
            self.request_timeout,
        ));
        Router::new()
            .route("/health", get(|| async { axum::Json(json!({"status": "ok"})) }))
            .route("/v1/models", get(models))
            .route("/metrics", get(metrics))
            .route("/v1/chat/completions", post(openai::chat_completions))
            .route("/v1/messages", post(anthropic::messages))
            .route("/v1/messages/count_tokens", post(anthropic::count_tokens))
            .route("/v1/responses", post(responses::responses))
            .route("/v1/embeddings", post(embeddings::embeddings))
            .layer(DefaultBodyLimit::max(limit))
            .with_state(state)
    }

    /// Serves until the listener fails. Replies go out as they are written (no Nagle delay: a
    /// stream's small chunks would otherwise wait for the client's acknowledgement, 40 ms each).
    pub async fn serve(self, listener: tokio::net::TcpListener) -> std::io::Result<()> {
        use axum::serve::ListenerExt;
        let listener = listener.tap_io(|tcp| {
            if let Err(error) = tcp.set_nodelay(true) {
                tracing::debug!(%error, "could not turn off Nagle's algorithm");
            }
        });
        axum::serve(listener, self.router()).await
    }
}

/// `GET /metrics`: the Prometheus text format (OpenMetrics).
async fn metrics(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if let Err(error) = state.authorize(&headers) {
        return error.into_response();
    }
    let content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8";
    ([(axum::http::header::CONTENT_TYPE, content_type)], state.metrics.render()).into_response()
}

/// `GET /v1/models`: the names served, in OpenAI's list shape, or in Anthropic's when the
/// request carries `anthropic-version` (as Anthropic's SDKs send it).
async fn models(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let anthropic = headers.contains_key("anthropic-version");
    if let Err(error) = state.authorize(&headers) {
        return if anthropic { error.into_anthropic_response() } else { error.into_response() };
    }
    let names = state.models.keys().chain(state.embedders.keys());
    if anthropic {
        let data: Vec<_> = names
            .map(|id| json!({"type": "model", "id": id, "display_name": id, "created_at": "1970-01-01T00:00:00Z"}))
            .collect();
        let last = data.last().map(|m| m["id"].clone());
        let first = data.first().map(|m| m["id"].clone());
        return axum::Json(
            json!({"data": data, "has_more": false, "first_id": first, "last_id": last}),
        )
        .into_response();
    }
    let data: Vec<_> = names
        .map(|id| json!({"id": id, "object": "model", "created": 0, "owned_by": "anymodel"}))
        .collect();
    axum::Json(json!({"object": "list", "data": data})).into_response()
}
