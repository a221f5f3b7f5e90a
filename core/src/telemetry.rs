//! The spans of the agent loop and of [`crate::TracedModel`], named and attributed as
//! OpenTelemetry's GenAI semantic conventions say: `invoke_agent {agent}` around a run,
//! `chat {model}` around each model call and `execute_tool {tool}` around each tool call. They are `tracing` spans: any `tracing`
//! subscriber sees them, and a `tracing-opentelemetry` layer (the facade's `otel` feature)
//! exports them as OpenTelemetry spans (`otel.name` and `otel.kind` are that layer's fields for
//! the span's name and kind); without a subscriber they cost next to nothing.
//!
//! Message content (prompts, replies, tool arguments and results) is recorded only when
//! `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true`, as the conventions ask, in their
//! JSON shapes (`gen_ai.input.messages`, `gen_ai.output.messages`,
//! `gen_ai.system_instructions`, `gen_ai.tool.call.arguments`, `gen_ai.tool.call.result`), each
//! cut at 64 KiB.
//! `gen_ai.response.finish_reasons` is a string array in the conventions; `tracing` fields
//! cannot be arrays, so it is recorded as the one reason of the reply (a step asks for one
//! choice), which the facade's exporter sends as a one-element array.

use std::sync::OnceLock;

use serde_json::{Value, json};
use tracing::Span;
use tracing::field::Empty;

use crate::content::{Content, MediaSource, Part};
use crate::error::Error;
use crate::message::{AssistantMessage, Message, ToolCall};
use crate::model::{Model, model_of};
use crate::request::ChatRequest;
use crate::response::{ChatResponse, FinishReason, Usage};
use crate::toolset::ToolCallError;

/// The variable that turns content capture on, as the conventions name it.
const CAPTURE_CONTENT: &str = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT";

/// The most of one content attribute kept: a whole conversation of long documents would make
/// spans of megabytes, which collectors refuse.
const CONTENT_LIMIT: usize = 64 * 1024;

/// `text` cut to [`CONTENT_LIMIT`] bytes (at a character's edge), saying so.
fn bounded(mut text: String) -> String {
    if text.len() > CONTENT_LIMIT {
        let mut end = CONTENT_LIMIT;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        let left = text.len() - end;
        text.truncate(end);
        text.push_str(&format!("…[{left} more bytes left out]"));
    }
    text
}

/// Whether spans carry message content (read once).
fn capture_content() -> bool {
    static CAPTURE: OnceLock<bool> = OnceLock::new();
    *CAPTURE.get_or_init(|| {
        std::env::var(CAPTURE_CONTENT).is_ok_and(|value| value.eq_ignore_ascii_case("true"))
    })
}

/// The span of one run of an agent named `name` (if it has one) on `model`.
pub(crate) fn agent_span(name: Option<&str>, model: &dyn Model) -> Span {
    let span_name = match name {
        Some(name) => format!("invoke_agent {name}"),
        None => "invoke_agent".to_string(),
    };
    let span = tracing::info_span!(
        target: "anymodel::genai",
        "invoke_agent",
        otel.name = span_name,
        otel.kind = "internal",
        otel.status_code = Empty,
        otel.status_description = Empty,
        gen_ai.operation.name = "invoke_agent",
        gen_ai.provider.name = model.provider(),
        gen_ai.request.model = model_of(model.name()),
        gen_ai.agent.name = Empty,
        gen_ai.usage.input_tokens = Empty,
        gen_ai.usage.output_tokens = Empty,
        gen_ai.usage.cache_read.input_tokens = Empty,
        "error.type" = Empty,
    );
    if let Some(name) = name {
        span.record("gen_ai.agent.name", name);
    }
    span
}

/// Records how a run ended on its span: its tokens, or its error's class.
pub(crate) fn record_run(span: &Span, usage: Usage, error: Option<&str>) {
    record_usage(span, usage);
    if let Some(class) = error {
        span.record("error.type", class);
        span.record("otel.status_code", "error");
    }
}

