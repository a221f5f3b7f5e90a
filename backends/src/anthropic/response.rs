//! Messages API replies and stream events.

use std::collections::BTreeMap;

use anymodel_core::{
    AssistantMessage, ChatResponse, Error, FinishReason, Reasoning, Result, StreamEvent, ToolCall,
    Usage,
};
use serde::Deserialize;
use serde_json::Value;

use crate::http::{SseEvent, StreamDecoder, label, origin, stream_error};

#[derive(Deserialize)]
pub struct Message {
    #[serde(default, deserialize_with = "label")]
    id: Option<String>,
    #[serde(default, deserialize_with = "label")]
    model: Option<String>,
    #[serde(default)]
    content: Vec<Block>,
    stop_reason: Option<String>,
    #[serde(default)]
    stop_sequence: Option<String>,
    #[serde(default)]
    usage: WireUsage,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Block {
    Text {
        text: String,
    },
    ToolUse {
        id: String,
        name: String,
        #[serde(default)]
        input: Value,
    },
    Thinking {
        #[serde(default)]
        thinking: String,
        #[serde(default)]
        signature: Option<String>,
    },
    RedactedThinking {
        data: String,
    },
    #[serde(other)]
    Other,
}

/// The provider named on reasoning this wire signed.
fn provider() -> Option<String> {
    Some(crate::providers::ANTHROPIC.id.to_string())
}

#[derive(Deserialize, Default)]
struct WireUsage {
    #[serde(default)]
    input_tokens: u64,
    #[serde(default)]
    output_tokens: u64,
    #[serde(default)]
    cache_read_input_tokens: u64,
    #[serde(default)]
    cache_creation_input_tokens: u64,
}

/// Anthropic's `input_tokens` leaves out the tokens read from and written to its cache; the
/// core's counts the whole prompt.
impl From<WireUsage> for Usage {
    fn from(usage: WireUsage) -> Usage {
        let input =
            usage.input_tokens + usage.cache_read_input_tokens + usage.cache_creation_input_tokens;
        Usage::new(input, usage.output_tokens)
            .with_cached_input(usage.cache_read_input_tokens)
            .with_cache_write_input(usage.cache_creation_input_tokens)
    }
}

impl Message {
    pub(crate) fn into_response(self) -> ChatResponse {
        let mut message = AssistantMessage::default();
        for block in self.content {
            match block {
                Block::Text { text } => message.content.push_str(&text),
                Block::ToolUse { id, name, input } => {
                    let arguments =
                        if input.is_null() { Value::Object(Default::default()) } else { input };
                    message.tool_calls.push(ToolCall { id, name, arguments });
                }
                Block::Thinking { thinking, signature } => message.reasoning.push(Reasoning {
                    text: thinking,
                    signature,
                    redacted: None,
                    provider: provider(),
                }),
                Block::RedactedThinking { data } => message.reasoning.push(Reasoning {
                    redacted: Some(data),
                    provider: provider(),
                    ..Default::default()
                }),
                Block::Other => {}
            }
        }
        ChatResponse {
            message,
            finish_reason: stop_reason(self.stop_reason.as_deref()),
            usage: self.usage.into(),
            stop_sequence: self.stop_sequence,
            id: self.id,
            model: self.model,
        }
    }
}

fn stop_reason(reason: Option<&str>) -> FinishReason {
    match reason {
        None | Some("end_turn") | Some("stop_sequence") => FinishReason::Stop,
        Some("max_tokens") | Some("model_context_window_exceeded") => FinishReason::Length,
        Some("tool_use") => FinishReason::ToolCalls,
        Some("refusal") => FinishReason::ContentFilter,
        Some(other) => FinishReason::Other(other.to_string()),
    }
}

/// Decodes the Messages stream: content blocks become text deltas or tool calls (numbered among
/// the tool calls only), `message_delta` carries the stop reason and output usage, and
/// `message_stop` ends the stream.
#[derive(Default)]
pub struct EventDecoder {
    /// Content block index → tool call index, for tool-use blocks.
    tool_blocks: BTreeMap<u64, usize>,
    /// The thinking block open, and the signature that arrived for it.
    thinking: Option<(u64, Option<String>)>,
    stop_reason: Option<String>,
}

impl StreamDecoder for EventDecoder {
    fn decode(&mut self, event: SseEvent, out: &mut Vec<StreamEvent>) -> Result<bool> {
        let Some(data) = event.json()? else { return Ok(false) };
        let kind = data["type"].as_str().unwrap_or(event.event.as_str());
        let block = data["index"].as_u64();
        match kind {
            "message_start" => {
                let name = |key: &str| data["message"][key].as_str().map(str::to_string);
                out.extend(origin(name("id").filter(|id| !id.is_empty()), name("model")));
                let usage = WireUsage::deserialize(&data["message"]["usage"]).unwrap_or_default();
                out.push(StreamEvent::Usage { usage: usage.into() });
            }
            "content_block_start" => {
                let content = &data["content_block"];
                match content["type"].as_str() {
                    Some("tool_use") => {
                        let index = self.tool_blocks.len();
                        self.tool_blocks.insert(block.unwrap_or_default(), index);
                        out.push(StreamEvent::ToolCallStart {
                            index,
                            id: content["id"].as_str().unwrap_or_default().to_string(),
                            name: content["name"].as_str().unwrap_or_default().to_string(),
                        });
                        // The start carries `input: {}`; the input itself follows as deltas.
                    }
                    Some("text") => {
                        if let Some(text) = content["text"].as_str().filter(|t| !t.is_empty()) {
                            out.push(StreamEvent::TextDelta { text: text.to_string() });
                        }
                    }
                    Some("thinking") => {
                        self.thinking = Some((block.unwrap_or_default(), None));
                        if let Some(text) = content["thinking"].as_str().filter(|t| !t.is_empty()) {
                            out.push(StreamEvent::ReasoningDelta { text: text.to_string() });
                        }
                    }
                    Some("redacted_thinking") => out.push(StreamEvent::ReasoningEnd {
                        signature: None,
                        redacted: content["data"].as_str().map(str::to_string),
                        provider: provider(),
                    }),
                    _ => {}
                }
            }
            "content_block_delta" => {
                let delta = &data["delta"];
                match delta["type"].as_str() {
                    Some("text_delta") => {
                        let text = delta["text"].as_str().unwrap_or_default().to_string();
                        out.push(StreamEvent::TextDelta { text });
                    }
                    Some("thinking_delta") => {
                        let text = delta["thinking"].as_str().unwrap_or_default().to_string();
                        out.push(StreamEvent::ReasoningDelta { text });
                    }
                    Some("signature_delta") => {
                        if let Some((_, signature)) = self.thinking.as_mut() {
                            *signature = delta["signature"].as_str().map(str::to_string);
                        }
                    }
                    Some("input_json_delta") => {
                        let index = block
                            .and_then(|b| self.tool_blocks.get(&b))
                            .copied()
                            .ok_or_else(|| {
                                Error::invalid_response(
                                    "tool input arrived for a block that is not a tool call",
                                )
                            })?;
                        let arguments =
                            delta["partial_json"].as_str().unwrap_or_default().to_string();
                        out.push(StreamEvent::ToolCallDelta { index, arguments });
                    }
                    _ => {}
                }
            }
            "content_block_stop" => {
                if let Some(&index) = block.and_then(|b| self.tool_blocks.get(&b)) {
                    out.push(StreamEvent::ToolCallEnd { index });
                }
                if let Some((_, signature)) =
                    self.thinking.take_if(|(at, _)| Some(*at) == block.or(Some(0)))
                {
                    out.push(StreamEvent::ReasoningEnd {
                        signature,
                        redacted: None,
                        provider: provider(),
                    });
                }
            }
            "message_delta" => {
                if let Some(reason) = data["delta"]["stop_reason"].as_str() {
                    self.stop_reason = Some(reason.to_string());
                }
                if let Some(text) = data["delta"]["stop_sequence"].as_str() {
                    out.push(StreamEvent::StopSequence { text: text.to_string() });
                }
                if let Ok(usage) = WireUsage::deserialize(&data["usage"]) {
                    out.push(StreamEvent::Usage { usage: usage.into() });
                }
            }
            "message_stop" => {
                out.push(StreamEvent::Finish { reason: stop_reason(self.stop_reason.as_deref()) });
                return Ok(true);
            }
            "error" => return Err(stream_error(&data)),
            _ => {} // ping, and event types added after this was written
        }
        Ok(false)
    }

    fn end_without_marker(&mut self, _out: &mut Vec<StreamEvent>) -> Result<()> {
        Err(Error::transient("the stream closed before message_stop"))
    }
}
