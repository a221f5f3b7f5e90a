//! One schemars schema, with `$ref`s, `Option` fields and an enum, sent to each of the four
//! remote providers as a tool's parameters and as the type `extract` asks for (JSON Schema
//! output, or a forced tool where the provider has no such output): what reaches each server (a
//! loopback mock) is checked against what that provider accepts.

#![allow(clippy::unwrap_used)] // Tests fail loudly by design.

mod support;

use std::sync::Arc;

use anymodel_backends::anthropic::{Anthropic, AnthropicConfig};
use anymodel_backends::cohere::{Cohere, CohereConfig};
use anymodel_backends::gemini::{Gemini, GeminiConfig};
use anymodel_backends::openai::{OpenAi, OpenAiConfig};
use anymodel_backends::{RemoteConfig, Secret};
use anymodel_core::{ChatRequest, Model, ToolSpec, extract};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Someone on a booking.
#[derive(JsonSchema, Deserialize, Debug)]
#[allow(dead_code)] // Only its schema is used.
struct Person {
    /// Full name.
    name: String,
    age: Option<u8>,
}

/// A kind of room.
#[derive(JsonSchema, Deserialize, Debug)]
#[allow(dead_code)]
enum Room {
    Single,
    Double,
    Suite,
}

/// A hotel booking: `Person` is used twice, so schemars puts it in `$defs` behind `$ref`s.
#[derive(JsonSchema, Deserialize, Debug)]
#[allow(dead_code)]
struct Booking {
    guest: Person,
    /// Who else comes, if anyone.
    contact: Option<Person>,
    room: Room,
    nights: u32,
    note: Option<String>,
}

fn booking() -> Value {
    let schema = serde_json::to_value(schemars::schema_for!(Booking)).unwrap();
    assert!(schema["$defs"]["Person"].is_object() && schema["$defs"]["Room"].is_object());
    schema
}

/// What a server received for a request offering the booking tool, then for `extract` of a
/// booking (the mock refuses every request: only the bodies matter).
async fn sent(connect: fn(&MockServer) -> Arc<dyn Model>) -> (Value, Value) {
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::method("POST"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"message": "only looking"})))
        .mount(&server)
        .await;
    let model = connect(&server);
    let tool = ToolSpec {
        name: "book".into(),
        description: "Books a room.".into(),
        parameters: booking(),
    };
    assert!(model.chat(ChatRequest::user("Book me a suite.").with_tools([tool])).await.is_err());
    assert!(extract::<Booking>(&*model, "Book me a suite.").await.is_err());
    let [tool, output] = support::bodies(&server).await.try_into().unwrap();
    (tool, output)
}

/// Every object node of a schema, nested ones included.
fn nodes(schema: &Value) -> Vec<&Map<String, Value>> {
    let mut found = Vec::new();
    let mut stack = vec![schema];
    while let Some(value) = stack.pop() {
        match value {
            Value::Object(object) => {
                found.push(object);
                stack.extend(object.values());
            }
            Value::Array(items) => stack.extend(items),
            _ => {}
        }
    }
    found
}

/// The booking with its references inlined: the person's fields where the `$ref`s were, the
/// enum's values and the doc comments in place.
fn assert_inlined(schema: &Value, provider: &str) {
    for node in nodes(schema) {
        assert!(!node.contains_key("$ref") && !node.contains_key("$defs"), "{provider}: {schema}");
    }
    let properties = &schema["properties"];
    assert_eq!(properties["guest"]["properties"]["name"]["type"], "string", "{provider}");
    assert_eq!(properties["guest"]["properties"]["name"]["description"], "Full name.");
    let rooms = nodes(&properties["room"]).into_iter().find_map(|node| node.get("enum")).cloned();
    assert_eq!(rooms, Some(json!(["Single", "Double", "Suite"])), "{provider}: {schema}");
    let contact = nodes(&properties["contact"])
        .into_iter()
        .any(|node| node.get("properties").is_some_and(|p| p.get("name").is_some()));
    assert!(contact, "{provider}: the optional person is inlined too: {schema}");
}

/// Optional fields are not required (the plain dialect).
fn assert_optional_not_required(schema: &Value, provider: &str) {
    let required = schema["required"].as_array().unwrap();
    for field in ["guest", "room", "nights"] {
        assert!(required.contains(&json!(field)), "{provider}: {field}");
    }
    for field in ["contact", "note"] {
        assert!(!required.contains(&json!(field)), "{provider}: {field}");
    }
}

