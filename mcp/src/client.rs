//! One configured MCP server as anymodel uses it: started on first use, shared by every call,
//! restarted once if it dies, stopped when the client is dropped or stopped.

use std::sync::Arc;

use anymodel_core::Redactor;
use rmcp::model::CallToolRequestParams;
use rmcp::service::ServiceError;
use serde_json::Value;
use tokio::sync::{Mutex, Semaphore};

use crate::config::ServerConfig;
use crate::connection::{Connection, Events};
use crate::content::{self, Outcome};
use crate::error::McpError;
use crate::tool::McpTool;

/// A tool as the server lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolInfo {
    /// Its name on the server.
    pub name: String,
    /// Its description.
    pub description: String,
    /// The JSON Schema of its arguments (`inputSchema`).
    pub input_schema: Value,
    /// Whether `allow` and `deny` let it be used.
    pub permitted: bool,
}

/// What a server said of itself when greeted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerInfo {
    /// The protocol revision agreed (`2026-07-28`, or a 2025 one with older servers).
    pub protocol_version: String,
    /// Its name and version, as it gives them.
    pub implementation: Option<String>,
    /// What it tells clients about using it.
    pub instructions: Option<String>,
}

/// How many times a dead server is started again in the life of its client.
const RESTARTS: u32 = 1;

#[derive(Default)]
struct State {
    connection: Option<Arc<Connection>>,
    restarts: u32,
}

/// One MCP server, as its [`ServerConfig`] describes it. Nothing starts until it is first
/// used; then its tools and calls share one session.
pub struct McpClient {
    name: String,
    config: ServerConfig,
    redactor: Redactor,
    events: Events,
    state: Mutex<State>,
    calls: Semaphore,
}

impl std::fmt::Debug for McpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("McpClient").field("name", &self.name).field("config", &self.config).finish()
    }
}

impl McpClient {
    /// A client of the server `name`; its entry is checked, nothing is started.
    pub fn new(name: impl Into<String>, config: ServerConfig) -> Result<Self, McpError> {
        let name = name.into();
        config.check(&name)?;
        Ok(McpClient {
            redactor: config.redactor(),
            events: Events::new(&name),
            calls: Semaphore::new(config.max_concurrent()),
            name,
            config,
            state: Mutex::default(),
        })
    }

