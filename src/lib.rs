//! anymodel: build AI applications and agents against a model you can swap.
//!
//! An app written against [`Model`] runs on a local Llama executed in-process or on a remote
//! API, and switching is a line of config. On top of the trait sit typed tools ([`TypedTool`])
//! and the agent loop ([`Agent`]).
//!
//! This crate is the facade: it re-exports [`anymodel_core`] at its root, and the backends and
//! built-in tools as [`backends`] and [`tools`]. Apps that want only the contracts can depend on
//! `anymodel-core` alone.
//!
//! ```
//! use anymodel::{Agent, ChatResponse, ScriptedModel};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let model = ScriptedModel::new([ChatResponse::text("Hello!")]);
//! let agent = Agent::builder(model).system("Be brief.").build()?;
//! let run = agent.run("Say hello").await?;
//! assert_eq!(run.answer, "Hello!");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

pub use anymodel_core::*;

/// Model backends: see [`anymodel_backends`].
pub use anymodel_backends as backends;
/// The Model Context Protocol: MCP servers' tools, and tools served over MCP: see
/// [`anymodel_mcp`].
#[cfg(feature = "mcp")]
pub use anymodel_mcp as mcp;
/// The run log (SQLite): every run, model call and tool call, searchable and continued: see
/// [`anymodel_runlog`].
pub use anymodel_runlog as runlog;
/// Models behind the OpenAI API over HTTP: see [`anymodel_server`].
#[cfg(feature = "server")]
pub use anymodel_server as server;
/// Built-in tools: see [`anymodel_tools`].
pub use anymodel_tools as tools;

pub mod config;
#[cfg(feature = "otel")]
pub mod otel;

/// The README's examples, compiled as doc tests so the README stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
