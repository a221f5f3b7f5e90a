//! The local backend on a full-precision Llama checkpoint in the Hugging Face layout, as GPU
//! users run it: a tiny one written by the test (the real Llama 3 tokenizer, random weights
//! arranged so that the test chooses the greedy output).

#![allow(clippy::unwrap_used)] // Tests fail loudly by design.

mod support;

use anymodel_candle::{LLAMA3_TEMPLATE, LocalConfig, LocalModel};
use anymodel_core::{ChatRequest, Error, FinishReason, Message, Model, Sampling};
use support::llama3::{models, tiny_checkpoint};

const EOT: u32 = 128_009;

fn hello() -> u32 {
    let tokenizer =
        tokenizers::Tokenizer::from_file(models().join("llama3.2/tokenizer.json")).unwrap();
    tokenizer.token_to_id("Hello").unwrap()
}

fn load(name: &str, otherwise: u32) -> LocalModel {
    let folder =
        std::env::temp_dir().join(format!("anymodel-checkpoint-{name}-{}", std::process::id()));
    tiny_checkpoint(&folder, otherwise, &[], LLAMA3_TEMPLATE);
    let model = LocalModel::load(LocalConfig::new(&folder)).unwrap();
    std::fs::remove_dir_all(&folder).unwrap();
    model
}

fn ask(text: &str, max_tokens: u32) -> ChatRequest {
    ChatRequest::new([Message::system("Be brief."), Message::user(text)]).with_sampling(Sampling {
        temperature: Some(0.0),
        max_tokens: Some(max_tokens),
        ..Default::default()
    })
}

#[tokio::test]
async fn a_checkpoint_generates_and_stops_like_a_gguf_model() {
    let model = load("hello", hello());
    assert_eq!(model.context_size(), 256);
    let reply = model.chat(ask("Hi", 3)).await.unwrap();
    assert_eq!(
        (reply.message.content.as_str(), reply.finish_reason),
        ("HelloHelloHello", FinishReason::Length)
    );
    let prompt = model.render_prompt(&ask("Hi", 3)).unwrap();
    assert!(
        prompt.starts_with(
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief."
        ),
        "{prompt}"
    );

    let quiet = load("eot", EOT);
    let reply = quiet.chat(ask("Hi", 3)).await.unwrap();
    assert_eq!((reply.message.content.as_str(), reply.finish_reason), ("", FinishReason::Stop));
}

#[tokio::test]
async fn a_conversation_continues_from_the_checkpoints_cache() {
    let model = load("continue", EOT);
    let mut conversation = vec![Message::user("Hi")];
    model.chat(ChatRequest::new(conversation.clone())).await.unwrap();
    let first = model.last_stats();
    conversation.push(Message::assistant(""));
    conversation.push(Message::user("Again"));
    model.chat(ChatRequest::new(conversation)).await.unwrap();
    let second = model.last_stats();
    assert!(
        second.prompt_tokens_processed < second.prompt_tokens - first.prompt_tokens + 5,
        "{second:?} after {first:?}"
    );
    let err = model.chat(ask(&"word ".repeat(300), 3)).await.unwrap_err();
    assert!(matches!(err, Error::ContextLengthExceeded { .. }), "{err}");
}

#[test]
fn a_folder_without_weights_is_named() {
    let folder =
        std::env::temp_dir().join(format!("anymodel-checkpoint-empty-{}", std::process::id()));
    std::fs::create_dir_all(&folder).unwrap();
    let err = LocalModel::load(LocalConfig::new(&folder)).unwrap_err().to_string();
    assert!(err.contains("tokenizer.json"), "{err}");
    std::fs::remove_dir_all(&folder).unwrap();
}
