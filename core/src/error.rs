//! The error every model call returns, classified by what the caller should do about it.
//!
//! Backends map their failures (HTTP statuses, provider error bodies, local load failures) onto
//! these classes, so retry and fallback layers can decide without knowing which backend failed.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A shorthand for results whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A feature a request may ask of a model; see [`crate::Capabilities`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Capability {
    /// Calling tools declared in the request.
    Tools,
    /// Being made to call a tool (`tool_choice` required, or a named tool).
    ForcedToolChoice,
    /// Several tool calls in one reply.
    ParallelToolCalls,
    /// Replies constrained to a JSON object.
    JsonOutput,
    /// Replies constrained to a given JSON Schema.
    JsonSchemaOutput,
    /// The sampling options of local models that were set (`min_p`, `repetition_penalty`,
    /// `repeat_last_n`).
    Penalties(String),
    /// Images in the conversation.
    Vision,
    /// Documents (PDFs) in the conversation.
    Documents,
    /// Reasoning options (an effort or budget).
    Reasoning,
    /// Provider options in the request's body (`extra`), by key.
    ProviderOptions(String),
    /// A sampling option the model fixes itself (a reasoning model's temperature), by name.
    Sampling(String),
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Capability::Tools => "tool calls",
            Capability::ForcedToolChoice => "a forced tool choice",
            Capability::ParallelToolCalls => "parallel tool calls",
            Capability::JsonOutput => "JSON output",
            Capability::JsonSchemaOutput => "JSON Schema output",
            Capability::Penalties(options) => {
                return write!(f, "the local-model sampling options {options}");
            }
            Capability::Vision => "images",
            Capability::Documents => "documents",
            Capability::Reasoning => "reasoning options",
            Capability::ProviderOptions(keys) => {
                return write!(f, "provider options ({keys})");
            }
            Capability::Sampling(option) => {
                return write!(
                    f,
                    "setting {option} (a reasoning model samples as it decides): leave it unset"
                );
            }
        })
    }
}

/// Why a model call failed, in classes that say what to do next.
///
/// [`Error::is_retryable`] is what retry layers consult; [`Error::retry_after`] is the wait a
/// server asked for, when it asked. Messages never contain secrets such as API keys.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A passing failure (a dropped connection, a 5xx, an overloaded server): try again.
    #[error("transient failure: {message}")]
    Transient {
        /// What happened, including the server's own message when there was one.
        message: String,
        /// How long the server asked to wait before trying again.
        retry_after: Option<Duration>,
    },
    /// The provider refused the call for exceeding a rate or quota limit: wait, then try again.
    #[error("rate limited: {message}")]
    RateLimited {
        /// The provider's message.
        message: String,
        /// How long the provider asked to wait before trying again.
        retry_after: Option<Duration>,
    },
    /// The credentials were missing, wrong or lacked permission: fix the key, do not retry.
    #[error("authentication failed: {message}")]
    Authentication {
        /// The provider's message (never the key itself).
        message: String,
    },
    /// The request was rejected as malformed or not allowed: change it, do not retry.
    #[error("invalid request{}: {message}", status.map(|s| format!(" (HTTP {s})")).unwrap_or_default())]
    InvalidRequest {
        /// The HTTP status, for remote backends.
        status: Option<u16>,
        /// The server's own explanation.
        message: String,
    },
    /// The server does not know the model (or the endpoint): check the model name and base URL.
    #[error("not found: {message}")]
    NotFound {
        /// The server's own explanation.
        message: String,
    },
    /// The prompt and the requested output do not fit the model's context window: shorten them.
    #[error("context length exceeded: {message}")]
    ContextLengthExceeded {
        /// The server's or backend's explanation, with the sizes when known.
        message: String,
    },
    /// The request asked for something this model cannot do: pick another model or drop the feature.
    #[error("model `{model}` does not support {capability}")]
    Unsupported {
        /// The model that was asked.
        model: String,
        /// What it lacks.
        capability: Capability,
    },
    /// The call was cancelled before it finished.
    #[error("cancelled")]
    Cancelled,
    /// The model or backend is set up wrongly (a missing file, an unknown option, no API key).
    #[error("configuration error: {message}")]
    Configuration {
        /// What is wrong and where.
        message: String,
    },
    /// The model or server sent something that cannot be understood (a malformed stream, say).
    #[error("invalid response from the model: {message}")]
    InvalidResponse {
        /// What was wrong with it.
        message: String,
    },
    /// The backend failed in a way no other class describes; retrying will not help.
    #[error("backend failure: {message}")]
    Backend {
        /// What happened.
        message: String,
    },
}

