//! Chat Completions replies and stream chunks, decoded leniently: the servers that speak this
//! format differ, so unknown fields are ignored, `id`/`object` may be missing, and tool-call
//! arguments may come as text, as an object, empty, or split across chunks.

use std::collections::BTreeSet;

use anymodel_core::{
    AssistantMessage, ChatResponse, Error, FinishReason, Reasoning, Result, StreamEvent, ToolCall,
    Usage,
};
use serde::Deserialize;
use serde_json::Value;

use crate::http::{SseEvent, StreamDecoder, label, origin, stream_error};

#[derive(Deserialize)]
pub struct Completion {
    #[serde(default, deserialize_with = "label")]
    id: Option<String>,
    #[serde(default, deserialize_with = "label")]
    model: Option<String>,
    #[serde(default)]
    choices: Vec<Choice>,
    usage: Option<WireUsage>,
}

#[derive(Deserialize)]
struct Choice {
    message: WireMessage,
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct WireMessage {
    content: Option<String>,
    /// The reasoning of servers that return it: DeepSeek, vLLM and llama-server
    /// (`reasoning_content`), OpenRouter and newer vLLM (`reasoning`).
    #[serde(default)]
    reasoning_content: Option<String>,
    #[serde(default)]
    reasoning: Option<Value>,
    #[serde(default)]
    tool_calls: Option<Vec<WireToolCall>>,
}

#[derive(Deserialize)]
struct WireToolCall {
    id: Option<String>,
    function: WireFunction,
}

#[derive(Deserialize)]
struct WireFunction {
    name: String,
    #[serde(default)]
    arguments: Value,
}

#[derive(Deserialize, Default)]
struct WireUsage {
    #[serde(default)]
    prompt_tokens: u64,
    #[serde(default)]
    completion_tokens: u64,
    #[serde(default)]
    prompt_tokens_details: Option<PromptDetails>,
    #[serde(default)]
    completion_tokens_details: Option<CompletionDetails>,
    /// DeepSeek's count of prompt tokens read from its cache.
    #[serde(default)]
    prompt_cache_hit_tokens: Option<u64>,
}

#[derive(Deserialize, Default)]
struct PromptDetails {
    #[serde(default)]
    cached_tokens: Option<u64>,
}

#[derive(Deserialize, Default)]
struct CompletionDetails {
    #[serde(default)]
    reasoning_tokens: Option<u64>,
}

impl From<WireUsage> for Usage {
    fn from(usage: WireUsage) -> Usage {
        let cached = usage
            .prompt_tokens_details
            .and_then(|details| details.cached_tokens)
            .or(usage.prompt_cache_hit_tokens);
        let reasoning = usage.completion_tokens_details.and_then(|d| d.reasoning_tokens);
        Usage::new(usage.prompt_tokens, usage.completion_tokens)
            .with_cached_input(cached.unwrap_or_default())
            .with_reasoning(reasoning.unwrap_or_default())
    }
}

impl Completion {
    /// The reply of the first choice.
    pub(crate) fn into_response(self) -> Result<ChatResponse> {
        let choice = self
            .choices
            .into_iter()
            .next()
            .ok_or_else(|| Error::invalid_response("the reply has no choices"))?;
        let tool_calls: Vec<ToolCall> = choice
            .message
            .tool_calls
            .unwrap_or_default()
            .into_iter()
            .map(|call| ToolCall {
                id: call.id.filter(|id| !id.is_empty()).unwrap_or_else(ToolCall::minted_id),
                name: call.function.name,
                arguments: arguments(call.function.arguments),
            })
            .collect();
        let finish_reason = finish_reason(choice.finish_reason.as_deref(), !tool_calls.is_empty());
        Ok(ChatResponse {
            message: AssistantMessage {
                reasoning: reasoning_text(
                    choice.message.reasoning_content,
                    choice.message.reasoning,
                )
                .map(Reasoning::text)
                .into_iter()
                .collect(),
                content: choice.message.content.unwrap_or_default(),
                tool_calls,
            },
            finish_reason,
            usage: self.usage.map(Usage::from).unwrap_or_default(),
            stop_sequence: None,
            id: self.id,
            model: self.model,
        })
    }
}

/// The reasoning text of a message or delta, from whichever field the server writes it in
/// (some write both, the same text twice); `reasoning` may be an object on servers that use the
/// name for something else, and is then not text.
fn reasoning_text(content: Option<String>, reasoning: Option<Value>) -> Option<String> {
    let reasoning = match reasoning {
        Some(Value::String(text)) => Some(text),
        _ => None,
    };
    content.filter(|text| !text.is_empty()).or(reasoning.filter(|text| !text.is_empty()))
}

/// Whole arguments as a value: JSON text parsed (empty text is `{}`), an object as it is, text
/// that is not JSON kept as a string so the model can be told.
fn arguments(raw: Value) -> Value {
    match raw {
        Value::String(text) => ToolCall::arguments_from_text(text),
        Value::Null => Value::Object(Default::default()),
        other => other,
    }
}

fn finish_reason(reason: Option<&str>, has_tool_calls: bool) -> FinishReason {
    match reason {
        Some("stop") | Some("eos") | Some("end_turn") => FinishReason::Stop,
        Some("length") => FinishReason::Length,
        Some("tool_calls") | Some("function_call") => FinishReason::ToolCalls,
        Some("content_filter") => FinishReason::ContentFilter,
        Some(other) => FinishReason::Other(other.to_string()),
        None if has_tool_calls => FinishReason::ToolCalls,
        None => FinishReason::Stop,
    }
}

#[derive(Deserialize)]
struct Chunk {
    #[serde(default, deserialize_with = "label")]
    id: Option<String>,
    #[serde(default, deserialize_with = "label")]
    model: Option<String>,
    #[serde(default)]
    choices: Vec<ChunkChoice>,
    usage: Option<WireUsage>,
}

#[derive(Deserialize)]
struct ChunkChoice {
    #[serde(default)]
    index: u32,
    delta: Option<Delta>,
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct Delta {
    content: Option<String>,
    #[serde(default)]
    reasoning_content: Option<String>,
    #[serde(default)]
    reasoning: Option<Value>,
    #[serde(default)]
    tool_calls: Option<Vec<DeltaToolCall>>,
}

#[derive(Deserialize)]
struct DeltaToolCall {
    index: Option<usize>,
    id: Option<String>,
    function: Option<DeltaFunction>,
}

#[derive(Deserialize)]
struct DeltaFunction {
    name: Option<String>,
    #[serde(default)]
    arguments: Value,
}

/// Decodes a Chat Completions stream. The finish reason is held back until the stream's end
/// (`[DONE]`), so that the usage-only chunk which follows it is still reported before `Finish`.
#[derive(Default)]
pub struct ChunkDecoder {
    started: BTreeSet<usize>,
    finish_reason: Option<String>,
    saw_finish: bool,
    /// Whether the reply's id and model were reported (every chunk repeats them).
    saw_origin: bool,
}

impl ChunkDecoder {
    fn close(&mut self, out: &mut Vec<StreamEvent>) {
        out.extend(self.started.iter().map(|&index| StreamEvent::ToolCallEnd { index }));
        let reason = finish_reason(self.finish_reason.as_deref(), !self.started.is_empty());
        out.push(StreamEvent::Finish { reason });
    }