    /// The server's name in the configuration.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its configuration.
    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// How many times the server has said its tools changed.
    pub fn tools_changed(&self) -> u64 {
        self.events.tools_changed.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// The live session: started on first use; a dead one is started again, once.
    async fn connection(&self) -> Result<Arc<Connection>, McpError> {
        let mut state = self.state.lock().await;
        if let Some(connection) = &state.connection {
            if !connection.is_closed() {
                return Ok(connection.clone());
            }
            let ending = connection.ending().await;
            if state.restarts >= RESTARTS {
                return Err(self.died(
                    None,
                    format!(
                        "{ending}; it had been restarted once already, so it is not started again"
                    ),
                ));
            }
            tracing::warn!(server = %self.name, "the MCP server stopped ({ending}); starting it again");
            state.restarts += 1;
        }
        let connection =
            Arc::new(Connection::open(&self.name, &self.config, self.events.clone()).await?);
        state.connection = Some(connection.clone());
        Ok(connection)
    }

    fn died(&self, tool: Option<&str>, detail: String) -> McpError {
        McpError::Died { server: self.name.clone(), tool: tool.map(str::to_string), detail }
    }

    /// `error` with the server's secrets scrubbed from what it quotes.
    fn scrubbed(&self, error: McpError) -> McpError {
        error.map_messages(|message| self.redactor.scrub(message))
    }

    /// What the server said of itself (starting it if it is not running).
    pub async fn server_info(&self) -> Result<ServerInfo, McpError> {
        self.info().await.map_err(|e| self.scrubbed(e))
    }

    async fn info(&self) -> Result<ServerInfo, McpError> {
        let connection = self.connection().await?;
        let info = connection.peer().peer_info();
        Ok(ServerInfo {
            protocol_version: info
                .as_ref()
                .map(|i| i.protocol_version.to_string())
                .unwrap_or_default(),
            implementation: info
                .as_ref()
                .and_then(|i| i.server_info.as_ref())
                .map(|s| format!("{} {}", s.name, s.version)),
            instructions: info.and_then(|i| i.instructions.clone()),
        })
    }

    /// Every tool the server lists (all pages), with whether `allow` and `deny` permit it.
    /// The list is asked for again after the server says it changed.
    pub async fn list_tools(&self) -> Result<Vec<ToolInfo>, McpError> {
        self.listing().await.map_err(|e| self.scrubbed(e))
    }

    async fn listing(&self) -> Result<Vec<ToolInfo>, McpError> {
        let connection = self.connection().await?;
        let listing = connection.peer().list_all_tools();
        let tools = tokio::time::timeout(self.config.timeout(), listing)
            .await
            .map_err(|_| McpError::Timeout {
                server: self.name.clone(),
                tool: "tools/list".into(),
                after: self.config.timeout(),
            })?
            .map_err(|error| self.service_error(error, None))?;
        Ok(tools
            .into_iter()
            .map(|tool| ToolInfo {
                permitted: self.config.permits(&tool.name),
                name: tool.name.into_owned(),
                description: tool.description.map(|d| d.into_owned()).unwrap_or_default(),
                input_schema: Value::Object((*tool.input_schema).clone()),
            })
            .collect())
    }

    /// The tools `allow` and `deny` permit, as anymodel tools; `only` picks one of them by name
    /// (an error when the server has no such tool, or it is denied).
    pub async fn tools(self: &Arc<Self>, only: Option<&str>) -> Result<Vec<McpTool>, McpError> {
        let listed = self.list_tools().await?;
        if let Some(wanted) = only {
            match listed.iter().find(|tool| tool.name == wanted) {
                None => {
                    let names: Vec<&str> = listed.iter().map(|t| t.name.as_str()).collect();
                    return Err(McpError::Config {
                        server: self.name.clone(),
                        message: format!(
                            "it has no tool `{wanted}`; its tools are {}",
                            names.join(", ")
                        ),
                    });
                }
                Some(tool) if !tool.permitted => {
                    return Err(McpError::Config {
                        server: self.name.clone(),
                        message: format!("its tool `{wanted}` is left out by `allow` or `deny`"),
                    });
                }
                Some(_) => {}
            }
        }
        Ok(listed
            .into_iter()
            .filter(|tool| tool.permitted && only.is_none_or(|name| tool.name == name))
            .map(|tool| McpTool::new(self.clone(), tool))
            .collect())
    }

    /// Calls the tool `tool` with `arguments` (an object), within the call time limit and the
    /// limit on calls at once. The server's secrets are scrubbed from its result and errors.
    pub async fn call(&self, tool: &str, arguments: Value) -> Result<Outcome, McpError> {
        match self.calling(tool, arguments).await {
            Ok(outcome) => Ok(outcome.scrubbed(&self.redactor)),
            Err(error) => Err(self.scrubbed(error)),
        }
    }

    async fn calling(&self, tool: &str, arguments: Value) -> Result<Outcome, McpError> {
        if !self.config.permits(tool) {
            return Err(McpError::Config {
                server: self.name.clone(),
                message: format!("its tool `{tool}` is left out by `allow` or `deny`"),
            });
        }
        let _turn = self
            .calls
            .acquire()
            .await
            .map_err(|_| self.died(Some(tool), "the client was stopped".into()))?;
        let connection = self.connection().await?;
        let arguments = match arguments {
            Value::Object(object) => Some(object),
            Value::Null => None,
            other => {
                return Err(McpError::Protocol {
                    server: self.name.clone(),
                    message: format!("arguments must be an object, not {other}"),
                });
            }
        };
        let mut params = CallToolRequestParams::new(tool.to_string());
        params.arguments = arguments;
        let call = connection.peer().call_tool(params);
        let result = match tokio::time::timeout(self.config.timeout(), call).await {
            Err(_) => {
                return Err(McpError::Timeout {
                    server: self.name.clone(),
                    tool: tool.to_string(),
                    after: self.config.timeout(),
                });
            }
            Ok(Err(error)) => {
                if connection.is_closed() || matches!(error, ServiceError::TransportClosed) {
                    return Err(self.after_death(&connection, tool).await);
                }
                return Err(self.service_error(error, Some(tool)));
            }
            Ok(Ok(result)) => result,
        };
        let result = serde_json::to_value(&result).map_err(|error| McpError::Protocol {
            server: self.name.clone(),
            message: format!("its result for `{tool}` could not be read: {error}"),
        })?;
        Ok(content::outcome(&result, self.config.max_result_bytes()))
    }

    /// The error for a call the server died under; the server is started again (once) so that
    /// the model can call again.
    async fn after_death(&self, connection: &Connection, tool: &str) -> McpError {
        let ending = connection.ending().await;
        let restarted = {
            let state = self.state.lock().await;
            state.restarts < RESTARTS
        };
        let detail = if restarted {
            match self.connection().await {
                Ok(_) => format!("{ending}; it was started again, so the call can be made again"),
                Err(error) => format!("{ending}; starting it again failed: {error}"),
            }
        } else {
            format!("{ending}; it had been restarted once already, so it is not started again")
        };
        tracing::warn!(server = %self.name, tool, "{detail}");
        self.died(Some(tool), detail)
    }

    fn service_error(&self, error: ServiceError, tool: Option<&str>) -> McpError {
        let server = self.name.clone();
        match error {
            ServiceError::McpError(data) => McpError::Protocol {
                server,
                message: format!(
                    "{}{} (JSON-RPC error {})",
                    tool.map(|t| format!("`{t}`: ")).unwrap_or_default(),
                    data.message,
                    data.code.0
                ),
            },
            ServiceError::TransportClosed => self.died(tool, "the connection closed".into()),
            other => McpError::Protocol { server, message: other.to_string() },
        }
    }

    /// Stops the server (its whole process group, for a stdio one) and ends the session; the
    /// next use starts it again.
    pub async fn stop(&self) {
        let connection = self.state.lock().await.connection.take();
        if let Some(connection) = connection {
            connection.stop().await;
        }
    }
}
