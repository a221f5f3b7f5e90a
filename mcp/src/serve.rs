//! anymodel's tools served to MCP clients: any [`ToolSet`] (the knowledge index's
//! `search_documents`, built-in tools, agents as tools) over stdio or streamable HTTP.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anymodel_core::{MediaSource, Part, ToolCall, ToolCallError, ToolSet, output_content};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    ListToolsResult, PaginatedRequestParams, ResourceContents, ServerCapabilities, ServerConfig,
    Tool as McpToolSpec,
};
use rmcp::service::RequestContext;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ErrorData, RoleServer, ServerHandler, ServiceExt};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::error::McpError;

/// Tools listed per page of `tools/list`.
const PAGE: usize = 50;

/// An MCP server offering the tools of a [`ToolSet`]: arguments are checked against each
/// tool's schema, calls run under a time limit, and a tool's failure is a result with
/// `isError: true` that the client's model can read and correct.
#[derive(Clone)]
pub struct ToolServer {
    tools: ToolSet,
    timeout: Option<Duration>,
    instructions: Option<String>,
}

impl ToolServer {
    /// A server of these tools, each call limited to `timeout` when one is given.
    pub fn new(tools: ToolSet, timeout: Option<Duration>) -> Self {
        ToolServer { tools, timeout, instructions: None }
    }

    /// What clients are told about the server as a whole (MCP's `instructions`).
    pub fn instructions(mut self, text: impl Into<String>) -> Self {
        self.instructions = Some(text.into());
        self
    }
}

impl ServerHandler for ToolServer {
    fn get_info(&self) -> ServerConfig {
        let mut info = ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("anymodel", env!("CARGO_PKG_VERSION")));
        if let Some(text) = &self.instructions {
            info = info.with_instructions(text.clone());
        }
        info
    }

    async fn list_tools(
        &self,
        request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let start = match request.and_then(|r| r.cursor) {
            None => 0,
            Some(cursor) => cursor.parse::<usize>().map_err(|_| {
                ErrorData::invalid_params(
                    format!("`{cursor}` is not a cursor this server gave"),
                    None,
                )
            })?,
        };
        let specs = self.tools.specs();
        let tools = specs
            .iter()
            .skip(start)
            .take(PAGE)
            .map(|spec| {
                let schema = match &spec.parameters {
                    Value::Object(object) => object.clone(),
                    _ => serde_json::Map::new(),
                };
                McpToolSpec::new(spec.name.clone(), spec.description.clone(), Arc::new(schema))
            })
            .collect();
        let mut result = ListToolsResult::with_all_items(tools);
        if start + PAGE < specs.len() {
            result.next_cursor = Some((start + PAGE).to_string());
        }
        Ok(result)
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let call = ToolCall {
            id: ToolCall::minted_id(),
            name: request.name.to_string(),
            arguments: Value::Object(request.arguments.unwrap_or_default()),
        };
        let outcome = tokio::select! {
            outcome = self.tools.invoke(&call, self.timeout) => outcome,
            () = context.ct.cancelled() => {
                return Err(ErrorData::internal_error("the call was cancelled", None));
            }
        };
        let result = match outcome {
            Ok(output) => {
                let mut result = CallToolResult::success(blocks(&output));
                if output.is_object() && output_content(&output).is_text() {
                    result.structured_content = Some(output);
                }
                result
            }
            Err(ToolCallError::UnknownTool { name, available }) => {
                return Err(ErrorData::invalid_params(
                    format!(
                        "there is no tool named `{name}`; the tools are {}",
                        available.join(", ")
                    ),
                    None,
                ));
            }
            Err(error) => CallToolResult::error(vec![ContentBlock::text(error.to_string())]),
        };
        Ok(CallToolResponse::Complete(result))
    }
}

/// A tool's output as MCP content: text, images, and documents as embedded resources.
fn blocks(output: &Value) -> Vec<ContentBlock> {
    output_content(output)
        .parts()
        .iter()
        .map(|part| match part {
            Part::Text { text } => ContentBlock::text(text.clone()),
            Part::Image(media) => match &media.source {
                MediaSource::Base64(data) => {
                    ContentBlock::image(data.clone(), media.media_type_or_default())
                }
                MediaSource::Url(url) => ContentBlock::text(format!("[image: {url}]")),
            },
            Part::Document { media, title } => match &media.source {
                MediaSource::Base64(data) => {
                    ContentBlock::resource(ResourceContents::BlobResourceContents {
                        uri: title.clone().unwrap_or_else(|| "anymodel:document".into()),
                        mime_type: media.media_type.clone(),
                        blob: data.clone(),
                        meta: None,
                    })
                }
                MediaSource::Url(url) => ContentBlock::text(format!("[document: {url}]")),
            },
            other => ContentBlock::text(format!("{other:?}")),
        })
        .collect()
}

/// Serves `server` on standard input and output until the client closes them.
pub async fn serve_stdio(server: ToolServer) -> Result<(), McpError> {
    let failed = |message: String| McpError::Start { server: "anymodel".into(), message };
    let running = server
        .serve(rmcp::transport::io::stdio())
        .await
        .map_err(|error| failed(error.to_string()))?;
    running.waiting().await.map_err(|error| failed(error.to_string()))?;
    Ok(())
}

/// Where and how [`serve_http`] serves.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// The path of the MCP endpoint (default `/mcp`).
    pub path: String,
    /// Browser origins allowed besides the loopback ones (`http://localhost:*`,
    /// `http://127.0.0.1:*`); a request from any other `Origin` is refused (DNS rebinding).
    pub allowed_origins: Vec<String>,
    /// Stops the server when cancelled.
    pub stop: CancellationToken,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            path: "/mcp".into(),
            allowed_origins: Vec::new(),
            stop: CancellationToken::new(),
        }
    }
}

/// Serves `server` over streamable HTTP on `listener`, which must be bound to a loopback
/// address: a local MCP server is for this machine's clients. Requests are checked for a
/// loopback `Host` and an allowed `Origin`.
pub async fn serve_http(
    server: ToolServer,
    listener: TcpListener,
    options: HttpOptions,
) -> Result<(), McpError> {
    let failed = |message: String| McpError::Start { server: "anymodel".into(), message };
    let address: SocketAddr = listener.local_addr().map_err(|e| failed(e.to_string()))?;
    if !address.ip().is_loopback() {
        return Err(failed(format!(
            "{address} is not a loopback address: MCP over HTTP is served on this machine only"
        )));
    }
    let mut origins: Vec<String> =
        ["http://localhost:*", "http://127.0.0.1:*", "http://[::1]:*"].map(String::from).into();
    origins.extend(options.allowed_origins);
    let config = StreamableHttpServerConfig::default()
        .with_allowed_origins(origins)
        .with_cancellation_token(options.stop.child_token());
    let service = StreamableHttpService::new(
        move || Ok(server.clone()),
        Arc::new(LocalSessionManager::default()),
        config,
    );
    let router = axum::Router::new().nest_service(&options.path, service);
    let stop = options.stop.clone();
    axum::serve(listener, router)
        .with_graceful_shutdown(async move { stop.cancelled().await })
        .await
        .map_err(|error| failed(error.to_string()))
}
