//! `anymodel mcp`: the configured MCP servers and their tools (`list`), and anymodel's own
//! tools, index and agents served to MCP clients (`serve`).

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use anymodel::ToolSet;
use anymodel::mcp::{HttpOptions, McpClient, ToolServer};
use anymodel::tools::registry::BUILTINS;
use serde_json::json;

use super::output::{self, outln};
use super::{Context, Failure, Outcome};

/// The subcommands of `mcp`.
#[derive(Debug, clap::Subcommand)]
pub enum McpCommand {
    /// Starts the configured MCP servers ([mcp.NAME]) and lists each one's tools with their
    /// schemas, or why it could not be reached.
    List {
        /// Only this server.
        name: Option<String>,
        /// As JSON.
        #[arg(long)]
        json: bool,
    },
    /// Serves anymodel's tools to MCP clients (Claude Desktop, editors, other agents): over
    /// standard input and output, or streamable HTTP on this machine with --http.
    ///
    /// It offers search_documents over the index (--index, else [indexes.default]), the
    /// built-in tools the config enables (or those given with -T), and each --agent as a tool
    /// named ask_NAME. A client's config runs it as `anymodel mcp serve --index docs`.
    Serve(ServeArgs),
}

/// The arguments of `mcp serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Serve streamable HTTP on 127.0.0.1 (loopback only) instead of standard input and output.
    #[arg(long)]
    pub http: bool,
    /// The port of --http (0 picks a free one).
    #[arg(long, default_value_t = 8090)]
    pub port: u16,
    /// A browser origin allowed besides the loopback ones (repeatable), as
    /// `https://app.example.com:443`; requests from other origins are refused.
    #[arg(long = "allow-origin", value_name = "ORIGIN")]
    pub allow_origins: Vec<String>,
    /// The index search_documents searches: a name from the config or a folder.
    #[arg(long, value_name = "NAME|PATH")]
    pub index: Option<String>,
    /// Offer only these built-in tools (repeatable) instead of every one the config enables.
    #[arg(short = 'T', long = "tool", value_name = "TOOL")]
    pub tools: Vec<String>,
    /// A configured agent to offer as the tool ask_NAME (repeatable).
    #[arg(long = "agent", value_name = "NAME")]
    pub agents: Vec<String>,
    /// The most seconds one call may run.
    #[arg(long, default_value_t = 600)]
    pub timeout_secs: u64,
}

/// Runs `mcp`.
pub async fn mcp(context: &Context, command: McpCommand) -> Outcome {
    match command {
        McpCommand::List { name, json } => list(context, name.as_deref(), json).await,
        McpCommand::Serve(args) => serve(context, args).await,
    }
}

async fn list(context: &Context, only: Option<&str>, json: bool) -> Outcome {
    let servers = context.config.mcp_servers();
    let clients: Vec<&Arc<McpClient>> = match only {
        Some(name) => vec![servers.get(name).map_err(|e| Failure::Usage(e.to_string()))?],
        None => servers.iter().collect(),
    };
    if clients.is_empty() {
        return Err(Failure::Usage(
            "no MCP servers are configured: add [mcp.NAME] with `command` (and `args`) or `url` to the config (`anymodel config path` shows where it is)".into(),
        ));
    }
    let mut failed = false;
    let mut records = Vec::new();
    for client in clients {
        let spinner = output::spinner(context.quiet || json, format!("starting {}", client.name()));
        let listed = match client.server_info().await {
            Ok(info) => client.list_tools().await.map(|tools| (info, tools)),
            Err(error) => Err(error),
        };
        spinner.finish_and_clear();
        let config = client.config();
        let reached = match (&config.command, &config.url) {
            (Some(command), _) => {
                format!("{command} {}", config.args.join(" ")).trim_end().to_string()
            }
            (_, Some(url)) => url.clone(),
            _ => String::new(),
        };
        match listed {
            Ok((info, tools)) => {
                if json {
                    records.push(json!({
                        "name": client.name(), "at": reached, "protocol_version": info.protocol_version,
                        "server": info.implementation,
                        "tools": tools.iter().map(|t| json!({"name": t.name, "description": t.description, "input_schema": t.input_schema, "permitted": t.permitted})).collect::<Vec<_>>(),
                    }));
                    continue;
                }
                outln!(
                    "{} ({reached}): {}, protocol {}",
                    client.name(),
                    info.implementation.as_deref().unwrap_or("a server without a name"),
                    info.protocol_version
                );
                for tool in tools {
                    let off = if tool.permitted { "" } else { " (left out by allow/deny)" };
                    let description = tool.description.lines().next().unwrap_or("");
                    outln!("  {}{off}: {description}", tool.name);
                    outln!("    {}", serde_json::to_string(&tool.input_schema).unwrap_or_default());
                }
            }
            Err(error) => {
                failed = true;
                if json {
                    records.push(
                        json!({"name": client.name(), "at": reached, "error": error.to_string()}),
                    );
                } else {
                    outln!("{} ({reached}): {error}", client.name());
                }
            }
        }
    }
    if json {
        outln!("{}", serde_json::to_string_pretty(&records).unwrap_or_default());
    }
    if failed {
        return Err(Failure::Run("some MCP servers could not be listed (above)".into()));
    }
    Ok(())
}

