//! One remote model over any provider's wire: the HTTP calls, the capability check, the stream
//! decoding and the request preview are written once here, and each provider's module holds only
//! its [`Wire`], the mapping between core types and its JSON.

use std::fmt;

use anymodel_core::{Capabilities, ChatRequest, ChatResponse, EventStream, Model, Result};
use async_trait::async_trait;
use futures::StreamExt;
use serde::de::DeserializeOwned;
use serde_json::Value;

use tokio::time::Instant;

use super::MAX_REPLY_BYTES;
use super::errors;
use super::remote::{Remote, RemoteConfig};
use anymodel_core::Redactor;

use super::secret::{Secret, redactor};
use super::sse::{StreamDecoder, StreamLimits, decode_stream};
use super::transport::HttpClient;

/// One provider's API as data in and data out, with no I/O: where a request goes, how it is
/// authenticated, its JSON body, and how a whole reply and a stream's events decode. A type that
/// implements it is also the configuration of one model on that API ([`RemoteConfig`]'s builder
/// methods set the endpoint), and [`RemoteModel`] makes it a [`Model`].
pub trait Wire: RemoteConfig + Clone + fmt::Debug + Send + Sync + 'static {
    /// A whole (not streamed) reply's JSON.
    type Reply: DeserializeOwned + Send;
    /// Decodes the events of a streamed reply.
    type Decoder: StreamDecoder + Default;

    /// The provider whose API this is: its id is the first part of the model's name (`openai`
    /// in `openai:gpt-4o`).
    const PROVIDER: &'static crate::providers::Provider;

    /// The endpoint, key, headers, silence limit and capability override.
    fn endpoint(&self) -> &Remote;

    /// The model's name on the server.
    fn model(&self) -> &str;

    /// What the model supports when the configuration does not say otherwise.
    fn default_capabilities(&self) -> Capabilities;

    /// The endpoint's path below the base URL, for a whole reply or a stream.
    fn path(&self, stream: bool) -> String;

    /// The headers that authenticate a request with the configured key (none without one).
    fn auth(&self) -> Vec<(&'static str, Secret)>;

    /// The JSON body for `request`; a request with something the wire cannot write is an
    /// error, never a body without it.
    fn body(&self, request: &ChatRequest, stream: bool) -> Result<Value>;

    /// The core reply of a whole reply; a reply that says it failed is an error.
    fn reply(&self, reply: Self::Reply) -> Result<ChatResponse>;

    /// Where the provider counts a request's tokens, and the body it wants for `request`;
    /// `None` (the default) for a provider without such an endpoint.
    fn count_tokens(&self, request: &ChatRequest) -> Option<Result<(String, Value)>> {
        let _ = request;
        None
    }

    /// The count in the provider's reply to [`Wire::count_tokens`]'s request (`input_tokens`
    /// unless the wire says otherwise).
    fn tokens_counted(&self, reply: &Value) -> Option<u64> {
        reply["input_tokens"].as_u64()
    }
}

/// A model behind a remote API, speaking it through its [`Wire`]. Every request is checked
/// against the model's capabilities before anything is sent; errors, including those that
/// arrive inside a stream, are classed the same way for every provider.
#[derive(Debug, Clone)]
pub struct RemoteModel<W> {
    name: String,
    /// Who serves it, by OpenTelemetry's name (from the provider table, by its URL).
    provider: &'static str,
    wire: W,
    capabilities: Capabilities,
    whole: HttpClient,
    streamed: HttpClient,
    redactor: Redactor,
}

impl<W: Wire> RemoteModel<W> {
    /// Connects nothing yet: checks the configuration (the URL, the headers) and prepares the
    /// client.
    pub fn new(wire: W) -> Result<Self> {
        let remote = wire.endpoint();
        let whole = HttpClient::new(remote, &wire.path(false), wire.auth())?;
        let streamed = whole.at(&remote.base_url, &wire.path(true))?;
        let capabilities =
            remote.capabilities.clone().unwrap_or_else(|| wire.default_capabilities());
        let redactor = redactor(&remote.secrets());
        Ok(RemoteModel {
            redactor,
            name: format!("{}:{}", W::PROVIDER.id, wire.model()),
            provider: crate::providers::serving(W::PROVIDER.api, &remote.base_url).otel_name,
            wire,
            capabilities,
            whole,
            streamed,
        })
    }