impl Error {
    /// The same error with `f` applied to each of its messages: how a backend scrubs secrets
    /// out of text a server sent, whichever class the error is.
    pub fn map_messages(self, f: impl Fn(String) -> String) -> Error {
        match self {
            Error::Transient { message, retry_after } => {
                Error::Transient { message: f(message), retry_after }
            }
            Error::RateLimited { message, retry_after } => {
                Error::RateLimited { message: f(message), retry_after }
            }
            Error::Authentication { message } => Error::Authentication { message: f(message) },
            Error::InvalidRequest { status, message } => {
                Error::InvalidRequest { status, message: f(message) }
            }
            Error::NotFound { message } => Error::NotFound { message: f(message) },
            Error::ContextLengthExceeded { message } => {
                Error::ContextLengthExceeded { message: f(message) }
            }
            Error::Configuration { message } => Error::Configuration { message: f(message) },
            Error::InvalidResponse { message } => Error::InvalidResponse { message: f(message) },
            Error::Backend { message } => Error::Backend { message: f(message) },
            Error::Unsupported { .. } | Error::Cancelled => self,
        }
    }

    /// A [`Error::Transient`] failure without a server-requested wait.
    pub fn transient(message: impl Into<String>) -> Self {
        Error::Transient { message: message.into(), retry_after: None }
    }

    /// A [`Error::Configuration`] error.
    pub fn config(message: impl Into<String>) -> Self {
        Error::Configuration { message: message.into() }
    }

    /// An [`Error::InvalidResponse`] error.
    pub fn invalid_response(message: impl Into<String>) -> Self {
        Error::InvalidResponse { message: message.into() }
    }

    /// The error's class as a short stable word (`rate_limited`, `authentication`, ...): what
    /// run logs record and traces report as `error.type`.
    pub fn class(&self) -> &'static str {
        match self {
            Error::Transient { .. } => "transient",
            Error::RateLimited { .. } => "rate_limited",
            Error::Authentication { .. } => "authentication",
            Error::InvalidRequest { .. } => "invalid_request",
            Error::NotFound { .. } => "not_found",
            Error::ContextLengthExceeded { .. } => "context_length_exceeded",
            Error::Unsupported { .. } => "unsupported",
            Error::Cancelled => "cancelled",
            Error::Configuration { .. } => "configuration",
            Error::InvalidResponse { .. } => "invalid_response",
            Error::Backend { .. } => "backend",
        }
    }

    /// Whether the same call may succeed if simply made again (after [`Error::retry_after`]).
    pub fn is_retryable(&self) -> bool {
        matches!(self, Error::Transient { .. } | Error::RateLimited { .. })
    }

    /// The wait the server asked for before a retry, when it gave one.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::Transient { retry_after, .. } | Error::RateLimited { retry_after, .. } => {
                *retry_after
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_transient_and_rate_limited_are_retryable() {
        let wait = Some(Duration::from_secs(2));
        assert!(Error::Transient { message: "503".into(), retry_after: wait }.is_retryable());
        assert!(
            Error::RateLimited { message: "slow down".into(), retry_after: wait }.is_retryable()
        );
        assert_eq!(
            Error::RateLimited { message: "x".into(), retry_after: wait }.retry_after(),
            wait
        );
        for permanent in [
            Error::Authentication { message: "bad key".into() },
            Error::InvalidRequest { status: Some(400), message: "bad".into() },
            Error::NotFound { message: "no such model".into() },
            Error::ContextLengthExceeded { message: "too long".into() },
            Error::Unsupported { model: "m".into(), capability: Capability::Tools },
            Error::Cancelled,
            Error::config("no model"),
            Error::invalid_response("garbled"),
            Error::Backend { message: "oops".into() },
        ] {
            assert!(!permanent.is_retryable(), "{permanent}");
            assert_eq!(permanent.retry_after(), None);
        }
    }

    #[test]
    fn invalid_request_names_the_status_and_the_servers_message() {
        let err =
            Error::InvalidRequest { status: Some(400), message: "unknown field `foo`".into() };
        assert_eq!(err.to_string(), "invalid request (HTTP 400): unknown field `foo`");
    }
}