/// The tools `mcp serve` offers, as its flags and the config say.
async fn served_tools(context: &Context, args: &ServeArgs) -> Result<ToolSet, Failure> {
    let index =
        args.index.clone().or_else(|| context.config.index("default").map(|_| "default".into()));
    let settings = context.config.tool_settings(index.as_deref())?;
    let mut tools = ToolSet::new();
    if args.tools.is_empty() {
        for builtin in BUILTINS {
            // search_documents is on when there is an index; the others as [tools] enables them.
            if builtin.name == "search_documents" && index.is_none() {
                continue;
            }
            match builtin.make(&settings) {
                Ok(tool) => tools.add_shared(tool)?,
                Err(why) if builtin.name == "search_documents" => return Err(why.into()),
                Err(_) => {}
            }
        }
    } else {
        for name in &args.tools {
            tools.add_shared(anymodel::tools::registry::make(name, &settings)?)?;
        }
    }
    for name in &args.agents {
        let agent = context.config.build_agent(name).await?;
        let description = match context.config.agent(name).and_then(|a| a.system.clone()) {
            Some(system) => format!(
                "Ask the agent `{name}` a question; it answers in full. Its instructions: {system}"
            ),
            None => format!("Ask the agent `{name}` a question; it answers in full."),
        };
        tools.add(agent.into_tool(format!("ask_{name}"), description))?;
    }
    if tools.is_empty() {
        return Err(Failure::Usage(
            "no tools to serve: name an index (--index), tools (-T) or agents (--agent)".into(),
        ));
    }
    Ok(tools)
}

async fn serve(context: &Context, args: ServeArgs) -> Outcome {
    let tools = served_tools(context, &args).await?;
    let names = tools.names().join(", ");
    let server = ToolServer::new(tools, Some(Duration::from_secs(args.timeout_secs.max(1))))
        .instructions("anymodel's tools: search_documents searches the user's indexed documents and cites them; ask_NAME tools are agents that answer questions.");
    if !args.http {
        output::activity(
            context.quiet,
            format!("serving {names} over MCP on standard input and output"),
        );
        return anymodel::mcp::serve_stdio(server).await.map_err(|e| Failure::Run(e.to_string()));
    }
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, args.port));
    let listener = tokio::net::TcpListener::bind(address).await.map_err(|e| {
        Failure::Usage(format!("cannot listen on {address}: {e} (pick another --port)"))
    })?;
    let bound = listener.local_addr().unwrap_or(address);
    output::activity(context.quiet, format!("serving {names} over MCP at http://{bound}/mcp"));
    let options = HttpOptions { allowed_origins: args.allow_origins, ..HttpOptions::default() };
    anymodel::mcp::serve_http(server, listener, options)
        .await
        .map_err(|e| Failure::Run(e.to_string()))
}
