//! The Cohere v2 backend against a loopback mock server: plain, streamed with a tool plan (the text of the reply) and
//! parallel tool calls, JSON output, usage, and errors in the shared classes.

#![allow(clippy::unwrap_used)] // Tests fail loudly by design.

mod support;

use anymodel_backends::cohere::{Cohere, CohereConfig};
use anymodel_backends::{RemoteConfig, Secret};
use anymodel_core::{
    AssistantMessage, ChatRequest, Error, FinishReason, Message, Model, ResponseFormat, ToolCall,
    ToolChoice, ToolResult, ToolSpec, collect_stream,
};
use serde_json::{Value, json};
use support::weather;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const KEY: &str = "cohere-test-key";

fn model(server: &MockServer) -> Cohere {
    Cohere::new(
        CohereConfig::new("command-test")
            .base_url(format!("{}/v2", server.uri()))
            .api_key(Secret::new(KEY)),
    )
    .unwrap()
}

async fn answering(response: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v2/chat"))
        .and(header("authorization", format!("Bearer {KEY}").as_str()))
        .respond_with(response)
        .mount(&server)
        .await;
    server
}

async fn sent(server: &MockServer) -> Value {
    serde_json::from_slice(&server.received_requests().await.unwrap()[0].body).unwrap()
}

#[tokio::test]
async fn a_plain_reply_with_usage() {
    let reply = json!({"id": "r", "finish_reason": "COMPLETE",
        "message": {"role": "assistant", "content": [{"type": "text", "text": "Hello"}]},
        "usage": {"billed_units": {"input_tokens": 5, "output_tokens": 1}, "tokens": {"input_tokens": 70, "output_tokens": 2}}});
    let server = answering(ResponseTemplate::new(200).set_body_json(reply)).await;
    let response = model(&server)
        .chat(ChatRequest::new([Message::system("Be brief."), Message::user("Hi")]))
        .await
        .unwrap();
    assert_eq!(response.message.content, "Hello");
    assert_eq!((response.usage.input_tokens, response.usage.output_tokens), (70, 2));
    assert_eq!(response.finish_reason, FinishReason::Stop);
    let body = sent(&server).await;
    assert_eq!(
        body["messages"],
        json!([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}])
    );
    assert_eq!(body["stream"], false);
}

#[tokio::test]
async fn a_streamed_reply_with_a_plan_and_parallel_calls() {
    let events = [
        json!({"type": "message-start", "id": "m", "delta": {"message": {"role": "assistant"}}}),
        json!({"type": "tool-plan-delta", "delta": {"message": {"tool_plan": "I will look up both."}}}),
        json!({"type": "tool-call-start", "index": 0, "delta": {"message": {"tool_calls": {"id": "c0", "type": "function", "function": {"name": "weather", "arguments": ""}}}}}),
        json!({"type": "tool-call-delta", "index": 0, "delta": {"message": {"tool_calls": {"function": {"arguments": "{\"city\": \"Paris\"}"}}}}}),
        json!({"type": "tool-call-end", "index": 0}),
        json!({"type": "tool-call-start", "index": 1, "delta": {"message": {"tool_calls": {"id": "c1", "type": "function", "function": {"name": "weather", "arguments": "{\"city\": \"Rome\"}"}}}}}),
        json!({"type": "tool-call-end", "index": 1}),
        json!({"type": "message-end", "delta": {"finish_reason": "TOOL_CALL", "usage": {"tokens": {"input_tokens": 30, "output_tokens": 12}}}}),
    ];
    let body: String = events
        .iter()
        .map(|e| format!("event: {}\ndata: {e}\n\n", e["type"].as_str().unwrap()))
        .collect();
    let server =
        answering(ResponseTemplate::new(200).set_body_raw(body, "text/event-stream")).await;
    let request = ChatRequest::user("Weather in Paris and Rome?").with_tools([weather()]);
    let response = collect_stream(model(&server).stream(request).await.unwrap()).await.unwrap();
    assert_eq!(response.finish_reason, FinishReason::ToolCalls);
    assert_eq!(response.message.content, "I will look up both.", "the plan is the text");
    let calls: Vec<(&str, &Value)> =
        response.message.tool_calls.iter().map(|c| (c.id.as_str(), &c.arguments)).collect();
    assert_eq!(calls, [("c0", &json!({"city": "Paris"})), ("c1", &json!({"city": "Rome"}))]);
    assert_eq!(response.usage.output_tokens, 12);
    let body = sent(&server).await;
    assert_eq!(body["stream"], true);
    assert_eq!(body["tools"][0]["function"]["name"], "weather");
}

