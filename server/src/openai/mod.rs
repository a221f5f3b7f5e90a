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
use crate::metrics::Recorder;
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
    let outcome = complete(&state, &headers, body, &mut recorder).await;
    state.answer(&recorder, outcome, ApiError::into_response)
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
    let stamp = Stamp {
        id: format!("chatcmpl-{}", state.next_id()),
        model: request.model.clone(),
        created: crate::state::now(),
    };
    let (stream, include_usage) = (request.stream, request.include_usage());
    let core = request.into_core()?;
    if !stream {
        let reply = state.chat(turn, core, recorder).await?;
        return Ok(axum::Json(reply::completion(&stamp, &reply)).into_response());
    }
    let events = state.stream(turn, core, recorder.clone()).await?;
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
