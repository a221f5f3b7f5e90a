//! OpenAI's Chat Completions API: `POST /v1/chat/completions`, whole or streamed.

mod reply;
mod request;

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::HeaderMap;
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;

use crate::error::ApiError;
use crate::metrics::{Recorder, recorded};
use crate::state::AppState;
use reply::{ChunkWriter, Stamp};
use request::CompletionRequest;
pub(crate) use request::{empty_object, tool_choice_mode};

/// `POST /v1/chat/completions`.
pub(crate) async fn chat_completions(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let mut recorder = Recorder::new("chat_completions");
    match complete(&state, &headers, body, &mut recorder).await {
        Ok(response) => response,
        Err(error) => {
            state.metrics.finished(&recorder, error.status.as_u16(), None);
            error.into_response()
        }
    }
}

async fn complete(
    state: &AppState,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    recorder: &mut Recorder,
) -> Result<Response, ApiError> {
    state.authorize(headers)?;
    let request: CompletionRequest = state.parse(body)?;
    recorder.model = Some(request.model.clone());
    let turn = state.enter(&request.model).await?;
    let model = turn.model.clone();
    let stamp = Stamp {
        id: format!("chatcmpl-{}", state.next_id()),
        model: request.model.clone(),
        created: crate::state::now(),
    };
    let (stream, include_usage) = (request.stream, request.include_usage());
    let core = request.into_core()?;
    if !stream {
        let reply = state.chat(&*model, core).await?;
        state.metrics.finished(recorder, 200, Some(&reply.usage));
        drop(turn);
        return Ok(axum::Json(reply::completion(&stamp, &reply)).into_response());
    }
    let events = state.stream(&*model, core).await?;
    let events = recorded(events, state.metrics.clone(), recorder.clone());
    // The turn is held by the stream: it ends when the reply does or the client leaves.
    let events = events.map(move |event| {
        let _held = &turn.permit;
        event
    });
    let mut writer = ChunkWriter::new(stamp, include_usage);
    let chunks = events.flat_map(move |event| {
        let chunks = match event {
            Ok(event) => writer.write(event),
            // A failure after the stream began: the error in the API's shape, as its last chunk.
            Err(error) => vec![ApiError::from(error).body()],
        };
        futures::stream::iter(chunks)
    });
    let done = futures::stream::once(async { "[DONE]".to_string() });
    let data = chunks.map(|chunk| chunk.to_string()).chain(done);
    let sse = data.map(|data| Ok::<_, std::convert::Infallible>(Event::default().data(data)));
    Ok(Sse::new(sse).into_response())
}