#[tokio::test]
async fn calls_and_results_go_back_in_cohere_form_and_a_named_tool_is_forced() {
    let reply = json!({"finish_reason": "COMPLETE", "message": {"content": [{"type": "text", "text": "Sunny."}]}});
    let server = answering(ResponseTemplate::new(200).set_body_json(reply)).await;
    let other = ToolSpec {
        name: "get_time".into(),
        description: "The time.".into(),
        parameters: json!({"type": "object"}),
    };
    let call = ToolCall::new("c0", "weather", json!({"city": "Paris"}));
    let mut assistant = AssistantMessage::with_tool_calls(vec![call]);
    assistant.content = "Looking it up.".into();
    let request = ChatRequest::new([
        Message::user("Weather?"),
        Message::Assistant(assistant),
        Message::Tool(ToolResult {
            tool_call_id: "c0".into(),
            name: "weather".into(),
            content: "18C".into(),
            is_error: false,
        }),
    ])
    .with_tools([weather(), other])
    .with_tool_choice(ToolChoice::Tool { name: "weather".into() });
    model(&server).chat(request).await.unwrap();
    let body = sent(&server).await;
    assert_eq!(
        body["messages"][1],
        json!({"role": "assistant", "tool_plan": "Looking it up.", "tool_calls": [{"id": "c0", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Paris\"}"}}]})
    );
    assert_eq!(
        body["messages"][2],
        json!({"role": "tool", "tool_call_id": "c0", "content": "18C"})
    );
    assert_eq!(body["tool_choice"], "REQUIRED");
    assert_eq!(body["tools"].as_array().unwrap().len(), 1, "only the named tool is offered");
}

#[tokio::test]
async fn json_schema_output_is_asked_for() {
    let reply = json!({"finish_reason": "COMPLETE", "message": {"content": [{"type": "text", "text": "{\"name\": \"Ada\"}"}]}});
    let server = answering(ResponseTemplate::new(200).set_body_json(reply)).await;
    let schema =
        json!({"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]});
    let request = ChatRequest::user("Who?").with_response_format(ResponseFormat::JsonSchema {
        name: "p".into(),
        schema: schema.clone(),
        strict: true,
    });
    let response = model(&server).chat(request).await.unwrap();
    assert_eq!(response.message.content, "{\"name\": \"Ada\"}");
    assert_eq!(
        sent(&server).await["response_format"],
        json!({"type": "json_object", "json_schema": schema})
    );
}

#[tokio::test]
async fn errors_fall_into_the_shared_classes_and_the_key_never_shows() {
    let server = answering(
        ResponseTemplate::new(429).set_body_json(json!({"message": "You are using a Trial key"})),
    )
    .await;
    let failure = model(&server).chat(ChatRequest::user("Hi")).await.unwrap_err();
    assert!(matches!(failure, Error::RateLimited { .. }), "{failure:?}");
    assert!(failure.to_string().contains("Trial key"), "{failure}");
    let server = answering(
        ResponseTemplate::new(401).set_body_json(json!({"message": "invalid api token"})),
    )
    .await;
    let failure = model(&server).chat(ChatRequest::user("Hi")).await.unwrap_err();
    assert!(matches!(failure, Error::Authentication { .. }), "{failure:?}");
    assert!(!format!("{failure:?} {:?}", model(&server)).contains(KEY));
}
