//! An MCP server's tool as an anymodel [`Tool`]: its `inputSchema` is the tool's parameters
//! (so a local model's grammar holds its arguments to it, and each provider gets it in its own
//! dialect), and its result or `isError` is what the model reads.

use std::sync::Arc;

use anymodel_core::{Tool, ToolError};
use async_trait::async_trait;
use serde_json::Value;

use crate::client::{McpClient, ToolInfo};
use crate::content::Outcome;

/// The most characters providers take in a tool name.
const MAX_NAME: usize = 64;

/// One tool of one MCP server; calls go to the server's shared session.
pub struct McpTool {
    client: Arc<McpClient>,
    /// The name the model calls it by.
    name: String,
    /// The name the server knows it by.
    remote: String,
    description: String,
    parameters: Value,
}

impl std::fmt::Debug for McpTool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("McpTool")
            .field("server", &self.client.name())
            .field("name", &self.name)
            .finish()
    }
}

impl McpTool {
    pub(crate) fn new(client: Arc<McpClient>, info: ToolInfo) -> Self {
        let mut parameters = info.input_schema;
        // An empty `inputSchema` object means no arguments; JSON Schema readers want a type.
        if let Value::Object(schema) = &mut parameters
            && !schema.contains_key("type")
        {
            schema.insert("type".into(), Value::String("object".into()));
        }
        McpTool {
            name: model_name(&info.name),
            remote: info.name,
            description: info.description,
            parameters,
            client,
        }
    }

    /// The server it belongs to.
    pub fn server(&self) -> &str {
        self.client.name()
    }

    /// Its name on the server (the model's name for it may differ: see [`Tool::name`]).
    pub fn remote_name(&self) -> &str {
        &self.remote
    }
}

/// The tool's name as providers take it: letters, digits, `_` and `-`, at most 64 characters
/// (MCP allows `.` and `/`, which become `_`).
fn model_name(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '-' { c } else { '_' })
        .take(MAX_NAME)
        .collect()
}

#[async_trait]
impl Tool for McpTool {
    fn name(&self) -> &str {
        &self.name
    }

    fn description(&self) -> &str {
        &self.description
    }

    fn parameters(&self) -> Value {
        self.parameters.clone()
    }

    async fn call(&self, arguments: Value) -> Result<Value, ToolError> {
        match self.client.call(&self.remote, arguments).await {
            Ok(Outcome::Output(output)) => Ok(output),
            Ok(Outcome::ToolError(message)) => Err(ToolError::Failed(message)),
            Err(error) => Err(ToolError::failed(error)),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_are_made_fit_for_every_provider() {
        assert_eq!(super::model_name("git.status/short"), "git_status_short");
        assert_eq!(super::model_name(&"a".repeat(80)).len(), 64);
    }
}
