//! Server-sent events: parsed in one pass over the bytes, bounded by the silence limit, and decoded
//! into core stream events by a per-provider [`StreamDecoder`].

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

use anymodel_core::{Error, EventStream, Result, StreamEvent};
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

/// The most bytes one event may take (its lines together): an event is held whole in memory,
/// so a server that never ends its line or its event is cut off here with an error.
const MAX_EVENT_BYTES: usize = 2 * 1024 * 1024;

/// A server-sent events parser, as the WHATWG specification reads a stream: lines ended by LF,
/// CR or CRLF; `field: value` lines; comments; a blank line dispatches the event. Each byte is
/// looked at once, whatever the chunking (a generic parser that rescans its buffer for each
/// chunk takes the square of a long line's length).
#[derive(Default)]
struct SseParser {
    /// The line under way, not yet ended.
    line: Vec<u8>,
    /// The last byte was a CR, so an LF right after it ends nothing more.
    after_cr: bool,
    /// The event under way.
    event: String,
    data: String,
    /// Whether a `data:` line has come since the last dispatch.
    has_data: bool,
    /// Bytes of the event under way, its ended lines and the line under way.
    size: usize,
    /// Whether the first line has started (a byte-order mark is dropped before it).
    started: bool,
}

impl SseParser {
    /// Takes a chunk, pushing the events it completes; fails when the event under way has
    /// grown past [`MAX_EVENT_BYTES`].
    fn feed(&mut self, chunk: &[u8], out: &mut Vec<SseEvent>) -> Result<()> {
        let mut chunk = chunk;
        if !self.started && !chunk.is_empty() {
            self.started = true;
            chunk = chunk.strip_prefix("\u{feff}".as_bytes()).unwrap_or(chunk);
        }
        let mut rest = chunk;
        while !rest.is_empty() {
            if self.after_cr && rest[0] == b'\n' {
                rest = &rest[1..];
                self.after_cr = false;
                continue;
            }
            match rest.iter().position(|&b| b == b'\n' || b == b'\r') {
                Some(end) => {
                    self.grow(&rest[..end])?;
                    self.after_cr = rest[end] == b'\r';
                    let line = std::mem::take(&mut self.line);
                    self.line_ended(&line, out);
                    rest = &rest[end + 1..];
                }
                None => {
                    self.grow(rest)?;
                    self.after_cr = false;
                    rest = &[];
                }
            }
        }
        Ok(())
    }

    /// Adds bytes to the line under way.
    fn grow(&mut self, bytes: &[u8]) -> Result<()> {
        self.size += bytes.len();
        if self.size > MAX_EVENT_BYTES {
            return Err(Error::invalid_response(format!(
                "a stream event is longer than {} MiB",
                MAX_EVENT_BYTES / (1024 * 1024)
            )));
        }
        self.line.extend_from_slice(bytes);
        Ok(())
    }

    /// One whole line: a field of the event under way, a comment, or (blank) its end.
    fn line_ended(&mut self, line: &[u8], out: &mut Vec<SseEvent>) {
        if line.is_empty() {
            self.size = 0;
            let event = std::mem::take(&mut self.event);
            let mut data = std::mem::take(&mut self.data);
            if std::mem::take(&mut self.has_data) {
                data.pop(); // The newline after the last data line.
                out.push(SseEvent { event, data });
            }
            return;
        }
        let line = String::from_utf8_lossy(line);
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line.as_ref(), ""),
        };
        match field {
            "event" => self.event = value.to_string(),
            "data" => {
                self.data.push_str(value);
                self.data.push('\n');
                self.has_data = true;
            }
            // Comments (an empty field), `id`, `retry` and unknown fields carry nothing here.
            _ => {}
        }
    }
}

