//! The contracts of anymodel: what every backend, tool and app is written against.
//!
//! - [`Message`], [`ChatRequest`] and [`ChatResponse`]: a conversation, what is asked of a model
//!   and what it answers; all serde-serialisable, so runs can be saved and replayed.
//! - [`Model`]: one async trait for local and remote models, with a whole-reply call and a
//!   stream of [`StreamEvent`]s, and the [`Capabilities`] a model declares.
//! - [`Error`]: failures classed by what to do about them ([`Error::is_retryable`]).
//! - [`Tool`] and [`TypedTool`]: tools with JSON Schema arguments, derived from Rust types.
//! - [`Agent`]: the loop that lets a model call tools until it answers.
//! - [`Retriever`]: passages from the user's documents, for agents and retrieval-augmented prompts.
//! - [`ScriptedModel`]: a model that replays a script, for tests.
//!
//! This crate does no HTTP, runs no model and indexes nothing: backends live in
//! `anymodel-backends`, the index in `anymodel-tools`.

pub mod agent;
mod content;
mod embed;
mod error;
mod extract;
mod fusion;
mod message;
mod model;
mod redact;
mod request;
mod response;
mod retrieval;
mod schema;
mod scripted;
mod stream;
mod telemetry;
mod tool;
mod toolset;
mod traced;

pub use agent::{
    Agent, AgentBuilder, AgentError, AgentErrorKind, AgentEvent, AgentHook, AgentModel, AgentRun,
    AgentTool, Limits, RunCheckpoint, Step, ToolDecision, ToolInvocation,
};
pub use content::{Content, Media, MediaSource, Part};
pub use embed::{Embedder, EmbedderCapabilities, InputKind, WordHashEmbedder, cosine};
pub use error::{Capability, Error, Result};
pub use extract::{DEFAULT_RETRIES, RETRY_TEMPERATURE, Strategy, extract, extract_value};
pub use fusion::{FusedRetriever, Fusion};
pub use message::{AssistantMessage, Message, Reasoning, Role, ToolCall, ToolResult};
pub use model::{Capabilities, Model};
pub use redact::Redactor;
pub use request::{
    CacheBreakpoint, CacheTarget, CacheTtl, ChatRequest, ReasoningEffort, ReasoningOptions,
    ResponseFormat, Sampling, ToolChoice, ToolSpec,
};
pub use response::{ChatResponse, FinishReason, Price, Usage};
pub use retrieval::{Filter, Passage, RetrievalQuery, Retriever, Source};
pub use schema::schema_for;
pub use scripted::{ScriptedModel, ScriptedReply};
pub use stream::{EventStream, ReplyAggregator, StreamEvent, collect_stream, observe_reply};
pub use tool::{Tool, ToolError, TypedTool};
pub use toolset::{ToolCallError, ToolSet, content_output, output_content, output_text};
pub use traced::TracedModel;

/// Re-exported so that apps implement [`Tool`] and [`Model`] with the same macro version.
pub use async_trait::async_trait;
/// Re-exported so that apps derive tool arguments with the schemars version this crate reads.
pub use schemars;
/// Re-exported for building tool arguments and schemas.
pub use serde_json;
