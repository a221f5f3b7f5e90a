//! One live connection to an MCP server: the child process of a stdio server (in a process
//! group of its own, its standard error kept and logged) or an HTTP session, and the MCP session
//! over it, negotiated for the 2026-07-28 revision or, with older servers, the 2025 ones.

use std::collections::VecDeque;
use std::process::Stdio;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use rmcp::model::{
    ClientCapabilities, ClientConfig, Implementation, ProtocolVersion, SubscriptionFilter,
};
use rmcp::service::{
    ClientLifecycleMode, ClientServiceExt, NotificationContext, Peer, RunningService,
};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::{ClientHandler, RoleClient};
use tokio::process::{Child, Command};
use tokio_util::codec::{FramedRead, LinesCodec};

use crate::config::{ServerConfig, TransportKind};
use crate::error::McpError;

/// The lines of a stdio server's standard error kept for errors (all go to the log).
const STDERR_LINES: usize = 20;
/// The longest standard-error line kept whole.
const STDERR_LINE_BYTES: usize = 4096;
/// How long a stopped server is given to exit after SIGTERM before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(2);

/// What the client tells servers it is, and what it hears from them.
#[derive(Clone)]
pub(crate) struct Events {
    server: String,
    /// Bumped at each `notifications/tools/list_changed`.
    pub(crate) tools_changed: Arc<AtomicU64>,
}

impl Events {
    pub(crate) fn new(server: &str) -> Self {
        Events { server: server.to_string(), tools_changed: Arc::default() }
    }
}

impl ClientHandler for Events {
    async fn on_tool_list_changed(&self, _context: NotificationContext<RoleClient>) {
        tracing::info!(server = %self.server, "the MCP server's tools changed");
        self.tools_changed.fetch_add(1, Ordering::SeqCst);
    }

    fn get_info(&self) -> ClientConfig {
        ClientConfig::new(
            ClientCapabilities::default(),
            Implementation::new("anymodel", env!("CARGO_PKG_VERSION")),
        )
    }
}

/// The end of a stdio server's standard error, its secrets scrubbed.
#[derive(Default)]
struct StderrTail(Mutex<VecDeque<String>>);

impl StderrTail {
    fn push(&self, line: String) {
        if let Ok(mut lines) = self.0.lock() {
            if lines.len() == STDERR_LINES {
                lines.pop_front();
            }
            lines.push_back(line);
        }
    }

    fn text(&self) -> String {
        self.0.lock().map(|lines| Vec::from(lines.clone()).join("\n")).unwrap_or_default()
    }
}

/// A stdio server's process: the leader of its own process group, so that stopping it stops
/// whatever it started too (`npx` runs the server as a grandchild).
struct Process {
    child: Child,
    group: Pid,
    stderr: Arc<StderrTail>,
    /// Whether [`Process::stop`] has stopped and reaped it: its group id may be anyone's now.
    stopped: bool,
}

impl Process {
    fn signal(&self, signal: Signal) {
        // The group may be gone already; nothing is left to stop then.
        let _ = killpg(self.group, signal);
    }

    /// How it ended, if it has: its exit status and the end of its standard error.
    fn ended(&mut self) -> Option<String> {
        let status = self.child.try_wait().ok().flatten()?;
        Some(self.describe(&status.to_string()))
    }

    fn describe(&self, status: &str) -> String {
        let stderr = self.stderr.text();
        if stderr.is_empty() {
            status.to_string()
        } else {
            format!("{status}; its standard error ended with:\n{stderr}")
        }
    }

    /// SIGTERM to the group, then SIGKILL after [`STOP_GRACE`]; the child is reaped.
    async fn stop(&mut self) {
        self.signal(Signal::SIGTERM);
        if tokio::time::timeout(STOP_GRACE, self.child.wait()).await.is_err() {
            self.signal(Signal::SIGKILL);
            let _ = self.child.wait().await;
        }
        // Whatever of the group outlived its leader.
        self.signal(Signal::SIGKILL);
        self.stopped = true;
    }
}

impl Drop for Process {
    /// A connection dropped without [`Connection::stop`] (a panic, a runtime shutting down)
    /// still stops the group, at once since nothing can wait here; tokio reaps the child
    /// (`kill_on_drop`).
    fn drop(&mut self) {
        if !self.stopped {
            self.signal(Signal::SIGKILL);
        }
    }
}

