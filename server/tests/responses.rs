//! The server's Responses API in-process on a loopback port: whole replies, the stream's event
//! sequence in order, and conversations continued by `previous_response_id`.

#![allow(clippy::unwrap_used)] // Tests fail loudly by design.

mod support;

use std::sync::Arc;

use anymodel_core::{ChatResponse, Message, Reasoning, ScriptedModel, ToolCall, ToolResult, Usage};
use anymodel_server::Server;
use serde_json::{Value, json};
use support::start;

async fn post(base: &str, body: Value) -> (u16, String) {
    let response = reqwest::Client::new()
        .post(format!("{base}/v1/responses"))
        .json(&body)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

fn thinking_call() -> ChatResponse {
    let mut reply = ChatResponse::tool_calls(vec![ToolCall::new(
        "call_1",
        "weather",
        json!({"city": "Paris"}),
    )])
    .with_usage(Usage::new(40, 9));
    reply.message.content = "Checking.".into();
    reply.message.reasoning = vec![Reasoning::text("Paris, then.")];
    reply
}

#[tokio::test(flavor = "multi_thread")]
async fn the_response_stream_is_in_order() {
    let model = Arc::new(ScriptedModel::new([thinking_call()]));
    let base = start(Server::new().model("m", model)).await;
    let tools = json!([{"type": "function", "name": "weather", "parameters": {"type": "object"}}]);
    let (status, text) =
        post(&base, json!({"model": "m", "input": "Weather?", "tools": tools, "stream": true}))
            .await;
    assert_eq!(status, 200, "{text}");
    let events: Vec<(String, Value)> = text
        .split("\n\n")
        .filter(|e| !e.trim().is_empty())
        .map(|e| {
            let name = e.lines().find_map(|l| l.strip_prefix("event: ")).unwrap().to_string();
            let data = e.lines().find_map(|l| l.strip_prefix("data: ")).unwrap();
            (name, serde_json::from_str(data).unwrap())
        })
        .collect();
    let names: Vec<&str> = events.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(
        names,
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.reasoning_summary_part.added",
            "response.reasoning_summary_text.delta",
            "response.reasoning_summary_text.done",
            "response.reasoning_summary_part.done",
            "response.output_item.done",
            "response.output_item.added",
            "response.content_part.added",
            "response.output_text.delta",
            "response.output_text.done",
            "response.content_part.done",
            "response.output_item.done",
            "response.output_item.added",
            "response.function_call_arguments.delta",
            "response.function_call_arguments.done",
            "response.output_item.done",
            "response.completed",
        ]
    );
    for (index, (name, data)) in events.iter().enumerate() {
        assert_eq!(
            (data["type"].as_str(), data["sequence_number"].as_u64()),
            (Some(name.as_str()), Some(index as u64))
        );
    }
    let done = &events.last().unwrap().1["response"];
    assert_eq!(done["status"], "completed");
    let kinds: Vec<&str> =
        done["output"].as_array().unwrap().iter().map(|i| i["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["reasoning", "message", "function_call"]);
    assert_eq!(done["output"][2]["arguments"], "{\"city\":\"Paris\"}");
    assert_eq!(done["output"][2]["call_id"], "call_1");
    assert_eq!(done["usage"]["input_tokens"], 40);
}

/// A conversation continued by `previous_response_id`: the model receives all of it (the first
/// input, the call it made, the call's output and the new question), whole or streamed.
#[tokio::test(flavor = "multi_thread")]
async fn previous_response_id_continues_the_conversation() {
    let model = Arc::new(ScriptedModel::new([
        thinking_call(),
        ChatResponse::text("18C in Paris.").with_usage(Usage::new(60, 5)),
    ]));
    let base = start(Server::new().model("m", model.clone())).await;
    let (status, text) =
        post(&base, json!({"model": "m", "instructions": "Be brief.", "input": "Weather?"})).await;
    assert_eq!(status, 200, "{text}");
    let first: Value = serde_json::from_str(&text).unwrap();
    let id = first["id"].as_str().unwrap();
    assert_eq!(first["output"][2]["type"], "function_call");
    let (status, text) = post(
        &base,
        json!({
            "model": "m", "instructions": "Be brief.", "previous_response_id": id,
            "input": [{"type": "function_call_output", "call_id": "call_1", "output": "18C"}],
        }),
    )
    .await;
    assert_eq!(status, 200, "{text}");
    let second: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(second["output"][0]["content"][0]["text"], "18C in Paris.");
    assert_eq!(second["previous_response_id"], id);
    let sent = &model.requests()[1].messages;
    let mut calling = anymodel_core::AssistantMessage::with_tool_calls(vec![ToolCall::new(
        "call_1",
        "weather",
        json!({"city": "Paris"}),
    )]);
    calling.content = "Checking.".into();
    calling.reasoning = vec![Reasoning::text("Paris, then.")];
    assert_eq!(
        sent,
        &vec![
            Message::system("Be brief."),
            Message::user("Weather?"),
            Message::Assistant(calling),
            Message::Tool(ToolResult {
                tool_call_id: "call_1".into(),
                name: "weather".into(),
                content: "18C".into(),
                is_error: false,
            }),
        ]
    );
    let (status, text) =
        post(&base, json!({"model": "m", "previous_response_id": "resp_nope", "input": "Hi"}))
            .await;
    assert_eq!(status, 404, "{text}");
    assert!(text.contains("previous_response_id"), "{text}");
}
