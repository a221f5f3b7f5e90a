//! The server in-process on a loopback port, with anymodel's own OpenAI backend as its client
//! and raw HTTP for the error cases.

#![allow(clippy::unwrap_used)] // Tests fail loudly by design.

mod support;

use std::sync::Arc;
use std::time::Duration;

use anymodel_backends::RemoteConfig;
use anymodel_backends::openai::{OpenAi, OpenAiConfig};
use anymodel_core::{
    Agent, ChatRequest, ChatResponse, Error, Model, ResponseFormat, ScriptedModel, ScriptedReply,
    ToolCall, Usage,
};
use anymodel_server::Server;
use serde_json::{Value, json};
use support::{Weather, run, start};

/// anymodel's OpenAI backend, pointed at the server.
fn client(base: &str, model: &str) -> OpenAi {
    OpenAi::new(OpenAiConfig::new(model).base_url(format!("{base}/v1"))).unwrap()
}

fn script() -> Vec<ChatResponse> {
    vec![
        ChatResponse::tool_calls(vec![
            ToolCall::new("call_a", "weather", json!({"city": "Paris"})),
            ToolCall::new("call_b", "weather", json!({"city": "Rome"})),
        ])
        .with_usage(Usage::new(50, 10)),
        ChatResponse::text("18C in both.").with_usage(Usage::new(70, 5)),
    ]
}

/// The same agent, run on the scripted model directly and through the server, whole and
/// streamed, ends with the same transcript: tool calls (streamed as deltas keyed by index) come
/// back whole, and the results go back as the model sent them.
#[tokio::test(flavor = "multi_thread")]
async fn an_agent_runs_the_same_through_the_server_as_directly() {
    let agent = |model: Arc<dyn Model>| {
        Agent::builder(model).system("Be brief.").tool(Weather).build().unwrap()
    };
    let direct =
        agent(Arc::new(ScriptedModel::new(script()))).run("Paris and Rome?").await.unwrap();
    for streamed in [false, true] {
        let served = Server::new().model("scripted", Arc::new(ScriptedModel::new(script())));
        let base = start(served).await;
        let remote = agent(Arc::new(client(&base, "scripted")));
        let run = run(&remote, "Paris and Rome?", streamed).await;
        assert_eq!(run.transcript, direct.transcript, "streamed: {streamed}");
        assert_eq!(run.usage, direct.usage, "streamed: {streamed}");
    }
}

/// A stream in the wire's order: the role first, calls keyed by index with id and name on
/// their first delta, the finish reason, the usage chunk asked for, then `[DONE]`.
#[tokio::test(flavor = "multi_thread")]
async fn a_stream_is_chunked_as_clients_expect() {
    let base = start(Server::new().model("m", Arc::new(ScriptedModel::new(script())))).await;
    let body = json!({
        "model": "m", "stream": true, "stream_options": {"include_usage": true},
        "messages": [{"role": "user", "content": "Paris and Rome?"}],
        "some_field_we_do_not_know": 1,
    });
    let text = reqwest::Client::new()
        .post(format!("{base}/v1/chat/completions"))
        .json(&body)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let data: Vec<&str> = text.lines().filter_map(|line| line.strip_prefix("data: ")).collect();
    assert_eq!(data.last(), Some(&"[DONE]"));
    let chunks: Vec<Value> =
        data[..data.len() - 1].iter().map(|d| serde_json::from_str(d).unwrap()).collect();
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let starts: Vec<&Value> = chunks
        .iter()
        .filter_map(|c| {
            c["choices"][0]["delta"]["tool_calls"][0]
                .as_object()
                .map(|_| &c["choices"][0]["delta"]["tool_calls"][0])
        })
        .filter(|call| call.get("id").is_some())
        .collect();
    assert_eq!(starts.len(), 2);
    assert_eq!(
        (&starts[0]["index"], &starts[0]["id"], &starts[0]["function"]["name"]),
        (&json!(0), &json!("call_a"), &json!("weather"))
    );
    let finish = &chunks[chunks.len() - 2];
    assert_eq!(finish["choices"][0]["finish_reason"], "tool_calls");
    let usage = &chunks[chunks.len() - 1];
    assert_eq!(usage["choices"], json!([]));
    assert_eq!(usage["usage"]["prompt_tokens"], 50);
    assert!(chunks.iter().all(|c| c["object"] == "chat.completion.chunk" && c["model"] == "m"));
}

