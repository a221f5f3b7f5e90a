//! A local model behind the server: its requests take turns in a bounded queue, a full queue
//! turns the next one away with `retry-after`, and a client that leaves mid-stream stops its
//! generation at once, so the next request starts without waiting for it.

#![allow(clippy::unwrap_used)] // Tests fail loudly by design.

mod support;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anymodel_backends::candle::{LocalConfig, LocalModel};
use anymodel_server::{QueueLimits, Server};
use futures::StreamExt;
use serde_json::json;
use support::start;

fn smollm2() -> LocalModel {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/SmolLM2-135M-Instruct.Q4_1.gguf");
    assert!(path.exists(), "{} is missing: run scripts/fetch-model.sh", path.display());
    let mut config = LocalConfig::new(path);
    config.threads = Some(1);
    LocalModel::load(config).unwrap()
}

/// A streamed request for a long story; the response, once its first chunk has arrived.
async fn long_story(http: &reqwest::Client, base: &str) -> reqwest::Response {
    let body = json!({
        "model": "local", "stream": true, "max_tokens": 4000, "temperature": 0.9, "seed": 1,
        "messages": [{"role": "user", "content": "Write a very long story about a lighthouse keeper."}],
    });
    http.post(format!("{base}/v1/chat/completions")).json(&body).send().await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_local_model_takes_turns_and_stops_when_its_client_leaves() {
    let limits = QueueLimits { concurrency: 1, waiting: 1, max_wait: Duration::from_secs(60) };
    let base = start(Server::new().queued_model("local", Arc::new(smollm2()), limits)).await;
    let http = reqwest::Client::new();

    // The first streams; the second waits its turn; the third finds the queue full.
    let first = long_story(&http, &base).await;
    let mut first_body = first.bytes_stream();
    first_body.next().await.unwrap().unwrap();
    let waiting = tokio::spawn({
        let (http, base) = (http.clone(), base.clone());
        async move {
            let response = long_story(&http, &base).await;
            let mut body = response.bytes_stream();
            body.next().await.unwrap().unwrap();
            Instant::now()
        }
    });
    // The second is waiting once the queue's depth says so (however slow this machine is).
    let waiting_now = r#"anymodel_queue_depth{model="local"} 1"#;
    let polled = Instant::now();
    loop {
        let metrics =
            http.get(format!("{base}/metrics")).send().await.unwrap().text().await.unwrap();
        if metrics.contains(waiting_now) {
            break;
        }
        assert!(polled.elapsed() < Duration::from_secs(30), "{metrics}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let refused = long_story(&http, &base).await;
    assert_eq!(refused.status().as_u16(), 503);
    assert!(refused.headers().contains_key("retry-after"));
    let error: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(error["error"]["type"], "overloaded_error");

    // The first client leaves: its generation stops, and the waiting one starts at once.
    let left = Instant::now();
    drop(first_body);
    let started = tokio::time::timeout(Duration::from_secs(20), waiting).await.unwrap().unwrap();
    let idle_after = started.duration_since(left);
    println!("the model was serving the next request {idle_after:?} after the client left");
    // Unstopped, the first story would hold the model for tens of seconds.
    assert!(idle_after < Duration::from_secs(2), "{idle_after:?}");
}

/// `count_tokens` on a local model counts what a reply to the same request reads.
#[tokio::test(flavor = "multi_thread")]
async fn count_tokens_counts_what_the_model_reads() {
    let base =
        start(Server::new().queued_model("local", Arc::new(smollm2()), QueueLimits::default()))
            .await;
    let http = reqwest::Client::new();
    let messages = json!([{"role": "user", "content": "Name three colours."}]);
    let counted: serde_json::Value = http
        .post(format!("{base}/v1/messages/count_tokens"))
        .json(&json!({"model": "local", "system": "Be brief.", "messages": messages}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let reply: serde_json::Value = http
        .post(format!("{base}/v1/messages"))
        .json(&json!({"model": "local", "system": "Be brief.", "messages": messages, "max_tokens": 5}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let read = reply["usage"]["input_tokens"].as_u64().unwrap()
        + reply["usage"]["cache_read_input_tokens"].as_u64().unwrap();
    assert_eq!(counted["input_tokens"].as_u64(), Some(read), "{counted} {reply}");
}

/// A request past the server's time limit is stopped: its stream ends with an error saying so,
/// and the model is free for the next one.
#[tokio::test(flavor = "multi_thread")]
async fn a_request_past_the_time_limit_is_stopped() {
    let server = Server::new()
        .queued_model("local", Arc::new(smollm2()), QueueLimits::default())
        .request_timeout(Duration::from_millis(500));
    let base = start(server).await;
    let http = reqwest::Client::new();
    let started = Instant::now();
    let text = long_story(&http, &base).await.text().await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    assert!(text.contains("longer than the server's limit"), "{text}");
    assert!(text.trim_end().ends_with("data: [DONE]"), "{text}");
}
