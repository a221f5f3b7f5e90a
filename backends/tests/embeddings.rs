//! The remote embedding APIs against mock servers: each provider's body as its API reference
//! gives it (model, texts, query or document), its reply read in order, requests split at the
//! provider's batch limit, failures classed, keys never in errors.

#![allow(clippy::unwrap_used)] // Tests fail loudly by design.

use anymodel_backends::cohere::CohereConfig;
use anymodel_backends::gemini::GeminiConfig;
use anymodel_backends::openai::OpenAiConfig;
use anymodel_backends::{RemoteConfig, RemoteEmbedder, Secret};
use anymodel_core::{Embedder, Error, InputKind};
use serde_json::{Value, json};
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const KEY: &str = "sk-embed-secret-0001";

fn texts(count: usize) -> Vec<String> {
    (0..count).map(|i| format!("text {i}")).collect()
}

#[tokio::test]
async fn openai_embeddings_are_read_in_index_order() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/embeddings"))
        .and(header("authorization", format!("Bearer {KEY}").as_str()))
        .and(body_json(json!({"model": "text-embedding-3-small", "input": ["a", "b"], "encoding_format": "float"})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "object": "list", "model": "text-embedding-3-small",
            "data": [
                {"object": "embedding", "index": 1, "embedding": [0.0, 1.0]},
                {"object": "embedding", "index": 0, "embedding": [1.0, 0.0]}
            ],
            "usage": {"prompt_tokens": 2, "total_tokens": 2}
        })))
        .expect(1)
        .mount(&server)
        .await;
    let config = OpenAiConfig::new("text-embedding-3-small")
        .base_url(server.uri())
        .api_key(Secret::new(KEY));
    let embedder = RemoteEmbedder::new(config, 2).unwrap();
    assert_eq!(embedder.name(), "openai:text-embedding-3-small");
    assert!(!embedder.capabilities().input_kinds, "OpenAI embeds queries and documents alike");
    let vectors = embedder.embed(&["a".into(), "b".into()], InputKind::Query).await.unwrap();
    assert_eq!(vectors, [vec![1.0, 0.0], vec![0.0, 1.0]]);
}

#[tokio::test]
async fn cohere_says_query_or_document_and_batches_by_96() {
    let server = MockServer::start().await;
    for (count, input_type) in
        [(96, "search_document"), (4, "search_document"), (1, "search_query")]
    {
        let body = json!({"model": "embed-v4.0", "texts": if input_type == "search_query" { texts(1) } else if count == 96 { texts(96) } else { texts(100)[96..].to_vec() }, "input_type": input_type, "embedding_types": ["float"]});
        let vectors: Vec<Value> = (0..count).map(|_| json!([0.5, 0.5, 0.5])).collect();
        Mock::given(method("POST"))
            .and(path("/embed"))
            .and(body_json(body))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "id": "x", "embeddings": {"float": vectors}, "texts": [], "meta": {}
            })))
            .expect(1)
            .mount(&server)
            .await;
    }
    let config = CohereConfig::new("embed-v4.0").base_url(server.uri()).api_key(Secret::new(KEY));
    let embedder = RemoteEmbedder::new(config, 3).unwrap();
    let capabilities = embedder.capabilities();
    assert_eq!((capabilities.input_kinds, capabilities.max_batch), (true, Some(96)));
    assert_eq!(embedder.embed(&texts(100), InputKind::Document).await.unwrap().len(), 100);
    assert_eq!(embedder.embed(&texts(1), InputKind::Query).await.unwrap(), [vec![0.5; 3]]);
}

#[tokio::test]
async fn gemini_batch_embed_contents_carries_the_task_type() {
    let server = MockServer::start().await;
    let request = |text: &str| json!({"model": "models/gemini-embedding-001", "content": {"parts": [{"text": text}]}, "taskType": "RETRIEVAL_QUERY"});
    Mock::given(method("POST"))
        .and(path("/models/gemini-embedding-001:batchEmbedContents"))
        .and(header("x-goog-api-key", KEY))
        .and(body_json(json!({"requests": [request("a"), request("b")]})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "embeddings": [{"values": [1.0, 2.0]}, {"values": [3.0, 4.0]}]
        })))
        .expect(1)
        .mount(&server)
        .await;
    let config =
        GeminiConfig::new("gemini-embedding-001").base_url(server.uri()).api_key(Secret::new(KEY));
    let embedder = RemoteEmbedder::new(config, 2).unwrap();
    let vectors = embedder.embed(&["a".into(), "b".into()], InputKind::Query).await.unwrap();
    assert_eq!(vectors, [vec![1.0, 2.0], vec![3.0, 4.0]]);
}

#[tokio::test]
async fn failures_are_classed_and_keys_scrubbed() {
    let server = MockServer::start().await;
    let config = || OpenAiConfig::new("m").base_url(server.uri()).api_key(Secret::new(KEY));
    let cases = [
        (401, json!({"error": {"message": format!("Incorrect API key provided: {KEY}")}})),
        (429, json!({"error": {"message": "Rate limit reached"}})),
        (503, json!({"error": {"message": "overloaded"}})),
        (200, json!({"data": [{"index": 0, "embedding": [1.0, 2.0, 3.0]}]})),
        (200, json!({"unexpected": true})),
    ];
    let mut errors = Vec::new();
    for (status, body) in cases {
        server.reset().await;
        let mut response = ResponseTemplate::new(status).set_body_json(body);
        if status == 429 {
            response = response.insert_header("retry-after", "7");
        }
        Mock::given(method("POST")).respond_with(response).mount(&server).await;
        let embedder = RemoteEmbedder::new(config(), 2).unwrap();
        errors.push(embedder.embed(&["a".into()], InputKind::Document).await.unwrap_err());
    }
    assert!(
        matches!(&errors[0], Error::Authentication { message } if message.contains("<redacted>") && !message.contains(KEY)),
        "{:?}",
        errors[0]
    );
    assert!(matches!(&errors[1], Error::RateLimited { .. }), "{:?}", errors[1]);
    assert_eq!(errors[1].retry_after(), Some(std::time::Duration::from_secs(7)));
    assert!(errors[2].is_retryable(), "{:?}", errors[2]);
    assert!(
        errors[3].to_string().contains("a vector of 3 numbers, where 2 were expected"),
        "{}",
        errors[3]
    );
    assert!(matches!(&errors[4], Error::InvalidResponse { .. }), "{:?}", errors[4]);
}

/// Embedders built from a spec (as the config builds them) retry a retryable failure: an
/// overloaded server's 503, then the vectors.
#[tokio::test]
async fn configured_embedders_retry_an_overloaded_server() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(503).set_body_json(json!({"error": {"message": "busy"}})),
        )
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": [{"index": 0, "embedding": [0.6, 0.8]}]
        })))
        .expect(1)
        .mount(&server)
        .await;
    let spec = anymodel_backends::embedder_spec::EmbedderSpec::Remote {
        api: anymodel_backends::providers::Api::OpenAi,
        model: "m".into(),
        base_url: server.uri(),
        api_key_env: None,
        dimensions: 2,
    };
    let embedder = spec.build().unwrap();
    let vectors = embedder.embed(&["a".into()], InputKind::Document).await.unwrap();
    assert_eq!(vectors, [vec![0.6, 0.8]]);
}