/// The span of one model call of `request` to `model`.
pub(crate) fn chat_span(model: &dyn Model, request: &ChatRequest) -> Span {
    let requested = model_of(model.name());
    let span = tracing::info_span!(
        target: "anymodel::genai",
        "chat",
        otel.name = format!("chat {requested}"),
        otel.kind = "client",
        otel.status_code = Empty,
        otel.status_description = Empty,
        gen_ai.operation.name = "chat",
        gen_ai.provider.name = model.provider(),
        gen_ai.request.model = requested,
        gen_ai.request.max_tokens = Empty,
        gen_ai.request.temperature = Empty,
        gen_ai.request.top_p = Empty,
        gen_ai.request.top_k = Empty,
        gen_ai.request.seed = Empty,
        gen_ai.response.id = Empty,
        gen_ai.response.model = Empty,
        gen_ai.response.finish_reasons = Empty,
        gen_ai.usage.input_tokens = Empty,
        gen_ai.usage.output_tokens = Empty,
        gen_ai.usage.cache_read.input_tokens = Empty,
        gen_ai.usage.cache_creation.input_tokens = Empty,
        gen_ai.system_instructions = Empty,
        gen_ai.input.messages = Empty,
        gen_ai.output.messages = Empty,
        "error.type" = Empty,
    );
    let sampling = &request.sampling;
    if let Some(tokens) = sampling.max_tokens {
        span.record("gen_ai.request.max_tokens", i64::from(tokens));
    }
    if let Some(temperature) = sampling.temperature {
        span.record("gen_ai.request.temperature", temperature);
    }
    if let Some(top_p) = sampling.top_p {
        span.record("gen_ai.request.top_p", top_p);
    }
    if let Some(top_k) = sampling.top_k {
        span.record("gen_ai.request.top_k", i64::from(top_k));
    }
    if let Some(seed) = sampling.seed {
        span.record("gen_ai.request.seed", integer(seed));
    }
    if capture_content() {
        let (system, messages): (Vec<&Message>, Vec<&Message>) =
            request.messages.iter().partition(|m| matches!(m, Message::System { .. }));
        let instructions: Vec<Value> = system
            .iter()
            .filter_map(|m| match m {
                Message::System { content } => Some(json!({"type": "text", "content": content})),
                _ => None,
            })
            .collect();
        if !instructions.is_empty() {
            span.record(
                "gen_ai.system_instructions",
                bounded(Value::from(instructions).to_string()),
            );
        }
        let messages: Vec<Value> = messages.into_iter().map(message).collect();
        span.record("gen_ai.input.messages", bounded(Value::from(messages).to_string()));
    }
    span
}

/// Records a model call's reply, or its failure, on its span.
pub(crate) fn record_reply(span: &Span, reply: Result<&ChatResponse, &Error>) {
    let response = match reply {
        Ok(response) => response,
        Err(error) => {
            span.record("error.type", error.class());
            span.record("otel.status_code", "error");
            span.record("otel.status_description", error.to_string());
            return;
        }
    };
    if let Some(id) = &response.id {
        span.record("gen_ai.response.id", id.as_str());
    }
    if let Some(model) = &response.model {
        span.record("gen_ai.response.model", model.as_str());
    }
    let reason = finish_reason(&response.finish_reason);
    span.record("gen_ai.response.finish_reasons", reason);
    record_usage(span, response.usage);
    if response.usage.cache_write_input_tokens > 0 {
        let written = integer(response.usage.cache_write_input_tokens);
        span.record("gen_ai.usage.cache_creation.input_tokens", written);
    }
    if capture_content() {
        let mut output = assistant(&response.message);
        output["finish_reason"] = reason.into();
        span.record("gen_ai.output.messages", bounded(json!([output]).to_string()));
    }
}

/// The span of one tool call.
pub(crate) fn tool_span(call: &ToolCall) -> Span {
    let span = tracing::info_span!(
        target: "anymodel::genai",
        "execute_tool",
        otel.name = format!("execute_tool {}", call.name),
        otel.kind = "internal",
        otel.status_code = Empty,
        otel.status_description = Empty,
        gen_ai.operation.name = "execute_tool",
        gen_ai.tool.name = call.name.as_str(),
        gen_ai.tool.call.id = call.id.as_str(),
        "gen_ai.tool.type" = "function",
        gen_ai.tool.call.arguments = Empty,
        gen_ai.tool.call.result = Empty,
        "error.type" = Empty,
    );
    if capture_content() {
        span.record("gen_ai.tool.call.arguments", bounded(call.arguments.to_string()));
    }
    span
}