    /// The JSON body this model sends for `request`: what `--show-prompt` prints, since keys
    /// travel in headers and never in the body.
    pub fn request_body(&self, request: &ChatRequest, stream: bool) -> Result<Value> {
        let mut body = self.wire.body(request, stream)?;
        merge_extra(&mut body, &self.wire.endpoint().extra, &request.extra)?;
        Ok(body)
    }
}

/// Merges provider options into a body: the configured ones, then the request's over them. A
/// key the wire wrote itself is refused, so that an option never silently replaces one
/// anymodel sets from the request's own fields (`max_tokens`, `messages`, `tools`, ...).
fn merge_extra(
    body: &mut Value,
    configured: &serde_json::Map<String, Value>,
    requested: &serde_json::Map<String, Value>,
) -> Result<()> {
    let Value::Object(body) = body else { return Ok(()) };
    let mut extra = configured.clone();
    extra.extend(requested.iter().map(|(key, value)| (key.clone(), value.clone())));
    for (key, value) in extra {
        if body.contains_key(&key) {
            return Err(anymodel_core::Error::InvalidRequest {
                status: None,
                message: format!(
                    "provider option `{key}` is one anymodel writes from the request itself: set it through the request's own field, not `extra`"
                ),
            });
        }
        body.insert(key, value);
    }
    Ok(())
}

#[async_trait]
impl<W: Wire> Model for RemoteModel<W> {
    fn name(&self) -> &str {
        &self.name
    }

    fn provider(&self) -> &str {
        self.provider
    }

    fn capabilities(&self) -> Capabilities {
        self.capabilities.clone()
    }

    async fn chat(&self, request: ChatRequest) -> Result<ChatResponse> {
        let deadline = self.wire.endpoint().deadline;
        let reply = async {
            self.capabilities.check(&self.name, &request)?;
            let response = self.whole.post(&self.request_body(&request, false)?).await?;
            self.wire.reply(self.whole.json::<W::Reply>(response).await?)
        };
        let reply = tokio::time::timeout(deadline, reply)
            .await
            .unwrap_or_else(|_| Err(errors::past_deadline(deadline)));
        reply.map_err(|error| self.redactor.error(error))
    }

    async fn stream(&self, request: ChatRequest) -> Result<EventStream> {
        let allowed = self.wire.endpoint().deadline;
        let deadline = Instant::now() + allowed;
        let events = async {
            self.capabilities.check(&self.name, &request)?;
            let body = self.request_body(&request, true)?;
            let response = tokio::time::timeout_at(deadline, self.streamed.post(&body))
                .await
                .map_err(|_| errors::past_deadline(allowed))??;
            // A token is a few bytes; no reply within max_tokens comes near this many.
            let max_reply_bytes = request
                .sampling
                .max_tokens
                .map_or(MAX_REPLY_BYTES, |tokens| (tokens as usize).saturating_mul(256))
                .min(MAX_REPLY_BYTES);
            let limits = StreamLimits {
                silence: self.streamed.timeout(),
                deadline: (deadline, allowed),
                max_reply_bytes,
            };
            Ok(decode_stream(self.streamed.events(response), W::Decoder::default(), limits))
        };
        let events = events.await.map_err(|error| self.redactor.error(error))?;
        let redactor = self.redactor.clone();
        Ok(Box::pin(events.map(move |event| event.map_err(|error| redactor.error(error)))))
    }

    async fn preview(&self, request: &ChatRequest) -> Result<Option<String>> {
        Ok(Some(super::pretty(&self.request_body(request, true)?)))
    }

    /// The provider's own count, where it has an endpoint for it (Anthropic's
    /// `count_tokens`).
    async fn count_tokens(&self, request: &ChatRequest) -> Result<Option<u64>> {
        let Some(counting) = self.wire.count_tokens(request) else { return Ok(None) };
        let counted = async {
            let (path, body) = counting?;
            let client = self.whole.at(&self.wire.endpoint().base_url, &path)?;
            let response = client.post(&body).await?;
            let reply: Value = client.json(response).await?;
            self.wire.tokens_counted(&reply).map(Some).ok_or_else(|| {
                anymodel_core::Error::invalid_response(format!(
                    "a token count without its count: {reply}"
                ))
            })
        };
        let deadline = self.wire.endpoint().deadline;
        tokio::time::timeout(deadline, counted)
            .await
            .unwrap_or_else(|_| Err(errors::past_deadline(deadline)))
            .map_err(|error| self.redactor.error(error))
    }
}
