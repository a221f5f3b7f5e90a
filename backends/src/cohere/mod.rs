//! Cohere's Chat API v2 (`/v2/chat`, streamed with `stream: true`).

mod wire;

use anymodel_core::{Capabilities, ChatRequest, ChatResponse, EventStream, Model, Result};
use async_trait::async_trait;

use crate::http::{HttpClient, Remote, RemoteConfig, decode_stream};
use wire::{EventDecoder, Reply};

/// Cohere's own API root.
pub const COHERE_BASE_URL: &str = "https://api.cohere.com/v2";

/// How to reach one Cohere model. The endpoint, key, headers and timeout come with
/// [`RemoteConfig`]'s builder methods (the key is sent as a bearer token).
#[derive(Debug, Clone)]
pub struct CohereConfig {
    /// The API root, before `/chat`.
    pub remote: Remote,
    /// The model, such as `command-a-03-2025`.
    pub model: String,
}

impl CohereConfig {
    /// A model on Cohere's API, with no key yet.
    pub fn new(model: impl Into<String>) -> Self {
        CohereConfig { remote: Remote::new(COHERE_BASE_URL), model: model.into() }
    }
}

impl RemoteConfig for CohereConfig {
    fn remote(&mut self) -> &mut Remote {
        &mut self.remote
    }
}

/// A Cohere model.
#[derive(Debug, Clone)]
pub struct Cohere {
    name: String,
    model: String,
    http: HttpClient,
}

impl Cohere {
    /// Connects nothing yet: checks the configuration and prepares the client.
    pub fn new(config: CohereConfig) -> Result<Self> {
        let auth = config.remote.bearer();
        Ok(Cohere {
            name: format!("cohere:{}", config.model),
            http: HttpClient::new(&config.remote, "chat", auth)?,
            model: config.model,
        })
    }

    /// The JSON body this backend sends for `request` (the key travels in a header).
    pub fn request_body(&self, request: &ChatRequest, stream: bool) -> serde_json::Value {
        wire::body(&self.model, request, stream)
    }
}

#[async_trait]
impl Model for Cohere {
    fn name(&self) -> &str {
        &self.name
    }

    /// Everything but the local models' sampling options: tools (forced and parallel), JSON and
    /// JSON Schema output, streaming.
    fn capabilities(&self) -> Capabilities {
        Capabilities { penalties: false, ..Capabilities::all() }
    }

    async fn chat(&self, request: ChatRequest) -> Result<ChatResponse> {
        self.capabilities().check(&self.name, &request)?;
        let response = self.http.post(&self.request_body(&request, false)).await?;
        self.http.json::<Reply>(response).await?.into_response()
    }

    async fn stream(&self, request: ChatRequest) -> Result<EventStream> {
        self.capabilities().check(&self.name, &request)?;
        let response = self.http.post(&self.request_body(&request, true)).await?;
        Ok(decode_stream(self.http.events(response), EventDecoder))
    }

    fn preview(&self, request: &ChatRequest) -> Result<Option<String>> {
        Ok(Some(crate::http::pretty(&self.request_body(request, true))))
    }
}
