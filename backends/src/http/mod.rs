//! Plumbing shared by the remote backends: secrets that never print, the HTTP client and its
//! timeouts, HTTP failures classed as core errors, and server-sent event streams decoded into
//! core stream events.

mod embedder;
mod errors;
mod label;
mod model;
mod remote;
mod secret;
mod sse;
mod transport;

#[cfg(any(feature = "openai", feature = "cohere", feature = "gemini"))]
pub(crate) use embedder::vector;
pub use embedder::{EmbedWire, RemoteEmbedder};
pub(crate) use errors::stream_error;
pub(crate) use label::{label, origin};
pub use model::{RemoteModel, Wire};
pub use remote::{Remote, RemoteConfig};
pub use secret::Secret;
pub use sse::{SseEvent, StreamDecoder};

/// Sets `key` in a request body when there is a value: options the caller left unset are not
/// sent, so servers apply their own defaults (and servers that reject an option only see it
/// when the caller asked for it).
pub(crate) fn set_if(
    body: &mut serde_json::Map<String, serde_json::Value>,
    key: &str,
    value: Option<impl Into<serde_json::Value>>,
) {
    if let Some(value) = value {
        body.insert(key.into(), value.into());
    }
}

/// The request's system messages joined into one prompt, for APIs that take it apart from the
/// turns (Anthropic's `system`, Gemini's `systemInstruction`); `None` when there is none.
#[cfg(any(feature = "anthropic", feature = "gemini"))]
pub(crate) fn system_prompt(messages: &[anymodel_core::Message]) -> Option<String> {
    let system: Vec<&str> = messages
        .iter()
        .filter_map(|m| match m {
            anymodel_core::Message::System { content } => Some(content.as_str()),
            _ => None,
        })
        .collect();
    (!system.is_empty()).then(|| system.join("\n\n"))
}

/// What the remote wires carry unless they say otherwise: everything but the local models'
/// sampling options (`min_p`, the repetition penalty), with `context_window` as given.
pub(crate) fn remote_capabilities(context_window: Option<u32>) -> anymodel_core::Capabilities {
    let mut capabilities = anymodel_core::Capabilities::all();
    capabilities.penalties = false;
    capabilities.context_window = context_window;
    capabilities
}

/// The most bytes one reply may bring: a whole body, or the text and arguments of a stream
/// whose request sets no `max_tokens`.
pub(crate) const MAX_REPLY_BYTES: usize = 32 * 1024 * 1024;

/// The error for a part of a request a wire has no way to write (a kind of message or option
/// newer than its mapping): the request is refused, never sent without it.
pub(crate) fn unwritable(wire: &str, what: impl std::fmt::Debug) -> anymodel_core::Error {
    anymodel_core::Error::InvalidRequest {
        status: None,
        message: format!("the {wire} wire cannot write {what:?}"),
    }
}

/// A request body laid out for people to read.
pub(crate) fn pretty(body: &serde_json::Value) -> String {
    serde_json::to_string_pretty(body).unwrap_or_else(|_| body.to_string())
}
