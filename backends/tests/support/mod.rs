//! Helpers shared by the backend tests: mock servers on loopback and event-stream bodies.
#![allow(dead_code)] // Each test crate uses its own part.
#![allow(clippy::unwrap_used)] // Tests fail loudly by design.

pub mod faults;

#[cfg(feature = "candle")]
#[path = "../../../candle/tests/support/llama3.rs"]
pub mod llama3;

use anymodel_core::{ChatResponse, EventStream, Result, StreamEvent, collect_stream};
use futures::StreamExt;
use serde_json::Value;
use wiremock::{MockServer, Request, ResponseTemplate};

/// The tool the backend tests declare: `weather(city)`.
pub fn weather() -> anymodel_core::ToolSpec {
    anymodel_core::ToolSpec {
        name: "weather".into(),
        description: "The weather in a city.".into(),
        parameters: serde_json::json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}),
    }
}

/// An API key that must never show up anywhere but in the request header.
pub const KEY: &str = "sk-test-0123456789-secret";

/// A `text/event-stream` response with this body.
pub fn sse_response(body: String) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .insert_header("content-type", "text/event-stream")
        .set_body_raw(body, "text/event-stream")
}

/// `data:` lines, one event each.
pub fn data_events(events: &[Value]) -> String {
    events.iter().map(|event| format!("data: {event}\n\n")).collect()
}

/// Named events: `event:` then `data:`.
pub fn named_events(events: &[Value]) -> String {
    events
        .iter()
        .map(|event| {
            format!("event: {}\ndata: {event}\n\n", event["type"].as_str().unwrap_or("message"))
        })
        .collect()
}

/// Every event of a stream, then the reply they aggregate to.
pub async fn drain(stream: EventStream) -> (Vec<StreamEvent>, Result<ChatResponse>) {
    let items: Vec<Result<StreamEvent>> = stream.collect().await;
    let events = items.iter().filter_map(|item| item.as_ref().ok().cloned()).collect();
    let replayed = Box::pin(futures::stream::iter(items));
    (events, collect_stream(replayed).await)
}

/// The JSON bodies the server received, in order.
pub async fn bodies(server: &MockServer) -> Vec<Value> {
    received(server).await.iter().map(|r| r.body_json().unwrap()).collect()
}

/// The requests the server received, in order.
pub async fn received(server: &MockServer) -> Vec<Request> {
    server.received_requests().await.unwrap_or_default()
}
