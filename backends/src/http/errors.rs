//! HTTP failures classed as core errors: the status and the server's own message decide the class.

use std::time::Duration;

use anymodel_core::Error;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::Value;

/// The error for a response with a failing status, from its headers and body.
pub(crate) fn from_status(status: StatusCode, headers: &HeaderMap, body: &str) -> Error {
    let (message, code) = server_message(body);
    let message = format!("HTTP {}: {message}", status.as_u16());
    let retry_after = retry_after(headers).or_else(|| retry_delay(body));
    by_status(status.as_u16(), message, code.as_deref(), retry_after)
}

/// The class of a failure with HTTP status `status` (a response's, or the one an error inside
/// a stream names), with the server's `message` and error `code`.
fn by_status(
    status: u16,
    message: String,
    code: Option<&str>,
    retry_after: Option<Duration>,
) -> Error {
    match status {
        401 | 403 => Error::Authentication { message },
        404 => Error::NotFound { message },
        413 => Error::ContextLengthExceeded { message },
        429 => Error::RateLimited { message, retry_after },
        408 | 409 | 500..=599 => Error::Transient { message, retry_after },
        _ if is_context_length(&message, code) => Error::ContextLengthExceeded { message },
        status => Error::InvalidRequest { status: Some(status), message },
    }
}

/// The error for an error object a server sent inside a stream that had started well (an
/// OpenAI-style chunk `{"error": {...}}`, Anthropic's `error` event, a Gemini error frame,
/// Cohere's `message-end` with an `error`): one policy for every provider. The class comes from
/// the error's HTTP-style `code` or `status` number where there is one, else from its `type`,
/// `code` or `status` name; the message keeps the provider's own words, and a wait the server
/// asked for (Gemini's `RetryInfo`) is kept. An error that says nothing of its kind is a backend
/// failure, not retried.
pub(crate) fn stream_error(data: &Value) -> Error {
    let error = data.get("error").unwrap_or(data);
    let text = data.to_string();
    let (said, _) = server_message(&text);
    let said = match error.as_str() {
        Some(plain) => truncate(plain),
        None => said,
    };
    let names: Vec<String> = ["type", "code", "status"]
        .iter()
        .filter_map(|key| error.get(*key).and_then(Value::as_str))
        .map(str::to_ascii_lowercase)
        .collect();
    let number = ["code", "status"]
        .iter()
        .find_map(|key| error.get(*key).and_then(Value::as_u64))
        .and_then(|n| u16::try_from(n).ok());
    let kind = names.first().map(|name| format!("{name}: ")).unwrap_or_default();
    let message = format!("the server failed mid-stream: {kind}{said}");
    let retry_after = retry_delay(&text);
    let named = |options: &[&str]| names.iter().any(|name| options.contains(&name.as_str()));
    if let Some(status) = number.filter(|n| (400..600).contains(n)) {
        return by_status(status, message, None, retry_after);
    }
    if named(&["context_length_exceeded", "request_too_large"]) || is_context_length(&message, None)
    {
        Error::ContextLengthExceeded { message }
    } else if named(&[
        "rate_limit_error",
        "rate_limit_exceeded",
        "resource_exhausted",
        "too_many_requests",
    ]) {
        Error::RateLimited { message, retry_after }
    } else if named(&[
        "overloaded_error",
        "api_error",
        "server_error",
        "internal_error",
        "internal",
        "unavailable",
        "timeout",
        "deadline_exceeded",
    ]) {
        Error::Transient { message, retry_after }
    } else if named(&[
        "authentication_error",
        "permission_error",
        "invalid_api_key",
        "unauthenticated",
        "permission_denied",
    ]) {
        Error::Authentication { message }
    } else if named(&["not_found_error", "model_not_found", "not_found"]) {
        Error::NotFound { message }
    } else if named(&["invalid_request_error", "invalid_argument", "failed_precondition"]) {
        Error::InvalidRequest { status: None, message }
    } else {
        Error::Backend { message }
    }
}

/// The error for a request that got no response: a timeout, a refused or reset connection.
pub(crate) fn from_transport(err: reqwest::Error) -> Error {
    if err.is_builder() {
        return Error::config(format!("the request could not be built: {}", err.without_url()));
    }
    Error::transient(transport_message(err))
}

