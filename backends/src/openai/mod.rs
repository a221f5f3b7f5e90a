//! The OpenAI Chat Completions backend, for OpenAI itself and every server that speaks its wire
//! format: vLLM, Ollama (`/v1`), llama.cpp's llama-server, LM Studio, Groq, Together,
//! OpenRouter, DeepSeek, Mistral. Point [`OpenAiConfig::base_url`] at the server.

mod request;
mod response;

use std::fmt;
use std::time::Duration;

use anymodel_core::{Capabilities, ChatRequest, ChatResponse, EventStream, Model, Result};
use async_trait::async_trait;

use crate::http::{HttpClient, Secret, decode_stream, extra_headers};
use response::{ChunkDecoder, Completion};

/// OpenAI's own API.
pub const OPENAI_BASE_URL: &str = "https://api.openai.com/v1";

/// How to reach one model on an OpenAI-compatible server.
#[derive(Clone)]
pub struct OpenAiConfig {
    /// The API root, ending before `/chat/completions` (default [`OPENAI_BASE_URL`]).
    pub base_url: String,
    /// The model's name on that server.
    pub model: String,
    /// The bearer token; `None` for servers that need none (a local Ollama, say).
    pub api_key: Option<Secret>,
    /// Headers sent with every request, after the backend's own (values are kept secret).
    pub headers: Vec<(String, Secret)>,
    /// The longest the server may stay silent (before replying, or between stream chunks)
    /// before the call fails as transient. Default 120 s.
    pub timeout: Duration,
    /// What the model supports; servers differ, so this is configurable. Default: everything,
    /// context window unknown.
    pub capabilities: Capabilities,
}

impl OpenAiConfig {
    /// A model on OpenAI's API, with no key yet.
    pub fn new(model: impl Into<String>) -> Self {
        OpenAiConfig {
            base_url: OPENAI_BASE_URL.to_string(),
            model: model.into(),
            api_key: None,
            headers: Vec::new(),
            timeout: Duration::from_secs(120),
            capabilities: Capabilities::all(),
        }
    }

    /// The same model on another server.
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

    /// Sets what the model supports.
    pub fn capabilities(mut self, capabilities: Capabilities) -> Self {
        self.capabilities = capabilities;
        self
    }
}

impl fmt::Debug for OpenAiConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenAiConfig")
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .field("api_key", &self.api_key)
            .field("headers", &self.headers)
            .field("timeout", &self.timeout)
            .field("capabilities", &self.capabilities)
            .finish()
    }
}

/// A model behind an OpenAI-compatible Chat Completions endpoint.
#[derive(Debug, Clone)]
pub struct OpenAi {
    name: String,
    model: String,
    capabilities: Capabilities,
    http: HttpClient,
}

impl OpenAi {
    /// Connects nothing yet: checks the configuration and prepares the client.
    pub fn new(config: OpenAiConfig) -> Result<Self> {
        let auth = config
            .api_key
            .as_ref()
            .map(|key| ("authorization", Secret::new(format!("Bearer {}", key.expose()))));
        let headers = extra_headers(auth, &config.headers)?;
        let secrets = config.api_key.into_iter().chain(config.headers.into_iter().map(|(_, v)| v));
        Ok(OpenAi {
            name: format!("openai:{}", config.model),
            model: config.model,
            capabilities: config.capabilities,
            http: HttpClient::new(
                &config.base_url,
                "chat/completions",
                headers,
                secrets.collect(),
                config.timeout,
            )?,
        })
    }

    /// The JSON body this backend sends for `request`: what `--show-prompt` prints, since the
    /// key travels in a header and never in the body.
    pub fn request_body(&self, request: &ChatRequest, stream: bool) -> serde_json::Value {
        request::body(&self.model, request, stream)
    }
}

#[async_trait]
impl Model for OpenAi {
    fn name(&self) -> &str {
        &self.name
    }

    fn capabilities(&self) -> Capabilities {
        self.capabilities.clone()
    }

    async fn chat(&self, request: ChatRequest) -> Result<ChatResponse> {
        self.capabilities.check(&self.name, &request)?;
        let response = self.http.post(&self.request_body(&request, false)).await?;
        self.http.json::<Completion>(response).await?.into_response()
    }

    async fn stream(&self, request: ChatRequest) -> Result<EventStream> {
        self.capabilities.check(&self.name, &request)?;
        let response = self.http.post(&self.request_body(&request, true)).await?;
        Ok(decode_stream(self.http.events(response), ChunkDecoder::default()))
    }
}
