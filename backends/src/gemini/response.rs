//! Gemini replies and stream chunks. Function calls have no ids on the wire: each gets one made
//! up from its position (`call_0`, `call_1`, …), and results go back by name and order.

use anymodel_core::{
    AssistantMessage, ChatResponse, Error, FinishReason, Result, StreamEvent, ToolCall, Usage,
};
use serde::Deserialize;
use serde_json::Value;

use crate::http::{SseEvent, StreamDecoder, stream_error};

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Reply {
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
}

impl From<WireUsage> for Usage {
    fn from(usage: WireUsage) -> Usage {
        Usage::new(usage.prompt_token_count, usage.candidates_token_count)
    }
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
            })
            .inspect(|_| tracing::warn!(%why, "Gemini returned no candidate"));
        };
        let mut message = AssistantMessage::default();
        for part in candidate.content.unwrap_or_default().parts {
            if let Some(text) = part.text.filter(|_| !part.thought) {
                message.content.push_str(&text);
            }
            if let Some(call) = part.function_call {
                message.tool_calls.push(ToolCall {
                    id: ToolCall::minted_id(),
                    name: call.name,
                    arguments: arguments(call.args),
                });
            }
        }
        let called = !message.tool_calls.is_empty();
        let finish_reason =
            finish_reason(candidate.finish_reason.as_deref().unwrap_or("STOP"), called);
        Ok(ChatResponse {
            message,
            finish_reason,
            usage: self.usage_metadata.unwrap_or_default().into(),
        })
    }
}

/// Decodes `streamGenerateContent?alt=sse`: every event is a partial reply; the stream has no
/// end marker, so it is complete when a chunk has carried a finish reason.
#[derive(Default)]
pub struct ChunkDecoder {
    calls: usize,
    finish: Option<String>,
    usage: Option<WireUsage>,
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
        if let Some(usage) = chunk.usage_metadata {
            self.usage = Some(usage);
        }
        for candidate in chunk.candidates.into_iter().take(1) {
            for part in candidate.content.unwrap_or_default().parts {
                if let Some(text) = part.text.filter(|t| !t.is_empty() && !part.thought) {
                    out.push(StreamEvent::TextDelta { text });
                }
                if let Some(call) = part.function_call {
                    // Gemini sends each call whole, in one part.
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
        if let Some(usage) = self.usage.take() {
            out.push(StreamEvent::Usage { usage: usage.into() });
        }
        out.push(StreamEvent::Finish { reason: finish_reason(&reason, self.calls > 0) });
        Ok(())
    }
}
