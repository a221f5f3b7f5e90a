//! The OpenAI-compatible backend against a mock Chat Completions server on loopback.

#![allow(clippy::unwrap_used)] // Tests fail loudly by design.

mod support;

use std::time::{Duration, Instant};

use anymodel_backends::layers::{Retry, RetryPolicy};
use anymodel_backends::openai::{OpenAi, OpenAiConfig};
use anymodel_backends::{RemoteConfig, Secret};
use anymodel_core::{
    AssistantMessage, Capabilities, ChatRequest, ChatResponse, Error, FinishReason, Message, Model,
    ResponseFormat, Sampling, StreamEvent, ToolCall, ToolChoice, ToolResult, Usage,
};
use serde_json::{Value, json};
use support::faults::{EVENTS, Fault, faulty_server};
use support::{KEY, bodies, data_events, drain, received, sse_response, weather};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn config(server: &MockServer) -> OpenAiConfig {
    OpenAiConfig::new("gpt-test")
        .base_url(format!("{}/v1", server.uri()))
        .api_key(Secret::new(KEY))
        .timeout(Duration::from_secs(5))
}

fn model(server: &MockServer) -> OpenAi {
    OpenAi::new(config(server)).unwrap()
}

async fn answering(response: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(header("authorization", format!("Bearer {KEY}").as_str()))
        .respond_with(response)
        .mount(&server)
        .await;
    server
}

fn completion(message: Value, finish_reason: &str) -> Value {
    json!({
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-test",
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason, "logprobs": null}],
        "usage": {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17},
    })
}

#[tokio::test]
async fn a_plain_reply_and_the_request_body_that_asked_for_it() {
    let reply = completion(json!({"role": "assistant", "content": "Hello there."}), "stop");
    let server = answering(ResponseTemplate::new(200).set_body_json(reply)).await;
    let request = ChatRequest::new([Message::system("Be brief."), Message::user("Hi")])
        .with_sampling(Sampling {
            temperature: Some(0.2),
            max_tokens: Some(64),
            stop: vec!["\n\n".into()],
            seed: Some(7),
            ..Default::default()
        });

    let response = model(&server).chat(request).await.unwrap();

    let expected = ChatResponse {
        id: Some("chatcmpl-1".into()),
        model: Some("gpt-test".into()),
        ..ChatResponse::text("Hello there.").with_usage(Usage::new(12, 5))
    };
    assert_eq!(response, expected);
    assert_eq!(
        bodies(&server).await,
        [json!({
            "model": "gpt-test",
            "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
            "temperature": 0.2,
            "max_tokens": 64,
            "seed": 7,
            "stop": ["\n\n"],
        })]
    );
}

#[tokio::test]
async fn a_conversation_with_tool_calls_is_sent_as_the_wire_wants_it() {
    let reply = completion(json!({"role": "assistant", "content": "18C."}), "stop");
    let server = answering(ResponseTemplate::new(200).set_body_json(reply)).await;
    let request = ChatRequest::new([
        Message::user("Weather in Paris?"),
        Message::Assistant(AssistantMessage::with_tool_calls(vec![
            ToolCall::new("call_a", "weather", json!({"city": "Paris"})),
            ToolCall::new("call_b", "weather", json!("{\"city\": \"Par")),
        ])),
        Message::Tool(ToolResult {
            tool_call_id: "call_a".into(),
            name: "weather".into(),
            content: "18C".into(),
            is_error: false,
        }),
        Message::Tool(ToolResult {
            tool_call_id: "call_b".into(),
            name: "weather".into(),
            content: "bad JSON".into(),
            is_error: true,
        }),
    ])
    .with_tools([weather()])
    .with_tool_choice(ToolChoice::Tool { name: "weather".into() });
    let mut request = request;
    request.parallel_tool_calls = Some(false);

    model(&server).chat(request).await.unwrap();

    let body = &bodies(&server).await[0];
    assert_eq!(
        body["messages"][1],
        json!({"role": "assistant", "content": null, "tool_calls": [
            {"id": "call_a", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Paris\"}"}},
            {"id": "call_b", "type": "function", "function": {"name": "weather", "arguments": "{\"city\": \"Par"}},
        ]})
    );
    assert_eq!(
        body["messages"][2],
        json!({"role": "tool", "tool_call_id": "call_a", "content": "18C"})
    );
    assert_eq!(
        body["tools"],
        json!([{"type": "function", "function": {
            "name": "weather",
            "description": "The weather in a city.",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
        }}])
    );
    assert_eq!(body["tool_choice"], json!({"type": "function", "function": {"name": "weather"}}));
    assert_eq!(body["parallel_tool_calls"], false);
}

