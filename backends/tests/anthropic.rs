//! The Anthropic backend against a mock Messages API server on loopback.

#![allow(clippy::unwrap_used)] // Tests fail loudly by design.

mod support;

use std::time::{Duration, Instant};

use anymodel_backends::anthropic::{Anthropic, AnthropicConfig};
use anymodel_backends::layers::{Retry, RetryPolicy};
use anymodel_backends::{RemoteConfig, Secret};
use anymodel_core::{
    AssistantMessage, ChatRequest, ChatResponse, Error, FinishReason, Message, Model,
    ResponseFormat, Sampling, StreamEvent, ToolCall, ToolChoice, ToolResult, Usage,
};
use serde_json::{Value, json};
use support::faults::{EVENTS, Fault, faulty_server};
use support::{KEY, bodies, drain, named_events, received, sse_response, weather};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn config(server: &MockServer) -> AnthropicConfig {
    AnthropicConfig::new("claude-test")
        .base_url(server.uri())
        .api_key(Secret::new(KEY))
        .timeout(Duration::from_secs(5))
}

fn model(server: &MockServer) -> Anthropic {
    Anthropic::new(config(server)).unwrap()
}

async fn answering(response: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/messages"))
        .and(header("x-api-key", KEY))
        .and(header("anthropic-version", "2023-06-01"))
        .respond_with(response)
        .mount(&server)
        .await;
    server
}

fn message(content: Value, stop_reason: &str) -> Value {
    json!({
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-test",
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": null,
        "usage": {"input_tokens": 21, "output_tokens": 8},
    })
}

/// The base URL is the server's root, as Anthropic's SDKs and Anthropic-compatible servers
/// (LiteLLM, proxies) document it (`ANTHROPIC_BASE_URL=http://host:4000`); one given with `/v1`
/// reaches the same endpoint.
#[tokio::test]
async fn the_base_url_is_the_servers_root_and_v1_given_anyway_still_works() {
    let reply = message(json!([{"type": "text", "text": "Hi."}]), "end_turn");
    let server = answering(ResponseTemplate::new(200).set_body_json(reply)).await;
    for base_url in [
        server.uri(),
        format!("{}/", server.uri()),
        format!("{}/v1", server.uri()),
        format!("{}/v1/", server.uri()),
    ] {
        let model = Anthropic::new(config(&server).base_url(base_url.clone())).unwrap();
        let response = model.chat(ChatRequest::user("Hi")).await;
        assert!(response.is_ok(), "{base_url}: {response:?}");
    }
    assert_eq!(received(&server).await.len(), 4);
}

#[tokio::test]
async fn a_plain_reply_and_the_request_body_that_asked_for_it() {
    let reply = message(json!([{"type": "text", "text": "Hello there."}]), "end_turn");
    let server = answering(ResponseTemplate::new(200).set_body_json(reply)).await;
    let request = ChatRequest::new([Message::system("Be brief."), Message::user("Hi")])
        .with_sampling(Sampling {
            temperature: Some(0.5),
            top_k: Some(40),
            stop: vec!["END".into()],
            ..Default::default()
        });

    let response = model(&server).chat(request).await.unwrap();

    let expected = ChatResponse {
        id: Some("msg_1".into()),
        model: Some("claude-test".into()),
        ..ChatResponse::text("Hello there.").with_usage(Usage::new(21, 8))
    };
    assert_eq!(response, expected);
    assert_eq!(
        bodies(&server).await,
        [json!({
            "model": "claude-test",
            "max_tokens": 4096,
            "system": "Be brief.",
            "messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}],
            "temperature": 0.5,
            "top_k": 40,
            "stop_sequences": ["END"],
        })]
    );
}