/// Every error in OpenAI's shape, with the status a client's retry logic reads.
#[tokio::test(flavor = "multi_thread")]
async fn errors_come_in_the_apis_shape_with_the_right_status() {
    let limited = ScriptedModel::new([ScriptedReply::Fail(Error::RateLimited {
        message: "upstream says slow down".into(),
        retry_after: Some(Duration::from_secs(7)),
    })]);
    let server = Server::new()
        .model("m", Arc::new(ScriptedModel::new([ChatResponse::text("hi")])))
        .model("limited", Arc::new(limited))
        .api_key("sk-right")
        .body_limit(64 * 1024);
    let base = start(server).await;
    let http = reqwest::Client::new();
    let post = |body: String, key: Option<&str>| {
        let mut request = http
            .post(format!("{base}/v1/chat/completions"))
            .header("content-type", "application/json")
            .body(body);
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let retry =
                response.headers().get("retry-after").map(|v| v.to_str().unwrap().to_string());
            let body: Value = response.json().await.unwrap();
            (status, body["error"].clone(), retry)
        }
    };
    let hello = |model: &str| {
        json!({"model": model, "messages": [{"role": "user", "content": "hi"}]}).to_string()
    };

    let (status, error, _) = post(hello("m"), None).await;
    assert_eq!((status, error["type"].as_str()), (401, Some("authentication_error")));
    let (status, _, _) = post(hello("m"), Some("sk-wrong")).await;
    assert_eq!(status, 401);
    let (status, _, _) = post("{not json".into(), Some("sk-right")).await;
    assert_eq!(status, 400);
    let typed = json!({"model": "m", "temperature": "hot", "messages": []}).to_string();
    let (status, error, _) = post(typed, Some("sk-right")).await;
    assert_eq!((status, error["param"].as_str()), (400, Some("temperature")), "{error}");
    assert!(error["message"].as_str().unwrap().contains("temperature"), "{error}");
    let (status, error, _) = post(hello("gpt-nope"), Some("sk-right")).await;
    assert_eq!((status, error["code"].as_str()), (404, Some("model_not_found")), "{error}");
    assert!(error["message"].as_str().unwrap().contains("limited, m"), "{error}");
    let huge =
        json!({"model": "m", "messages": [{"role": "user", "content": "x".repeat(100_000)}]});
    let (status, _, _) = post(huge.to_string(), Some("sk-right")).await;
    assert_eq!(status, 413);
    let (status, error, retry) = post(hello("limited"), Some("sk-right")).await;
    assert_eq!((status, retry.as_deref()), (429, Some("7")), "{error}");
    assert!(error["message"].as_str().unwrap().contains("upstream says slow down"));
    let orphan =
        json!({"model": "m", "messages": [{"role": "tool", "tool_call_id": "c9", "content": "x"}]});
    let (status, error, _) = post(orphan.to_string(), Some("sk-right")).await;
    assert_eq!(
        (status, error["param"].as_str()),
        (400, Some("messages[0].tool_call_id")),
        "{error}"
    );
    // And the one that is right answers.
    let response = http
        .post(format!("{base}/v1/chat/completions"))
        .bearer_auth("sk-right")
        .header("content-type", "application/json")
        .body(hello("m"))
        .send()
        .await
        .unwrap();
    let reply: Value = response.json().await.unwrap();
    assert_eq!(reply["choices"][0]["message"]["content"], "hi");
    let models: Value = http
        .get(format!("{base}/v1/models"))
        .bearer_auth("sk-right")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(models["data"][0]["id"], "limited");
}

/// JSON Schema output passes through: the request's format reaches the model.
#[tokio::test(flavor = "multi_thread")]
async fn response_formats_reach_the_model() {
    let base = start(
        Server::new().model("m", Arc::new(ScriptedModel::new([ChatResponse::text("{\"a\": 1}")]))),
    )
    .await;
    let schema =
        json!({"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]});
    let request = ChatRequest::user("A number?").with_response_format(ResponseFormat::JsonSchema {
        name: "n".into(),
        schema,
        strict: true,
    });
    let reply = client(&base, "m").chat(request).await.unwrap();
    assert_eq!(reply.message.content, "{\"a\": 1}");
}

/// `/metrics` counts requests by model, API and status, tokens in and out, and durations.
#[tokio::test(flavor = "multi_thread")]
async fn metrics_count_requests_tokens_and_durations() {
    let base = start(Server::new().model("m", Arc::new(ScriptedModel::new(script())))).await;
    let model = client(&base, "m");
    model.chat(ChatRequest::user("Paris?")).await.unwrap();
    let _ = anymodel_core::collect_stream(model.stream(ChatRequest::user("Rome?")).await.unwrap())
        .await
        .unwrap();
    let unknown = client(&base, "nope").chat(ChatRequest::user("?")).await;
    assert!(unknown.is_err());
    let text = reqwest::get(format!("{base}/metrics")).await.unwrap().text().await.unwrap();
    for line in [
        r#"anymodel_requests_total{model="m",api="chat_completions",status="200"} 2"#,
        r#"anymodel_requests_total{model="nope",api="chat_completions",status="404"} 1"#,
        r#"anymodel_tokens_total{model="m",kind="input"} 120"#,
        r#"anymodel_tokens_total{model="m",kind="output"} 15"#,
        r#"anymodel_request_duration_seconds_count{model="m",api="chat_completions"} 2"#,
    ] {
        assert!(text.contains(line), "{line} in\n{text}");
    }
}
