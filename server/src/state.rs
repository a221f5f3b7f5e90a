//! What every handler shares: the models served by name, the keys that may call them, and the
//! body size limit.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use std::time::Duration;

use anymodel_core::{ChatRequest, ChatResponse, Error, EventStream, Model};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use futures::StreamExt;
use serde::de::DeserializeOwned;
use subtle::ConstantTimeEq;

use crate::error::ApiError;
use crate::metrics::{Recorder, recorded};
use crate::queue::Queue;
use tokio::sync::OwnedSemaphorePermit;

/// A model as served: with a queue in front when it runs one generation at a time.
pub(crate) struct Served {
    pub(crate) model: Arc<dyn Model>,
    pub(crate) queue: Option<Queue>,
}

/// A model's turn: the model, and the queue's permit that the request holds while it runs (none
/// for a model without a queue).
pub(crate) struct Turn {
    pub(crate) model: Arc<dyn Model>,
    pub(crate) permit: Option<OwnedSemaphorePermit>,
}

/// The state behind the routes.
pub(crate) struct AppState {
    pub(crate) models: BTreeMap<String, Served>,
    /// The embedders served at `/v1/embeddings`, by name.
    pub(crate) embedders: BTreeMap<String, Arc<dyn anymodel_core::Embedder>>,
    pub(crate) keys: Vec<String>,
    pub(crate) body_limit: usize,
    /// The responses kept for `previous_response_id`.
    pub(crate) responses: crate::responses::ResponseStore,
    /// What `/metrics` shows.
    pub(crate) metrics: Arc<crate::metrics::Metrics>,
    /// The longest one request may take, from its turn to its reply's end.
    pub(crate) request_timeout: Duration,
    ids: AtomicU64,
}

impl AppState {
    pub(crate) fn new(
        models: BTreeMap<String, Served>,
        embedders: BTreeMap<String, Arc<dyn anymodel_core::Embedder>>,
        keys: Vec<String>,
        body_limit: usize,
        metrics: Arc<crate::metrics::Metrics>,
        request_timeout: Duration,
    ) -> Self {
        AppState {
            models,
            embedders,
            keys,
            body_limit,
            responses: Default::default(),
            metrics,
            request_timeout,
            ids: AtomicU64::new(1),
        }
    }

    /// A whole reply in `turn`, within the request timeout; counted in the metrics, and the
    /// turn given back once it is done.
    pub(crate) async fn chat(
        &self,
        turn: Turn,
        request: ChatRequest,
        recorder: &Recorder,
    ) -> Result<ChatResponse, ApiError> {
        let reply = match tokio::time::timeout(self.request_timeout, turn.model.chat(request)).await
        {
            Ok(reply) => reply?,
            Err(_) => return Err(ApiError::from(past_timeout(self.request_timeout))),
        };
        self.metrics.finished(recorder, 200, Some(&reply.usage));
        Ok(reply)
    }

    /// A reply's events in `turn`: cut with an error at the request timeout (the model's stream
    /// dropped there, which stops a local generation), counted in the metrics at their end, and
    /// holding the turn until they end or the client leaves.
    pub(crate) async fn stream(
        &self,
        turn: Turn,
        request: ChatRequest,
        recorder: Recorder,
    ) -> Result<EventStream, ApiError> {
        let timeout = self.request_timeout;
        let deadline = tokio::time::Instant::now() + timeout;
        let events = tokio::time::timeout_at(deadline, turn.model.stream(request))
            .await
            .map_err(|_| ApiError::from(past_timeout(timeout)))??;
        let events = recorded(events, self.metrics.clone(), recorder);
        let held = Some((events, turn.permit));
        Ok(Box::pin(futures::stream::unfold(held, move |held| async move {
            let (mut events, permit) = held?;
            match tokio::time::timeout_at(deadline, events.next()).await {
                Ok(Some(event)) => Some((event, Some((events, permit)))),
                Ok(None) => None,
                Err(_) => Some((Err(past_timeout(timeout)), None)),
            }
        })))
    }

    /// The response to a request: its own, or its error in the API's `shape`, counted.
    pub(crate) fn answer(
        &self,
        recorder: &Recorder,
        outcome: Result<Response, ApiError>,
        shape: fn(ApiError) -> Response,
    ) -> Response {
        outcome.unwrap_or_else(|error| {
            self.metrics.finished(recorder, error.status.as_u16(), None);
            shape(error)
        })
    }