#[tokio::test]
async fn tool_results_are_merged_into_one_user_turn() {
    let reply = message(json!([{"type": "text", "text": "18C and 21C."}]), "end_turn");
    let server = answering(ResponseTemplate::new(200).set_body_json(reply)).await;
    let result = |id: &str, content: &str, is_error| {
        Message::Tool(ToolResult {
            tool_call_id: id.into(),
            name: "weather".into(),
            content: content.into(),
            is_error,
        })
    };
    let mut request = ChatRequest::new([
        Message::user("Paris and Rome?"),
        Message::Assistant(AssistantMessage {
            content: "Checking.".into(),
            tool_calls: vec![
                ToolCall::new("toolu_a", "weather", json!({"city": "Paris"})),
                ToolCall::new("toolu_b", "weather", json!({"city": "Rome"})),
            ],
            ..Default::default()
        }),
        result("toolu_a", "18C", false),
        result("toolu_b", "service down", true),
    ])
    .with_tools([weather()])
    .with_tool_choice(ToolChoice::Required)
    .with_sampling(Sampling { max_tokens: Some(100), ..Default::default() });
    request.parallel_tool_calls = Some(false);

    model(&server).chat(request).await.unwrap();

    assert_eq!(
        bodies(&server).await[0],
        json!({
            "model": "claude-test",
            "max_tokens": 100,
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "Paris and Rome?"}]},
                {"role": "assistant", "content": [
                    {"type": "text", "text": "Checking."},
                    {"type": "tool_use", "id": "toolu_a", "name": "weather", "input": {"city": "Paris"}},
                    {"type": "tool_use", "id": "toolu_b", "name": "weather", "input": {"city": "Rome"}},
                ]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_a", "content": "18C"},
                    {"type": "tool_result", "tool_use_id": "toolu_b", "content": "service down", "is_error": true},
                ]},
            ],
            "tools": [{
                "name": "weather",
                "description": "The weather in a city.",
                "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
            }],
            "tool_choice": {"type": "any", "disable_parallel_tool_use": true},
        })
    );
}

#[tokio::test]
async fn tool_choice_maps_to_the_apis_names() {
    let reply = message(json!([{"type": "text", "text": "ok"}]), "end_turn");
    let server = answering(ResponseTemplate::new(200).set_body_json(reply)).await;
    for choice in [ToolChoice::Auto, ToolChoice::None, ToolChoice::Tool { name: "weather".into() }]
    {
        model(&server)
            .chat(ChatRequest::user("?").with_tools([weather()]).with_tool_choice(choice))
            .await
            .unwrap();
    }
    let choices: Vec<Value> =
        bodies(&server).await.iter().map(|b| b["tool_choice"].clone()).collect();
    assert_eq!(
        choices,
        [
            json!({"type": "auto"}),
            json!({"type": "none"}),
            json!({"type": "tool", "name": "weather"})
        ]
    );
}

#[tokio::test]
async fn a_reply_with_tool_use_blocks() {
    let reply = message(
        json!([
            {"type": "text", "text": "Let me check."},
            {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {"city": "Lima"}},
            {"type": "thinking", "thinking": "ignored"},
        ]),
        "tool_use",
    );
    let server = answering(ResponseTemplate::new(200).set_body_json(reply)).await;
    let response =
        model(&server).chat(ChatRequest::user("?").with_tools([weather()])).await.unwrap();
    assert_eq!(response.message.content, "Let me check.");
    assert_eq!(
        response.message.tool_calls,
        vec![ToolCall::new("toolu_1", "weather", json!({"city": "Lima"}))]
    );
    assert_eq!(response.finish_reason, FinishReason::ToolCalls);
}

#[tokio::test]
async fn stop_reasons_map_to_the_cores() {
    for (stop, expected) in [
        ("end_turn", FinishReason::Stop),
        ("stop_sequence", FinishReason::Stop),
        ("max_tokens", FinishReason::Length),
        ("tool_use", FinishReason::ToolCalls),
        ("refusal", FinishReason::ContentFilter),
        ("pause_turn", FinishReason::Other("pause_turn".into())),
    ] {
        let server =
            answering(ResponseTemplate::new(200).set_body_json(message(json!([]), stop))).await;
        assert_eq!(
            model(&server).chat(ChatRequest::user("?")).await.unwrap().finish_reason,
            expected,
            "{stop}"
        );
    }
}