/// A transport error and its causes, without the URL (some providers take keys as query
/// parameters).
fn transport_message(err: reqwest::Error) -> String {
    let err = err.without_url();
    let mut message = err.to_string();
    let mut source = std::error::Error::source(&err);
    while let Some(cause) = source {
        message.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    message
}

/// A transport failure of a request to `url`: a refused or unresolved connection names the
/// server (scheme, host and port only: keys may ride in the query) and asks whether it runs.
pub(crate) fn from_transport_at(err: reqwest::Error, url: &reqwest::Url) -> Error {
    if !err.is_connect() {
        return from_transport(err);
    }
    let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
    let server = format!("{}://{}{port}", url.scheme(), url.host_str().unwrap_or_default());
    // Ollama's port: the server most often not started.
    let start = if url.port() == Some(11434) { " (start it with `ollama serve`)" } else { "" };
    Error::transient(format!(
        "cannot connect to {server}: is the server running there?{start} ({})",
        transport_message(err)
    ))
}

/// A timeout of our own (the server stayed silent too long).
pub(crate) fn timed_out(what: &str, after: Duration) -> Error {
    Error::transient(format!("{what}: the server sent nothing for {} s", after.as_secs_f64()))
}

/// A call that ran past its deadline while the server was still sending: not retried, since
/// another try would take as long.
pub(crate) fn past_deadline(deadline: Duration) -> Error {
    Error::Backend {
        message: format!(
            "the call took longer than its deadline of {} s and was stopped (raise deadline_secs to allow more)",
            deadline.as_secs_f64()
        ),
    }
}

/// The message (and error code, if any) a provider put in an error body. OpenAI-style servers
/// and Anthropic both use `{"error": {"message": ...}}`; some servers send `{"error": "..."}`,
/// `{"message": ...}` or plain text.
pub(crate) fn server_message(body: &str) -> (String, Option<String>) {
    let Ok(json) = serde_json::from_str::<Value>(body) else {
        return (truncate(body.trim()), None);
    };
    let error = json.get("error").unwrap_or(&json);
    let message = error
        .get("message")
        .and_then(Value::as_str)
        .or_else(|| error.as_str())
        .map(truncate)
        .unwrap_or_else(|| truncate(body.trim()));
    let code = ["code", "type"]
        .iter()
        .find_map(|key| error.get(*key).and_then(Value::as_str))
        .map(str::to_string);
    (message, code)
}

/// At most the first 500 characters of a server's text, for an error message.
pub(crate) fn truncate(text: &str) -> String {
    const LIMIT: usize = 500;
    match text.char_indices().nth(LIMIT) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None if text.is_empty() => "(empty body)".to_string(),
        None => text.to_string(),
    }
}

fn is_context_length(message: &str, code: Option<&str>) -> bool {
    if code == Some("context_length_exceeded") {
        return true;
    }
    let message = message.to_lowercase();
    [
        "context length",
        "context_length",
        "maximum context",
        "context window",
        "prompt is too long",
        "exceeds the available context",
        "too many tokens",
        "exceeds the maximum number of tokens",
    ]
    .iter()
    .any(|needle| message.contains(needle))
}

/// The wait a server asked for in its headers: `retry-after-ms` (OpenAI), else `retry-after` in
/// seconds.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let header = |name| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    if let Some(ms) = header("retry-after-ms").and_then(|v| v.parse::<f64>().ok()) {
        return Duration::try_from_secs_f64(ms / 1000.0).ok();
    }
    header("retry-after")
        .and_then(|v| v.parse::<f64>().ok())
        .and_then(|secs| Duration::try_from_secs_f64(secs).ok())
}

