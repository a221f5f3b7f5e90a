//! Each backend against its provider's documented shapes (`tests/fixtures/`): the request it
//! writes for a conversation with images, documents, reasoning and cache breakpoints, whole and
//! streamed, and what it reads from a documented reply.

#![allow(clippy::unwrap_used)] // Tests fail loudly by design.

mod support;

use anymodel_backends::anthropic::{Anthropic, AnthropicConfig};
use anymodel_backends::cohere::{Cohere, CohereConfig};
use anymodel_backends::gemini::{Gemini, GeminiConfig};
use anymodel_backends::openai::{OpenAi, OpenAiConfig};
use anymodel_backends::{RemoteConfig, Secret};
use anymodel_core::{
    AssistantMessage, CacheBreakpoint, CacheTarget, CacheTtl, ChatRequest, Content, Error,
    FinishReason, Media, Message, Model, Part, Reasoning, ReasoningEffort, ReasoningOptions,
    Sampling, ToolCall, ToolResult, ToolSpec, Usage,
};
use serde_json::{Value, json};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn get_weather() -> ToolSpec {
    ToolSpec {
        name: "get_weather".into(),
        description: "Get the current weather in a given city".into(),
        parameters: json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}),
    }
}

const QUESTION: &str = "Where was this taken, and what is the weather there?";
const SYSTEM: &str = "You answer questions about weather.";
const THOUGHT: &str = "The photo shows the Eiffel Tower, so Paris.";

/// The question with a photo (PNG bytes) and a trip report (a PDF at an address).
fn question() -> Message {
    let mut report = Part::document_url("https://example.com/trip.pdf");
    if let Part::Document { title, .. } = &mut report {
        *title = Some("trip.pdf".into());
    }
    Message::user(
        Content::from(QUESTION).with(Part::image(b"\x89PNG\r\n\x1a\n", "image/png")).with(report),
    )
}

fn call() -> ToolCall {
    ToolCall::new("toolu_01A09q90qw90lq917835lq9", "get_weather", json!({"city": "Paris"}))
}

fn result(id: &str) -> Message {
    Message::Tool(ToolResult {
        tool_call_id: id.into(),
        name: "get_weather".into(),
        content: "18°C, clear".into(),
        is_error: false,
    })
}

/// The body `model` writes for `request`, whole, and checked to be the same streamed but for
/// the stream's own fields.
fn body_whole_and_streamed<W: anymodel_backends::Wire>(
    model: &anymodel_backends::RemoteModel<W>,
    request: &ChatRequest,
    stream_fields: Value,
) -> Value {
    let whole = model.request_body(request, false).unwrap();
    let mut streamed = model.request_body(request, true).unwrap();
    for (key, value) in stream_fields.as_object().unwrap() {
        assert_eq!(streamed[key], *value, "{key}");
        if let Some(fields) = streamed.as_object_mut() {
            fields.remove(key);
        }
    }
    let mut whole_without = whole.clone();
    if let Some(fields) = whole_without.as_object_mut() {
        fields.retain(|key, _| !stream_fields.as_object().unwrap().contains_key(key));
    }
    assert_eq!(streamed, whole_without);
    whole
}

/// A model at a mock server that answers every request with `reply`.
async fn answering(reply: Value) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(reply))
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn anthropic_writes_and_reads_its_documented_shapes() {
    let signature = "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds";
    let redacted = "EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlxh0L5L8rLVyIwxtE3rAFBa8cr3qpP";
    let reasoning = vec![
        Reasoning {
            text: THOUGHT.into(),
            signature: Some(signature.into()),
            provider: Some("anthropic".into()),
            ..Default::default()
        },
        Reasoning {
            redacted: Some(redacted.into()),
            provider: Some("anthropic".into()),
            ..Default::default()
        },
    ];
    let mut turn = AssistantMessage::with_tool_calls(vec![call()]);
    turn.reasoning = reasoning.clone();
    // Reasoning another provider made cannot be checked by Anthropic, and stays out.
    turn.reasoning.push(Reasoning::text("Gemini's unsigned musing."));
    let request = ChatRequest::new([
        Message::system(SYSTEM),
        question(),
        turn.into(),
        result("toolu_01A09q90qw90lq917835lq9"),
    ])
    .with_tools([get_weather()])
    .with_sampling(Sampling { max_tokens: Some(16000), ..Default::default() })
    .with_reasoning(ReasoningOptions::budget(10000))
    .with_cache(CacheBreakpoint::at(CacheTarget::System))
    .with_cache(CacheBreakpoint::at(CacheTarget::Tools))
    .with_cache(CacheBreakpoint::at(CacheTarget::LastMessage).ttl(CacheTtl::OneHour))
    .with_extra("metadata", json!({"user_id": "user-1234"}));

    let server = answering(fixture("anthropic/reply.json")).await;
    let config =
        AnthropicConfig::new("claude-sonnet-4-5").base_url(server.uri()).api_key(Secret::new("k"));
    let model = Anthropic::new(config).unwrap();
    let body = body_whole_and_streamed(&model, &request, json!({"stream": true}));
    assert_eq!(body, fixture("anthropic/request.json"));

    let reply = model.chat(request).await.unwrap();
    assert_eq!(reply.message.reasoning, reasoning);
    assert_eq!(reply.message.tool_calls, vec![call()]);
    assert_eq!(reply.finish_reason, FinishReason::ToolCalls);
    let cached =
        Usage::new(50 + 1200 + 2048, 312).with_cached_input(2048).with_cache_write_input(1200);
    assert_eq!(reply.usage, cached);
}

