//! The Anthropic Messages API wire.

mod request;
mod response;

use anymodel_core::{Capabilities, ChatRequest, ChatResponse, Result};
use serde_json::Value;

use crate::http::{Remote, RemoteConfig, RemoteModel, Secret, Wire, remote_capabilities};

/// Anthropic's API, given as Anthropic's SDKs take it (`ANTHROPIC_BASE_URL`): the server's root,
/// before `/v1/messages`.
pub const ANTHROPIC_BASE_URL: &str = crate::providers::ANTHROPIC.base_url;
/// The API version this backend speaks.
pub const ANTHROPIC_VERSION: &str = "2023-06-01";

/// One Anthropic model, and the wire it speaks. The endpoint, key, headers, timeout and
/// capabilities come with [`RemoteConfig`]'s builder methods; the key is sent as `x-api-key`.
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

impl Wire for AnthropicConfig {
    type Reply = response::Message;
    type Decoder = response::EventDecoder;
    const PROVIDER: &'static crate::providers::Provider = &crate::providers::ANTHROPIC;

    fn endpoint(&self) -> &Remote {
        &self.remote
    }

    fn model(&self) -> &str {
        &self.model
    }

    /// Tools (forced and parallel) and streaming, with the configured context window; the
    /// Messages API has no JSON output mode and none of the local sampling options.
    fn default_capabilities(&self) -> Capabilities {
        let mut capabilities = remote_capabilities(Some(self.context_window));
        capabilities.json_output = false;
        capabilities.json_schema_output = false;
        capabilities
    }

    fn path(&self, _stream: bool) -> String {
        messages_path(&self.remote.base_url).into()
    }

    fn auth(&self) -> Vec<(&'static str, Secret)> {
        let mut own = vec![("anthropic-version", Secret::new(ANTHROPIC_VERSION))];
        own.extend(self.remote.api_key.clone().map(|key| ("x-api-key", key)));
        own
    }

    fn body(&self, request: &ChatRequest, stream: bool) -> Result<Value> {
        request::body(&self.model, request, stream, self.default_max_tokens)
    }

    fn reply(&self, reply: response::Message) -> Result<ChatResponse> {
        Ok(reply.into_response())
    }

    /// `messages/count_tokens` beside `messages`, with the fields it takes.
    fn count_tokens(&self, request: &ChatRequest) -> Option<Result<(String, Value)>> {
        let path = format!("{}/count_tokens", messages_path(&self.remote.base_url));
        Some(
            request::count_body(&self.model, request, self.default_max_tokens)
                .map(|body| (path, body)),
        )
    }
}

/// A model behind Anthropic's Messages API.
pub type Anthropic = RemoteModel<AnthropicConfig>;
