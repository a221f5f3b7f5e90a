//! The Gemini backend against a loopback mock server: plain, streamed, tool calls, JSON Schema
//! output, usage, and errors in the shared classes.

#![allow(clippy::unwrap_used)] // Tests fail loudly by design.

mod support;

use anymodel_backends::gemini::{Gemini, GeminiConfig};
use anymodel_backends::{RemoteConfig, Secret};
use anymodel_core::{
    ChatRequest, Error, FinishReason, Message, Model, ResponseFormat, ToolCall, ToolChoice,
    ToolResult, collect_stream,
};
use serde_json::{Value, json};
use support::weather;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const KEY: &str = "gemini-test-key";

fn model(server: &MockServer) -> Gemini {
    Gemini::new(
        GeminiConfig::new("gemini-test")
            .base_url(format!("{}/v1beta", server.uri()))
            .api_key(Secret::new(KEY)),
    )
    .unwrap()
}

async fn answering(route: &str, response: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(route))
        .and(header("x-goog-api-key", KEY))
        .respond_with(response)
        .mount(&server)
        .await;
    server
}

async fn sent(server: &MockServer) -> Value {
    serde_json::from_slice(&server.received_requests().await.unwrap()[0].body).unwrap()
}

const WHOLE: &str = "/v1beta/models/gemini-test:generateContent";
const STREAMED: &str = "/v1beta/models/gemini-test:streamGenerateContent";

#[tokio::test]
async fn a_plain_reply_with_usage() {
    let reply = json!({"candidates": [{"content": {"role": "model", "parts": [{"text": "Hello"}, {"text": " there"}]}, "finishReason": "STOP"}],
        "usageMetadata": {"promptTokenCount": 7, "candidatesTokenCount": 2, "totalTokenCount": 9}});
    let server = answering(WHOLE, ResponseTemplate::new(200).set_body_json(reply)).await;
    let request = ChatRequest::new([Message::system("Be brief."), Message::user("Hi")]);
    let response = model(&server).chat(request).await.unwrap();
    assert_eq!(response.message.content, "Hello there");
    assert_eq!((response.usage.input_tokens, response.usage.output_tokens), (7, 2));
    assert_eq!(response.finish_reason, FinishReason::Stop);
    let body = sent(&server).await;
    assert_eq!(body["systemInstruction"], json!({"parts": [{"text": "Be brief."}]}));
    assert_eq!(body["contents"], json!([{"role": "user", "parts": [{"text": "Hi"}]}]));
}

