//! OpenAI's Responses API: `POST /v1/responses`, mapped natively (its items, not a detour
//! through Chat Completions), whole or streamed, with `previous_response_id` over the responses
//! this server keeps.

mod reply;
mod request;
mod store;

use std::sync::Arc;

use anymodel_core::{Message, ReplyAggregator};
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
use reply::{EventWriter, Stamp};
use request::ResponsesRequest;
pub(crate) use store::ResponseStore;

/// `POST /v1/responses`.
pub(crate) async fn responses(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let mut recorder = Recorder::new("responses");
    let outcome = respond(state.clone(), &headers, body, &mut recorder).await;
    state.answer(&recorder, outcome, ApiError::into_response)
}

async fn respond(
    state: Arc<AppState>,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    recorder: &mut Recorder,
) -> Result<Response, ApiError> {
    state.authorize(headers)?;
    let request: ResponsesRequest = state.parse(body)?;
    recorder.model = Some(request.model.clone());
    let history = match &request.previous_response_id {
        None => Vec::new(),
        Some(id) => state.responses.get(id).ok_or_else(|| ApiError {
            status: axum::http::StatusCode::NOT_FOUND,
            ..ApiError::invalid(
                format!(
                    "previous response `{id}` is not kept here (the server keeps its last {} responses, {} MiB at most)",
                    store::KEPT,
                    store::KEPT_BYTES / (1024 * 1024)
                ),
                Some("previous_response_id".into()),
            )
        })?,
    };
    let turn = state.enter(&request.model).await?;
    let stamp = Stamp {
        id: format!("resp_{:024}", state.next_id()),
        model: request.model.clone(),
        created: crate::state::now(),
        instructions: request.instructions.clone(),
        previous: request.previous_response_id.clone(),
    };
    let (stream, store) = (request.stream, request.store);
    let (core, input) = request.into_core(history.clone())?;
    // What the next request with `previous_response_id` continues: the conversation so far.
    let mut conversation = history;
    conversation.extend(input);
    if !stream {
        let reply = state.chat(turn, core, recorder).await?;
        if store {
            conversation.push(Message::Assistant(reply.message.clone()));
            state.responses.put(stamp.id.clone(), conversation);
        }
        return Ok(axum::Json(reply::whole(&stamp, &reply)).into_response());
    }
    let events = state.stream(turn, core, recorder.clone()).await?;
    let id = stamp.id.clone();
    let mut writer = EventWriter::new(stamp);
    let mut aggregator = ReplyAggregator::new();
    let sse = events.flat_map(move |event| {
        let events = match event {
            Ok(event) => {
                // The reply is gathered only to be kept.
                if store {
                    let finished = matches!(event, anymodel_core::StreamEvent::Finish { .. });
                    let _ = aggregator.push(event.clone());
                    if finished {
                        let reply = std::mem::take(&mut aggregator).finish();
                        let mut kept = std::mem::take(&mut conversation);
                        kept.push(Message::Assistant(reply.message));
                        state.responses.put(id.clone(), kept);
                    }
                }
                writer.write(event)
            }
            Err(error) => {
                let body = ApiError::from(error).body();
                vec![(
                    "error".to_string(),
                    serde_json::json!({"type": "error", "error": body["error"]}),
                )]
            }
        };
        crate::state::named_events(events)
    });
    Ok(Sse::new(sse).into_response())
}