/// Records a tool call's result, or why it has none, on its span.
pub(crate) fn record_tool(span: &Span, result: Result<&Value, &ToolCallError>) {
    match result {
        Ok(value) => {
            if capture_content() {
                span.record("gen_ai.tool.call.result", bounded(value.to_string()));
            }
        }
        Err(error) => {
            let class = match error {
                ToolCallError::UnknownTool { .. } => "unknown_tool",
                ToolCallError::InvalidArguments { .. } => "invalid_arguments",
                ToolCallError::Failed { .. } => "tool_failed",
                ToolCallError::TimedOut { .. } => "timeout",
                ToolCallError::Denied { .. } => "denied",
            };
            span.record("error.type", class);
            span.record("otel.status_code", "error");
            span.record("otel.status_description", error.to_string());
        }
    }
}

fn record_usage(span: &Span, usage: Usage) {
    span.record("gen_ai.usage.input_tokens", integer(usage.input_tokens));
    span.record("gen_ai.usage.output_tokens", integer(usage.output_tokens));
    if usage.cached_input_tokens > 0 {
        span.record("gen_ai.usage.cache_read.input_tokens", integer(usage.cached_input_tokens));
    }
}

/// A count as a signed integer: OpenTelemetry's attributes have no unsigned ones, and the
/// `tracing` bridge writes unsigned values as text.
fn integer(count: u64) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}

/// A finish reason as the conventions spell it.
fn finish_reason(reason: &FinishReason) -> &str {
    match reason {
        FinishReason::Stop => "stop",
        FinishReason::Length => "length",
        FinishReason::ToolCalls => "tool_call",
        FinishReason::ContentFilter => "content_filter",
        FinishReason::Repetition => "repetition",
        FinishReason::Other(other) => other,
    }
}

/// A message in the conventions' shape: a role and its parts.
fn message(message: &Message) -> Value {
    match message {
        Message::System { content } => {
            json!({"role": "system", "parts": [{"type": "text", "content": content}]})
        }
        Message::User { content } => json!({"role": "user", "parts": parts(content)}),
        Message::Assistant(reply) => assistant(reply),
        Message::Tool(result) => json!({
            "role": "tool",
            "parts": [{
                "type": "tool_call_response",
                "id": result.tool_call_id,
                "response": result.content.text(),
            }],
        }),
    }
}

fn assistant(reply: &AssistantMessage) -> Value {
    let mut parts: Vec<Value> = reply
        .reasoning
        .iter()
        .filter(|block| !block.text.is_empty())
        .map(|block| json!({"type": "reasoning", "content": block.text}))
        .collect();
    if !reply.content.is_empty() {
        parts.push(json!({"type": "text", "content": reply.content}));
    }
    parts.extend(reply.tool_calls.iter().map(|call| {
        json!({"type": "tool_call", "id": call.id, "name": call.name, "arguments": call.arguments})
    }));
    json!({"role": "assistant", "parts": parts})
}

/// Text as text; images and documents by address or media type (their bytes are left out:
/// a span is no place for megabytes).
fn parts(content: &Content) -> Vec<Value> {
    content
        .parts()
        .iter()
        .map(|part| match part {
            Part::Text { text } => json!({"type": "text", "content": text}),
            Part::Image(media) | Part::Document { media, .. } => {
                let modality = if matches!(part, Part::Image(_)) { "image" } else { "document" };
                match &media.source {
                    MediaSource::Url(url) => {
                        json!({"type": "uri", "modality": modality, "uri": url, "mime_type": media.media_type})
                    }
                    MediaSource::Base64(_) => {
                        json!({"type": "blob", "modality": modality, "mime_type": media.media_type})
                    }
                }
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_past_the_limit_is_cut_at_a_character_and_says_so() {
        assert_eq!(bounded("short".into()), "short");
        let long = "é".repeat(CONTENT_LIMIT);
        let cut = bounded(long.clone());
        assert!(cut.len() < CONTENT_LIMIT + 40);
        assert!(long.starts_with(cut.split('…').next().unwrap()));
        assert!(
            cut.ends_with(&format!("[{} more bytes left out]", CONTENT_LIMIT)),
            "{}",
            &cut[cut.len() - 40..]
        );
    }
}
