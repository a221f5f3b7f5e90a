//! The MCP client against the fixture server (`fixture/server.rs`, on rmcp's server side), over
//! stdio (the `anymodel-mcp-fixture` binary) and streamable HTTP (served in-process).

#![allow(clippy::unwrap_used, missing_docs)]

#[path = "fixture/server.rs"]
mod fixture;

use std::sync::Arc;
use std::time::Duration;

use anymodel_core::{
    Agent, AgentHook, ChatResponse, Part, ScriptedModel, ToolCall, ToolDecision, output_content,
};
use anymodel_mcp::{McpClient, McpError, McpServers, Outcome, ServerConfig};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use serde_json::json;

fn stdio(env: &[(&str, &str)]) -> ServerConfig {
    let mut config = ServerConfig::stdio(env!("CARGO_BIN_EXE_anymodel-mcp-fixture"), [""; 0]);
    config.env = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    config.deny = vec!["secret".into()];
    config
}

fn client(config: ServerConfig) -> Arc<McpClient> {
    Arc::new(McpClient::new("fixture", config).unwrap())
}

/// The fixture served over streamable HTTP on a loopback port; its address.
async fn http_fixture() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    // One fixture for every request: a 2026-07-28 session has no per-session state.
    let shared = fixture::Fixture::new(false, false);
    let service = StreamableHttpService::new(
        move || Ok(shared.clone()),
        Arc::new(LocalSessionManager::default()),
        StreamableHttpServerConfig::default(),
    );
    let router = axum::Router::new().nest_service("/mcp", service);
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{address}/mcp")
}

async fn text_of(client: &McpClient, tool: &str, arguments: serde_json::Value) -> String {
    match client.call(tool, arguments).await.unwrap() {
        Outcome::Output(output) => anymodel_core::output_text(&output),
        other => panic!("{other:?}"),
    }
}

/// Listing (over several pages), allow/deny, plain, typed, failing, large and image results.
async fn lists_and_calls(client: Arc<McpClient>) {
    let listed = client.list_tools().await.unwrap();
    let names: Vec<&str> = listed.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        ["echo", "add", "fail", "slow", "crash", "big", "picture", "grow", "secret", "weather"],
        "all five pages of two"
    );
    assert!(!listed.iter().find(|t| t.name == "secret").unwrap().permitted);
    let tools = client.tools(None).await.unwrap();
    assert_eq!(tools.len(), 9, "`secret` is denied");
    assert!(
        client
            .tools(Some("secret"))
            .await
            .unwrap_err()
            .to_string()
            .contains("left out by `allow` or `deny`")
    );
    assert!(
        client
            .tools(Some("nope"))
            .await
            .unwrap_err()
            .to_string()
            .contains("its tools are echo, add")
    );
    assert!(client.call("secret", json!({})).await.is_err(), "a denied tool is not called");

    assert_eq!(text_of(&client, "echo", json!({"text": "hi"})).await, "hi");
    assert_eq!(
        client.call("add", json!({"a": 2, "b": 3})).await.unwrap(),
        Outcome::Output(json!({"sum": 5}))
    );
    assert_eq!(
        client.call("fail", json!({})).await.unwrap(),
        Outcome::ToolError("the fixture failed on purpose: try `echo` instead".into())
    );
    let big = text_of(&client, "big", json!({"bytes": 2_000_000})).await;
    assert!(big.len() < 300_000, "cut to max_result_bytes");
    assert!(
        big.ends_with("[the result was cut here: 1737856 more bytes were left out]"),
        "{}",
        &big[big.len() - 80..]
    );
    let Outcome::Output(picture) = client.call("picture", json!({})).await.unwrap() else {
        panic!()
    };
    let parts = output_content(&picture).parts().to_vec();
    assert_eq!(parts[0], Part::text("a one-pixel PNG"));
    assert!(
        matches!(&parts[1], Part::Image(media) if media.media_type.as_deref() == Some("image/png"))
    );
}

