//! Server-sent events: parsed by `eventsource-stream`, bounded by the silence limit, and decoded
//! into core stream events by a per-provider [`StreamDecoder`].

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

use anymodel_core::{Error, EventStream, Result, StreamEvent};
use eventsource_stream::Eventsource;
use futures::{Stream, StreamExt, stream};

use super::errors;

/// One server-sent event: its `event:` name (empty when none) and its `data:`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field; empty when the server sent none.
    pub event: String,
    /// The `data:` lines, joined by newlines.
    pub data: String,
}

impl SseEvent {
    /// The event's data as JSON; `None` for an event without data (a keep-alive).
    pub fn json(&self) -> Result<Option<serde_json::Value>> {
        if self.data.trim().is_empty() {
            return Ok(None);
        }
        serde_json::from_str(&self.data).map(Some).map_err(|err| {
            let start = errors::truncate(&self.data);
            Error::invalid_response(format!("a stream event is not JSON ({err}): {start}"))
        })
    }
}

/// The most bytes one event may take (its lines together): the parser's cost grows with the
/// square of a line's length, and an event is held whole in memory, so a server that never
/// ends its line or its event is cut off here with an error.
const MAX_EVENT_BYTES: usize = 2 * 1024 * 1024;

/// Counts the bytes of the event being received, across chunks.
#[derive(Default)]
struct EventSize {
    bytes: usize,
    /// The last byte was a line end (a second one ends the event).
    line_ended: bool,
}

impl EventSize {
    /// Takes a chunk; fails when the event under way has grown past [`MAX_EVENT_BYTES`].
    fn take(&mut self, chunk: &[u8]) -> Result<()> {
        for &byte in chunk {
            match byte {
                b'\n' if self.line_ended => self.bytes = 0,
                b'\n' => self.line_ended = true,
                b'\r' => {}
                _ => {
                    self.line_ended = false;
                    self.bytes += 1;
                }
            }
            if self.bytes > MAX_EVENT_BYTES {
                return Err(Error::invalid_response(format!(
                    "a stream event is longer than {} MiB",
                    MAX_EVENT_BYTES / (1024 * 1024)
                )));
            }
        }
        Ok(())
    }
}

/// The events of a byte stream, each at most [`MAX_EVENT_BYTES`] long.
pub(crate) fn sse_events<B: AsRef<[u8]> + Send + 'static>(
    bytes: impl Stream<Item = reqwest::Result<B>> + Send + 'static,
) -> impl Stream<Item = Result<SseEvent>> + Send + 'static {
    let mut size = EventSize::default();
    let bounded = bytes.map(move |chunk| {
        let chunk = chunk.map_err(errors::from_transport)?;
        size.take(chunk.as_ref())?;
        Ok::<B, Error>(chunk)
    });
    let events = bounded.eventsource().boxed();
    stream::unfold(events, move |mut events| async move {
        let item = match events.next().await {
            None => None,
            Some(Ok(event)) => Some(Ok(SseEvent { event: event.event, data: event.data })),
            Some(Err(err)) => Some(Err(match err {
                eventsource_stream::EventStreamError::Transport(err) => err,
                other => Error::invalid_response(format!("the event stream is malformed: {other}")),
            })),
        };
        item.map(|item| (item, events))
    })
}

/// Turns one provider's server-sent events into core stream events.
pub trait StreamDecoder: Send + 'static {
    /// Decodes one event, pushing what it means onto `out`; returns whether it was the
    /// provider's end-of-stream event.
    fn decode(&mut self, event: SseEvent, out: &mut Vec<StreamEvent>) -> Result<bool>;

    /// The bytes ended without an end-of-stream event: push the closing events if the reply is
    /// nonetheless complete, or fail, so a cut stream is never taken for a short answer.
    fn end_without_marker(&mut self, out: &mut Vec<StreamEvent>) -> Result<()>;
}

/// How long a stream may go without progress, and how much reply it may bring.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StreamLimits {
    /// The longest wait for the next piece of the reply: events that carry none (pings,
    /// keep-alives, a trickle of one event) do not restart it.
    pub(crate) silence: Duration,
    /// The most bytes of text and tool-call arguments one reply may bring: a server that
    /// streams on past this (past `max_tokens`, or without end) is cut off.
    pub(crate) max_reply_bytes: usize,
}

struct Decoding<S, D> {
    events: S,
    decoder: D,
    pending: VecDeque<StreamEvent>,
    finished: bool,
    limits: StreamLimits,
    /// When the reply last moved on.
    progress: Instant,
    /// Bytes of reply so far.
    received: usize,
}

