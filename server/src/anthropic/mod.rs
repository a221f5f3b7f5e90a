//! Anthropic's Messages API: `POST /v1/messages`, whole or streamed, errors in its own shape.

mod reply;
mod request;

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::HeaderMap;
use axum::response::sse::Sse;
use axum::response::{IntoResponse, Response};
use futures::StreamExt;

use crate::error::ApiError;
use crate::metrics::Recorder;
use crate::state::AppState;
use reply::EventWriter;
use request::MessagesRequest;

/// `POST /v1/messages`.
pub(crate) async fn messages(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let mut recorder = Recorder::new("messages");
    let outcome = respond(&state, &headers, body, &mut recorder).await;
    state.answer(&recorder, outcome, ApiError::into_anthropic_response)
}

async fn respond(
    state: &AppState,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    recorder: &mut Recorder,
) -> Result<Response, ApiError> {
    state.authorize(headers)?;
    let request: MessagesRequest = state.parse(body)?;
    recorder.model = Some(request.model.clone());
    if request.max_tokens.is_none() {
        return Err(ApiError::invalid(
            "max_tokens: the field is required",
            Some("max_tokens".into()),
        ));
    }
    let turn = state.enter(&request.model).await?;
    let id = format!("msg_{:024}", state.next_id());
    let name = request.model.clone();
    let stream = request.stream;
    let core = request.into_core()?;
    if !stream {
        let reply = state.chat(turn, core, recorder).await?;
        return Ok(axum::Json(reply::message(&id, &name, &reply)).into_response());
    }
    let events = state.stream(turn, core, recorder.clone()).await?;
    let mut writer = EventWriter::new(id, name);
    let sse = events.flat_map(move |event| {
        let events = match event {
            Ok(event) => writer.write(event),
            // A failure after the stream began: Anthropic's `error` event ends it.
            Err(error) => vec![("error", ApiError::from(error).anthropic_body())],
        };
        crate::state::named_events(events)
    });
    Ok(Sse::new(sse).into_response())
}

/// `POST /v1/messages/count_tokens`: the prompt's tokens for the model, counted as it would run
/// it (local models); a model that cannot count says so with a 400.
pub(crate) async fn count_tokens(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let counted = async {
        state.authorize(&headers)?;
        let request: MessagesRequest = state.parse(body)?;
        let name = request.model.clone();
        let model = state.model(&name)?;
        let core = request.into_core()?;
        match model.count_tokens(&core).await? {
            Some(tokens) => {
                Ok(axum::Json(serde_json::json!({"input_tokens": tokens})).into_response())
            }
            None => Err(ApiError::invalid(
                format!(
                    "`{name}` cannot count tokens here (local, Anthropic and Gemini models can)"
                ),
                Some("model".into()),
            )),
        }
    };
    counted.await.unwrap_or_else(ApiError::into_anthropic_response)
}