#[tokio::test]
async fn openai_gets_inlined_tools_and_a_strict_output_schema() {
    let body = sent(|server| {
        let config = OpenAiConfig::new("gpt-test").base_url(server.uri()).api_key(Secret::new("k"));
        Arc::new(OpenAi::new(config).unwrap())
    })
    .await;
    let parameters = &body.0["tools"][0]["function"]["parameters"];
    assert_inlined(parameters, "openai tool");
    assert_optional_not_required(parameters, "openai tool");

    let output = &body.1["response_format"]["json_schema"];
    assert_eq!(output["strict"], true);
    let schema = &output["schema"];
    assert_inlined(schema, "openai output");
    // Strict mode: every object closed, every property required, optional ones nullable.
    for node in nodes(schema).into_iter().filter(|node| node.contains_key("properties")) {
        assert_eq!(node["additionalProperties"], false, "{node:?}");
        let keys: Vec<&String> = node["properties"].as_object().unwrap().keys().collect();
        let required: Vec<&str> =
            node["required"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
        assert_eq!(keys, required, "{node:?}");
    }
    assert_eq!(schema["properties"]["note"]["type"], json!(["string", "null"]));
    let contact = serde_json::to_string(&schema["properties"]["contact"]).unwrap();
    assert!(contact.contains("\"null\""), "the optional person may be null: {contact}");
}

#[tokio::test]
async fn anthropic_gets_inlined_tools_and_the_output_as_a_forced_tool_of_the_same_form() {
    let body = sent(|server| {
        let config =
            AnthropicConfig::new("claude-test").base_url(server.uri()).api_key(Secret::new("k"));
        Arc::new(Anthropic::new(config).unwrap())
    })
    .await;
    let parameters = &body.0["tools"][0]["input_schema"];
    assert_inlined(parameters, "anthropic tool");
    assert_optional_not_required(parameters, "anthropic tool");
    let forced = &body.1["tools"][0];
    assert_eq!(body.1["tool_choice"], json!({"type": "tool", "name": forced["name"]}));
    assert_inlined(&forced["input_schema"], "anthropic output");
    assert_optional_not_required(&forced["input_schema"], "anthropic output");
}

#[tokio::test]
async fn gemini_gets_its_openapi_subset() {
    let body = sent(|server| {
        let config =
            GeminiConfig::new("gemini-test").base_url(server.uri()).api_key(Secret::new("k"));
        Arc::new(Gemini::new(config).unwrap())
    })
    .await;
    let parameters = &body.0["tools"][0]["functionDeclarations"][0]["parameters"];
    let output = &body.1["generationConfig"]["responseSchema"];
    assert_eq!(body.1["generationConfig"]["responseMimeType"], "application/json");
    for (schema, provider) in [(parameters, "gemini tool"), (output, "gemini output")] {
        assert_inlined(schema, provider);
        assert_optional_not_required(schema, provider);
        for node in nodes(schema) {
            for keyword in ["additionalProperties", "$schema", "title", "const", "oneOf"] {
                assert!(!node.contains_key(keyword), "{provider}: {keyword} in {node:?}");
            }
            let single_type = node.get("type").is_none_or(Value::is_string);
            assert!(single_type, "{provider}: a type union in {node:?}");
            let any_of = node.get("anyOf").and_then(Value::as_array);
            let with_null = any_of.is_some_and(|a| a.iter().any(|t| t["type"] == "null"));
            assert!(!with_null, "{provider}: null in anyOf: {node:?}");
        }
        let note = &schema["properties"]["note"];
        assert_eq!((&note["type"], &note["nullable"]), (&json!("string"), &json!(true)));
        let contact = &schema["properties"]["contact"];
        assert_eq!(contact["nullable"], true, "{provider}: {contact}");
    }
}

#[tokio::test]
async fn cohere_gets_inlined_tools_and_output_schema() {
    let body = sent(|server| {
        let config =
            CohereConfig::new("command-test").base_url(server.uri()).api_key(Secret::new("k"));
        Arc::new(Cohere::new(config).unwrap())
    })
    .await;
    let parameters = &body.0["tools"][0]["function"]["parameters"];
    let output = &body.1["response_format"]["json_schema"];
    for (schema, provider) in [(parameters, "cohere tool"), (output, "cohere output")] {
        assert_inlined(schema, provider);
        assert_optional_not_required(schema, provider);
    }
}