#[tokio::test]
async fn stdio_lists_and_calls() {
    lists_and_calls(client(stdio(&[]))).await;
}

#[tokio::test]
async fn http_lists_and_calls() {
    let url = http_fixture().await;
    let mut config = ServerConfig::http(url);
    config.deny = vec!["secret".into()];
    lists_and_calls(client(config)).await;
}

#[tokio::test]
async fn the_2026_revision_is_negotiated_and_2025_servers_are_greeted_the_old_way() {
    let modern = client(stdio(&[])).server_info().await.unwrap();
    assert_eq!(modern.protocol_version, "2026-07-28");
    let legacy = client(stdio(&[("FIXTURE_LEGACY", "1")]));
    assert_eq!(legacy.server_info().await.unwrap().protocol_version, "2025-06-18");
    assert_eq!(text_of(&legacy, "echo", json!({"text": "old"})).await, "old");
    let http = client(ServerConfig::http(http_fixture().await)).server_info().await.unwrap();
    assert_eq!(http.protocol_version, "2026-07-28");
}

async fn times_out(client: Arc<McpClient>) {
    let error = client.call("slow", json!({"secs": 30})).await.unwrap_err();
    assert!(matches!(error, McpError::Timeout { ref tool, .. } if tool == "slow"), "{error}");
    assert!(error.to_string().contains("did not finish within 0.5 s"), "{error}");
    // The session outlives a cancelled call.
    assert_eq!(text_of(&client, "echo", json!({"text": "still here"})).await, "still here");
}

#[tokio::test]
async fn a_call_past_its_time_limit_is_cancelled() {
    let mut config = stdio(&[]);
    config.timeout_secs = Some(0.5);
    times_out(client(config)).await;
    let mut config = ServerConfig::http(http_fixture().await);
    config.timeout_secs = Some(0.5);
    times_out(client(config)).await;
}

#[tokio::test]
async fn a_crashed_server_is_restarted_once_with_its_stderr_in_the_error() {
    let client = client(stdio(&[("FIXTURE_SECRET", "sk-fixture-0123")]));
    let error = client.call("crash", json!({})).await.unwrap_err().to_string();
    assert!(error.contains("FIXTURE_SECRET=<redacted>"), "keys scrubbed: {error}");
    assert!(error.contains("stopped while running `crash`"), "{error}");
    assert!(error.contains("exit status: 3") && error.contains("crashing on purpose"), "{error}");
    assert!(error.contains("started again"), "{error}");
    assert_eq!(text_of(&client, "echo", json!({"text": "back"})).await, "back");
    let again = client.call("crash", json!({})).await.unwrap_err().to_string();
    assert!(again.contains("not started again"), "{again}");
    let after = client.call("echo", json!({"text": "x"})).await.unwrap_err();
    assert!(matches!(after, McpError::Died { .. }), "{after}");
}

#[tokio::test]
async fn lines_that_are_not_json_rpc_on_stdout_are_skipped() {
    let client = client(stdio(&[("FIXTURE_JUNK", "1")]));
    assert_eq!(client.list_tools().await.unwrap().len(), 10);
    for _ in 0..3 {
        assert_eq!(text_of(&client, "echo", json!({"text": "clean"})).await, "clean");
    }
}

async fn follows_list_changes(client: Arc<McpClient>) {
    assert!(client.list_tools().await.unwrap().iter().all(|t| t.name != "extra"));
    assert_eq!(text_of(&client, "grow", json!({})).await, "grown");
    let mut names = Vec::new();
    for _ in 0..40 {
        names = client.list_tools().await.unwrap().into_iter().map(|t| t.name).collect();
        if names.iter().any(|n| n == "extra") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(names.iter().any(|n| n == "extra"), "{names:?}");
    assert!(client.tools_changed() >= 1, "the notification was heard");
}

#[tokio::test]
async fn tools_list_changed_is_honoured() {
    let stdio_client = client(stdio(&[]));
    follows_list_changes(stdio_client).await;
    follows_list_changes(client(ServerConfig::http(http_fixture().await))).await;
}

fn alive(pid: i32) -> bool {
    // Gone, or a zombie nobody reaped, both count as not running; a zombie is checked apart.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat.split(") ").nth(1).unwrap_or("").starts_with('Z'),
        Err(_) => false,
    }
}

