//! [`TracedModel`]: any model, each of its calls in a `chat MODEL` span of OpenTelemetry's
//! GenAI conventions, for calls made outside an agent (the agent loop makes its own).

use tracing::Instrument;

use crate::error::Result;
use crate::model::Model;
use crate::request::ChatRequest;
use crate::response::ChatResponse;
use crate::stream::{EventStream, observe_reply};
use crate::telemetry;

/// Wraps a model so that each call is a `chat MODEL` span with the attributes the agent loop
/// gives its own (provider, request and response model, tokens, finish reason, `error.type`;
/// content only when asked): for an app that calls [`Model::chat`] itself, or a server
/// (`anymodel serve` wraps the models it serves so). A stream's span ends with the stream,
/// its reply recorded then (one dropped before its end is recorded as cancelled). Not for an
/// agent's model: the agent's spans would be made twice.
#[derive(Debug)]
pub struct TracedModel<M> {
    inner: M,
}

impl<M: Model> TracedModel<M> {
    /// `inner`, its calls traced.
    pub fn new(inner: M) -> Self {
        TracedModel { inner }
    }
}

#[async_trait::async_trait]
impl<M: Model> Model for TracedModel<M> {
    crate::forward_model_identity!(inner);

    async fn chat(&self, request: ChatRequest) -> Result<ChatResponse> {
        let span = telemetry::chat_span(&self.inner, &request);
        let reply = self.inner.chat(request).instrument(span.clone()).await;
        telemetry::record_reply(&span, reply.as_ref());
        reply
    }

    async fn stream(&self, request: ChatRequest) -> Result<EventStream> {
        let span = telemetry::chat_span(&self.inner, &request);
        match self.inner.stream(request).instrument(span.clone()).await {
            Ok(events) => Ok(observe_reply(events, move |reply| {
                telemetry::record_reply(&span, reply);
            })),
            Err(error) => {
                telemetry::record_reply(&span, Err(&error));
                Err(error)
            }
        }
    }

    async fn preview(&self, request: &ChatRequest) -> Result<Option<String>> {
        self.inner.preview(request).await
    }

    async fn count_tokens(&self, request: &ChatRequest) -> Result<Option<u64>> {
        self.inner.count_tokens(request).await
    }
}
