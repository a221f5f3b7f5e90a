//! Cohere's Chat API v2 wire (`/v2/chat`, streamed with `stream: true`).

mod embed;
mod wire;

use anymodel_core::{Capabilities, ChatRequest, ChatResponse, Result};
use serde_json::Value;

use crate::http::{Remote, RemoteConfig, RemoteModel, Secret, Wire, remote_capabilities};

/// Cohere's own API root.
pub const COHERE_BASE_URL: &str = crate::providers::COHERE.base_url;

/// One Cohere model, and the wire it speaks. The endpoint, key, headers, timeout and
/// capabilities come with [`RemoteConfig`]'s builder methods (the key is sent as a bearer
/// token).
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

impl Wire for CohereConfig {
    type Reply = wire::Reply;
    type Decoder = wire::EventDecoder;
    const PROVIDER: &'static crate::providers::Provider = &crate::providers::COHERE;

    fn endpoint(&self) -> &Remote {
        &self.remote
    }

    fn model(&self) -> &str {
        &self.model
    }

    /// Everything but the local models' sampling options: tools (forced and parallel), JSON and
    /// JSON Schema output, streaming; a context window of 256,000 tokens (Command A's).
    /// Everything but documents (Cohere reads images, not PDFs) and the local models'
    /// sampling options.
    fn default_capabilities(&self) -> Capabilities {
        let mut capabilities = remote_capabilities(Some(256_000));
        capabilities.documents = false;
        capabilities
    }

    fn path(&self, _stream: bool) -> String {
        "chat".into()
    }

    fn auth(&self) -> Vec<(&'static str, Secret)> {
        self.remote.bearer().into_iter().collect()
    }

    fn body(&self, request: &ChatRequest, stream: bool) -> Result<Value> {
        wire::body(&self.model, request, stream)
    }

    fn reply(&self, reply: wire::Reply) -> Result<ChatResponse> {
        reply.into_response()
    }
}

/// A Cohere model.
pub type Cohere = RemoteModel<CohereConfig>;
