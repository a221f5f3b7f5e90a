//! The local backend's pieces that run Llama-family models in-process: chat templates, the
//! tokenizer read from a GGUF file, and tool calls parsed from the model's text. (The candle
//! model itself is being built; see the README's status.)

mod pythonic;
pub mod template;
pub mod tokenizer;
pub mod tool_calls;

pub use template::{CHATML_TEMPLATE, ChatTemplate, LLAMA3_TEMPLATE};
pub use tokenizer::{Vocabulary, vocabulary_from_gguf};
pub use tool_calls::{ParsedReply, ToolCallFilter, ToolCallFormat, call_events};
