//! `POST /v1/embeddings` in OpenAI's shape: the served embedders' vectors, as floats or as
//! base64 of little-endian f32s (`encoding_format`), for every client of OpenAI's API.

use std::sync::Arc;

use anymodel_core::InputKind;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::metrics::Recorder;
use crate::state::AppState;

/// The most texts one request may carry (OpenAI's own limit).
const MAX_INPUTS: usize = 2048;

/// What `input` may be: one text or several (token arrays are not taken).
#[derive(Deserialize)]
#[serde(untagged)]
enum Input {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
struct EmbeddingRequest {
    model: String,
    input: Input,
    #[serde(default)]
    encoding_format: Option<String>,
    #[serde(default)]
    dimensions: Option<usize>,
}

pub(crate) async fn embeddings(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let mut recorder = Recorder::new("embeddings");
    let outcome = embed(&state, &headers, body, &mut recorder).await;
    state.answer(&recorder, outcome, ApiError::into_response)
}

async fn embed(
    state: &AppState,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    recorder: &mut Recorder,
) -> Result<Response, ApiError> {
    state.authorize(headers)?;
    let request: EmbeddingRequest = state.parse(body)?;
    recorder.model = Some(request.model.clone());
    let embedder = state.embedder(&request.model)?;
    let texts = match request.input {
        Input::One(text) => vec![text],
        Input::Many(texts) => texts,
    };
    if texts.is_empty() || texts.len() > MAX_INPUTS {
        let message = format!("input: give 1 to {MAX_INPUTS} texts, not {}", texts.len());
        return Err(ApiError::invalid(message, Some("input".into())));
    }
    if let Some(wanted) = request.dimensions
        && wanted != embedder.dimensions()
    {
        let message = format!(
            "dimensions: `{}` gives {} numbers, not {wanted}",
            request.model,
            embedder.dimensions()
        );
        return Err(ApiError::invalid(message, Some("dimensions".into())));
    }
    let base64 = match request.encoding_format.as_deref() {
        None | Some("float") => false,
        Some("base64") => true,
        Some(other) => {
            let message = format!("encoding_format: `{other}`; expected float or base64");
            return Err(ApiError::invalid(message, Some("encoding_format".into())));
        }
    };
    let vectors =
        tokio::time::timeout(state.request_timeout, embedder.embed(&texts, InputKind::Document))
            .await
            .map_err(|_| {
                ApiError::from(anymodel_core::Error::transient(
                    "the embedder took longer than the request time limit",
                ))
            })??;
    let data: Vec<Value> = vectors
        .iter()
        .enumerate()
        .map(|(index, vector)| {
            let embedding = if base64 {
                let bytes: Vec<u8> = vector.iter().flat_map(|x| x.to_le_bytes()).collect();
                Value::String(base64::engine::general_purpose::STANDARD.encode(bytes))
            } else {
                json!(vector)
            };
            json!({"object": "embedding", "index": index, "embedding": embedding})
        })
        .collect();
    state.metrics.finished(recorder, 200, None);
    let body = json!({
        "object": "list", "data": data, "model": request.model,
        "usage": {"prompt_tokens": 0, "total_tokens": 0}
    });
    Ok(axum::Json(body).into_response())
}
