//! The OpenAI Chat Completions backend, for OpenAI itself and every server that speaks its wire
//! format: vLLM, Ollama (`/v1`), llama.cpp's llama-server, LM Studio, Groq, Together,
//! OpenRouter, DeepSeek, Mistral. Point [`RemoteConfig::base_url`] at the server.

mod request;
mod response;

use anymodel_core::{Capabilities, ChatRequest, ChatResponse, EventStream, Model, Result};
use async_trait::async_trait;

use crate::http::{HttpClient, Remote, RemoteConfig, decode_stream};
use response::{ChunkDecoder, Completion};

/// OpenAI's own API.
pub const OPENAI_BASE_URL: &str = "https://api.openai.com/v1";

/// How to reach one model on an OpenAI-compatible server. The endpoint, key, headers and
/// timeout come with [`RemoteConfig`]'s builder methods.
#[derive(Debug, Clone)]
pub struct OpenAiConfig {
    /// The server: its API root ends before `/chat/completions` (default [`OPENAI_BASE_URL`]).
    pub remote: Remote,
    /// The model's name on that server.
    pub model: String,
    /// What the model supports; servers differ, so this is configurable. Default: everything
    /// but the local models' sampling options (which this wire format does not carry), context
    /// window unknown.
    pub capabilities: Capabilities,
}

impl OpenAiConfig {
    /// A model on OpenAI's API, with no key yet.
    pub fn new(model: impl Into<String>) -> Self {
        OpenAiConfig {
            remote: Remote::new(OPENAI_BASE_URL),
            model: model.into(),
            capabilities: Capabilities { penalties: false, ..Capabilities::all() },
        }
    }

    /// Sets what the model supports.
    pub fn capabilities(mut self, capabilities: Capabilities) -> Self {
        self.capabilities = capabilities;
        self
    }
}

impl RemoteConfig for OpenAiConfig {
    fn remote(&mut self) -> &mut Remote {
        &mut self.remote
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
        let auth = config.remote.bearer();
        Ok(OpenAi {
            name: format!("openai:{}", config.model),
            http: HttpClient::new(&config.remote, "chat/completions", auth)?,
            model: config.model,
            capabilities: config.capabilities,
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

    fn preview(&self, request: &ChatRequest) -> Result<Option<String>> {
        Ok(Some(crate::http::pretty(&self.request_body(request, true))))
    }
}