/// A live MCP session with one server.
pub(crate) struct Connection {
    service: RunningService<RoleClient, Events>,
    process: Option<tokio::sync::Mutex<Process>>,
    /// The subscription to tool list changes on a 2026-07-28 session.
    listening: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for Connection {
    fn drop(&mut self) {
        if let Some(task) = self.listening.take() {
            task.abort();
        }
    }
}

/// On a 2026-07-28 session, notifications come only to subscriptions: subscribes to tool list
/// changes when the server offers them (older sessions send them to [`Events`] unasked).
async fn listen_for_tool_changes(
    service: &RunningService<RoleClient, Events>,
    events: &Events,
) -> Option<tokio::task::JoinHandle<()>> {
    let info = service.peer().peer_info()?;
    let offered = info.capabilities.tools.as_ref().and_then(|t| t.list_changed) == Some(true);
    if info.protocol_version.has_initialize() || !offered {
        return None;
    }
    let filter = SubscriptionFilter::builder().tools_list_changed().build();
    let mut subscription = match service.peer().listen(filter).await {
        Ok(subscription) => subscription,
        Err(error) => {
            // Servers that do not take subscriptions send the notification unasked.
            tracing::debug!(server = %events.server, "no subscription to tool list changes: {error}");
            return None;
        }
    };
    let events = events.clone();
    Some(tokio::spawn(async move {
        while let Ok(Some(_)) = subscription.next().await {
            tracing::info!(server = %events.server, "the MCP server's tools changed");
            events.tools_changed.fetch_add(1, Ordering::SeqCst);
        }
    }))
}

impl Connection {
    /// Starts (stdio) or reaches (HTTP) the server `name` and greets it, within its startup
    /// time limit.
    pub(crate) async fn open(
        name: &str,
        config: &ServerConfig,
        events: Events,
    ) -> Result<Connection, McpError> {
        let start_error = |message: String| McpError::Start { server: name.to_string(), message };
        // Discovery first (2026-07-28), offering the 2025 revisions too for servers on a new
        // SDK held to an old revision; a server that does not know discovery is greeted with
        // the 2025 `initialize` handshake.
        let lifecycle = ClientLifecycleMode::Auto {
            preferred_versions: vec![
                ProtocolVersion::V_2026_07_28,
                ProtocolVersion::V_2025_11_25,
                ProtocolVersion::V_2025_06_18,
                ProtocolVersion::V_2025_03_26,
            ],
            legacy_version: Some(ProtocolVersion::V_2025_11_25),
        };
        match config.check(name)? {
            TransportKind::Stdio => {
                let mut process = spawn(name, config).map_err(start_error)?;
                let stdout = process.child.stdout.take();
                let stdin = process.child.stdin.take();
                let (Some(stdout), Some(stdin)) = (stdout, stdin) else {
                    return Err(start_error("its standard input and output were not piped".into()));
                };
                let greeting = events.clone().serve_with_lifecycle((stdout, stdin), lifecycle);
                let service = match tokio::time::timeout(config.startup_timeout(), greeting).await {
                    Ok(Ok(service)) => service,
                    outcome => {
                        let why = match outcome {
                            Ok(Err(error)) => error.to_string(),
                            _ => format!(
                                "it did not answer the greeting within {} s",
                                config.startup_timeout().as_secs_f64()
                            ),
                        };
                        // A moment for its last words to reach the tail.
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        let ended = process.ended();
                        process.stop().await;
                        let detail = ended.unwrap_or_else(|| process.describe("it was stopped"));
                        return Err(start_error(format!("{why} ({detail})")));
                    }
                };
                let listening = listen_for_tool_changes(&service, &events).await;
                Ok(Connection {
                    service,
                    process: Some(tokio::sync::Mutex::new(process)),
                    listening,
                })
            }
            TransportKind::Http => {
                let transport = http_transport(name, config)?;
                let greeting = events.clone().serve_with_lifecycle(transport, lifecycle);
                let service = tokio::time::timeout(config.startup_timeout(), greeting)
                    .await
                    .map_err(|_| {
                        start_error(format!(
                            "it did not answer within {} s",
                            config.startup_timeout().as_secs_f64()
                        ))
                    })?
                    .map_err(|error| start_error(error.to_string()))?;
                let listening = listen_for_tool_changes(&service, &events).await;
                Ok(Connection { service, process: None, listening })
            }
        }
    }