#[tokio::test]
async fn anthropic_refuses_what_its_api_would() {
    let config = AnthropicConfig::new("claude").api_key(Secret::new("k"));
    let model = Anthropic::new(config).unwrap();
    let five = (0..5).fold(ChatRequest::user("hi"), |request, _| {
        request.with_cache(CacheBreakpoint::at(CacheTarget::LastMessage))
    });
    let error = model.request_body(&five, false).unwrap_err();
    assert!(error.to_string().contains("at most 4"), "{error}");
    let starved = ChatRequest::user("hi")
        .with_sampling(Sampling { max_tokens: Some(1000), ..Default::default() })
        .with_reasoning(ReasoningOptions::budget(2000));
    let error = model.request_body(&starved, false).unwrap_err();
    assert!(error.to_string().contains("raise max_tokens"), "{error}");
    // A budget alone gets room to answer beyond it; "none" turns thinking off.
    let budget_only = ChatRequest::user("hi").with_reasoning(ReasoningOptions::budget(2000));
    let body = model.request_body(&budget_only, false).unwrap();
    assert_eq!(body["max_tokens"], 4096 + 2000);
    let off =
        ChatRequest::user("hi").with_reasoning(ReasoningOptions::effort(ReasoningEffort::None));
    assert_eq!(model.request_body(&off, false).unwrap()["thinking"], json!({"type": "disabled"}));
    // A provider option never silently replaces what the request itself sets.
    let clash = ChatRequest::user("hi").with_extra("max_tokens", 5);
    let error = model.request_body(&clash, false).unwrap_err();
    assert!(error.to_string().contains("`max_tokens`"), "{error}");
}

#[tokio::test]
async fn openai_reasoning_models_get_their_parameters_and_parts() {
    let question = Message::user(
        Content::from(QUESTION).with(Part::image_url("https://example.com/photo.jpg")).with(
            Part::Document {
                media: Media::bytes(b"%PDF-1.7", "application/pdf"),
                title: Some("trip.pdf".into()),
            },
        ),
    );
    let request = ChatRequest::new([Message::system(SYSTEM), question])
        .with_sampling(Sampling { max_tokens: Some(1000), ..Default::default() })
        .with_reasoning(ReasoningOptions::effort(ReasoningEffort::Low))
        .with_extra("user", "user-1234");
    let server = answering(fixture("openai/reply.json")).await;
    let config = OpenAiConfig::new("gpt-5-mini")
        .base_url(server.uri())
        .api_key(Secret::new("k"))
        .extra("service_tier", "flex");
    let model = OpenAi::new(config).unwrap();
    let body = body_whole_and_streamed(
        &model,
        &request,
        json!({"stream": true, "stream_options": {"include_usage": true}}),
    );
    assert_eq!(body, fixture("openai/request.json"));

    let reply = model.chat(request).await.unwrap();
    assert_eq!(reply.message.content, "Paris: 18°C and clear.");
    assert_eq!(reply.usage, Usage::new(2200, 310).with_cached_input(1920).with_reasoning(256));

    // A temperature other than its own is refused before anything is sent; 1 is left unsaid.
    let warm = ChatRequest::user("hi")
        .with_sampling(Sampling { temperature: Some(0.2), ..Default::default() });
    let refused = model.chat(warm).await.unwrap_err();
    assert!(matches!(refused, Error::Unsupported { .. }), "{refused}");
    let one = ChatRequest::user("hi")
        .with_sampling(Sampling { temperature: Some(1.0), ..Default::default() });
    assert!(model.request_body(&one, false).unwrap().get("temperature").is_none());
    // Other models keep `max_tokens`, and a config can say otherwise for a server's names.
    let plain = OpenAi::new(OpenAiConfig::new("gpt-4o-mini")).unwrap();
    let limited = ChatRequest::user("hi")
        .with_sampling(Sampling { max_tokens: Some(5), ..Default::default() });
    assert_eq!(plain.request_body(&limited, false).unwrap()["max_tokens"], 5);
    let declared = OpenAi::new(OpenAiConfig::new("my-reasoner").reasoning_model(true)).unwrap();
    assert_eq!(declared.request_body(&limited, false).unwrap()["max_completion_tokens"], 5);
}