fn streamed_tool_calls() -> String {
    named_events(&[
        json!({"type": "message_start", "message": {"id": "msg_1", "type": "message", "role": "assistant", "content": [], "usage": {"input_tokens": 40, "output_tokens": 1}}}),
        json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        json!({"type": "ping"}),
        json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Checking "}}),
        json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "both."}}),
        json!({"type": "content_block_stop", "index": 0}),
        json!({"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use", "id": "toolu_a", "name": "weather", "input": {}}}),
        json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": ""}}),
        json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "{\"city\": \"Pa"}}),
        json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "ris\"}"}}),
        json!({"type": "content_block_stop", "index": 1}),
        json!({"type": "content_block_start", "index": 2, "content_block": {"type": "tool_use", "id": "toolu_b", "name": "weather", "input": {}}}),
        json!({"type": "content_block_delta", "index": 2, "delta": {"type": "input_json_delta", "partial_json": "{\"ci"}}),
        json!({"type": "content_block_delta", "index": 2, "delta": {"type": "input_json_delta", "partial_json": "ty\": \"Rome\"}"}}),
        json!({"type": "content_block_stop", "index": 2}),
        json!({"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": null}, "usage": {"output_tokens": 55}}),
        json!({"type": "message_stop"}),
    ])
}

#[tokio::test]
async fn a_streamed_reply_with_two_tool_calls_split_across_events() {
    let server = answering(sse_response(streamed_tool_calls())).await;
    let request = ChatRequest::user("Paris and Rome?").with_tools([weather()]);

    let (events, reply) = drain(model(&server).stream(request).await.unwrap()).await;

    let reply = reply.unwrap();
    assert_eq!(reply.message.content, "Checking both.");
    assert_eq!(
        reply.message.tool_calls,
        vec![
            ToolCall::new("toolu_a", "weather", json!({"city": "Paris"})),
            ToolCall::new("toolu_b", "weather", json!({"city": "Rome"})),
        ]
    );
    assert_eq!(reply.usage, Usage::new(40, 55));
    assert_eq!(reply.finish_reason, FinishReason::ToolCalls);
    assert!(events.contains(&StreamEvent::ToolCallStart {
        index: 1,
        id: "toolu_b".into(),
        name: "weather".into()
    }));
    assert_eq!(events.last(), Some(&StreamEvent::Finish { reason: FinishReason::ToolCalls }));
    assert_eq!(bodies(&server).await[0]["stream"], true);
}

#[tokio::test]
async fn a_stream_cut_before_message_stop_is_an_error() {
    let full = streamed_tool_calls();
    let cut = full[..full.find("event: content_block_stop").unwrap()].to_string();
    let server = answering(sse_response(cut)).await;
    let (_, reply) = drain(model(&server).stream(ChatRequest::user("?")).await.unwrap()).await;
    assert!(
        matches!(reply, Err(Error::Transient { message, .. }) if message.contains("message_stop"))
    );
}

#[tokio::test]
async fn an_error_event_mid_stream_is_classed() {
    let body = named_events(&[
        json!({"type": "message_start", "message": {"usage": {"input_tokens": 5, "output_tokens": 0}}}),
        json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
    ]);
    let server = answering(sse_response(body)).await;
    let (_, reply) = drain(model(&server).stream(ChatRequest::user("?")).await.unwrap()).await;
    assert!(
        matches!(reply, Err(Error::Transient { message, .. }) if message == "the server failed mid-stream: overloaded_error: Overloaded")
    );
}

fn anthropic_error(kind: &str, message: &str) -> Value {
    json!({"type": "error", "error": {"type": kind, "message": message}})
}

async fn error_for(response: ResponseTemplate) -> Error {
    let server = answering(response).await;
    model(&server).chat(ChatRequest::user("Hi")).await.unwrap_err()
}

