//! Typed extraction (`anymodel_core::extract`) on each backend: OpenAI through its native JSON
//! Schema output, Anthropic through a forced tool call (loopback mock servers), and the local
//! model through its grammar (the real SmolLM2).

#![allow(clippy::unwrap_used)] // Tests fail loudly by design.

use std::path::Path;

use anymodel_backends::anthropic::{Anthropic, AnthropicConfig};
use anymodel_backends::candle::{LocalConfig, LocalModel};
use anymodel_backends::openai::{OpenAi, OpenAiConfig};
use anymodel_backends::{RemoteConfig, Secret};
use anymodel_core::{Agent, Sampling, Strategy, extract, schemars::JsonSchema};
use serde::Deserialize;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

#[derive(Debug, Deserialize, JsonSchema, PartialEq)]
struct Person {
    /// The person's name.
    name: String,
    /// Age in years.
    age: u8,
}

/// A person whose name is bounded, so that a small model's answer fits a token budget.
#[derive(Debug, Deserialize, JsonSchema, PartialEq)]
struct Who {
    #[schemars(length(max = 40))]
    name: String,
    age: u8,
}

async fn server(route: &str, reply: Value) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(route))
        .respond_with(ResponseTemplate::new(200).set_body_json(reply))
        .mount(&server)
        .await;
    server
}

async fn sent(server: &MockServer) -> Value {
    serde_json::from_slice(&server.received_requests().await.unwrap()[0].body).unwrap()
}

#[tokio::test]
async fn openai_extracts_through_its_json_schema_output() {
    let reply = json!({"id": "c", "object": "chat.completion", "choices": [{"index": 0, "message": {"role": "assistant", "content": "{\"name\": \"Ada\", \"age\": 36}"}, "finish_reason": "stop"}]});
    let server = server("/v1/chat/completions", reply).await;
    let model = OpenAi::new(
        OpenAiConfig::new("gpt-test")
            .base_url(format!("{}/v1", server.uri()))
            .api_key(Secret::new("k")),
    )
    .unwrap();
    assert_eq!(Strategy::for_model(&model), Strategy::JsonSchema);
    let person: Person = extract(&model, "Ada Lovelace was 36.").await.unwrap();
    assert_eq!(person, Person { name: "Ada".into(), age: 36 });
    let body = sent(&server).await;
    assert_eq!(body["response_format"]["type"], "json_schema");
    assert_eq!(body["response_format"]["json_schema"]["strict"], true);
}

#[tokio::test]
async fn anthropic_extracts_through_a_forced_tool_call() {
    let reply = json!({"id": "m", "type": "message", "role": "assistant", "model": "claude-test", "stop_reason": "tool_use",
        "content": [{"type": "tool_use", "id": "t1", "name": "answer", "input": {"name": "Ada", "age": 36}}],
        "usage": {"input_tokens": 10, "output_tokens": 5}});
    let server = server("/v1/messages", reply).await;
    let model = Anthropic::new(
        AnthropicConfig::new("claude-test")
            .base_url(format!("{}/v1", server.uri()))
            .api_key(Secret::new("k")),
    )
    .unwrap();
    assert_eq!(Strategy::for_model(&model), Strategy::ForcedTool);
    let person: Person = extract(&model, "Ada Lovelace was 36.").await.unwrap();
    assert_eq!(person, Person { name: "Ada".into(), age: 36 });
    let body = sent(&server).await;
    assert_eq!(body["tool_choice"], json!({"type": "tool", "name": "answer"}));
    assert_eq!(
        body["tools"][0]["input_schema"]["properties"]["age"]["description"],
        "Age in years."
    );
}

#[tokio::test]
async fn the_local_model_extracts_through_its_grammar() {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/SmolLM2-135M-Instruct.Q4_1.gguf");
    let model =
        LocalModel::load(LocalConfig { threads: Some(1), ..LocalConfig::new(path) }).unwrap();
    assert_eq!(Strategy::for_model(&model), Strategy::JsonSchema);
    // Whatever the small model makes of the facts, the answer is always a well-formed Person.
    let person: Person =
        extract(&model, "Ada Lovelace was 36 years old. Who is she and how old?").await.unwrap();
    assert!(!person.name.is_empty(), "{person:?}");
    // An agent on the same model answers freely, then gives its final answer as a Person.
    let sampling = Sampling { max_tokens: Some(96), ..Default::default() };
    let agent = Agent::builder(model).sampling(sampling).build().unwrap();
    let (person, run) =
        agent.run_typed::<Who>("Ada Lovelace was 36 years old. Who is she?").await.unwrap();
    assert!(!person.name.is_empty(), "{person:?}");
    let answer: Value = serde_json::from_str(&run.answer).unwrap();
    assert_eq!((&answer["name"], &answer["age"]), (&json!(person.name), &json!(person.age)));
}
