//! Errors as the APIs' clients expect them: the status their retry logic reads (429 and 503 with
//! `retry-after`), and the body in OpenAI's shape, `{"error": {message, type, param, code}}`.

use std::time::Duration;

use anymodel_core::Error;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// A failed request, ready to be sent.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// What went wrong, for the client's user.
    pub message: String,
    /// OpenAI's `type`: `invalid_request_error`, `authentication_error`, `not_found_error`,
    /// `rate_limit_error`, `server_error`, `overloaded_error`.
    pub kind: &'static str,
    /// The request field at fault, when one is.
    pub param: Option<String>,
    /// A machine-readable code (`model_not_found`, `context_length_exceeded`, ...).
    pub code: Option<&'static str>,
    /// How long to wait before trying again (429 and 503).
    pub retry_after: Option<Duration>,
}

impl ApiError {
    fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
            kind,
            param: None,
            code: None,
            retry_after: None,
        }
    }

    /// A request the server cannot read or accept (400), naming the field at fault.
    pub fn invalid(message: impl Into<String>, param: Option<String>) -> Self {
        ApiError {
            param,
            ..ApiError::new(StatusCode::BAD_REQUEST, "invalid_request_error", message)
        }
    }

    /// No key, or a wrong one (401).
    pub fn unauthorized() -> Self {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "authentication_error",
            "missing or invalid API key: send it as `Authorization: Bearer KEY`",
        )
    }

    /// A model the server does not serve (404).
    pub fn unknown_model(name: &str, served: &[String]) -> Self {
        ApiError {
            param: Some("model".into()),
            code: Some("model_not_found"),
            ..ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found_error",
                format!(
                    "the model `{name}` is not served here; the models are: {}",
                    served.join(", ")
                ),
            )
        }
    }

    /// A model whose queue is full, or whose turn did not come in time (503, with when to try
    /// again).
    pub fn busy(model: &str, waiting: usize, retry_after: Duration) -> Self {
        ApiError {
            retry_after: Some(retry_after),
            ..ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "overloaded_error",
                format!(
                    "`{model}` is busy ({waiting} requests already wait for it): try again shortly"
                ),
            )
        }
    }

    /// A body over the size limit (413).
    pub fn too_large(limit: usize) -> Self {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request_error",
            format!("the request body is larger than {limit} bytes"),
        )
    }

    /// The body in OpenAI's shape.
    pub fn body(&self) -> serde_json::Value {
        json!({"error": {"message": self.message, "type": self.kind, "param": self.param, "code": self.code}})
    }

    /// The body in Anthropic's shape, `{"type": "error", "error": {type, message}}`, with its
    /// names for the classes.
    pub fn anthropic_body(&self) -> serde_json::Value {
        let kind = match self.status {
            StatusCode::PAYLOAD_TOO_LARGE => "request_too_large",
            StatusCode::INTERNAL_SERVER_ERROR => "api_error",
            _ => self.kind,
        };
        let message = match &self.param {
            Some(param) if !self.message.starts_with(param.as_str()) => {
                format!("{param}: {}", self.message)
            }
            _ => self.message.clone(),
        };
        json!({"type": "error", "error": {"type": kind, "message": message}})
    }

    /// The response in Anthropic's shape.
    pub fn into_anthropic_response(self) -> Response {
        let body = self.anthropic_body();
        self.respond(body)
    }

    fn respond(self, body: serde_json::Value) -> Response {
        let mut response = (self.status, axum::Json(body)).into_response();
        if let Some(wait) = self.retry_after {
            let seconds = wait.as_secs_f64().ceil().max(1.0) as u64;
            if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
        }
        response
    }
}

/// A model's failure keeps its class: an upstream rate limit is a 429 here, an unavailable
/// upstream a 503, each with the wait it asked for; a request the model refuses is a 400.
impl From<Error> for ApiError {
    fn from(error: Error) -> Self {
        let message = error.to_string();
        let retry_after = error.retry_after();
        let (status, kind, code) = match &error {
            Error::InvalidRequest { .. } | Error::Unsupported { .. } => {
                (StatusCode::BAD_REQUEST, "invalid_request_error", None)
            }
            Error::ContextLengthExceeded { .. } => {
                (StatusCode::BAD_REQUEST, "invalid_request_error", Some("context_length_exceeded"))
            }
            Error::NotFound { .. } => (StatusCode::NOT_FOUND, "not_found_error", None),
            Error::RateLimited { .. } => {
                (StatusCode::TOO_MANY_REQUESTS, "rate_limit_error", Some("rate_limit_exceeded"))
            }
            Error::Transient { .. } => (StatusCode::SERVICE_UNAVAILABLE, "overloaded_error", None),
            // The upstream key is the server's business, not the client's: its failure is the
            // server's.
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "server_error", None),
        };
        ApiError { status, message, kind, param: None, code, retry_after }
    }
}

/// The response in OpenAI's shape.
impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = self.body();
        self.respond(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_failures_keep_their_class_and_wait() {
        let limited = ApiError::from(Error::RateLimited {
            message: "slow down".into(),
            retry_after: Some(Duration::from_millis(1500)),
        });
        assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
        let response = limited.into_response();
        assert_eq!(response.headers()[header::RETRY_AFTER], "2");
        let refused = ApiError::from(Error::ContextLengthExceeded { message: "too long".into() });
        assert_eq!(
            (refused.status, refused.code),
            (StatusCode::BAD_REQUEST, Some("context_length_exceeded"))
        );
        let upstream_key = ApiError::from(Error::Authentication { message: "bad key".into() });
        assert_eq!(upstream_key.status, StatusCode::INTERNAL_SERVER_ERROR);
    }
}