#[tokio::test]
async fn http_failures_map_to_error_classes() {
    let err = error_for(
        ResponseTemplate::new(401)
            .set_body_json(anthropic_error("authentication_error", "invalid x-api-key")),
    )
    .await;
    assert_eq!(err, Error::Authentication { message: "HTTP 401: invalid x-api-key".into() });
    let err = error_for(
        ResponseTemplate::new(403).set_body_json(anthropic_error("permission_error", "no access")),
    )
    .await;
    assert!(matches!(err, Error::Authentication { .. }), "{err}");
    let err =
        error_for(ResponseTemplate::new(400).set_body_json(anthropic_error(
            "invalid_request_error",
            "messages: roles must alternate",
        )))
        .await;
    assert_eq!(
        err,
        Error::InvalidRequest {
            status: Some(400),
            message: "HTTP 400: messages: roles must alternate".into()
        }
    );
    let err = error_for(
        ResponseTemplate::new(404)
            .set_body_json(anthropic_error("not_found_error", "model: claude-nope")),
    )
    .await;
    assert!(matches!(err, Error::NotFound { .. }), "{err}");
    let err = error_for(ResponseTemplate::new(400).set_body_json(anthropic_error(
        "invalid_request_error",
        "prompt is too long: 210000 tokens > 200000 maximum",
    )))
    .await;
    assert!(matches!(err, Error::ContextLengthExceeded { .. }), "{err}");
    let err = error_for(ResponseTemplate::new(413).set_body_json(anthropic_error(
        "request_too_large",
        "Request exceeds the maximum allowed number of bytes",
    )))
    .await;
    assert!(matches!(err, Error::ContextLengthExceeded { .. }), "{err}");
    let err =
        error_for(ResponseTemplate::new(429).insert_header("retry-after", "12").set_body_json(
            anthropic_error(
                "rate_limit_error",
                "Number of request tokens has exceeded your rate limit",
            ),
        ))
        .await;
    assert_eq!(err.retry_after(), Some(Duration::from_secs(12)));
    assert!(matches!(err, Error::RateLimited { .. }), "{err}");
    for status in [500, 529] {
        let err = error_for(
            ResponseTemplate::new(status)
                .set_body_json(anthropic_error("overloaded_error", "Overloaded")),
        )
        .await;
        assert!(
            matches!(&err, Error::Transient { message, .. } if message.ends_with("Overloaded")),
            "{status}: {err}"
        );
    }
}

#[tokio::test]
async fn a_malformed_body_is_an_invalid_response() {
    let err = error_for(ResponseTemplate::new(200).set_body_string("{\"content\": [")).await;
    assert!(matches!(err, Error::InvalidResponse { .. }), "{err}");
}

#[tokio::test]
async fn json_output_is_refused_before_anything_is_sent() {
    let server = answering(ResponseTemplate::new(200)).await;
    let err = model(&server)
        .chat(ChatRequest::user("?").with_response_format(ResponseFormat::Json))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Unsupported { .. }), "{err}");
    assert!(received(&server).await.is_empty());
}

#[tokio::test]
async fn a_server_that_never_answers_times_out() {
    let server = answering(ResponseTemplate::new(200).set_delay(Duration::from_secs(30))).await;
    let model = Anthropic::new(config(&server).timeout(Duration::from_millis(300))).unwrap();
    let started = Instant::now();
    let err = model.stream(ChatRequest::user("Hi")).await.err().unwrap();
    assert!(err.is_retryable(), "{err}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn an_overloaded_server_is_retried() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(529)
                .set_body_json(anthropic_error("overloaded_error", "Overloaded")),
        )
        .up_to_n_times(2)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(message(json!([{"type": "text", "text": "ok"}]), "end_turn")),
        )
        .mount(&server)
        .await;
    let policy = RetryPolicy { base_delay: Duration::from_millis(10), ..Default::default() };
    let reply = Retry::new(model(&server), policy).chat(ChatRequest::user("Hi")).await.unwrap();
    assert_eq!(reply.message.content, "ok");
    assert_eq!(received(&server).await.len(), 3);
}