/// A server that sends calls without ids gets ids made up that never repeat, so a run's
/// transcript (whose results answer calls by id) stays unambiguous from one step to the next.
#[tokio::test]
async fn calls_without_ids_get_ids_unique_across_replies() {
    let reply = json!({"choices": [{"message": {"role": "assistant", "tool_calls": [
        {"type": "function", "function": {"name": "weather", "arguments": "{}"}}]}, "finish_reason": "tool_calls"}]});
    let server = answering(ResponseTemplate::new(200).set_body_json(reply)).await;
    let model = model(&server);
    let mut ids = std::collections::HashSet::new();
    for _ in 0..3 {
        let reply = model.chat(ChatRequest::user("?")).await.unwrap();
        ids.insert(reply.message.tool_calls[0].id.clone());
    }
    assert!(ids.len() == 3 && ids.iter().all(|id| id.starts_with("call_")), "{ids:?}");
}

#[tokio::test]
async fn a_reply_with_tool_calls_is_decoded_leniently() {
    // No id, no object, arguments as an object, as an empty string, and an unknown finish reason.
    let reply = json!({
        "choices": [{"message": {"role": "assistant", "content": null, "tool_calls": [
            {"type": "function", "function": {"name": "weather", "arguments": {"city": "Oslo"}}},
            {"id": "call_2", "function": {"name": "clock", "arguments": ""}},
        ]}, "finish_reason": "tool_use_requested", "surprise": true}],
    });
    let server = answering(ResponseTemplate::new(200).set_body_json(reply)).await;

    let response = model(&server).chat(ChatRequest::user("?")).await.unwrap();

    let minted = response.message.tool_calls[0].id.clone();
    assert!(minted.starts_with("call_") && minted != "call_2", "{minted}");
    assert_eq!(
        response.message.tool_calls,
        vec![
            ToolCall::new(minted, "weather", json!({"city": "Oslo"})),
            ToolCall::new("call_2", "clock", json!({}))
        ]
    );
    assert_eq!(response.finish_reason, FinishReason::Other("tool_use_requested".into()));
    assert_eq!(response.usage, Usage::default());
}

