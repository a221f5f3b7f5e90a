//! The local backend on the real default model, SmolLM2-135M-Instruct (Q4_1), fetched into
//! `models/` by `scripts/fetch-model.sh`.

#![allow(clippy::unwrap_used)] // Tests fail loudly by design.

use std::path::{Path, PathBuf};

use anymodel_candle::candle_core::quantized::gguf_file::{self, Value};
use anymodel_candle::{CacheKind, DeviceChoice, LocalConfig, LocalModel};
use anymodel_core::{
    ChatRequest, Error, FinishReason, Message, Model, ResponseFormat, Sampling, StreamEvent,
    ToolChoice, ToolSpec, collect_stream,
};
use futures::StreamExt;
use serde_json::json;

fn model_path() -> PathBuf {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/SmolLM2-135M-Instruct.Q4_1.gguf");
    assert!(path.exists(), "{} is missing: run scripts/fetch-model.sh", path.display());
    path
}

/// The embedded model, on the device `$ANYMODEL_TEST_DEVICE` names (default the CPU; the GPU
/// check `scripts/cuda.sh check` sets `cuda:0`).
fn load() -> LocalModel {
    let device =
        std::env::var("ANYMODEL_TEST_DEVICE").map_or(DeviceChoice::Cpu, |d| d.parse().unwrap());
    LocalModel::load(LocalConfig { threads: Some(1), device, ..LocalConfig::new(model_path()) })
        .unwrap()
}

fn greedy(max_tokens: u32) -> Sampling {
    Sampling { temperature: Some(0.0), max_tokens: Some(max_tokens), ..Default::default() }
}

fn question() -> Vec<Message> {
    vec![
        Message::system("You are a helpful assistant."),
        Message::user("What is the capital of France?"),
    ]
}

#[tokio::test]
async fn it_answers_a_chat_prompt_and_greedy_decoding_is_fixed() {
    let model = load();
    let request = ChatRequest::new(question()).with_sampling(greedy(40));
    let reply = model.chat(request.clone()).await.unwrap();
    assert_eq!(reply.message.content, "The capital of France is Paris.");
    assert_eq!(reply.finish_reason, FinishReason::Stop);
    assert_eq!(
        reply.usage.output_tokens, 7,
        "the recorded greedy sequence has 7 tokens before <|im_end|>"
    );
    assert_eq!(reply.usage.input_tokens, 27);
    // Streaming gives the same text, in pieces.
    let events: Vec<_> = model.stream(request).await.unwrap().collect().await;
    let deltas = events.iter().filter(|e| matches!(e, Ok(StreamEvent::TextDelta { .. }))).count();
    assert!(deltas > 1, "the reply came in one piece");
    let replayed = collect_stream(Box::pin(futures::stream::iter(events))).await.unwrap();
    assert_eq!(replayed.message.content, "The capital of France is Paris.");
}

/// The 8-bit cache rounds keys and values: the fixed greedy answer is unchanged, and a long
/// one follows the half-precision cache's for its first sentence, then may part where two
/// tokens were close (this small model has many such places).
#[tokio::test]
async fn an_eight_bit_cache_keeps_the_greedy_answers_close() {
    let half = load();
    let eight = LocalModel::load(LocalConfig {
        threads: Some(1),
        kv_cache: CacheKind::Q8,
        ..LocalConfig::new(model_path())
    })
    .unwrap();
    let short = ChatRequest::new(question()).with_sampling(greedy(40));
    let reply = eight.chat(short).await.unwrap();
    assert_eq!(reply.message.content, "The capital of France is Paris.");
    let long =
        ChatRequest::user("Explain in detail how a bicycle works.").with_sampling(greedy(60));
    let (a, b) = (half.chat(long.clone()).await.unwrap(), eight.chat(long).await.unwrap());
    let words = |text: &str| text.split_whitespace().take(12).collect::<Vec<_>>().join(" ");
    assert_eq!(words(&a.message.content), words(&b.message.content));
}

#[tokio::test]
async fn the_same_seed_gives_the_same_sampled_text() {
    let model = load();
    let sampled = |seed| {
        ChatRequest::user("Write a short poem about the sea.").with_sampling(Sampling {
            temperature: Some(0.9),
            top_p: Some(0.95),
            seed: Some(seed),
            max_tokens: Some(24),
            ..Default::default()
        })
    };
    let first = model.chat(sampled(7)).await.unwrap().message.content;
    let again = model.chat(sampled(7)).await.unwrap().message.content;
    let other = model.chat(sampled(8)).await.unwrap().message.content;
    assert_eq!(first, again);
    assert_ne!(first, other, "a different seed gave the same text");
}

