//! The configured MCP servers of an application, by name: what agents' `mcp:NAME` and
//! `mcp:NAME/TOOL` tool names resolve to.

use std::collections::BTreeMap;
use std::sync::Arc;

use anymodel_core::Tool;

use crate::client::McpClient;
use crate::config::ServerConfig;
use crate::error::McpError;

/// The prefix of MCP tool names in agents' `tools` lists.
pub const PREFIX: &str = "mcp:";

/// MCP servers by name. Cloning shares them; servers start on first use and stop when the last
/// clone (and every tool made from them) is dropped, or at [`McpServers::stop`].
#[derive(Debug, Clone, Default)]
pub struct McpServers {
    clients: BTreeMap<String, Arc<McpClient>>,
}

impl McpServers {
    /// The servers of these entries; each is checked, none is started.
    pub fn new(
        entries: impl IntoIterator<Item = (String, ServerConfig)>,
    ) -> Result<Self, McpError> {
        let clients = entries
            .into_iter()
            .map(|(name, config)| Ok((name.clone(), Arc::new(McpClient::new(name, config)?))))
            .collect::<Result<_, McpError>>()?;
        Ok(McpServers { clients })
    }

    /// The server `name`.
    pub fn get(&self, name: &str) -> Result<&Arc<McpClient>, McpError> {
        self.clients.get(name).ok_or_else(|| McpError::Config {
            server: name.to_string(),
            message: format!(
                "it is not configured: add [mcp.{name}] with `command` or `url` to the config (configured: {})",
                if self.clients.is_empty() {
                    "none".to_string()
                } else {
                    self.clients.keys().cloned().collect::<Vec<_>>().join(", ")
                }
            ),
        })
    }

    /// The servers, by name.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<McpClient>> {
        self.clients.values()
    }

    /// The tools a `tools` entry names: `NAME` (every tool its `allow` and `deny` permit) or
    /// `NAME/TOOL` (that one), with or without the `mcp:` prefix. Starts the server.
    pub async fn tools(&self, selector: &str) -> Result<Vec<Arc<dyn Tool>>, McpError> {
        let selector = selector.strip_prefix(PREFIX).unwrap_or(selector);
        let (server, only) = match selector.split_once('/') {
            Some((server, tool)) => (server, Some(tool)),
            None => (selector, None),
        };
        let tools = self.get(server)?.tools(only).await?;
        Ok(tools.into_iter().map(|tool| Arc::new(tool) as Arc<dyn Tool>).collect())
    }

    /// Stops every server that was started (process groups signalled and reaped): at Ctrl-C,
    /// or before exiting.
    pub async fn stop(&self) {
        futures::future::join_all(self.clients.values().map(|client| client.stop())).await;
    }
}