/// The events of a byte stream, each at most [`MAX_EVENT_BYTES`] long.
pub(crate) fn sse_events<B: AsRef<[u8]> + Send + 'static>(
    bytes: impl Stream<Item = reqwest::Result<B>> + Send + 'static,
) -> impl Stream<Item = Result<SseEvent>> + Send + 'static {
    let state = (bytes.boxed(), SseParser::default(), VecDeque::new(), false);
    stream::unfold(state, |(mut bytes, mut parser, mut ready, mut failed)| async move {
        loop {
            if let Some(event) = ready.pop_front() {
                return Some((Ok(event), (bytes, parser, ready, failed)));
            }
            if failed {
                return None;
            }
            let chunk = match bytes.next().await? {
                Ok(chunk) => chunk,
                Err(err) => {
                    failed = true;
                    return Some((
                        Err(errors::from_transport(err)),
                        (bytes, parser, ready, failed),
                    ));
                }
            };
            let mut out = Vec::new();
            if let Err(err) = parser.feed(chunk.as_ref(), &mut out) {
                failed = true;
                return Some((Err(err), (bytes, parser, ready, failed)));
            }
            ready.extend(out);
        }
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
    /// When the whole call must be over, however steadily the reply comes, and the deadline
    /// as configured (for the error).
    pub(crate) deadline: (Instant, Duration),
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
            let (deadline, allowed) = state.limits.deadline;
            let quiet_until = state.progress + silence;
            let next = tokio::time::timeout_at(quiet_until.min(deadline), state.events.next());
            let step = match next.await {
                Err(_) if deadline < quiet_until => Err(errors::past_deadline(allowed)),
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

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests fail loudly by design.
mod tests {
    use super::*;

    fn parse(chunks: &[&[u8]]) -> Result<Vec<(String, String)>> {
        let mut parser = SseParser::default();
        let mut out = Vec::new();
        for chunk in chunks {
            parser.feed(chunk, &mut out)?;
        }
        Ok(out.into_iter().map(|e| (e.event, e.data)).collect())
    }

    fn event(name: &str, data: &str) -> (String, String) {
        (name.to_string(), data.to_string())
    }

    #[test]
    fn lines_end_with_lf_cr_or_crlf_across_chunks() {
        let events = parse(&[b"\xef\xbb\xbfevent: a\r", b"\ndata: 1\r\rdata:2\n", b"\n"]).unwrap();
        assert_eq!(events, [event("a", "1"), event("", "2")]);
    }

    #[test]
    fn data_lines_join_and_comments_and_other_fields_are_skipped() {
        let body = b": keep-alive\n\nid: 7\nretry: 10\ndata: {\"a\":\ndata:  1}\nfoo\n\n";
        assert_eq!(parse(&[body]).unwrap(), [event("", "{\"a\":\n 1}")]);
    }

    #[test]
    fn an_event_without_its_blank_line_is_not_given() {
        assert_eq!(parse(&[b"data: cut"]).unwrap(), []);
    }

    #[test]
    fn a_character_cut_between_chunks_is_kept_whole() {
        let text = "data: caf\u{e9}\n\n".as_bytes();
        let (head, tail) = text.split_at(10);
        assert_eq!(parse(&[head, tail]).unwrap(), [event("", "caf\u{e9}")]);
    }

    #[test]
    fn an_event_past_its_size_limit_fails() {
        let line = vec![b'x'; 64 * 1024];
        let mut parser = SseParser::default();
        let mut out = Vec::new();
        let mut error = None;
        for _ in 0..64 {
            if let Err(e) = parser.feed(&line, &mut out) {
                error = Some(e);
                break;
            }
        }
        assert!(error.unwrap().to_string().contains("longer than 2 MiB"));
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
        let minute = Duration::from_secs(60);
        let limits = StreamLimits {
            silence: Duration::from_secs(5),
            deadline: (Instant::now() + minute, minute),
            max_reply_bytes: 1024 * 1024,
        };
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

        /// The parser gives the same events however the bytes are cut into chunks.
        #[test]
        fn events_do_not_depend_on_chunking(body in body(), size in 1usize..64) {
            let parse = |size: usize| {
                let mut parser = SseParser::default();
                let mut out = Vec::new();
                for chunk in body.chunks(size) {
                    parser.feed(chunk, &mut out).unwrap();
                }
                out
            };
            prop_assert_eq!(parse(size), parse(body.len().max(1)));
        }
    }
}
