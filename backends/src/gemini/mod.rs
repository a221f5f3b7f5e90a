//! Google's Gemini API (`generateContent`, and `streamGenerateContent?alt=sse` for streams).

mod request;
mod response;

use anymodel_core::{Capabilities, ChatRequest, ChatResponse, EventStream, Model, Result};
use async_trait::async_trait;

use crate::http::{HttpClient, Remote, RemoteConfig, decode_stream};
use response::{ChunkDecoder, Reply};

/// Gemini's own API root.
pub const GEMINI_BASE_URL: &str = "https://generativelanguage.googleapis.com/v1beta";

/// How to reach one Gemini model. The endpoint, key, headers and timeout come with
/// [`RemoteConfig`]'s builder methods (the key is sent as `x-goog-api-key`).
#[derive(Debug, Clone)]
pub struct GeminiConfig {
    /// The API root, before `models/…`.
    pub remote: Remote,
    /// The model, such as `gemini-2.5-flash`.
    pub model: String,
}

impl GeminiConfig {
    /// A model on Google's API, with no key yet.
    pub fn new(model: impl Into<String>) -> Self {
        GeminiConfig { remote: Remote::new(GEMINI_BASE_URL), model: model.into() }
    }
}

impl RemoteConfig for GeminiConfig {
    fn remote(&mut self) -> &mut Remote {
        &mut self.remote
    }
}

/// A Gemini model.
#[derive(Debug, Clone)]
pub struct Gemini {
    name: String,
    whole: HttpClient,
    streamed: HttpClient,
}

impl Gemini {
    /// Connects nothing yet: checks the configuration and prepares the clients.
    pub fn new(config: GeminiConfig) -> Result<Self> {
        let auth = || config.remote.api_key.clone().map(|key| ("x-goog-api-key", key));
        let model = &config.model;
        Ok(Gemini {
            name: format!("gemini:{model}"),
            whole: HttpClient::new(
                &config.remote,
                &format!("models/{model}:generateContent"),
                auth(),
            )?,
            streamed: HttpClient::new(
                &config.remote,
                &format!("models/{model}:streamGenerateContent?alt=sse"),
                auth(),
            )?,
        })
    }

    /// The JSON body this backend sends for `request` (the key travels in a header).
    pub fn request_body(&self, request: &ChatRequest) -> serde_json::Value {
        request::body(request)
    }
}

#[async_trait]
impl Model for Gemini {
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
        let response = self.whole.post(&self.request_body(&request)).await?;
        self.whole.json::<Reply>(response).await?.into_response()
    }

    async fn stream(&self, request: ChatRequest) -> Result<EventStream> {
        self.capabilities().check(&self.name, &request)?;
        let response = self.streamed.post(&self.request_body(&request)).await?;
        Ok(decode_stream(self.streamed.events(response), ChunkDecoder::default()))
    }

    fn preview(&self, request: &ChatRequest) -> Result<Option<String>> {
        Ok(Some(crate::http::pretty(&self.request_body(request))))
    }
}
