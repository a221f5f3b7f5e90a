//! `ToolServer`: anymodel's tools served over streamable HTTP, driven by anymodel's MCP client.

#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::Arc;

use anymodel_core::{Tool, ToolError, ToolSet, async_trait};
use anymodel_mcp::{HttpOptions, McpClient, Outcome, ServerConfig, ToolServer, serve_http};
use serde_json::{Value, json};

/// A tool named `n{i}` that says its number, or fails when `fail` is true.
struct Numbered(usize, String);

impl Numbered {
    fn new(number: usize) -> Self {
        Numbered(number, format!("n{number}"))
    }
}

#[async_trait]
impl Tool for Numbered {
    fn name(&self) -> &str {
        &self.1
    }
    fn description(&self) -> &str {
        "Says its number."
    }
    fn parameters(&self) -> Value {
        json!({"type": "object", "properties": {"fail": {"type": "boolean"}}, "required": ["fail"]})
    }
    async fn call(&self, arguments: Value) -> Result<Value, ToolError> {
        if arguments["fail"] == json!(true) {
            return Err(ToolError::failed("asked to fail"));
        }
        Ok(json!({"number": self.0}))
    }
}

async fn served(tools: usize) -> (String, HttpOptions) {
    let mut set = ToolSet::new();
    for i in 0..tools {
        set.add(Numbered::new(i)).unwrap();
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    let options = HttpOptions::default();
    let server = ToolServer::new(set, None);
    let running = options.clone();
    tokio::spawn(async move { serve_http(server, listener, running).await });
    (url, options)
}

#[tokio::test]
async fn tools_are_listed_in_pages_and_called_with_failures_as_is_error() {
    let (url, options) = served(120).await;
    let client = Arc::new(McpClient::new("anymodel", ServerConfig::http(url)).unwrap());
    let listed = client.list_tools().await.unwrap();
    assert_eq!(listed.len(), 120, "three pages of 50");
    assert_eq!(listed[119].name, "n119");
    assert_eq!(listed[0].input_schema["required"], json!(["fail"]));
    assert_eq!(
        client.call("n7", json!({"fail": false})).await.unwrap(),
        Outcome::Output(json!({"number": 7})),
        "structured content"
    );
    let Outcome::ToolError(message) = client.call("n7", json!({"fail": true})).await.unwrap()
    else {
        panic!()
    };
    assert!(message.contains("asked to fail"), "{message}");
    let Outcome::ToolError(message) = client.call("n7", json!({"fail": "no"})).await.unwrap()
    else {
        panic!()
    };
    assert!(
        message.contains("invalid arguments"),
        "arguments checked against the schema: {message}"
    );
    let unknown = client.call("nope", json!({})).await.unwrap_err().to_string();
    assert!(unknown.contains("there is no tool named `nope`"), "{unknown}");
    options.stop.cancel();
}

#[tokio::test]
async fn requests_from_other_origins_are_refused_and_only_loopback_is_served() {
    let (url, options) = served(1).await;
    let hello = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}});
    let post = |origin: &str| {
        reqwest::Client::new()
            .post(&url)
            .header("accept", "application/json, text/event-stream")
            .header("origin", origin)
            .json(&hello)
            .send()
    };
    assert_eq!(post("http://evil.example").await.unwrap().status(), 403, "DNS rebinding refused");
    let local = post("http://localhost:6274").await.unwrap().status();
    assert!(local.is_success(), "a local page is served: {local}");
    options.stop.cancel();

    let everywhere = tokio::net::TcpListener::bind("0.0.0.0:0").await.unwrap();
    let error =
        serve_http(ToolServer::new(ToolSet::new(), None), everywhere, HttpOptions::default())
            .await
            .unwrap_err();
    assert!(error.to_string().contains("not a loopback address"), "{error}");
}
