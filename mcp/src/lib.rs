//! The Model Context Protocol for anymodel, on the official Rust SDK (`rmcp`), kept in a crate
//! of its own so that the SDK's versions do not reach anymodel's API.
//!
//! - As a client: each configured MCP server ([`ServerConfig`]: a stdio command or a
//!   streamable HTTP address) gives [`McpTool`]s, anymodel tools like any other, so that an
//!   agent on any model calls them, and a local model's grammar holds its arguments to the
//!   server's `inputSchema`. Servers start on first use, are shared by every call, are
//!   restarted once if they die, and stop (the whole process group) when dropped.
//! - As a server: [`ToolServer`] offers any [`anymodel_core::ToolSet`] (the knowledge index's
//!   `search_documents`, built-in tools, agents as tools) to MCP clients over stdio
//!   ([`serve_stdio`]) or streamable HTTP ([`serve_http`]).
//!
//! ```no_run
//! use anymodel_core::Agent;
//! use anymodel_mcp::{McpServers, ServerConfig};
//! # async fn demo(model: std::sync::Arc<dyn anymodel_core::Model>) -> Result<(), Box<dyn std::error::Error>> {
//! let servers = McpServers::new([(
//!     "files".to_string(),
//!     ServerConfig::stdio("npx", ["-y", "@modelcontextprotocol/server-filesystem", "."]),
//! )])?;
//! let mut agent = Agent::builder(model);
//! for tool in servers.tools("files").await? {
//!     agent = agent.shared_tool(tool);
//! }
//! let run = agent.build()?.run("Which files are in this folder?").await?;
//! println!("{}", run.answer);
//! servers.stop().await;
//! # Ok(()) }
//! ```

mod client;
mod config;
mod connection;
mod content;
mod error;
mod serve;
mod servers;
mod tool;

pub use client::{McpClient, ServerInfo, ToolInfo};
pub use config::{ServerConfig, TransportKind};
pub use content::Outcome;
pub use error::McpError;
pub use serve::{HttpOptions, ToolServer, serve_http, serve_stdio};
pub use servers::{McpServers, PREFIX};
pub use tool::McpTool;
