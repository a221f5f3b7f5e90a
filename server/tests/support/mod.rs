//! What the server tests share: a server on a free loopback port, and the tool their agents call.
#![allow(dead_code)] // Each test crate uses its own part.
#![allow(clippy::unwrap_used)] // Tests fail loudly by design.

use anymodel_core::{Agent, AgentEvent, AgentRun, Tool, ToolError, async_trait};
use anymodel_server::Server;
use futures::StreamExt;
use serde_json::{Value, json};

/// Serves `server` on a free loopback port; its address.
pub async fn start(server: Server) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(server.serve(listener));
    format!("http://{address}")
}

/// `weather(city)`: "18C in CITY".
pub struct Weather;

#[async_trait]
impl Tool for Weather {
    fn name(&self) -> &str {
        "weather"
    }

    fn description(&self) -> &str {
        "The weather in a city."
    }

    fn parameters(&self) -> Value {
        json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]})
    }

    async fn call(&self, arguments: Value) -> Result<Value, ToolError> {
        Ok(json!(format!("18C in {}", arguments["city"].as_str().unwrap_or("?"))))
    }
}

/// `agent`'s run on `prompt`, streamed (its last event) or whole.
pub async fn run(agent: &Agent, prompt: &str, streamed: bool) -> AgentRun {
    if !streamed {
        return agent.run(prompt).await.unwrap();
    }
    let events: Vec<_> = agent.run_stream(prompt).collect().await;
    match events.into_iter().last().unwrap().unwrap() {
        AgentEvent::Finished { run } => run,
        other => panic!("{other:?}"),
    }
}