    pub(crate) fn peer(&self) -> &Peer<RoleClient> {
        self.service.peer()
    }

    /// Whether the session has ended (the process exited, the connection closed).
    pub(crate) fn is_closed(&self) -> bool {
        self.service.is_transport_closed() || self.service.is_closed()
    }

    /// How the server ended: its exit status and the end of its standard error.
    pub(crate) async fn ending(&self) -> String {
        let Some(process) = &self.process else {
            return "the connection closed".to_string();
        };
        let mut process = process.lock().await;
        // The exit status follows the closed pipe by a moment.
        for _ in 0..20 {
            if let Some(ended) = process.ended() {
                return ended;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        process.describe("it closed its output")
    }

    /// Ends the session and stops the process group.
    pub(crate) async fn stop(&self) {
        if let Some(process) = &self.process {
            process.lock().await.stop().await;
        }
    }
}

fn spawn(name: &str, config: &ServerConfig) -> Result<Process, String> {
    let program = config.command.as_deref().unwrap_or_default();
    let mut command = Command::new(program);
    command
        .args(&config.args)
        .envs(&config.env)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .process_group(0);
    if let Some(cwd) = &config.cwd {
        command.current_dir(cwd);
    }
    let mut child = command.spawn().map_err(|error| match error.kind() {
        std::io::ErrorKind::NotFound => {
            format!("`{program}` was not found: install it or give its full path as `command`")
        }
        _ => format!("`{program}`: {error}"),
    })?;
    let group = child
        .id()
        .and_then(|id| i32::try_from(id).ok())
        .map(Pid::from_raw)
        .ok_or_else(|| format!("`{program}` exited at once"))?;
    let stderr = Arc::new(StderrTail::default());
    if let Some(pipe) = child.stderr.take() {
        let tail = stderr.clone();
        let server = name.to_string();
        let redactor = config.redactor();
        tokio::spawn(async move {
            let mut lines =
                FramedRead::new(pipe, LinesCodec::new_with_max_length(STDERR_LINE_BYTES));
            while let Some(line) = lines.next().await {
                match line {
                    Ok(line) => {
                        let line = redactor.scrub(line);
                        tracing::info!(server = %server, "MCP server stderr: {line}");
                        tail.push(line);
                    }
                    Err(tokio_util::codec::LinesCodecError::MaxLineLengthExceeded) => {
                        tail.push(format!("[a line over {STDERR_LINE_BYTES} bytes]"));
                    }
                    Err(_) => break,
                }
            }
        });
    }
    Ok(Process { child, group, stderr, stopped: false })
}

fn http_transport(
    name: &str,
    config: &ServerConfig,
) -> Result<StreamableHttpClientTransport<reqwest::Client>, McpError> {
    let wrong = |message: String| McpError::Config { server: name.to_string(), message };
    let mut transport =
        StreamableHttpClientTransportConfig::with_uri(config.url.clone().unwrap_or_default());
    for (key, value) in &config.headers {
        let key = reqwest::header::HeaderName::from_str(key)
            .map_err(|_| wrong(format!("`{key}` is not an HTTP header name")))?;
        let value = reqwest::header::HeaderValue::from_str(value).map_err(|_| {
            wrong(format!("the value of header `{key}` is not a valid header value"))
        })?;
        transport.custom_headers.insert(key, value);
    }
    if let Some(variable) = &config.bearer_env {
        let key = std::env::var(variable).ok().filter(|k| !k.is_empty()).ok_or_else(|| {
            wrong(format!("set the environment variable {variable} to its key (`bearer_env`)"))
        })?;
        transport = transport.auth_header(key);
    }
    let client = reqwest::Client::builder()
        .connect_timeout(config.startup_timeout())
        .build()
        .map_err(|error| wrong(format!("HTTP client: {error}")))?;
    Ok(StreamableHttpClientTransport::with_client(client, transport))
}
