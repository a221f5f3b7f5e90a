//! The Anthropic Messages API backend.

mod request;
mod response;

use anymodel_core::{Capabilities, ChatRequest, ChatResponse, EventStream, Model, Result};
use async_trait::async_trait;

use crate::http::{HttpClient, Remote, RemoteConfig, Secret, decode_stream};
use response::{EventDecoder, Message};

/// Anthropic's API, given as Anthropic's SDKs take it (`ANTHROPIC_BASE_URL`): the server's root,
/// before `/v1/messages`.
pub const ANTHROPIC_BASE_URL: &str = "https://api.anthropic.com";
/// The API version this backend speaks.
pub const ANTHROPIC_VERSION: &str = "2023-06-01";

/// How to reach one Anthropic model. The endpoint, key, headers and timeout come with
/// [`RemoteConfig`]'s builder methods; the key is sent as `x-api-key`.
#[derive(Debug, Clone)]
pub struct AnthropicConfig {
    /// The server, as Anthropic's SDKs take it: its root, before `/v1/messages` (default
    /// [`ANTHROPIC_BASE_URL`]). A base URL that ends in `/v1` is taken as the API root itself.
    pub remote: Remote,
    /// The model, such as `claude-sonnet-4-5`.
    pub model: String,
    /// `max_tokens` for requests that set none (the API requires one). Default 4096.
    pub default_max_tokens: u32,
    /// The context window reported in the capabilities. Default 200 000 tokens.
    pub context_window: u32,
}

impl AnthropicConfig {
    /// A model on Anthropic's API, with no key yet.
    pub fn new(model: impl Into<String>) -> Self {
        AnthropicConfig {
            remote: Remote::new(ANTHROPIC_BASE_URL),
            model: model.into(),
            default_max_tokens: 4096,
            context_window: 200_000,
        }
    }
}

impl RemoteConfig for AnthropicConfig {
    fn remote(&mut self) -> &mut Remote {
        &mut self.remote
    }
}

/// Where the Messages endpoint is below `base_url`: `v1/messages` below a server's root, as
/// Anthropic's SDKs and Anthropic-compatible servers put it, and `messages` below a base URL
/// that already ends in `/v1`.
fn messages_path(base_url: &str) -> &'static str {
    if base_url.trim_end_matches('/').ends_with("/v1") { "messages" } else { "v1/messages" }
}

/// A model behind Anthropic's Messages API.
#[derive(Debug, Clone)]
pub struct Anthropic {
    name: String,
    model: String,
    default_max_tokens: u32,
    capabilities: Capabilities,
    http: HttpClient,
}

impl Anthropic {
    /// Checks the configuration and prepares the client; nothing is sent yet.
    pub fn new(config: AnthropicConfig) -> Result<Self> {
        let mut own = vec![("anthropic-version", Secret::new(ANTHROPIC_VERSION))];
        own.extend(config.remote.api_key.clone().map(|key| ("x-api-key", key)));
        let http = HttpClient::new(&config.remote, messages_path(&config.remote.base_url), own)?;
        Ok(Anthropic {
            name: format!("anthropic:{}", config.model),
            model: config.model,
            default_max_tokens: config.default_max_tokens,
            capabilities: Capabilities {
                tools: true,
                forced_tool_choice: true,
                parallel_tool_calls: true,
                json_output: false,
                json_schema_output: false,
                streaming: true,
                context_window: Some(config.context_window),
                penalties: false,
            },
            http,
        })
    }

    /// The JSON body this backend sends for `request` (the key travels in a header).
    pub fn request_body(&self, request: &ChatRequest, stream: bool) -> serde_json::Value {
        request::body(&self.model, request, stream, self.default_max_tokens)
    }
}

#[async_trait]
impl Model for Anthropic {
    fn name(&self) -> &str {
        &self.name
    }

    fn capabilities(&self) -> Capabilities {
        self.capabilities.clone()
    }

    async fn chat(&self, request: ChatRequest) -> Result<ChatResponse> {
        self.capabilities.check(&self.name, &request)?;
        let response = self.http.post(&self.request_body(&request, false)).await?;
        Ok(self.http.json::<Message>(response).await?.into_response())
    }

    async fn stream(&self, request: ChatRequest) -> Result<EventStream> {
        self.capabilities.check(&self.name, &request)?;
        let response = self.http.post(&self.request_body(&request, true)).await?;
        Ok(decode_stream(self.http.events(response), EventDecoder::default()))
    }

    fn preview(&self, request: &ChatRequest) -> Result<Option<String>> {
        Ok(Some(crate::http::pretty(&self.request_body(request, true))))
    }
}
