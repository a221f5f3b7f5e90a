//! Google's Gemini API wire (`generateContent`, and `streamGenerateContent?alt=sse` for
//! streams).

mod embed;
mod request;
mod response;

use anymodel_core::{Capabilities, ChatRequest, ChatResponse, Result};
use serde_json::Value;

use crate::http::{Remote, RemoteConfig, RemoteModel, Secret, Wire, remote_capabilities};

/// Gemini's own API root.
pub const GEMINI_BASE_URL: &str = crate::providers::GEMINI.base_url;

/// One Gemini model, and the wire it speaks. The endpoint, key, headers, timeout and
/// capabilities come with [`RemoteConfig`]'s builder methods (the key is sent as
/// `x-goog-api-key`).
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

impl Wire for GeminiConfig {
    type Reply = response::Reply;
    type Decoder = response::ChunkDecoder;
    const PROVIDER: &'static crate::providers::Provider = &crate::providers::GEMINI;

    fn endpoint(&self) -> &Remote {
        &self.remote
    }

    fn model(&self) -> &str {
        &self.model
    }

    /// Everything but the local models' sampling options: tools (forced and parallel), JSON and
    /// JSON Schema output, streaming; a context window of 1,048,576 tokens (Gemini 2's).
    fn default_capabilities(&self) -> Capabilities {
        remote_capabilities(Some(1_048_576))
    }

    fn path(&self, stream: bool) -> String {
        let model = &self.model;
        match stream {
            false => format!("models/{model}:generateContent"),
            true => format!("models/{model}:streamGenerateContent?alt=sse"),
        }
    }

    fn auth(&self) -> Vec<(&'static str, Secret)> {
        self.remote.api_key.clone().map(|key| ("x-goog-api-key", key)).into_iter().collect()
    }

    /// The same body whole or streamed: the endpoint says which.
    fn body(&self, request: &ChatRequest, _stream: bool) -> Result<Value> {
        request::body(request)
    }

    fn reply(&self, reply: response::Reply) -> Result<ChatResponse> {
        reply.into_response()
    }

    /// `countTokens` with the whole request (system instruction and tools count too).
    fn count_tokens(&self, request: &ChatRequest) -> Option<Result<(String, Value)>> {
        let path = format!("models/{}:countTokens", self.model);
        Some(request::body(request).map(|mut body| {
            body["model"] = format!("models/{}", self.model).into();
            (path, serde_json::json!({"generateContentRequest": body}))
        }))
    }

    fn tokens_counted(&self, reply: &Value) -> Option<u64> {
        reply["totalTokens"].as_u64()
    }
}

/// A Gemini model.
pub type Gemini = RemoteModel<GeminiConfig>;