    fn tool_call(&mut self, position: usize, call: DeltaToolCall, out: &mut Vec<StreamEvent>) {
        let index = call.index.unwrap_or(position);
        let (name, arguments) = match call.function {
            Some(function) => (function.name, function.arguments),
            None => (None, Value::Null),
        };
        if self.started.insert(index) {
            let id = call.id.filter(|id| !id.is_empty()).unwrap_or_else(ToolCall::minted_id);
            out.push(StreamEvent::ToolCallStart { index, id, name: name.unwrap_or_default() });
        }
        let fragment = match arguments {
            Value::Null => return,
            Value::String(text) => text,
            object => object.to_string(),
        };
        if !fragment.is_empty() {
            out.push(StreamEvent::ToolCallDelta { index, arguments: fragment });
        }
    }
}

impl StreamDecoder for ChunkDecoder {
    fn decode(&mut self, event: SseEvent, out: &mut Vec<StreamEvent>) -> Result<bool> {
        if event.data.trim() == "[DONE]" {
            self.close(out);
            return Ok(true);
        }
        let Some(value) = event.json()? else { return Ok(false) };
        if value.get("error").is_some() {
            return Err(stream_error(&value));
        }
        let chunk: Chunk = serde_json::from_value(value).map_err(|err| {
            Error::invalid_response(format!(
                "a stream chunk is not as expected ({err}): {}",
                event.data
            ))
        })?;
        if !self.saw_origin
            && let Some(event) = origin(chunk.id, chunk.model)
        {
            out.push(event);
            self.saw_origin = true;
        }
        // Only the first choice is followed; the core asks for one.
        for choice in chunk.choices.into_iter().filter(|choice| choice.index == 0) {
            if let Some(delta) = choice.delta {
                if let Some(text) = reasoning_text(delta.reasoning_content, delta.reasoning) {
                    out.push(StreamEvent::ReasoningDelta { text });
                }
                if let Some(text) = delta.content.filter(|text| !text.is_empty()) {
                    out.push(StreamEvent::TextDelta { text });
                }
                for (position, call) in delta.tool_calls.unwrap_or_default().into_iter().enumerate()
                {
                    self.tool_call(position, call, out);
                }
            }
            if let Some(reason) = choice.finish_reason {
                self.finish_reason = Some(reason);
                self.saw_finish = true;
            }
        }
        if let Some(usage) = chunk.usage {
            out.push(StreamEvent::Usage { usage: usage.into() });
        }
        Ok(false)
    }

    fn end_without_marker(&mut self, out: &mut Vec<StreamEvent>) -> Result<()> {
        // Some servers end after the finish reason without `[DONE]`: the reply is complete.
        if self.saw_finish {
            self.close(out);
            return Ok(());
        }
        Err(Error::transient("the stream closed before the reply was finished"))
    }
}
