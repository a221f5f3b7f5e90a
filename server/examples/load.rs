//! The server under load: 200 concurrent streaming clients against a model that echoes each
//! prompt back in 20 pieces, through the server on loopback and, for the baseline, called
//! in-process. Every reply is checked to be complete and the client's own; the figures are the
//! requests per second and the latency the server adds.
//!
//! `cargo run --release -p anymodel-server --example load [CLIENTS] [REQUESTS_PER_CLIENT]`

#![allow(clippy::unwrap_used)] // A benchmark: any failure ends it, loudly.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anymodel_core::{
    Capabilities, ChatRequest, ChatResponse, EventStream, Message, Model, Result, StreamEvent,
    Usage, async_trait, collect_stream,
};
use anymodel_server::Server;
use serde_json::{Value, json};

/// Replies with the user's words, streamed in 20 pieces.
struct Echo;

#[async_trait]
impl Model for Echo {
    fn name(&self) -> &str {
        "echo"
    }

    fn capabilities(&self) -> Capabilities {
        let mut capabilities = Capabilities::default();
        capabilities.streaming = true;
        capabilities
    }

    async fn stream(&self, request: ChatRequest) -> Result<EventStream> {
        let prompt = match request.messages.last() {
            Some(Message::User { content }) => content.text(),
            _ => String::new(),
        };
        let pieces = 20;
        let step = prompt.len().div_ceil(pieces).max(1);
        let mut events: Vec<Result<StreamEvent>> = prompt
            .as_bytes()
            .chunks(step)
            .map(|piece| Ok(StreamEvent::TextDelta { text: String::from_utf8_lossy(piece).into() }))
            .collect();
        events.push(Ok(StreamEvent::Usage { usage: Usage::new(10, pieces as u64) }));
        events.extend(ChatResponse::text("").into_events().into_iter().skip(1).map(Ok));
        Ok(Box::pin(futures::stream::iter(events)))
    }
}

fn prompt(client: usize, request: usize) -> String {
    format!("client {client:03} request {request:03}: the quick brown fox jumps over the lazy dog")
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let at = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[at.min(sorted.len() - 1)]
}

/// Latencies of every request, and the wall time of all of them, `clients` at once.
async fn run<F, Fut>(clients: usize, requests: usize, one: F) -> (Vec<Duration>, Duration)
where
    F: Fn(usize, usize) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let start = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|client| {
            let one = one.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(requests);
                for request in 0..requests {
                    let began = Instant::now();
                    one(client, request).await;
                    latencies.push(began.elapsed());
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.expect("a client failed"));
    }
    latencies.sort();
    (latencies, start.elapsed())
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<usize>().expect("a number"));
    let clients = args.next().unwrap_or(200);
    let requests = args.next().unwrap_or(20);
    let model: Arc<dyn Model> = Arc::new(Echo);

    let direct = model.clone();
    let (baseline, baseline_wall) = run(clients, requests, move |client, request| {
        let model = direct.clone();
        async move {
            let expected = prompt(client, request);
            let stream = model.stream(ChatRequest::user(expected.clone())).await.unwrap();
            let reply = collect_stream(stream).await.unwrap();
            assert_eq!(reply.message.content, expected);
        }
    })
    .await;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/v1/chat/completions", listener.local_addr().unwrap());
    tokio::spawn(Server::new().model("echo", model).serve(listener));
    let http = reqwest::Client::builder().pool_max_idle_per_host(clients).build().unwrap();
    let (served, served_wall) = run(clients, requests, move |client, request| {
        let (http, base) = (http.clone(), base.clone());
        async move {
            let expected = prompt(client, request);
            let body = json!({"model": "echo", "stream": true, "messages": [{"role": "user", "content": expected}]});
            let text = http.post(&base).json(&body).send().await.unwrap().text().await.unwrap();
            let mut content = String::new();
            let mut done = false;
            for data in text.lines().filter_map(|line| line.strip_prefix("data: ")) {
                if data == "[DONE]" {
                    done = true;
                    continue;
                }
                let chunk: Value = serde_json::from_str(data).unwrap();
                content.push_str(chunk["choices"][0]["delta"]["content"].as_str().unwrap_or(""));
            }
            assert!(done, "a stream ended without [DONE]");
            assert_eq!(content, expected, "a reply was incomplete or another client's");
        }
    })
    .await;

    let total = clients * requests;
    let rate = |wall: Duration| total as f64 / wall.as_secs_f64();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{clients} concurrent streaming clients, {requests} requests each: {total} replies, all complete and their own"
    );
    println!("| | requests/s | p50 ms | p99 ms |");
    println!("| --- | ---: | ---: | ---: |");
    for (name, latencies, wall) in
        [("in-process", &baseline, baseline_wall), ("through the server", &served, served_wall)]
    {
        println!(
            "| {name} | {:.0} | {:.3} | {:.3} |",
            rate(wall),
            ms(percentile(latencies, 0.5)),
            ms(percentile(latencies, 0.99))
        );
    }
    println!(
        "| added by the server | | {:.3} | {:.3} |",
        ms(percentile(&served, 0.5)) - ms(percentile(&baseline, 0.5)),
        ms(percentile(&served, 0.99)) - ms(percentile(&baseline, 0.99))
    );
}
