//! Model backends for anymodel, each behind its own cargo feature, and the layers that wrap any
//! model.
//!
//! | feature | module | speaks to |
//! | --- | --- | --- |
//! | `openai` | [`openai`] | OpenAI and every server with its Chat Completions format (vLLM, Ollama, llama-server, LM Studio, Groq, Together, OpenRouter, DeepSeek, Mistral) |
//! | `anthropic` | [`anthropic`] | Anthropic's Messages API |
//! | `gemini` | [`gemini`] | Google's Gemini API (`generateContent`) |
//! | `cohere` | [`cohere`] | Cohere's Chat API v2 |
//! | `candle` | [`candle`] | local Llama-family models (GGUF or Hugging Face checkpoints), in-process, with constrained decoding for JSON and tool calls |
//!
//! Every backend implements [`anymodel_core::Model`], so apps never depend on which one runs.
//! The remote ones are one [`RemoteModel`] over each provider's [`Wire`] (its JSON mapping, no
//! I/O); [`providers`] is the table of providers known by name, each speaking one of the wires.
//! [`layers`] wraps any model with retry, fallback and routing, keeping the same trait. [`schema`] adjusts
//! one JSON Schema to what each provider accepts. [`spec`] builds a model from what configuration
//! names; [`store`] is where downloaded models live, and [`hub`] fetches them there from the
//! Hugging Face Hub. The local backend is its own crate, `anymodel-candle`, re-exported as
//! [`candle`].

pub mod embedder_spec;
#[cfg(feature = "http")]
mod http;
pub mod hub;
pub mod layers;
pub mod providers;
pub mod schema;
pub mod spec;
pub mod store;

#[cfg(feature = "anthropic")]
pub mod anthropic;
/// The local backend: the `anymodel-candle` crate.
#[cfg(feature = "candle")]
pub use anymodel_candle as candle;
#[cfg(feature = "cohere")]
pub mod cohere;
#[cfg(feature = "gemini")]
pub mod gemini;
#[cfg(feature = "openai")]
pub mod openai;

#[cfg(feature = "http")]
pub use http::{
    EmbedWire, Remote, RemoteConfig, RemoteEmbedder, RemoteModel, Secret, SseEvent, StreamDecoder,
    Wire,
};