#[tokio::test]
async fn a_streamed_reply_ends_with_its_finish_reason() {
    let chunks = [
        json!({"candidates": [{"content": {"role": "model", "parts": [{"text": "Hel"}]}}]}),
        json!({"candidates": [{"content": {"role": "model", "parts": [{"text": "lo"}]}, "finishReason": "MAX_TOKENS"}], "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 2}}),
    ];
    let body: String = chunks.iter().map(|c| format!("data: {c}\r\n\r\n")).collect();
    let server =
        answering(STREAMED, ResponseTemplate::new(200).set_body_raw(body, "text/event-stream"))
            .await;
    let response = collect_stream(model(&server).stream(ChatRequest::user("Hi")).await.unwrap())
        .await
        .unwrap();
    assert_eq!(response.message.content, "Hello");
    assert_eq!(response.finish_reason, FinishReason::Length);
    assert_eq!(response.usage.output_tokens, 2);
    let url = &server.received_requests().await.unwrap()[0].url;
    assert_eq!(url.query(), Some("alt=sse"));
}

#[tokio::test]
async fn a_stream_cut_before_its_finish_is_an_error() {
    let body =
        format!("data: {}\n\n", json!({"candidates": [{"content": {"parts": [{"text": "Hel"}]}}]}));
    let server =
        answering(STREAMED, ResponseTemplate::new(200).set_body_raw(body, "text/event-stream"))
            .await;
    let error = collect_stream(model(&server).stream(ChatRequest::user("Hi")).await.unwrap())
        .await
        .unwrap_err();
    assert!(error.is_retryable(), "{error}");
}

#[tokio::test]
async fn parallel_calls_get_ids_and_results_go_back_by_name() {
    let reply = json!({"candidates": [{"content": {"role": "model", "parts": [
        {"functionCall": {"name": "weather", "args": {"city": "Paris"}}},
        {"functionCall": {"name": "weather", "args": {"city": "Rome"}}}]}, "finishReason": "STOP"}]});
    let server = answering(WHOLE, ResponseTemplate::new(200).set_body_json(reply)).await;
    let request = ChatRequest::user("Weather in Paris and Rome?")
        .with_tools([{
            // Gemini's schema subset has no additionalProperties: it must be left out.
            let mut tool = weather();
            tool.parameters["additionalProperties"] = false.into();
            tool
        }])
        .with_tool_choice(ToolChoice::Tool { name: "weather".into() });
    let response = model(&server).chat(request).await.unwrap();
    assert_eq!(response.finish_reason, FinishReason::ToolCalls);
    let ids: Vec<&str> = response.message.tool_calls.iter().map(|c| c.id.as_str()).collect();
    assert!(ids.iter().all(|id| id.starts_with("call_")) && ids[0] != ids[1], "{ids:?}");
    assert_eq!(response.message.tool_calls[1].arguments, json!({"city": "Rome"}));
    let body = sent(&server).await;
    assert_eq!(
        body["toolConfig"],
        json!({"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["weather"]}})
    );
    let declared = &body["tools"][0]["functionDeclarations"][0];
    assert_eq!(declared["name"], "weather");
    assert!(declared["parameters"].get("additionalProperties").is_none(), "{declared}");

    // The results of both calls go back in one user turn, by name.
    let server = answering(WHOLE, ResponseTemplate::new(200).set_body_json(json!({"candidates": [{"content": {"parts": [{"text": "Sunny."}]}, "finishReason": "STOP"}]}))).await;
    let calls = vec![
        ToolCall::new("call_0", "weather", json!({"city": "Paris"})),
        ToolCall::new("call_1", "weather", json!({"city": "Rome"})),
    ];
    let result = |id: &str, content: &str| {
        Message::Tool(ToolResult {
            tool_call_id: id.into(),
            name: "weather".into(),
            content: content.into(),
            is_error: false,
        })
    };
    let conversation = ChatRequest::new([
        Message::user("Weather?"),
        Message::Assistant(anymodel_core::AssistantMessage::with_tool_calls(calls)),
        result("call_0", "18C"),
        result("call_1", "21C"),
    ])
    .with_tools([weather()]);
    model(&server).chat(conversation).await.unwrap();
    let body = sent(&server).await;
    let contents = body["contents"].as_array().unwrap();
    assert_eq!(contents.len(), 3, "{body}");
    assert_eq!(contents[1]["role"], "model");
    assert_eq!(contents[1]["parts"][1]["functionCall"]["args"]["city"], "Rome");
    assert_eq!(contents[2]["parts"].as_array().unwrap().len(), 2);
    assert_eq!(contents[2]["parts"][1]["functionResponse"]["name"], "weather");
    assert_eq!(contents[2]["parts"][1]["functionResponse"]["response"]["content"], "21C");
}

#[tokio::test]
async fn json_schema_output_is_asked_for_in_geminis_dialect() {
    let reply = json!({"candidates": [{"content": {"parts": [{"text": "{\"name\": \"Ada\"}"}]}, "finishReason": "STOP"}]});
    let server = answering(WHOLE, ResponseTemplate::new(200).set_body_json(reply)).await;
    let schema = json!({"type": "object", "properties": {"name": {"type": "string"}, "nick": {"type": ["string", "null"]}}, "required": ["name"], "additionalProperties": false});
    let request = ChatRequest::user("Who?").with_response_format(ResponseFormat::JsonSchema {
        name: "p".into(),
        schema,
        strict: true,
    });
    model(&server).chat(request).await.unwrap();
    let body = sent(&server).await;
    assert_eq!(body["generationConfig"]["responseMimeType"], "application/json");
    assert_eq!(
        body["generationConfig"]["responseSchema"]["properties"]["nick"],
        json!({"type": "string", "nullable": true})
    );
    assert!(body["generationConfig"]["responseSchema"].get("additionalProperties").is_none());
}

#[tokio::test]
async fn errors_fall_into_the_shared_classes_and_the_key_never_shows() {
    let error = json!({"error": {"code": 429, "message": "Resource has been exhausted", "status": "RESOURCE_EXHAUSTED"}});
    let server = answering(WHOLE, ResponseTemplate::new(429).set_body_json(error)).await;
    let failure = model(&server).chat(ChatRequest::user("Hi")).await.unwrap_err();
    assert!(matches!(failure, Error::RateLimited { .. }), "{failure:?}");
    assert!(failure.to_string().contains("Resource has been exhausted"), "{failure}");
    let denied = json!({"error": {"code": 403, "message": "API key not valid", "status": "PERMISSION_DENIED"}});
    let server = answering(WHOLE, ResponseTemplate::new(403).set_body_json(denied)).await;
    let failure = model(&server).chat(ChatRequest::user("Hi")).await.unwrap_err();
    assert!(matches!(failure, Error::Authentication { .. }), "{failure:?}");
    assert!(!format!("{failure:?} {:?}", model(&server)).contains(KEY));
}

/// Gemini counts a request's tokens at `countTokens`, given the whole request.
#[tokio::test]
async fn tokens_are_counted_by_gemini() {
    let reply = ResponseTemplate::new(200).set_body_json(json!({"totalTokens": 31}));
    let server = answering("/v1beta/models/gemini-test:countTokens", reply).await;
    let request = ChatRequest::new([Message::system("Be brief."), Message::user("Hi")])
        .with_tools([weather()]);
    assert_eq!(model(&server).count_tokens(&request).await.unwrap(), Some(31));
    let body = sent(&server).await;
    let inner = &body["generateContentRequest"];
    assert_eq!(inner["model"], "models/gemini-test");
    assert_eq!(inner["systemInstruction"]["parts"][0]["text"], "Be brief.");
    assert!(inner["tools"].is_array(), "{body}");
}