#[tokio::test]
async fn a_streamed_reply_ends_with_usage_then_finish() {
    let chunk = |delta: Value, finish: Value| json!({"id": "c", "object": "chat.completion.chunk", "model": "gpt-test-2026", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]});
    let mut body = data_events(&[
        chunk(json!({"role": "assistant", "content": ""}), Value::Null),
        chunk(json!({"content": "Hel"}), Value::Null),
        chunk(json!({"content": "lo."}), Value::Null),
        chunk(json!({}), json!("stop")),
        json!({"id": "c", "choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 2}}),
    ]);
    body.push_str("data: [DONE]\n\n");
    let server = answering(sse_response(body)).await;

    let (events, reply) =
        drain(model(&server).stream(ChatRequest::user("Hi")).await.unwrap()).await;

    assert_eq!(
        events,
        [
            // The id and model every chunk repeats, reported once.
            StreamEvent::Origin { id: Some("c".into()), model: Some("gpt-test-2026".into()) },
            StreamEvent::TextDelta { text: "Hel".into() },
            StreamEvent::TextDelta { text: "lo.".into() },
            StreamEvent::Usage { usage: Usage::new(9, 2) },
            StreamEvent::Finish { reason: FinishReason::Stop },
        ]
    );
    let expected = ChatResponse {
        id: Some("c".into()),
        model: Some("gpt-test-2026".into()),
        ..ChatResponse::text("Hello.").with_usage(Usage::new(9, 2))
    };
    assert_eq!(reply.unwrap(), expected);
    let body = &bodies(&server).await[0];
    assert_eq!(body["stream"], true);
    assert_eq!(body["stream_options"], json!({"include_usage": true}));
}

#[tokio::test]
async fn two_parallel_tool_calls_with_arguments_split_across_chunks() {
    let calls = |calls: Value| json!({"choices": [{"index": 0, "delta": {"tool_calls": calls}}]});
    let mut body = data_events(&[
        calls(
            json!([{"index": 0, "id": "call_a", "type": "function", "function": {"name": "weather", "arguments": ""}}]),
        ),
        calls(json!([{"index": 0, "function": {"arguments": "{\"ci"}}])),
        calls(
            json!([{"index": 1, "id": "call_b", "type": "function", "function": {"name": "weather", "arguments": "{\"city\""}}]),
        ),
        calls(json!([{"index": 0, "function": {"arguments": "ty\": \"Paris\"}"}}])),
        calls(json!([{"index": 1, "function": {"arguments": ": \"Rome\"}"}}])),
        json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]}),
        json!({"choices": [], "usage": {"prompt_tokens": 30, "completion_tokens": 20}}),
    ]);
    body.push_str("data: [DONE]\n\n");
    let server = answering(sse_response(body)).await;

    let request = ChatRequest::user("Paris and Rome?").with_tools([weather()]);
    let (events, reply) = drain(model(&server).stream(request).await.unwrap()).await;

    let reply = reply.unwrap();
    assert_eq!(
        reply.message.tool_calls,
        vec![
            ToolCall::new("call_a", "weather", json!({"city": "Paris"})),
            ToolCall::new("call_b", "weather", json!({"city": "Rome"})),
        ]
    );
    assert_eq!(reply.finish_reason, FinishReason::ToolCalls);
    assert_eq!(reply.usage, Usage::new(30, 20));
    assert_eq!(
        events.first(),
        Some(&StreamEvent::ToolCallStart { index: 0, id: "call_a".into(), name: "weather".into() })
    );
    assert_eq!(events.last(), Some(&StreamEvent::Finish { reason: FinishReason::ToolCalls }));
}

#[tokio::test]
async fn json_schema_output_is_asked_for_in_strict_form() {
    let reply = completion(
        json!({"role": "assistant", "content": "{\"name\": \"Ada\", \"age\": null}"}),
        "stop",
    );
    let server = answering(ResponseTemplate::new(200).set_body_json(reply)).await;
    let schema = json!({
        "type": "object",
        "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
        "required": ["name"],
    });
    let request = ChatRequest::user("Who?").with_response_format(ResponseFormat::JsonSchema {
        name: "person".into(),
        schema,
        strict: true,
    });

    let response = model(&server).chat(request).await.unwrap();

    assert_eq!(response.message.content, "{\"name\": \"Ada\", \"age\": null}");
    assert_eq!(
        bodies(&server).await[0]["response_format"],
        json!({"type": "json_schema", "json_schema": {"name": "person", "strict": true, "schema": {
            "type": "object",
            "properties": {"name": {"type": "string"}, "age": {"type": ["integer", "null"]}},
            "required": ["name", "age"],
            "additionalProperties": false,
        }}})
    );
}

#[tokio::test]
async fn json_mode_and_unsupported_capabilities() {
    let reply = completion(json!({"role": "assistant", "content": "{}"}), "stop");
    let server = answering(ResponseTemplate::new(200).set_body_json(reply)).await;
    model(&server)
        .chat(ChatRequest::user("json").with_response_format(ResponseFormat::Json))
        .await
        .unwrap();
    assert_eq!(bodies(&server).await[0]["response_format"], json!({"type": "json_object"}));

    let plain = OpenAi::new(config(&server).capabilities({
        let mut streaming_only = Capabilities::default();
        streaming_only.streaming = true;
        streaming_only
    }))
    .unwrap();
    let err = plain.chat(ChatRequest::user("?").with_tools([weather()])).await.unwrap_err();
    assert!(matches!(err, Error::Unsupported { .. }), "{err}");
    assert_eq!(received(&server).await.len(), 1, "nothing was sent for the unsupported request");
}

async fn error_for(response: ResponseTemplate) -> Error {
    let server = answering(response).await;
    model(&server).chat(ChatRequest::user("Hi")).await.unwrap_err()
}

fn openai_error(message: &str, code: &str) -> Value {
    json!({"error": {"message": message, "type": "invalid_request_error", "param": null, "code": code}})
}