#[tokio::test]
async fn stopping_the_servers_stops_and_reaps_the_process() {
    let folder = tempfile_folder();
    let pid_file = folder.join("pid");
    let servers = McpServers::new([(
        "fixture".to_string(),
        stdio(&[("FIXTURE_PID_FILE", pid_file.to_str().unwrap())]),
    )])
    .unwrap();
    assert_eq!(servers.tools("mcp:fixture/echo").await.unwrap().len(), 1);
    let pid: i32 = std::fs::read_to_string(&pid_file).unwrap().parse().unwrap();
    assert!(alive(pid));
    servers.stop().await;
    assert!(!alive(pid), "stopped");
    assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists(), "and reaped: no zombie");
}

fn tempfile_folder() -> std::path::PathBuf {
    let folder = std::env::temp_dir().join(format!("anymodel-mcp-test-{}", ToolCall::minted_id()));
    std::fs::create_dir_all(&folder).unwrap();
    folder
}

#[tokio::test]
async fn an_unknown_server_or_a_failed_start_is_a_clear_error() {
    let servers = McpServers::new([("fixture".to_string(), stdio(&[]))]).unwrap();
    let unknown = servers.tools("mcp:nope").await.err().unwrap().to_string();
    assert!(
        unknown.contains("add [mcp.nope]") && unknown.contains("configured: fixture"),
        "{unknown}"
    );
    let missing = client(ServerConfig::stdio("/no/such/program", [""; 0]));
    let error = missing.list_tools().await.unwrap_err().to_string();
    assert!(error.contains("`/no/such/program` was not found"), "{error}");
    let refused = client(ServerConfig::http("http://127.0.0.1:9/mcp"));
    assert!(matches!(refused.list_tools().await.unwrap_err(), McpError::Start { .. }));
}

/// Denies one tool by name, as an approval hook would.
struct Veto;

#[async_trait::async_trait]
impl AgentHook for Veto {
    async fn before_tool_call(&self, call: &ToolCall) -> ToolDecision {
        if call.name == "add" {
            ToolDecision::Deny { reason: "no sums today".into() }
        } else {
            ToolDecision::Allow
        }
    }
}

#[tokio::test]
async fn an_agent_reads_is_error_as_a_tool_error_and_hooks_veto_mcp_tools() {
    let servers = McpServers::new([("fixture".to_string(), stdio(&[]))]).unwrap();
    let call = |name: &str, arguments| {
        ChatResponse::tool_calls(vec![ToolCall::new(ToolCall::minted_id(), name, arguments)])
    };
    let model = ScriptedModel::new([
        call("fail", json!({})),
        call("add", json!({"a": 1, "b": 2})),
        call("echo", json!({"text": "recovered"})),
        ChatResponse::text("done"),
    ]);
    let mut builder = Agent::builder(model).hook(Veto);
    for tool in servers.tools("fixture").await.unwrap() {
        builder = builder.shared_tool(tool);
    }
    let run = builder.build().unwrap().run("go").await.unwrap();
    let results: Vec<_> =
        run.steps.iter().flat_map(|s| &s.tool_calls).map(|c| c.to_message()).collect();
    assert!(
        results[0].is_error && results[0].content.text().contains("failed on purpose"),
        "{results:?}"
    );
    assert!(
        results[1].is_error && results[1].content.text().contains("no sums today"),
        "{results:?}"
    );
    assert!(!results[2].is_error && results[2].content.text() == "recovered", "{results:?}");
    assert_eq!(run.answer, "done");
}