#[tokio::test]
async fn a_prompt_extending_the_last_one_only_processes_the_new_tokens() {
    let model = load();
    let mut conversation = question();
    let reply =
        model.chat(ChatRequest::new(conversation.clone()).with_sampling(greedy(20))).await.unwrap();
    let first = model.last_stats();
    assert_eq!(first.prompt_tokens_processed, first.prompt_tokens);
    conversation.push(Message::assistant(reply.message.content));
    conversation.push(Message::user("And of Italy?"));
    model.chat(ChatRequest::new(conversation).with_sampling(greedy(20))).await.unwrap();
    let second = model.last_stats();
    assert!(second.prompt_tokens > first.prompt_tokens);
    assert!(
        second.prompt_tokens_processed < second.prompt_tokens - first.prompt_tokens + 5,
        "{second:?} after {first:?}"
    );
}

/// With nothing set, the model samples as llama.cpp and Ollama would (its file's settings, else
/// theirs) and its reply ends by itself: an end token, or the loop stop, far from the context.
/// Three fixed seeds (and nothing else set), so that the test does not depend on chance.
#[tokio::test]
async fn default_sampling_ends_by_itself() {
    let model = load();
    assert_eq!(model.sampling_defaults().repetition_penalty, Some(1.1));
    for seed in 1..=3 {
        let sampling = Sampling { seed: Some(seed), ..Default::default() };
        let request = ChatRequest::user("What is the capital of France?").with_sampling(sampling);
        let reply = model.chat(request).await.unwrap();
        assert!(
            matches!(reply.finish_reason, FinishReason::Stop | FinishReason::Repetition),
            "{reply:?}"
        );
        assert!(reply.usage.output_tokens < 400, "{:?}", reply.usage);
    }
}

#[tokio::test]
async fn limits_and_stop_strings_end_the_reply() {
    let model = load();
    let cut = model.chat(ChatRequest::new(question()).with_sampling(greedy(3))).await.unwrap();
    assert_eq!(
        (cut.message.content.as_str(), cut.finish_reason),
        ("The capital of", FinishReason::Length)
    );
    let mut sampling = greedy(40);
    sampling.stop = vec![" is".into()];
    let stopped = model.chat(ChatRequest::new(question()).with_sampling(sampling)).await.unwrap();
    assert_eq!(
        (stopped.message.content.as_str(), stopped.finish_reason),
        ("The capital of France", FinishReason::Stop)
    );
}

#[tokio::test]
async fn a_prompt_longer_than_the_context_is_an_error() {
    let model =
        LocalModel::load(LocalConfig { context_size: Some(64), ..LocalConfig::new(model_path()) })
            .unwrap();
    let long = "Tell me about the sea. ".repeat(20);
    let err = model.chat(ChatRequest::user(long)).await.unwrap_err();
    assert!(
        matches!(&err, Error::ContextLengthExceeded { message } if message.contains("context holds 64")),
        "{err}"
    );
}

#[test]
fn the_rendered_prompt_is_the_models_own_template() {
    let prompt = load().render_prompt(&ChatRequest::new(question())).unwrap();
    assert_eq!(
        prompt,
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n"
    );
}

fn load_error(path: &Path) -> String {
    LocalModel::load(LocalConfig::new(path)).unwrap_err().to_string()
}

#[test]
fn bad_files_are_named_with_what_is_wrong() {
    let dir = std::env::temp_dir().join(format!("anymodel-bad-files-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();

    let missing = dir.join("missing.gguf");
    assert!(load_error(&missing).contains("missing.gguf"));

    let text = dir.join("notes.gguf");
    std::fs::write(&text, "these are not weights").unwrap();
    let err = load_error(&text);
    assert!(err.contains("notes.gguf is not a readable GGUF file"), "{err}");

    let truncated = dir.join("truncated.gguf");
    let bytes = std::fs::read(model_path()).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() / 3]).unwrap();
    let err = load_error(&truncated);
    assert!(err.contains("truncated.gguf"), "{err}");

    let qwen = dir.join("qwen.gguf");
    let architecture = Value::String("qwen2".into());
    gguf_file::write(
        &mut std::fs::File::create(&qwen).unwrap(),
        &[("general.architecture", &architecture)],
        &[],
    )
    .unwrap();
    let err = load_error(&qwen);
    assert!(err.contains("architecture `qwen2` is not supported"), "{err}");

    std::fs::remove_dir_all(&dir).unwrap();
}

/// With a JSON Schema, the reply is JSON of that schema: the grammar masks every other token.
#[tokio::test]
async fn json_schema_output_always_parses_and_validates() {
    let model = load();
    let schema = json!({
        "type": "object",
        "properties": {"name": {"type": "string", "maxLength": 20}, "age": {"type": "integer", "minimum": 0, "maximum": 150}},
        "required": ["name", "age"],
        "additionalProperties": false
    });
    let request =
        ChatRequest::new([Message::user("Ada Lovelace was 36. Give her name and age as JSON.")])
            .with_sampling(greedy(60))
            .with_response_format(ResponseFormat::JsonSchema {
                name: "person".into(),
                schema: schema.clone(),
                strict: true,
            });
    let reply = model.chat(request).await.unwrap();
    let value: serde_json::Value = serde_json::from_str(&reply.message.content).unwrap();
    assert!(jsonschema::is_valid(&schema, &value), "{value}");
    assert_eq!(reply.finish_reason, FinishReason::Stop);
}