/// The core event stream of a provider's event stream. It ends after the provider's end event
/// (whatever follows is not read), and fails at the first error, when the reply makes no
/// progress for the silence limit, or when it grows past its size limit.
pub(crate) fn decode_stream<D: StreamDecoder>(
    events: impl Stream<Item = Result<SseEvent>> + Send + 'static,
    decoder: D,
    limits: StreamLimits,
) -> EventStream {
    let state = Decoding {
        events: events.boxed(),
        decoder,
        pending: VecDeque::new(),
        finished: false,
        limits,
        progress: Instant::now(),
        received: 0,
    };
    Box::pin(stream::unfold(state, |mut state| async move {
        loop {
            if let Some(event) = state.pending.pop_front() {
                return Some((Ok(event), state));
            }
            if state.finished {
                return None;
            }
            let mut out = Vec::new();
            let silence = state.limits.silence;
            let next = tokio::time::timeout_at(state.progress + silence, state.events.next());
            let step = match next.await {
                Err(_) => Err(errors::timed_out("streaming the reply", silence)),
                Ok(Some(Ok(event))) => state.decoder.decode(event, &mut out),
                Ok(Some(Err(err))) => Err(err),
                Ok(None) => state.decoder.end_without_marker(&mut out).map(|()| true),
            };
            let step = step.and_then(|end| {
                if !out.is_empty() {
                    state.progress = Instant::now();
                }
                state.received += out.iter().map(reply_bytes).sum::<usize>();
                if state.received > state.limits.max_reply_bytes {
                    return Err(Error::invalid_response(format!(
                        "the server kept streaming past {} bytes of reply",
                        state.limits.max_reply_bytes
                    )));
                }
                Ok(end)
            });
            match step {
                Ok(end) => state.finished = end,
                Err(err) => {
                    state.finished = true;
                    state.pending.clear();
                    return Some((Err(err), state));
                }
            }
            state.pending.extend(out);
        }
    }))
}

/// The bytes of reply an event carries: its text, or its share of a call's arguments.
fn reply_bytes(event: &StreamEvent) -> usize {
    match event {
        StreamEvent::TextDelta { text } => text.len(),
        StreamEvent::ToolCallDelta { arguments, .. } => arguments.len(),
        _ => 0,
    }
}

#[cfg(all(
    test,
    feature = "openai",
    feature = "anthropic",
    feature = "gemini",
    feature = "cohere"
))]
#[allow(clippy::unwrap_used)] // Tests fail loudly by design.
mod properties {
    use futures::StreamExt;
    use proptest::prelude::*;

    use super::*;
    use crate::http::Wire;

    /// Stream bodies made of the pieces real ones are made of (event lines, data lines, JSON
    /// fragments of each provider's chunks, blank lines, end markers) with arbitrary text between.
    fn body() -> impl Strategy<Value = Vec<u8>> {
        let piece = prop_oneof![
            Just("data: ".to_string()),
            Just("event: ".to_string()),
            Just(": keep-alive\n".to_string()),
            Just("\n".to_string()),
            Just("\r\n".to_string()),
            Just("\n\n".to_string()),
            Just("data: [DONE]\n\n".to_string()),
            Just(r#"{"choices": [{"index": 0, "delta": {"content": "hi"}}]}"#.to_string()),
            Just(r#"{"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "id": "c", "function": {"name": "f", "arguments": "{"}}]}}]}"#.to_string()),
            Just(r#"{"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "x"}}"#.to_string()),
            Just("message_stop".to_string()),
            Just(r#"{"candidates": [{"content": {"parts": [{"text": "x"}]}, "finishReason": "STOP"}]}"#.to_string()),
            Just(r#"{"type": "content-delta", "delta": {"message": {"content": {"text": "x"}}}}"#.to_string()),
            Just(r#"{"error": {"message": "boom"}}"#.to_string()),
            "[a-z_{}\":, ]{0,20}",
            any::<String>(),
        ];
        prop::collection::vec(piece, 0..40).prop_map(|pieces| pieces.concat().into_bytes())
    }

    /// Decodes `body`, cut into chunks of `size`, with the wire's decoder, to the end.
    fn decode<W: Wire>(body: &[u8], size: usize) {
        let chunks: Vec<reqwest::Result<Vec<u8>>> =
            body.chunks(size).map(|chunk| Ok(chunk.to_vec())).collect();
        let events = sse_events(futures::stream::iter(chunks));
        let limits = StreamLimits { silence: Duration::from_secs(5), max_reply_bytes: 1024 * 1024 };
        let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        runtime.block_on(async {
            let mut stream = decode_stream(events, W::Decoder::default(), limits);
            while let Some(event) = stream.next().await {
                if event.is_err() {
                    break;
                }
            }
        });
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// No body, however cut, makes a provider's stream decoder panic or hang.
        #[test]
        fn every_decoder_takes_any_stream_body(body in body(), size in 1usize..64) {
            decode::<crate::openai::OpenAiConfig>(&body, size);
            decode::<crate::anthropic::AnthropicConfig>(&body, size);
            decode::<crate::gemini::GeminiConfig>(&body, size);
            decode::<crate::cohere::CohereConfig>(&body, size);
        }

        /// The event-size counter takes any bytes.
        #[test]
        fn the_event_size_counter_takes_any_bytes(bytes in prop::collection::vec(any::<u8>(), 0..4096)) {
            let _ = EventSize::default().take(&bytes);
        }
    }
}