#[tokio::test]
async fn deepseek_gets_its_reasoning_back_within_the_turn_only() {
    let mut earlier = AssistantMessage::text("I cannot look at the past.");
    earlier.reasoning = vec![Reasoning::text("An earlier turn's thinking, not sent again.")];
    let mut calling = AssistantMessage::with_tool_calls(vec![ToolCall::new(
        "call_00_abc",
        "get_weather",
        json!({"city": "Paris"}),
    )]);
    calling.reasoning =
        vec![Reasoning::text("The user asks about today: call get_weather for Paris.")];
    let request = ChatRequest::new([
        Message::user("What was the weather in Paris yesterday?"),
        earlier.into(),
        Message::user("And today?"),
        calling.clone().into(),
        result("call_00_abc"),
    ])
    .with_tools([get_weather()])
    .with_sampling(Sampling { max_tokens: Some(4096), ..Default::default() });
    let server = answering(fixture("deepseek/reply.json")).await;
    let config = OpenAiConfig::new("deepseek-reasoner").base_url(server.uri());
    let model = OpenAi::new(config).unwrap();
    let body = body_whole_and_streamed(
        &model,
        &request,
        json!({"stream": true, "stream_options": {"include_usage": true}}),
    );
    assert_eq!(body, fixture("deepseek/request.json"));

    let reply = model.chat(request).await.unwrap();
    assert_eq!(reply.message, calling);
    assert_eq!(reply.usage, Usage::new(120, 60).with_cached_input(64).with_reasoning(40));
}

#[tokio::test]
async fn gemini_writes_and_reads_its_documented_shapes() {
    let thought_signature = "CiQB0e2Kb3dRh+BYdbZvmulSN2Pwwj75KVk1mIlkjOEKNEMnkrYK";
    let call_signature = "CiwB0e2Kb7zkoZHuLhpC8Q4RMJ2KM8AV6UXNqGSxsoNYS9tYUCGGNqkK";
    let gemini = Some("gemini".to_string());
    let reasoning = vec![
        Reasoning {
            text: THOUGHT.into(),
            signature: Some(thought_signature.into()),
            provider: gemini.clone(),
            ..Default::default()
        },
        Reasoning {
            signature: Some(call_signature.into()),
            provider: gemini,
            ..Default::default()
        },
    ];
    let mut turn = AssistantMessage::with_tool_calls(vec![call()]);
    turn.reasoning = reasoning.clone();
    let request = ChatRequest::new([
        Message::system(SYSTEM),
        question(),
        turn.into(),
        result("toolu_01A09q90qw90lq917835lq9"),
    ])
    .with_tools([get_weather()])
    .with_reasoning(ReasoningOptions::budget(1024))
    // Gemini caches by itself: a breakpoint changes nothing in its body.
    .with_cache(CacheBreakpoint::at(CacheTarget::System));
    let server = answering(fixture("gemini/reply.json")).await;
    let config =
        GeminiConfig::new("gemini-2.5-flash").base_url(server.uri()).api_key(Secret::new("k"));
    let model = Gemini::new(config).unwrap();
    let body = body_whole_and_streamed(&model, &request, json!({}));
    assert_eq!(body, fixture("gemini/request.json"));

    let reply = model.chat(request).await.unwrap();
    assert_eq!(reply.message.reasoning, reasoning);
    assert_eq!(reply.message.tool_calls[0].arguments, json!({"city": "Paris"}));
    assert_eq!(reply.usage, Usage::new(2200, 170).with_cached_input(2048).with_reasoning(150));
}

#[tokio::test]
async fn cohere_writes_and_reads_its_documented_shapes() {
    let photo = Part::image_url("data:image/png;base64,iVBORw0KGgo=");
    let request =
        ChatRequest::new([Message::user(Content::from("Where was this taken?").with(photo))])
            .with_reasoning(ReasoningOptions::budget(1024));
    let server = answering(fixture("cohere/reply.json")).await;
    let config = CohereConfig::new("command-a-reasoning-08-2025")
        .base_url(server.uri())
        .api_key(Secret::new("k"));
    let model = Cohere::new(config).unwrap();
    assert_eq!(model.request_body(&request, false).unwrap(), fixture("cohere/request.json"));
    assert_eq!(model.request_body(&request, true).unwrap()["stream"], true);

    let reply = model.chat(request).await.unwrap();
    assert_eq!(reply.message.content, "In Paris.");
    assert_eq!(
        reply.message.reasoning,
        vec![Reasoning::text("The Eiffel Tower is in the picture.")]
    );
    // Cohere reads no documents: refused, never dropped.
    let pdf = ChatRequest::user(Content::from(Part::document(b"%PDF", "application/pdf")));
    assert!(matches!(model.chat(pdf).await, Err(Error::Unsupported { .. })));
}
