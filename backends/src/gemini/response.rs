//! Gemini replies and stream chunks. Function calls have no ids on the wire: each gets one made
//! up from its position (`call_0`, `call_1`, …), and results go back by name and order.

use anymodel_core::{
    AssistantMessage, ChatResponse, Error, FinishReason, ReplyAggregator, Result, StreamEvent,
    ToolCall, Usage,
};
use serde::Deserialize;
use serde_json::Value;

use crate::http::{SseEvent, StreamDecoder, label, origin, stream_error};

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Reply {
    #[serde(default, deserialize_with = "label")]
    response_id: Option<String>,
    #[serde(default, deserialize_with = "label")]
    model_version: Option<String>,
    #[serde(default)]
    candidates: Vec<Candidate>,
    #[serde(default)]
    usage_metadata: Option<WireUsage>,
    #[serde(default)]
    prompt_feedback: Option<Value>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Candidate {
    #[serde(default)]
    content: Option<Content>,
    finish_reason: Option<String>,
}

#[derive(Deserialize, Default)]
struct Content {
    #[serde(default)]
    parts: Vec<Part>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Part {
    text: Option<String>,
    function_call: Option<FunctionCall>,
    #[serde(default)]
    thought: bool,
    thought_signature: Option<String>,
}

#[derive(Deserialize)]
struct FunctionCall {
    name: String,
    #[serde(default)]
    args: Value,
}

#[derive(Deserialize, Default, Clone, Copy)]
#[serde(rename_all = "camelCase")]
struct WireUsage {
    #[serde(default)]
    prompt_token_count: u64,
    #[serde(default)]
    candidates_token_count: u64,
    #[serde(default)]
    cached_content_token_count: u64,
    #[serde(default)]
    thoughts_token_count: u64,
}

/// Gemini counts thinking apart from the candidates; the core's output counts both.
impl From<WireUsage> for Usage {
    fn from(usage: WireUsage) -> Usage {
        let output = usage.candidates_token_count + usage.thoughts_token_count;
        Usage::new(usage.prompt_token_count, output)
            .with_cached_input(usage.cached_content_token_count)
            .with_reasoning(usage.thoughts_token_count)
    }
}

/// The provider named on the signatures this wire returns.
fn provider() -> Option<String> {
    Some(crate::providers::GEMINI.id.to_string())
}

fn finish_reason(reason: &str, called: bool) -> FinishReason {
    match reason {
        "STOP" if called => FinishReason::ToolCalls,
        "STOP" => FinishReason::Stop,
        "MAX_TOKENS" => FinishReason::Length,
        "SAFETY" | "RECITATION" | "BLOCKLIST" | "PROHIBITED_CONTENT" | "SPII" | "IMAGE_SAFETY" => {
            FinishReason::ContentFilter
        }
        other => FinishReason::Other(other.to_ascii_lowercase()),
    }
}

fn arguments(args: Value) -> Value {
    if args.is_null() { Value::Object(Default::default()) } else { args }
}

impl Reply {
    /// A whole reply: its first candidate's text and calls.
    pub(crate) fn into_response(self) -> Result<ChatResponse> {
        let Some(candidate) = self.candidates.into_iter().next() else {
            let why =
                self.prompt_feedback.map_or_else(|| "no candidate".to_string(), |f| f.to_string());
            return Ok(ChatResponse {
                message: AssistantMessage::default(),
                finish_reason: FinishReason::ContentFilter,
                usage: self.usage_metadata.unwrap_or_default().into(),
                stop_sequence: None,
                id: self.response_id,
                model: self.model_version,
            })
            .inspect(|_| tracing::warn!(%why, "Gemini returned no candidate"));
        };
        // The parts read as a stream's would be, into one message.
        let mut parts = PartReader::default();
        let mut events = Vec::new();
        for part in candidate.content.unwrap_or_default().parts {
            parts.read(part, &mut events);
        }
        parts.close_thought(&mut events);
        let mut aggregator = ReplyAggregator::new();
        for event in events {
            aggregator.push(event)?;
        }
        let message = aggregator.finish().message;
        let called = !message.tool_calls.is_empty();
        let finish_reason =
            finish_reason(candidate.finish_reason.as_deref().unwrap_or("STOP"), called);
        Ok(ChatResponse {
            message,
            finish_reason,
            usage: self.usage_metadata.unwrap_or_default().into(),
            stop_sequence: None,
            id: self.response_id,
            model: self.model_version,
        })
    }
}

/// Reads parts into events: text, thoughts (`thought: true`) as reasoning, function calls (each
/// whole in one part, numbered in order). A `thoughtSignature` ends the reasoning it signs: on a
/// thought, that thought; on another part (a function call, Gemini 3's last text), a block of
/// its own, which goes back on the same kind of part.
#[derive(Default)]
struct PartReader {
    calls: usize,
    thinking: bool,
}

impl PartReader {
    fn read(&mut self, part: Part, out: &mut Vec<StreamEvent>) {
        if part.thought {
            if let Some(text) = part.text.filter(|t| !t.is_empty()) {
                out.push(StreamEvent::ReasoningDelta { text });
                self.thinking = true;
            }
            if part.thought_signature.is_some() {
                self.thinking = false;
                out.push(signed(part.thought_signature));
            }
            return;
        }
        self.close_thought(out);
        if let Some(text) = part.text.filter(|t| !t.is_empty()) {
            out.push(StreamEvent::TextDelta { text });
        }
        if part.thought_signature.is_some() {
            out.push(signed(part.thought_signature));
        }
        if let Some(call) = part.function_call {
            let index = self.calls;
            self.calls += 1;
            let tool = ToolCall {
                id: ToolCall::minted_id(),
                name: call.name,
                arguments: arguments(call.args),
            };
            out.extend(StreamEvent::for_tool_call(index, tool));
        }
    }

    /// Ends an unsigned thought before a part that is not one.
    fn close_thought(&mut self, out: &mut Vec<StreamEvent>) {
        if std::mem::take(&mut self.thinking) {
            out.push(StreamEvent::ReasoningEnd { signature: None, redacted: None, provider: None });
        }
    }
}

fn signed(signature: Option<String>) -> StreamEvent {
    StreamEvent::ReasoningEnd { signature, redacted: None, provider: provider() }
}

/// Decodes `streamGenerateContent?alt=sse`: every event is a partial reply; the stream has no
/// end marker, so it is complete when a chunk has carried a finish reason.
#[derive(Default)]
pub struct ChunkDecoder {
    parts: PartReader,
    finish: Option<String>,
    usage: Option<WireUsage>,
    /// Whether the reply's id and model were reported (every chunk repeats them).
    saw_origin: bool,
}

impl StreamDecoder for ChunkDecoder {
    fn decode(&mut self, event: SseEvent, out: &mut Vec<StreamEvent>) -> Result<bool> {
        let Some(value) = event.json()? else { return Ok(false) };
        if value.get("error").is_some() {
            return Err(stream_error(&value));
        }
        let chunk = Reply::deserialize(value).map_err(|err| {
            Error::invalid_response(format!(
                "a stream chunk is not a reply ({err}): {}",
                event.data
            ))
        })?;
        if !self.saw_origin
            && let Some(event) = origin(chunk.response_id, chunk.model_version)
        {
            out.push(event);
            self.saw_origin = true;
        }
        if let Some(usage) = chunk.usage_metadata {
            self.usage = Some(usage);
        }
        for candidate in chunk.candidates.into_iter().take(1) {
            for part in candidate.content.unwrap_or_default().parts {
                self.parts.read(part, out);
            }
            if let Some(reason) = candidate.finish_reason {
                self.finish = Some(reason);
            }
        }
        Ok(false)
    }

    fn end_without_marker(&mut self, out: &mut Vec<StreamEvent>) -> Result<()> {
        let Some(reason) = self.finish.take() else {
            return Err(Error::transient("the stream closed before a finish reason"));
        };
        self.parts.close_thought(out);
        if let Some(usage) = self.usage.take() {
            out.push(StreamEvent::Usage { usage: usage.into() });
        }
        out.push(StreamEvent::Finish { reason: finish_reason(&reason, self.parts.calls > 0) });
        Ok(())
    }
}
