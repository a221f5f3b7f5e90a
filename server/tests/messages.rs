//! The server's Messages API in-process on a loopback port, with anymodel's own Anthropic
//! backend as its client and raw HTTP for the event sequence and the errors.

#![allow(clippy::unwrap_used)] // Tests fail loudly by design.

mod support;

use std::sync::Arc;

use anymodel_backends::anthropic::{Anthropic, AnthropicConfig};
use anymodel_backends::{RemoteConfig, Secret};
use anymodel_core::{Agent, ChatResponse, Model, Reasoning, ScriptedModel, ToolCall, Usage};
use anymodel_server::Server;
use serde_json::{Value, json};
use support::{Weather, run, start};

/// A reply that thinks (signed, as Anthropic signs), says a word and calls a tool; then the
/// answer.
fn script() -> Vec<ChatResponse> {
    let mut calling = ChatResponse::tool_calls(vec![ToolCall::new(
        "toolu_1",
        "weather",
        json!({"city": "Paris"}),
    )])
    .with_usage(Usage::new(50, 10));
    calling.message.content = "Checking.".into();
    calling.message.reasoning = vec![Reasoning {
        text: "Paris, then.".into(),
        signature: Some("sig-1".into()),
        provider: Some("anthropic".into()),
        ..Default::default()
    }];
    vec![calling, ChatResponse::text("18C in Paris.").with_usage(Usage::new(70, 5))]
}

/// The same agent on the scripted model directly and through the server's Messages API, whole
/// and streamed: the same transcript, the signed thinking included.
#[tokio::test(flavor = "multi_thread")]
async fn an_agent_runs_the_same_through_the_messages_api_as_directly() {
    let agent = |model: Arc<dyn Model>| {
        Agent::builder(model).system("Be brief.").tool(Weather).build().unwrap()
    };
    let direct =
        agent(Arc::new(ScriptedModel::new(script()))).run("Weather in Paris?").await.unwrap();
    for streamed in [false, true] {
        let base =
            start(Server::new().model("claude-local", Arc::new(ScriptedModel::new(script()))))
                .await;
        let client = AnthropicConfig::new("claude-local").base_url(base).api_key(Secret::new("k"));
        let remote = agent(Arc::new(Anthropic::new(client).unwrap()));
        let run = run(&remote, "Weather in Paris?", streamed).await;
        assert_eq!(run.transcript, direct.transcript, "streamed: {streamed}");
        assert_eq!(run.usage, direct.usage, "streamed: {streamed}");
    }
}

/// The stream's events, in the order Anthropic's clients read them.
#[tokio::test(flavor = "multi_thread")]
async fn the_messages_event_sequence_is_in_order() {
    let base = start(Server::new().model("m", Arc::new(ScriptedModel::new(script())))).await;
    let body = json!({
        "model": "m", "max_tokens": 100, "stream": true,
        "messages": [{"role": "user", "content": "Weather in Paris?"}],
    });
    let text = reqwest::Client::new()
        .post(format!("{base}/v1/messages"))
        .json(&body)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let events: Vec<(String, Value)> = text
        .split("\n\n")
        .filter(|event| !event.trim().is_empty())
        .map(|event| {
            let name = event.lines().find_map(|l| l.strip_prefix("event: ")).unwrap().to_string();
            let data = event.lines().find_map(|l| l.strip_prefix("data: ")).unwrap();
            (name, serde_json::from_str(data).unwrap())
        })
        .collect();
    let described: Vec<String> = events
        .iter()
        .map(|(name, data)| {
            let detail = data["content_block"]["type"]
                .as_str()
                .or(data["delta"]["type"].as_str())
                .unwrap_or("");
            assert_eq!(data["type"], name.as_str());
            if detail.is_empty() { name.clone() } else { format!("{name} {detail}") }
        })
        .collect();
    assert_eq!(
        described,
        [
            "message_start",
            "ping",
            "content_block_start thinking",
            "content_block_delta thinking_delta",
            "content_block_delta signature_delta",
            "content_block_stop",
            "content_block_start text",
            "content_block_delta text_delta",
            "content_block_stop",
            "content_block_start tool_use",
            "content_block_delta input_json_delta",
            "content_block_stop",
            "message_delta",
            "message_stop",
        ]
    );
    let indexes: Vec<u64> = events.iter().filter_map(|(_, data)| data["index"].as_u64()).collect();
    assert_eq!(indexes, [0, 0, 0, 0, 1, 1, 1, 2, 2, 2]);
    let (_, delta) = &events[events.len() - 2];
    assert_eq!(delta["delta"]["stop_reason"], "tool_use");
    assert_eq!(delta["usage"]["input_tokens"], 50);
}

/// Errors in Anthropic's shape.
#[tokio::test(flavor = "multi_thread")]
async fn messages_errors_come_in_anthropics_shape() {
    let base =
        start(Server::new().model("m", Arc::new(ScriptedModel::new(script()))).api_key("sk-right"))
            .await;
    let http = reqwest::Client::new();
    let send = |body: Value, key: &'static str| {
        let request = http.post(format!("{base}/v1/messages")).header("x-api-key", key).json(&body);
        async move {
            let response = request.send().await.unwrap();
            (response.status().as_u16(), response.json::<Value>().await.unwrap())
        }
    };
    let (status, body) =
        send(json!({"model": "m", "max_tokens": 5, "messages": []}), "sk-wrong").await;
    assert_eq!(
        (status, &body["type"], &body["error"]["type"]),
        (401, &json!("error"), &json!("authentication_error"))
    );
    let (status, body) =
        send(json!({"model": "nope", "max_tokens": 5, "messages": []}), "sk-right").await;
    assert_eq!((status, &body["error"]["type"]), (404, &json!("not_found_error")), "{body}");
    let (status, body) = send(json!({"model": "m", "messages": []}), "sk-right").await;
    assert_eq!(status, 400, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("max_tokens"), "{body}");
    let counted = http
        .post(format!("{base}/v1/messages/count_tokens"))
        .header("x-api-key", "sk-right")
        .json(&json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(counted.status().as_u16(), 400, "a scripted model cannot count");
    let models: Value = http
        .get(format!("{base}/v1/models"))
        .header("x-api-key", "sk-right")
        .header("anthropic-version", "2023-06-01")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (&models["data"][0]["type"], &models["data"][0]["id"]),
        (&json!("model"), &json!("m"))
    );
}

/// A reply ended by a stop string says so: `stop_reason: "stop_sequence"` and the string, whole
/// and streamed, and anymodel's Anthropic backend reads it back.
#[tokio::test(flavor = "multi_thread")]
async fn a_matched_stop_string_is_the_stop_reason() {
    let stopped = ChatResponse { stop_sequence: Some("END".into()), ..ChatResponse::text("Done") };
    let base =
        start(Server::new().model("m", Arc::new(ScriptedModel::new([stopped.clone(), stopped]))))
            .await;
    let body = json!({"model": "m", "max_tokens": 20, "stop_sequences": ["END"], "messages": [{"role": "user", "content": "Go"}]});
    let whole: Value = reqwest::Client::new()
        .post(format!("{base}/v1/messages"))
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (&whole["stop_reason"], &whole["stop_sequence"]),
        (&json!("stop_sequence"), &json!("END"))
    );
    let client = AnthropicConfig::new("m").base_url(base).api_key(Secret::new("k"));
    let request = anymodel_core::ChatRequest::user("Go");
    let streamed = anymodel_core::collect_stream(
        Anthropic::new(client).unwrap().stream(request).await.unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(streamed.stop_sequence.as_deref(), Some("END"));
}
