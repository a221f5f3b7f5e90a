//! The local backend on tiny Llama 3.1 models that the tests write themselves: random weights
//! arranged so that the test chooses what greedy decoding produces, the real Llama 3 tokenizer,
//! and a Llama 3.1 chat template in the metadata.

#![allow(clippy::unwrap_used)] // Tests fail loudly by design.

mod support;

use std::path::PathBuf;

use anymodel_candle::{LLAMA3_TEMPLATE, LocalConfig, LocalModel};
use anymodel_core::{
    ChatRequest, Error, FinishReason, Message, Model, Sampling, StreamEvent, ToolChoice, ToolSpec,
};
use futures::StreamExt;
use serde_json::json;
use support::llama3::tiny_llama;

const EOT: u32 = 128_009;
const EOM: u32 = 128_008;

/// A token id of the real Llama 3 vocabulary.
fn id(token: &str) -> u32 {
    let tokenizer =
        tokenizers::Tokenizer::from_file(support::llama3::models().join("llama3.2/tokenizer.json"))
            .unwrap();
    tokenizer.token_to_id(token).unwrap_or_else(|| panic!("no token {token:?}"))
}

/// Writes a tiny model into a fresh temporary file and loads it.
fn model(
    name: &str,
    otherwise: u32,
    transitions: &[(u32, u32)],
    config: impl FnOnce(LocalConfig) -> LocalConfig,
) -> LocalModel {
    let dir = std::env::temp_dir().join(format!("anymodel-tiny-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path: PathBuf = dir.join(format!("{name}.gguf"));
    tiny_llama(&path, otherwise, transitions, Some(LLAMA3_TEMPLATE));
    let model = LocalModel::load(config(LocalConfig::new(&path))).unwrap();
    std::fs::remove_file(&path).unwrap();
    model
}

/// A story that never ends and never loops within 60 tokens: fifteen words said in turn (as
/// many transitions as the tiny model holds). Returns the first word and the transitions.
fn fifteen_words() -> (u32, Vec<(u32, u32)>) {
    let words = [
        "Ġthe", "Ġcat", "Ġsat", "Ġon", "Ġa", "Ġmat", "Ġand", "Ġthen", "Ġit", "Ġran", "Ġto", "Ġbig",
        "Ġred", "Ġhouse", "Ġnear",
    ]
    .map(id);
    let cycle = (0..words.len()).map(|i| (words[i], words[(i + 1) % words.len()])).collect();
    (words[0], cycle)
}

fn greedy(max_tokens: u32) -> Sampling {
    Sampling { temperature: Some(0.0), max_tokens: Some(max_tokens), ..Default::default() }
}

fn ask(text: &str, max_tokens: u32) -> ChatRequest {
    ChatRequest::new([Message::system("Be brief."), Message::user(text)])
        .with_sampling(greedy(max_tokens))
}

#[tokio::test]
async fn it_loads_and_stops_on_llama3s_end_tokens() {
    for end in [EOT, EOM] {
        let model = model("stops", end, &[], |c| c);
        let reply = model.chat(ask("Hi", 10)).await.unwrap();
        assert_eq!((reply.message.content.as_str(), reply.finish_reason), ("", FinishReason::Stop));
        assert_eq!(reply.usage.output_tokens, 0);
        assert_eq!(model.capabilities().context_window, Some(8192), "capped from 131,072");
    }
}

#[tokio::test]
async fn it_runs_until_the_token_limit() {
    let hello = id("Hello");
    let model = model("length", hello, &[], |c| c);
    let reply = model.chat(ask("Hi", 4)).await.unwrap();
    assert_eq!(
        (reply.message.content.as_str(), reply.finish_reason),
        ("HelloHelloHelloHello", FinishReason::Length)
    );
    assert_eq!(reply.usage.output_tokens, 4);
}

/// A stop string ends the reply before it, and the reply says which one did.
#[tokio::test]
async fn a_stop_string_ends_the_reply_and_is_named() {
    let hello = id("Hello");
    let model = model("stop-string", hello, &[], |c| c);
    let mut request = ask("Hi", 10);
    request.sampling.stop = vec!["HelloHello".into(), "never".into()];
    let reply = model.chat(request).await.unwrap();
    assert_eq!((reply.message.content.as_str(), reply.finish_reason), ("", FinishReason::Stop));
    assert_eq!(reply.stop_sequence.as_deref(), Some("HelloHello"));
    let free = model.chat(ask("Hi", 3)).await.unwrap();
    assert_eq!(free.stop_sequence, None);
}

#[tokio::test]
async fn a_character_split_across_tokens_streams_whole() {
    // "é" is two byte tokens in Llama 3's vocabulary: Ã (0xC3) then © (0xA9).
    let (first, second) = (id("Ã"), id("©"));
    let model = model("utf8", first, &[(first, second), (second, EOT)], |c| c);
    let events: Vec<_> = model.stream(ask("Hi", 10)).await.unwrap().collect().await;
    let texts: Vec<String> = events
        .iter()
        .filter_map(|e| match e {
            Ok(StreamEvent::TextDelta { text }) => Some(text.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(texts, ["é"]);
    assert!(matches!(events.last(), Some(Ok(StreamEvent::Finish { reason: FinishReason::Stop }))));
}

#[tokio::test]
async fn the_context_window_is_enforced() {
    let (first, cycle) = fifteen_words();
    let model = model("context", first, &cycle, |c| LocalConfig { context_size: Some(48), ..c });
    let err = model.chat(ask(&"word ".repeat(60), 10)).await.unwrap_err();
    assert!(matches!(err, Error::ContextLengthExceeded { .. }), "{err}");
    // A prompt far too big is refused before it is tokenised (5 MB would take seconds and
    // most of a gigabyte).
    let started = std::time::Instant::now();
    let err = model.chat(ask(&"word ".repeat(1_000_000), 10)).await.unwrap_err();
    assert!(err.to_string().contains("the prompt is 5000"), "{err}");
    assert!(started.elapsed() < std::time::Duration::from_secs(2), "{:?}", started.elapsed());
    // A prompt that fits but leaves little room ends at the window, cut for length.
    let reply = model.chat(ask("Hi", 1000)).await.unwrap();
    assert_eq!(reply.finish_reason, FinishReason::Length);
    assert_eq!(
        reply.usage.input_tokens + reply.usage.output_tokens,
        48,
        "prompt and reply fill the window"
    );
}

#[tokio::test]
async fn the_next_turn_only_processes_its_new_tokens() {
    let model = model("prefix", EOT, &[], |c| c);
    let mut conversation = vec![Message::system("Be brief."), Message::user("Hi")];
    model.chat(ChatRequest::new(conversation.clone()).with_sampling(greedy(5))).await.unwrap();
    let first = model.last_stats();
    assert_eq!(first.prompt_tokens_processed, first.prompt_tokens);
    conversation.push(Message::assistant("Hello."));
    conversation.push(Message::user("How are you?"));
    model.chat(ChatRequest::new(conversation).with_sampling(greedy(5))).await.unwrap();
    let second = model.last_stats();
    let new_tokens = second.prompt_tokens - first.prompt_tokens;
    assert!(second.prompt_tokens_processed <= new_tokens + 1, "{second:?} after {first:?}");
}

#[test]
fn the_files_template_renders_tools() {
    let model = model("template", EOT, &[], |c| c);
    let weather = ToolSpec {
        name: "get_weather".into(),
        description: "The weather in a city.".into(),
        parameters: json!({"type": "object", "properties": {"city": {"type": "string"}}}),
    };
    let prompt =
        model.render_prompt(&ask("Weather in Paris?", 5).with_tools([weather.clone()])).unwrap();
    assert!(prompt.starts_with("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.\n\nYou have access"), "{prompt}");
    assert!(prompt.contains("\"name\": \"get_weather\""), "{prompt}");
    assert!(prompt.ends_with("<|start_header_id|>assistant<|end_header_id|>\n\n"), "{prompt}");

    // `tool_choice: none` hides the tools.
    let hidden =
        ask("Weather in Paris?", 5).with_tools([weather]).with_tool_choice(ToolChoice::None);
    assert!(!model.render_prompt(&hidden).unwrap().contains("get_weather"));
}

/// A forced call is constrained to the grammar of a call of the declared tool: the bigram model
/// would say only "<|eot_id|>", and still calls the tool, in Llama 3.1's JSON format.
#[tokio::test]
async fn a_forced_tool_call_is_a_valid_call_whatever_the_model_prefers() {
    let model = model("forced", EOT, &[], |c| c);
    assert!(model.capabilities().forced_tool_choice);
    let units = ToolSpec {
        name: "set_units".into(),
        description: "Sets the temperature unit.".into(),
        parameters: json!({"type": "object", "properties": {"unit": {"enum": ["celsius", "fahrenheit"]}}, "required": ["unit"], "additionalProperties": false}),
    };
    let forced = ask("Use celsius", 60).with_tools([units]).with_tool_choice(ToolChoice::Required);
    let reply = model.chat(forced).await.unwrap();
    assert_eq!(reply.message.tool_calls.len(), 1, "{reply:?}");
    let call = &reply.message.tool_calls[0];
    assert_eq!(call.name, "set_units");
    let unit = call.arguments["unit"].as_str().unwrap();
    assert!(["celsius", "fahrenheit"].contains(&unit), "{call:?}");
}

#[tokio::test]
async fn dropping_the_stream_stops_the_generation() {
    let hello = id("Hello");
    let model = model("cancel", hello, &[], |c| c);
    let mut events = model.stream(ask("Hi", 5000)).await.unwrap();
    let first = events.next().await.unwrap().unwrap();
    assert_eq!(first, StreamEvent::TextDelta { text: "Hello".into() });
    drop(events);
    // The generation notices at its next piece of text and stops, far short of 5,000 tokens.
    for _ in 0..200 {
        if !model.is_busy() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert!(!model.is_busy(), "the generation goes on after its stream was dropped");
    let stopped = model.last_stats().completion_tokens;
    assert!((1..100).contains(&stopped), "{stopped} tokens generated");
}

/// With `tool_choice: auto`, generation is free until the model starts a call of its own accord
/// (Llama 3.1's `<|python_tag|>`); the rest of the reply is then constrained to a valid call,
/// although this bigram model would go on saying "Hello".
#[tokio::test]
async fn a_call_the_model_starts_is_finished_validly() {
    let tag = id("<|python_tag|>");
    let hello = id("Hello");
    let starts_a_call = model("auto", hello, &[(id("ĊĊ"), tag)], |c| c);
    let units = ToolSpec {
        name: "set_units".into(),
        description: "Sets the temperature unit.".into(),
        parameters: json!({"type": "object", "properties": {"unit": {"enum": ["celsius", "fahrenheit"]}}, "required": ["unit"], "additionalProperties": false}),
    };
    let reply =
        starts_a_call.chat(ask("Use celsius", 60).with_tools([units.clone()])).await.unwrap();
    assert_eq!(reply.message.tool_calls.len(), 1, "{reply:?}");
    assert_eq!(reply.message.tool_calls[0].name, "set_units");
    assert_eq!(reply.finish_reason, FinishReason::ToolCalls);
    // Without the trigger, the reply stays free text.
    let free = model("free", hello, &[], |c| c);
    let reply = free.chat(ask("Use celsius", 3).with_tools([units])).await.unwrap();
    assert_eq!(reply.message.content, "HelloHelloHello");
}

/// A model that would write words forever inside a string: the guide lets it write while a
/// valid reply still fits, then closes the string and the object itself, giving the required
/// field it never reached the smallest value its schema allows. The words run in a cycle of
/// fifteen (as many transitions as the tiny model holds), not repeated three times within these
/// budgets, so it is the budget that ends them, not the guide's loop check.
#[tokio::test]
async fn the_budget_forces_the_shortest_close() {
    let (first, cycle) = fifteen_words();
    let model = model("budget", first, &cycle, |c| c);
    let schema = json!({"type": "object", "properties": {
        "story": {"type": "string", "maxLength": 1000},
        "count": {"type": "integer", "minimum": 3}}, "required": ["story", "count"]});
    for budget in [24, 32, 44] {
        let request = ask("Tell a story.", budget).with_response_format(
            anymodel_core::ResponseFormat::JsonSchema {
                name: "story".into(),
                schema: schema.clone(),
                strict: true,
            },
        );
        let reply = model.chat(request).await.unwrap();
        let value: serde_json::Value = serde_json::from_str(&reply.message.content)
            .unwrap_or_else(|e| panic!("{e}: {}", reply.message.content));
        assert!(jsonschema::is_valid(&schema, &value), "{value}");
        assert_eq!(value["count"], 3, "the close wrote the least count: {value}");
        assert!(value["story"].as_str().unwrap().starts_with(" the cat sat on"), "{value}");
        assert_eq!(reply.finish_reason, FinishReason::Stop);
        // The model wrote until the close took what was left: the whole budget, give or take
        // the token the close could not use.
        let used = reply.usage.output_tokens;
        assert!(used <= u64::from(budget) && used + 2 >= u64::from(budget), "{used} of {budget}");
    }
}

/// Free text that repeats itself is stopped, not left to fill the context: the reply ends
/// with its own reason once a run of tokens has come four times (24 tokens at least).
#[tokio::test]
async fn a_looping_reply_is_stopped() {
    let hello = id("Hello");
    let model = model("loop", hello, &[], |c| c);
    let reply = model.chat(ask("Hi", 1000)).await.unwrap();
    assert_eq!(reply.finish_reason, FinishReason::Repetition);
    assert_eq!(reply.usage.output_tokens, 24, "{}", reply.message.content);
}

/// A model whose template opens `<think>` for it (as DeepSeek-R1's distilled Llamas' do) thinks
/// "Hmm", closes the tag and answers "Yes": the reasoning streams as reasoning, apart from the
/// answer, with its closing tag split over three tokens.
#[tokio::test]
async fn reasoning_in_think_tags_streams_apart_from_the_answer() {
    let template = LLAMA3_TEMPLATE.replace(
        "assistant<|end_header_id|>\\n\\n'",
        "assistant<|end_header_id|>\\n\\n<think>\\n'",
    );
    assert_ne!(template, LLAMA3_TEMPLATE, "the generation prompt opens <think>");
    let tokenizer =
        tokenizers::Tokenizer::from_file(support::llama3::models().join("llama3.2/tokenizer.json"))
            .unwrap();
    let opened = tokenizer.encode("<|end_header_id|>\n\n<think>\n", false).unwrap();
    let last_prompt_token = *opened.get_ids().last().unwrap();
    let chain = [last_prompt_token, id("Hmm"), id("</"), id("think"), id(">"), id("Yes")];
    let transitions: Vec<(u32, u32)> = chain.windows(2).map(|pair| (pair[0], pair[1])).collect();
    let dir = std::env::temp_dir().join(format!("anymodel-tiny-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("thinking.gguf");
    tiny_llama(&path, EOT, &transitions, Some(&template));
    let model = LocalModel::load(LocalConfig::new(&path)).unwrap();
    std::fs::remove_file(&path).unwrap();

    let request = ChatRequest::user("Is it?").with_sampling(greedy(16));
    let events: Vec<StreamEvent> =
        model.stream(request.clone()).await.unwrap().map(Result::unwrap).collect().await;
    let reasoning: String = events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::ReasoningDelta { text } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    let answer: String = events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::TextDelta { text } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!((reasoning.as_str(), answer.as_str()), ("Hmm", "Yes"), "{events:?}");
    let first_answer = events.iter().position(|e| matches!(e, StreamEvent::TextDelta { .. }));
    let last_reasoning =
        events.iter().rposition(|e| matches!(e, StreamEvent::ReasoningDelta { .. }));
    assert!(last_reasoning < first_answer, "reasoning first: {events:?}");

    let whole = model.chat(request).await.unwrap();
    assert_eq!(whole.message.content, "Yes");
    assert_eq!(whole.message.reasoning_text(), "Hmm");
    assert_eq!(whole.finish_reason, FinishReason::Stop);
}