#[tokio::test]
async fn http_failures_map_to_error_classes() {
    let err = error_for(
        ResponseTemplate::new(401)
            .set_body_json(openai_error("Incorrect API key provided", "invalid_api_key")),
    )
    .await;
    assert_eq!(
        err,
        Error::Authentication { message: "HTTP 401: Incorrect API key provided".into() }
    );
    let err = error_for(
        ResponseTemplate::new(400)
            .set_body_json(openai_error("Invalid value for 'temperature'", "invalid_value")),
    )
    .await;
    assert_eq!(
        err,
        Error::InvalidRequest {
            status: Some(400),
            message: "HTTP 400: Invalid value for 'temperature'".into()
        }
    );
    let err = error_for(
        ResponseTemplate::new(404)
            .set_body_json(openai_error("The model `gpt-nope` does not exist", "model_not_found")),
    )
    .await;
    assert!(matches!(err, Error::NotFound { .. }), "{err}");
    let err = error_for(ResponseTemplate::new(400).set_body_json(openai_error(
        "This model's maximum context length is 8192 tokens",
        "context_length_exceeded",
    )))
    .await;
    assert!(matches!(err, Error::ContextLengthExceeded { .. }), "{err}");
    let err =
        error_for(ResponseTemplate::new(413).set_body_string("Request Entity Too Large")).await;
    assert!(matches!(err, Error::ContextLengthExceeded { .. }), "{err}");
    let err = error_for(
        ResponseTemplate::new(429)
            .insert_header("retry-after", "3")
            .set_body_json(openai_error("Rate limit reached", "rate_limit_exceeded")),
    )
    .await;
    assert_eq!(
        err,
        Error::RateLimited {
            message: "HTTP 429: Rate limit reached".into(),
            retry_after: Some(Duration::from_secs(3))
        }
    );
    for status in [408, 409, 500, 502, 503] {
        let err =
            error_for(ResponseTemplate::new(status).set_body_string("upstream trouble")).await;
        assert!(matches!(err, Error::Transient { .. }), "{status}: {err}");
    }
}

#[tokio::test]
async fn a_malformed_body_is_an_invalid_response() {
    let err = error_for(ResponseTemplate::new(200).set_body_string("<html>oops</html>")).await;
    assert!(
        matches!(&err, Error::InvalidResponse { message } if message.contains("<html>oops</html>")),
        "{err}"
    );
    let err = error_for(ResponseTemplate::new(200).set_body_json(json!({"choices": []}))).await;
    assert!(matches!(err, Error::InvalidResponse { .. }), "{err}");
}

#[tokio::test]
async fn a_stream_cut_mid_way_is_an_error_not_a_short_answer() {
    let body =
        data_events(&[json!({"choices": [{"index": 0, "delta": {"content": "The answer is"}}]})]);
    let server = answering(sse_response(body)).await;
    let (events, reply) = drain(model(&server).stream(ChatRequest::user("?")).await.unwrap()).await;
    assert_eq!(events, [StreamEvent::TextDelta { text: "The answer is".into() }]);
    assert!(
        matches!(reply, Err(Error::Transient { message, .. }) if message.contains("closed before"))
    );
}

#[tokio::test]
async fn a_garbled_stream_chunk_is_an_invalid_response() {
    let server = answering(sse_response("data: {\"choices\": [\n\n".into())).await;
    let (_, reply) = drain(model(&server).stream(ChatRequest::user("?")).await.unwrap()).await;
    assert!(matches!(reply, Err(Error::InvalidResponse { .. })), "{reply:?}");
}