/// The wait Google's APIs (Gemini) put in the error body instead of a header: a `RetryInfo`
/// detail with `"retryDelay": "7s"`.
fn retry_delay(body: &str) -> Option<Duration> {
    let json: Value = serde_json::from_str(body).ok()?;
    let details = json.get("error")?.get("details")?.as_array()?;
    details.iter().find_map(|detail| {
        let delay = detail.get("retryDelay")?.as_str()?.strip_suffix('s')?;
        Duration::try_from_secs_f64(delay.parse().ok()?).ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn classify(status: u16, body: &str) -> Error {
        from_status(StatusCode::from_u16(status).unwrap(), &HeaderMap::new(), body)
    }

    #[test]
    fn errors_inside_streams_are_classed_by_what_they_say() {
        let class = |body: Value| stream_error(&body);
        let openai = class(
            serde_json::json!({"error": {"message": "The server had an error", "type": "server_error"}}),
        );
        assert!(
            matches!(&openai, Error::Transient { message, .. } if message == "the server failed mid-stream: server_error: The server had an error"),
            "{openai:?}"
        );
        let anthropic = class(
            serde_json::json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
        );
        assert!(
            matches!(&anthropic, Error::Transient { message, .. } if message.ends_with("overloaded_error: Overloaded")),
            "{anthropic:?}"
        );
        let gemini = class(
            serde_json::json!({"error": {"code": 429, "message": "Quota exceeded", "status": "RESOURCE_EXHAUSTED",
            "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "7s"}]}}),
        );
        assert!(
            matches!(&gemini, Error::RateLimited { retry_after: Some(wait), message } if wait.as_secs() == 7 && message.contains("Quota exceeded")),
            "{gemini:?}"
        );
        let cohere = class(serde_json::json!({"error": "the prompt is too long for this model"}));
        assert!(matches!(cohere, Error::ContextLengthExceeded { .. }), "{cohere:?}");
        let unknown = class(serde_json::json!({"error": {"message": "something odd"}}));
        assert!(matches!(unknown, Error::Backend { .. }), "{unknown:?}");
    }

    #[test]
    fn statuses_map_to_error_classes() {
        let openai = r#"{"error": {"message": "Incorrect API key provided", "type": "invalid_request_error", "code": "invalid_api_key"}}"#;
        assert!(
            matches!(classify(401, openai), Error::Authentication { message } if message == "HTTP 401: Incorrect API key provided")
        );
        assert!(matches!(classify(403, "{}"), Error::Authentication { .. }));
        assert!(
            matches!(classify(404, r#"{"error": "model 'x' not found"}"#), Error::NotFound { message } if message.ends_with("model 'x' not found"))
        );
        assert!(matches!(classify(413, "too big"), Error::ContextLengthExceeded { .. }));
        assert!(matches!(classify(429, "{}"), Error::RateLimited { .. }));
        for status in [408, 409, 500, 502, 503, 529] {
            assert!(classify(status, "").is_retryable(), "{status}");
        }
        assert!(matches!(
            classify(400, r#"{"error": {"message": "Unrecognized request argument supplied: top_k"}}"#),
            Error::InvalidRequest { status: Some(400), message } if message.contains("top_k")
        ));
        assert!(matches!(
            classify(422, "unprocessable"),
            Error::InvalidRequest { status: Some(422), .. }
        ));
    }

    #[test]
    fn context_length_is_recognised_by_code_or_message() {
        let openai = r#"{"error": {"message": "This model's maximum context length is 8192 tokens.", "code": "context_length_exceeded"}}"#;
        assert!(matches!(classify(400, openai), Error::ContextLengthExceeded { .. }));
        let anthropic = r#"{"type": "error", "error": {"type": "invalid_request_error", "message": "prompt is too long: 208000 tokens > 200000 maximum"}}"#;
        assert!(matches!(classify(400, anthropic), Error::ContextLengthExceeded { .. }));
        let llama_server = r#"{"error": {"code": 400, "message": "the request exceeds the available context size", "type": "exceed_context_size_error"}}"#;
        assert!(matches!(classify(400, llama_server), Error::ContextLengthExceeded { .. }));
        let gemini = r#"{"error": {"code": 400, "message": "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).", "status": "INVALID_ARGUMENT"}}"#;
        assert!(matches!(classify(400, gemini), Error::ContextLengthExceeded { .. }));
        let cohere =
            r#"{"id": "e1", "message": "too many tokens: size limit exceeded by 808 tokens."}"#;
        assert!(matches!(classify(400, cohere), Error::ContextLengthExceeded { .. }));
    }

    #[test]
    fn retry_after_is_read_from_headers_or_from_a_google_retry_info() {
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", HeaderValue::from_static("7"));
        let err = from_status(StatusCode::TOO_MANY_REQUESTS, &headers, "");
        assert_eq!(err.retry_after(), Some(Duration::from_secs(7)));
        headers.insert("retry-after-ms", HeaderValue::from_static("250"));
        let err = from_status(StatusCode::SERVICE_UNAVAILABLE, &headers, "");
        assert_eq!(err.retry_after(), Some(Duration::from_millis(250)));
        let gemini = r#"{"error": {"code": 429, "message": "Quota exceeded", "status": "RESOURCE_EXHAUSTED",
            "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "7.5s"}]}}"#;
        let err = from_status(StatusCode::TOO_MANY_REQUESTS, &HeaderMap::new(), gemini);
        assert_eq!(err.retry_after(), Some(Duration::from_millis(7500)));
    }

    #[test]
    fn long_plain_bodies_are_cut() {
        let (message, code) = server_message(&"x".repeat(2000));
        assert_eq!(message.chars().count(), 501);
        assert_eq!(code, None);
    }
}