    /// Checks the request's key (`Authorization: Bearer KEY`, or Anthropic's `x-api-key`)
    /// against the server's, in constant time; with no keys configured, every request passes.
    pub(crate) fn authorize(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        if self.keys.is_empty() {
            return Ok(());
        }
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "));
        let given = bearer.or_else(|| headers.get("x-api-key").and_then(|v| v.to_str().ok()));
        let Some(given) = given else { return Err(ApiError::unauthorized()) };
        // Every key is compared, so the time taken says nothing about which one nearly matched.
        let matched = self.keys.iter().fold(subtle::Choice::from(0), |found, key| {
            found | key.as_bytes().ct_eq(given.as_bytes())
        });
        if bool::from(matched) { Ok(()) } else { Err(ApiError::unauthorized()) }
    }

    /// The body as `T`; a body over the limit is a 413, one that does not parse a 400 naming
    /// the field at fault.
    pub(crate) fn parse<T: DeserializeOwned>(
        &self,
        body: Result<Bytes, BytesRejection>,
    ) -> Result<T, ApiError> {
        let body = body.map_err(|rejection| match rejection.status() {
            StatusCode::PAYLOAD_TOO_LARGE => ApiError::too_large(self.body_limit),
            _ => {
                ApiError::invalid(format!("the request body could not be read: {rejection}"), None)
            }
        })?;
        let mut json = serde_json::Deserializer::from_slice(&body);
        serde_path_to_error::deserialize(&mut json).map_err(|error| {
            let path = error.path().to_string();
            let param = (path != ".").then_some(path);
            let message = match &param {
                Some(path) => format!("{path}: {}", error.inner()),
                None => format!("the body is not a valid request: {}", error.inner()),
            };
            ApiError::invalid(message, param)
        })
    }

    /// The embedder served under `name`, or a 404 listing those that are served.
    pub(crate) fn embedder(
        &self,
        name: &str,
    ) -> Result<Arc<dyn anymodel_core::Embedder>, ApiError> {
        self.embedders.get(name).cloned().ok_or_else(|| {
            ApiError::unknown_model(name, &self.embedders.keys().cloned().collect::<Vec<_>>())
        })
    }

    /// The model served under `name`, without waiting for a turn (for work that does not
    /// generate), or a 404 listing those that are served.
    pub(crate) fn model(&self, name: &str) -> Result<Arc<dyn Model>, ApiError> {
        self.models.get(name).map(|served| served.model.clone()).ok_or_else(|| {
            ApiError::unknown_model(name, &self.models.keys().cloned().collect::<Vec<_>>())
        })
    }

    /// The model served under `name` and its turn in the queue (waited for), or a 404 listing
    /// those that are served, or a 503 when its queue is full.
    pub(crate) async fn enter(&self, name: &str) -> Result<Turn, ApiError> {
        let model = self.model(name)?;
        let permit = match self.models.get(name).and_then(|served| served.queue.as_ref()) {
            Some(queue) => Some(queue.enter(name).await?),
            None => None,
        };
        Ok(Turn { model, permit })
    }

    /// A number for a reply's id, unique in this process.
    pub(crate) fn next_id(&self) -> u64 {
        self.ids.fetch_add(1, Ordering::Relaxed)
    }
}

/// The error of a request that took longer than the server allows: transient (a 503 with a
/// message saying so), since trying again may find the model less busy.
fn past_timeout(timeout: Duration) -> Error {
    Error::Transient {
        message: format!(
            "the request took longer than the server's limit of {} s and was stopped",
            timeout.as_secs()
        ),
        retry_after: None,
    }
}

/// Named server-sent events (Messages and Responses name each one), as a response's stream.
pub(crate) fn named_events<N: AsRef<str>>(
    events: Vec<(N, serde_json::Value)>,
) -> impl futures::Stream<Item = Result<axum::response::sse::Event, std::convert::Infallible>> {
    futures::stream::iter(events.into_iter().map(|(name, data)| {
        Ok(axum::response::sse::Event::default().event(name).data(data.to_string()))
    }))
}

/// Seconds since the Unix epoch, for `created` fields.
pub(crate) fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}