/// With `tool_choice: required`, the reply is a call of a declared tool with valid arguments,
/// even from a model this small.
#[tokio::test]
async fn a_forced_tool_call_is_always_a_valid_call() {
    let model = load();
    let weather = ToolSpec {
        name: "get_weather".into(),
        description: "The current weather in a city.".into(),
        parameters: json!({"type": "object", "properties": {"city": {"type": "string", "maxLength": 40}}, "required": ["city"], "additionalProperties": false}),
    };
    let request = ChatRequest::new([Message::user("What is the weather in Paris?")])
        .with_sampling(greedy(60))
        .with_tools([weather])
        .with_tool_choice(ToolChoice::Required);
    let reply = model.chat(request).await.unwrap();
    assert_eq!(reply.message.tool_calls.len(), 1, "{reply:?}");
    assert_eq!(reply.message.tool_calls[0].name, "get_weather");
    assert!(reply.message.tool_calls[0].arguments["city"].is_string(), "{reply:?}");
    assert_eq!(reply.finish_reason, FinishReason::ToolCalls);
}

/// Typed replies in small budgets: whatever the model writes inside the grammar, the reply
/// ends as a complete value of the schema within `max_tokens` (strings, integers, numbers,
/// booleans, enums, a nested object, arrays; 2 to 6 fields).
#[tokio::test]
async fn constrained_replies_finish_valid_within_small_budgets() {
    let model = load();
    let text = json!({"type": "string"});
    let cases = [
        (
            "Ada Lovelace was a mathematician who died at 36. Give her name and age.",
            json!({"type": "object", "properties": {"name": text, "age": {"type": "integer"}}, "required": ["name", "age"]}),
        ),
        (
            "Describe Lisbon.",
            json!({"type": "object", "properties": {"city": text, "country": text, "population": {"type": "integer"}, "coastal": {"type": "boolean"}}, "required": ["city", "country", "population", "coastal"]}),
        ),
        (
            "Tell me about the novel Dune.",
            json!({"type": "object", "properties": {
                "title": text, "genre": {"enum": ["fiction", "science", "history"]},
                "year": {"type": "integer"}, "pages": {"type": "integer", "minimum": 1},
                "rating": {"type": "number", "minimum": 0, "maximum": 5}},
                "required": ["title", "genre", "year", "pages", "rating"]}),
        ),
        (
            "Write a contact card for Sherlock Holmes.",
            json!({"type": "object", "properties": {
                "name": text,
                "address": {"type": "object", "properties": {"street": text, "city": text}, "required": ["street", "city"]},
                "tags": {"type": "array", "items": text, "minItems": 1}},
                "required": ["name", "address", "tags"]}),
        ),
        (
            "Describe a red cotton t-shirt for an online shop.",
            json!({"type": "object", "properties": {
                "name": text, "price": {"type": "number"}, "stock": {"type": "boolean"},
                "colors": {"type": "array", "items": {"enum": ["red", "blue", "black"]}},
                "size": {"enum": ["S", "M", "L"]}, "sku": text},
                "required": ["name", "price", "stock", "colors", "size", "sku"]}),
        ),
    ];
    for (prompt, schema) in &cases {
        for budget in [40, 60, 80] {
            let request = ChatRequest::new([Message::user(*prompt)])
                .with_sampling(greedy(budget))
                .with_response_format(ResponseFormat::JsonSchema {
                    name: "answer".into(),
                    schema: schema.clone(),
                    strict: true,
                });
            let reply = model.chat(request).await.unwrap();
            let value: serde_json::Value = serde_json::from_str(&reply.message.content)
                .unwrap_or_else(|e| panic!("{e}: {} ({budget} tokens)", reply.message.content));
            assert!(jsonschema::is_valid(schema, &value), "{value} for {schema}");
            assert_eq!(reply.finish_reason, FinishReason::Stop, "{value}");
            assert!(reply.usage.output_tokens <= u64::from(budget), "{:?}", reply.usage);
            if std::env::var_os("SHOW").is_some() {
                eprintln!("{budget}: {value}");
            }
        }
    }
    // A budget no valid reply fits is refused before anything is generated.
    let (prompt, schema) = &cases[1];
    let request = ChatRequest::new([Message::user(*prompt)])
        .with_sampling(greedy(10))
        .with_response_format(ResponseFormat::JsonSchema {
            name: "answer".into(),
            schema: schema.clone(),
            strict: true,
        });
    let error = model.chat(request).await.unwrap_err();
    assert!(
        matches!(&error, Error::InvalidRequest { message, .. } if message.starts_with("max_tokens is 10, and the shortest reply the constraint allows takes")),
        "{error}"
    );
}
