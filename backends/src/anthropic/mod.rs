//! The Anthropic Messages API backend.

mod request;
mod response;

use std::fmt;
use std::time::Duration;

use anymodel_core::{Capabilities, ChatRequest, ChatResponse, EventStream, Model, Result};
use async_trait::async_trait;

use crate::http::{HttpClient, Secret, decode_stream, extra_headers};
use response::{EventDecoder, Message};

/// Anthropic's API.
pub const ANTHROPIC_BASE_URL: &str = "https://api.anthropic.com/v1";
/// The API version this backend speaks.
pub const ANTHROPIC_VERSION: &str = "2023-06-01";

/// How to reach one Anthropic model.
#[derive(Clone)]
pub struct AnthropicConfig {
    /// The API root, ending before `/messages` (default [`ANTHROPIC_BASE_URL`]).
    pub base_url: String,
    /// The model, such as `claude-sonnet-4-5`.
    pub model: String,
    /// The API key, sent as `x-api-key`.
    pub api_key: Option<Secret>,
    /// Headers sent with every request after the backend's own (`anthropic-beta`, say).
    pub headers: Vec<(String, Secret)>,
    /// `max_tokens` for requests that set none (the API requires one). Default 4096.
    pub default_max_tokens: u32,
    /// The longest the server may stay silent before the call fails as transient. Default 120 s.
    pub timeout: Duration,
    /// The context window reported in the capabilities. Default 200 000 tokens.
    pub context_window: u32,
}

impl AnthropicConfig {
    /// A model on Anthropic's API, with no key yet.
    pub fn new(model: impl Into<String>) -> Self {
        AnthropicConfig {
            base_url: ANTHROPIC_BASE_URL.to_string(),
            model: model.into(),
            api_key: None,
            headers: Vec::new(),
            default_max_tokens: 4096,
            timeout: Duration::from_secs(120),
            context_window: 200_000,
        }
    }

    /// The same model behind another URL (a proxy, a gateway, a test server).
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into();
        self
    }

    /// Uses this API key.
    pub fn api_key(mut self, key: Secret) -> Self {
        self.api_key = Some(key);
        self
    }

    /// Reads the API key from an environment variable (a clear error names it when unset).
    pub fn api_key_env(self, variable: &str) -> Result<Self> {
        Ok(self.api_key(Secret::from_env(variable)?))
    }

    /// Adds a header to every request.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), Secret::new(value)));
        self
    }

    /// Sets the silence limit.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

impl fmt::Debug for AnthropicConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AnthropicConfig")
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .field("api_key", &self.api_key)
            .field("headers", &self.headers)
            .field("default_max_tokens", &self.default_max_tokens)
            .field("timeout", &self.timeout)
            .field("context_window", &self.context_window)
            .finish()
    }
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
        own.extend(config.api_key.clone().map(|key| ("x-api-key", key)));
        let headers = extra_headers(own, &config.headers)?;
        let secrets = config.api_key.into_iter().chain(config.headers.into_iter().map(|(_, v)| v));
        Ok(Anthropic {
            name: format!("anthropic:{}", config.model),
            model: config.model,
            default_max_tokens: config.default_max_tokens,
            capabilities: Capabilities {
                tools: true,
                parallel_tool_calls: true,
                json_output: false,
                json_schema_output: false,
                streaming: true,
                context_window: Some(config.context_window),
            },
            http: HttpClient::new(
                &config.base_url,
                "messages",
                headers,
                secrets.collect(),
                config.timeout,
            )?,
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
}