#[tokio::test]
async fn a_server_that_never_answers_times_out() {
    let server = answering(ResponseTemplate::new(200).set_delay(Duration::from_secs(30))).await;
    let model = OpenAi::new(config(&server).timeout(Duration::from_millis(300))).unwrap();
    let started = Instant::now();
    let err = model.chat(ChatRequest::user("Hi")).await.unwrap_err();
    assert!(
        matches!(&err, Error::Transient { message, .. } if message.contains("sent nothing")),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    let err = model.stream(ChatRequest::user("Hi")).await.err().unwrap();
    assert!(err.is_retryable(), "{err}");
}

#[tokio::test]
async fn a_429_with_retry_after_is_retried_and_succeeds() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after-ms", "200")
                .set_body_json(openai_error("slow down", "rate_limit_exceeded")),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(completion(json!({"role": "assistant", "content": "ok"}), "stop")),
        )
        .mount(&server)
        .await;
    let model = Retry::new(model(&server), RetryPolicy::default());

    let started = Instant::now();
    let reply = model.chat(ChatRequest::user("Hi")).await.unwrap();

    assert_eq!(reply.message.content, "ok");
    assert!(started.elapsed() >= Duration::from_millis(200), "the retry-after was not honoured");
    assert_eq!(received(&server).await.len(), 2);
}

#[tokio::test]
async fn the_api_key_never_shows_in_debug_output_or_errors() {
    // A server that echoes the key back in its error.
    let echo = json!({"error": {"message": format!("Incorrect API key provided: {KEY}")}});
    let server = answering(ResponseTemplate::new(401).set_body_json(echo)).await;
    let config = config(&server).header("x-org-token", "org-secret-999");
    let model = OpenAi::new(config.clone()).unwrap();
    let err = model.chat(ChatRequest::user("Hi")).await.unwrap_err();
    for text in [format!("{config:?}"), format!("{model:?}"), err.to_string(), format!("{err:?}")] {
        assert!(!text.contains(KEY) && !text.contains("org-secret-999"), "leaked: {text}");
    }
    assert!(err.to_string().contains("<redacted>"));
    let sent = &received(&server).await[0];
    assert_eq!(sent.headers.get("x-org-token").unwrap(), "org-secret-999");
}

#[tokio::test]
async fn a_missing_key_variable_is_named() {
    let err =
        OpenAiConfig::new("gpt-test").api_key_env("ANYMODEL_TEST_UNSET_OPENAI_KEY").unwrap_err();
    assert_eq!(
        err,
        Error::config("no API key: set the environment variable ANYMODEL_TEST_UNSET_OPENAI_KEY")
    );
}

/// A server that streams text without end is cut off past what `max_tokens` allows.
#[tokio::test]
async fn a_server_that_streams_forever_is_cut_off() {
    let chunk =
        serde_json::json!({"choices": [{"index": 0, "delta": {"content": "more and more "}}]});
    let piece = format!("data: {chunk}\n\n");
    let every = Duration::from_millis(1);
    let url = faulty_server(Fault::Repeat { content_type: EVENTS, piece, every }).await;
    let model = OpenAi::new(OpenAiConfig::new("gpt-test").base_url(format!("{url}/v1"))).unwrap();
    let request = ChatRequest::user("Hi")
        .with_sampling(Sampling { max_tokens: Some(10), ..Default::default() });
    let events = model.stream(request).await.unwrap();
    let error =
        tokio::time::timeout(Duration::from_secs(20), anymodel_core::collect_stream(events))
            .await
            .expect("cut off in time")
            .unwrap_err();
    assert!(error.to_string().contains("kept streaming past 2560 bytes"), "{error}");
}

#[tokio::test]
async fn a_refused_connection_is_transient() {
    // Bind a port, then free it, so that nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let config = OpenAiConfig::new("gpt-test").base_url(format!("http://127.0.0.1:{port}/v1"));
    let err = OpenAi::new(config).unwrap().chat(ChatRequest::user("Hi")).await.unwrap_err();
    assert!(err.is_retryable(), "{err}");
}

/// A writer that keeps everything logged, for reading back.
#[derive(Clone, Default)]
struct Logs(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "current_thread")]
async fn the_api_key_never_shows_in_logs() {
    let logs = Logs::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let echo = json!({"error": {"message": format!("overloaded, key {KEY}")}});
    let server = answering(ResponseTemplate::new(503).set_body_json(echo)).await;
    let policy =
        RetryPolicy { max_retries: 1, base_delay: Duration::from_millis(1), ..Default::default() };
    let err = Retry::new(model(&server), policy).chat(ChatRequest::user("Hi")).await.unwrap_err();

    let logged = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(logged.contains("retrying"), "the retry was not logged: {logged}");
    assert!(!logged.contains(KEY), "leaked into the logs: {logged}");
    assert!(!err.to_string().contains(KEY));
}