#[tokio::test]
async fn the_api_key_never_shows_in_debug_output_or_errors() {
    let echo = anthropic_error("authentication_error", &format!("invalid x-api-key {KEY}"));
    let server = answering(ResponseTemplate::new(401).set_body_json(echo)).await;
    let config = config(&server);
    let model = Anthropic::new(config.clone()).unwrap();
    let err = model.chat(ChatRequest::user("Hi")).await.unwrap_err();
    for text in [format!("{config:?}"), format!("{model:?}"), err.to_string(), format!("{err:?}")] {
        assert!(!text.contains(KEY), "leaked: {text}");
    }
}

/// Pings keep the connection busy but bring no reply: they do not restart the silence limit.
#[tokio::test]
async fn pings_alone_do_not_keep_a_stream_alive() {
    let ping = "event: ping\ndata: {\"type\": \"ping\"}\n\n".to_string();
    let every = std::time::Duration::from_millis(50);
    let url = faulty_server(Fault::Repeat { content_type: EVENTS, piece: ping, every }).await;
    let config = AnthropicConfig::new("claude-test")
        .base_url(url)
        .timeout(std::time::Duration::from_secs(1));
    let model = Anthropic::new(config).unwrap();
    let started = std::time::Instant::now();
    let error = match model.stream(ChatRequest::user("Hi")).await {
        Ok(events) => anymodel_core::collect_stream(events).await.unwrap_err(),
        Err(error) => error,
    };
    assert!(error.to_string().contains("sent nothing for 1 s"), "{error}");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}

/// A Messages API that, as the real one does with thinking on, rejects a tool loop's next
/// request unless the assistant turn starts with the thinking block it was given, signature and
/// all. It answers the first request with signed thinking and a tool call, and the second with
/// text; whole or streamed as asked.
struct ThinkingApi;

const THOUGHT: &str = "The user wants the weather in Paris: call the tool.";
const SIGNATURE: &str = "EqQBCkYIBxgCKkDsig-1";

impl wiremock::Respond for ThinkingApi {
    fn respond(&self, request: &wiremock::Request) -> ResponseTemplate {
        let body: Value = request.body_json().unwrap();
        assert_eq!(body["thinking"], json!({"type": "enabled", "budget_tokens": 2048}));
        let stream = body["stream"] == true;
        let messages = body["messages"].as_array().unwrap();
        let Some(turn) = messages.iter().position(|m| m["role"] == "assistant") else {
            let content = json!([
                {"type": "thinking", "thinking": THOUGHT, "signature": SIGNATURE},
                {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {"city": "Paris"}},
            ]);
            return reply(content, "tool_use", stream);
        };
        let first = &messages[turn]["content"][0];
        if first != &json!({"type": "thinking", "thinking": THOUGHT, "signature": SIGNATURE}) {
            let message = format!(
                "messages.{turn}.content.0.type: Expected `thinking` or `redacted_thinking`, but found `{}`. When `thinking` is enabled, a final `assistant` message must start with a thinking block.",
                first["type"].as_str().unwrap_or("nothing")
            );
            return ResponseTemplate::new(400)
                .set_body_json(anthropic_error("invalid_request_error", &message));
        }
        reply(json!([{"type": "text", "text": "It is 18C in Paris."}]), "end_turn", stream)
    }
}

