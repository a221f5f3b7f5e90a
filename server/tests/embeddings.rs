//! `POST /v1/embeddings`: a served embedder's vectors in OpenAI's shape, as floats and as
//! base64, and the request's mistakes as 400s and 404s in OpenAI's error shape.

#![allow(clippy::unwrap_used)] // Tests fail loudly by design.

mod support;

use std::sync::Arc;

use anymodel_core::{Embedder, InputKind, Result, async_trait};
use anymodel_server::Server;
use base64::Engine;
use serde_json::{Value, json};
use support::start;

/// Vectors of three numbers: the text's length, then 1 and -0.5.
struct Lengths;

#[async_trait]
impl Embedder for Lengths {
    fn name(&self) -> &str {
        "lengths"
    }

    fn dimensions(&self) -> usize {
        3
    }

    async fn embed(&self, texts: &[String], _kind: InputKind) -> Result<Vec<Vec<f32>>> {
        Ok(texts.iter().map(|t| vec![t.len() as f32, 1.0, -0.5]).collect())
    }
}

#[tokio::test]
async fn embeddings_come_as_floats_or_base64_and_mistakes_as_400_or_404() {
    let base = start(Server::new().embedder("small", Arc::new(Lengths))).await;
    let http = reqwest::Client::new();
    let post = |body: Value| {
        let (http, base) = (http.clone(), base.clone());
        async move {
            let response =
                http.post(format!("{base}/v1/embeddings")).json(&body).send().await.unwrap();
            (response.status().as_u16(), response.json::<Value>().await.unwrap())
        }
    };
    let (status, body) = post(json!({"model": "small", "input": ["ab", "abcd"]})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["object"], "list");
    assert_eq!(
        body["data"][1],
        json!({"object": "embedding", "index": 1, "embedding": [4.0, 1.0, -0.5]})
    );
    let (_, body) =
        post(json!({"model": "small", "input": "abc", "encoding_format": "base64"})).await;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(body["data"][0]["embedding"].as_str().unwrap())
        .unwrap();
    let floats: Vec<f32> =
        bytes.chunks(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect();
    assert_eq!(floats, [3.0, 1.0, -0.5]);
    let (status, body) = post(json!({"model": "nope", "input": "x"})).await;
    assert_eq!(status, 404);
    assert!(body["error"]["message"].as_str().unwrap().contains("small"), "{body}");
    for (wrong, param) in [
        (json!({"model": "small", "input": []}), "input"),
        (json!({"model": "small", "input": "x", "encoding_format": "int8"}), "encoding_format"),
        (json!({"model": "small", "input": "x", "dimensions": 8}), "dimensions"),
        (json!({"model": "small", "input": [1, 2]}), "input"),
    ] {
        let (status, body) = post(wrong).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["error"]["param"], param, "{body}");
    }
    let models: Value =
        http.get(format!("{base}/v1/models")).send().await.unwrap().json().await.unwrap();
    assert_eq!(models["data"][0]["id"], "small");
}
