//! What can go wrong between anymodel and an MCP server, each naming the server.

use std::time::Duration;

/// A failure to reach, start or use an MCP server. Messages quote what a server said, never
/// the keys in its configuration.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum McpError {
    /// Its `[mcp.NAME]` entry is wrong, or names a server that is not configured.
    #[error("MCP server `{server}`: {message}")]
    Config {
        /// The server's name.
        server: String,
        /// What is wrong.
        message: String,
    },
    /// It could not be started, reached or greeted.
    #[error("MCP server `{server}` could not be started: {message}")]
    Start {
        /// The server's name.
        server: String,
        /// Why, with the end of its standard error for a stdio server.
        message: String,
    },
    /// It answered outside the protocol, or with a protocol error.
    #[error("MCP server `{server}`: {message}")]
    Protocol {
        /// The server's name.
        server: String,
        /// What it said or did.
        message: String,
    },
    /// A call ran past its time limit and was cancelled.
    #[error("MCP server `{server}`: `{tool}` did not finish within {} s and was cancelled", after.as_secs_f64())]
    Timeout {
        /// The server's name.
        server: String,
        /// The tool.
        tool: String,
        /// The limit.
        after: Duration,
    },
    /// It exited or closed the connection.
    #[error("MCP server `{server}` stopped{}: {detail}", tool.as_ref().map(|t| format!(" while running `{t}`")).unwrap_or_default())]
    Died {
        /// The server's name.
        server: String,
        /// The tool that was running, if one was.
        tool: Option<String>,
        /// Its exit status and the end of its standard error, and whether it was restarted.
        detail: String,
    },
}

impl McpError {
    /// The same error with `f` applied to what the server said in it: how its secrets are
    /// scrubbed.
    pub(crate) fn map_messages(self, f: impl Fn(String) -> String) -> McpError {
        match self {
            McpError::Config { server, message } => {
                McpError::Config { server, message: f(message) }
            }
            McpError::Start { server, message } => McpError::Start { server, message: f(message) },
            McpError::Protocol { server, message } => {
                McpError::Protocol { server, message: f(message) }
            }
            McpError::Died { server, tool, detail } => {
                McpError::Died { server, tool, detail: f(detail) }
            }
            timeout @ McpError::Timeout { .. } => timeout,
        }
    }
}

impl From<McpError> for anymodel_core::Error {
    fn from(error: McpError) -> Self {
        match error {
            McpError::Config { .. } => anymodel_core::Error::config(error.to_string()),
            McpError::Protocol { .. } => anymodel_core::Error::invalid_response(error.to_string()),
            McpError::Start { .. } | McpError::Timeout { .. } | McpError::Died { .. } => {
                anymodel_core::Error::Backend { message: error.to_string() }
            }
        }
    }
}
