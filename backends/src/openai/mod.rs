//! The OpenAI Chat Completions wire, for OpenAI itself and every server that speaks its format:
//! vLLM, Ollama (`/v1`), llama.cpp's llama-server, LM Studio, Groq, Together, OpenRouter,
//! DeepSeek, Mistral (the [`providers`](crate::providers) table holds their addresses). Point
//! [`RemoteConfig::base_url`] at the server.

mod embed;
mod request;
mod response;

use anymodel_core::{Capabilities, ChatRequest, ChatResponse, Result};
use serde_json::Value;

use crate::http::{Remote, RemoteConfig, RemoteModel, Secret, Wire, remote_capabilities};

/// OpenAI's own API.
pub const OPENAI_BASE_URL: &str = crate::providers::OPENAI.base_url;

/// One model on an OpenAI-compatible server, and the Chat Completions wire it speaks. The
/// endpoint, key, headers, timeout and capabilities come with [`RemoteConfig`]'s builder
/// methods; the key is sent as a bearer token.
#[derive(Debug, Clone)]
pub struct OpenAiConfig {
    /// The server: its API root ends before `/chat/completions` (default [`OPENAI_BASE_URL`]).
    pub remote: Remote,
    /// The model's name on that server.
    pub model: String,
    /// Whether it is a reasoning model (OpenAI's o-series and gpt-5 family): its token limit
    /// goes as `max_completion_tokens`, and a temperature or `top_p` other than 1 is refused.
    /// Set from the model's name by [`OpenAiConfig::new`] (the provider table's list).
    pub reasoning_model: bool,
}

impl OpenAiConfig {
    /// A model on OpenAI's API, with no key yet.
    pub fn new(model: impl Into<String>) -> Self {
        let model = model.into();
        let reasoning_model = crate::providers::OPENAI.is_reasoning_model(&model);
        OpenAiConfig { remote: Remote::new(OPENAI_BASE_URL), model, reasoning_model }
    }

    /// The same model, declared a reasoning model or not (for a server whose names the
    /// provider table does not know).
    pub fn reasoning_model(mut self, reasoning: bool) -> Self {
        self.reasoning_model = reasoning;
        self
    }
}

impl RemoteConfig for OpenAiConfig {
    fn remote(&mut self) -> &mut Remote {
        &mut self.remote
    }
}

impl Wire for OpenAiConfig {
    type Reply = response::Completion;
    type Decoder = response::ChunkDecoder;
    const PROVIDER: &'static crate::providers::Provider = &crate::providers::OPENAI;

    fn endpoint(&self) -> &Remote {
        &self.remote
    }

    fn model(&self) -> &str {
        &self.model
    }

    /// Everything but the local models' sampling options (which this format does not carry);
    /// the context window is unknown, since it depends on the server and the model.
    fn default_capabilities(&self) -> Capabilities {
        let mut capabilities = remote_capabilities(None);
        capabilities.fixed_sampling = self.reasoning_model;
        capabilities
    }

    fn path(&self, _stream: bool) -> String {
        "chat/completions".into()
    }

    fn auth(&self) -> Vec<(&'static str, Secret)> {
        self.remote.bearer().into_iter().collect()
    }

    fn body(&self, request: &ChatRequest, stream: bool) -> Result<Value> {
        request::body(&self.model, request, stream, self.reasoning_model)
    }

    fn reply(&self, reply: response::Completion) -> Result<ChatResponse> {
        reply.into_response()
    }
}

/// A model behind an OpenAI-compatible Chat Completions endpoint.
pub type OpenAi = RemoteModel<OpenAiConfig>;