/// The reply `content`, whole or as the events that stream it.
fn reply(content: Value, stop: &str, stream: bool) -> ResponseTemplate {
    if !stream {
        return ResponseTemplate::new(200).set_body_json(message(content, stop));
    }
    let mut events = vec![
        json!({"type": "message_start", "message": {"usage": {"input_tokens": 21, "output_tokens": 1}}}),
    ];
    for (index, block) in content.as_array().unwrap().iter().enumerate() {
        let (start, deltas) = match block["type"].as_str().unwrap() {
            "thinking" => (
                json!({"type": "thinking", "thinking": ""}),
                vec![
                    json!({"type": "thinking_delta", "thinking": &THOUGHT[..20]}),
                    json!({"type": "thinking_delta", "thinking": &THOUGHT[20..]}),
                    json!({"type": "signature_delta", "signature": block["signature"]}),
                ],
            ),
            "tool_use" => (
                json!({"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}),
                vec![
                    json!({"type": "input_json_delta", "partial_json": block["input"].to_string()}),
                ],
            ),
            _ => (
                json!({"type": "text", "text": ""}),
                vec![json!({"type": "text_delta", "text": block["text"]})],
            ),
        };
        events.push(json!({"type": "content_block_start", "index": index, "content_block": start}));
        events.extend(
            deltas.into_iter().map(
                |delta| json!({"type": "content_block_delta", "index": index, "delta": delta}),
            ),
        );
        events.push(json!({"type": "content_block_stop", "index": index}));
    }
    events.push(json!({"type": "message_delta", "delta": {"stop_reason": stop}, "usage": {"output_tokens": 8}}));
    events.push(json!({"type": "message_stop"}));
    sse_response(named_events(&events))
}

struct Weather;

#[anymodel_core::async_trait]
impl anymodel_core::Tool for Weather {
    fn name(&self) -> &str {
        "weather"
    }

    fn description(&self) -> &str {
        "The weather in a city."
    }

    fn parameters(&self) -> Value {
        weather().parameters
    }

    async fn call(&self, _arguments: Value) -> Result<Value, anymodel_core::ToolError> {
        Ok(json!("18C"))
    }
}

/// An agent with extended thinking calls a tool and answers: its thinking goes back, signed, in
/// the request after the tool ran, whole and streamed; without it the API refuses the request.
#[tokio::test]
async fn a_tool_loop_with_thinking_sends_the_signed_thinking_back() {
    use anymodel_core::{Agent, AgentEvent, ReasoningOptions};
    use futures::StreamExt;
    let server = MockServer::start().await;
    Mock::given(method("POST")).respond_with(ThinkingApi).mount(&server).await;
    let agent = Agent::builder(model(&server))
        .tool(Weather)
        .reasoning(ReasoningOptions::budget(2048))
        .build()
        .unwrap();

    let run = agent.run("Weather in Paris?").await.unwrap();
    assert_eq!(run.answer, "It is 18C in Paris.");
    let Message::Assistant(thinking_turn) = &run.transcript[1] else { panic!("{run:?}") };
    assert_eq!(thinking_turn.reasoning[0].signature.as_deref(), Some(SIGNATURE));

    let events: Vec<_> = agent.run_stream("Weather in Paris?").collect().await;
    let reasoning: String = events
        .iter()
        .filter_map(|e| match e.as_ref().unwrap() {
            AgentEvent::ReasoningDelta { text, .. } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(reasoning, THOUGHT);
    let Some(Ok(AgentEvent::Finished { run })) = events.last() else { panic!("{events:?}") };
    assert_eq!(run.answer, "It is 18C in Paris.");

    // The same conversation with the thinking left out is refused, as the real API refuses it.
    let mut stripped = run.transcript.clone();
    for message in &mut stripped {
        if let Message::Assistant(reply) = message {
            reply.reasoning.clear();
        }
    }
    let request = ChatRequest::new(stripped.into_iter().take(3))
        .with_tools([weather()])
        .with_reasoning(ReasoningOptions::budget(2048));
    let refused = model(&server).chat(request).await.unwrap_err();
    assert!(
        matches!(&refused, Error::InvalidRequest { status: Some(400), message } if message.contains("must start with a thinking block")),
        "{refused}"
    );
}

/// The provider counts a request's tokens at `count_tokens`, given the prompt's fields alone.
#[tokio::test]
async fn tokens_are_counted_by_the_provider() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/messages/count_tokens"))
        .and(header("x-api-key", KEY))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"input_tokens": 42})))
        .mount(&server)
        .await;
    let request = ChatRequest::new([Message::system("Be brief."), Message::user("Hi")])
        .with_tools([weather()])
        .with_sampling(Sampling {
            max_tokens: Some(10),
            temperature: Some(0.5),
            ..Default::default()
        });
    assert_eq!(model(&server).count_tokens(&request).await.unwrap(), Some(42));
    let sent = &bodies(&server).await[0];
    let mut keys: Vec<&String> = sent.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(keys, ["messages", "model", "system", "tool_choice", "tools"]);
}
