//! The core's replies as Messages: a whole `message`, or the event sequence of a stream
//! (`message_start`, `ping`, content blocks each started, filled and stopped, `message_delta`
//! with the stop reason and usage, `message_stop`).

use std::collections::BTreeMap;

use anymodel_core::{ChatResponse, FinishReason, StreamEvent, Usage};
use serde_json::{Value, json};

/// The `stop_reason`: `stop_sequence` when a stop string ended the reply.
fn stop_reason(reason: &FinishReason, stop_sequence: Option<&String>) -> &'static str {
    if stop_sequence.is_some() {
        return "stop_sequence";
    }
    match reason {
        FinishReason::Stop | FinishReason::Other(_) => "end_turn",
        FinishReason::Length | FinishReason::Repetition => "max_tokens",
        FinishReason::ToolCalls => "tool_use",
        FinishReason::ContentFilter => "refusal",
    }
}

/// Anthropic counts cache reads and writes apart from `input_tokens`.
fn usage(usage: &Usage) -> Value {
    let cached = usage.cached_input_tokens + usage.cache_write_input_tokens;
    json!({
        "input_tokens": usage.input_tokens.saturating_sub(cached),
        "output_tokens": usage.output_tokens,
        "cache_read_input_tokens": usage.cached_input_tokens,
        "cache_creation_input_tokens": usage.cache_write_input_tokens,
    })
}

/// A whole reply.
pub(crate) fn message(id: &str, model: &str, reply: &ChatResponse) -> Value {
    let mut content = Vec::new();
    for reasoning in &reply.message.reasoning {
        match (&reasoning.redacted, &reasoning.signature) {
            (Some(data), _) => content.push(json!({"type": "redacted_thinking", "data": data})),
            (None, signature) => content.push(json!({
                "type": "thinking", "thinking": reasoning.text, "signature": signature.clone().unwrap_or_default(),
            })),
        }
    }
    if !reply.message.content.is_empty() {
        content.push(json!({"type": "text", "text": reply.message.content}));
    }
    for call in &reply.message.tool_calls {
        content.push(json!({"type": "tool_use", "id": call.id, "name": call.name, "input": input(&call.arguments)}));
    }
    json!({
        "id": id, "type": "message", "role": "assistant", "model": model, "content": content,
        "stop_reason": stop_reason(&reply.finish_reason, reply.stop_sequence.as_ref()),
        "stop_sequence": reply.stop_sequence,
        "usage": usage(&reply.usage),
    })
}

/// Arguments as the object `input` must be (text that never parsed becomes `{}`).
fn input(arguments: &Value) -> Value {
    if arguments.is_object() { arguments.clone() } else { json!({}) }
}

/// What is open in the stream.
enum Open {
    Nothing,
    Text,
    Thinking,
}

/// A tool call gathered until it is whole: Messages blocks cannot interleave, while the core's
/// calls may.
struct PendingCall {
    id: String,
    name: String,
    arguments: String,
}

/// Turns a core event stream into Messages events, one event at a time.
pub(crate) struct EventWriter {
    id: String,
    model: String,
    started: bool,
    open: Open,
    block: usize,
    calls: BTreeMap<usize, PendingCall>,
    usage: Usage,
    stop_sequence: Option<String>,
}

impl EventWriter {
    pub(crate) fn new(id: String, model: String) -> Self {
        EventWriter {
            id,
            model,
            started: false,
            open: Open::Nothing,
            block: 0,
            calls: BTreeMap::new(),
            usage: Usage::default(),
            stop_sequence: None,
        }
    }

    /// The events `event` makes, as (name, data) pairs.
    pub(crate) fn write(&mut self, event: StreamEvent) -> Vec<(&'static str, Value)> {
        let mut out = Vec::new();
        if !self.started {
            self.started = true;
            let message = json!({
                "id": self.id, "type": "message", "role": "assistant", "model": self.model,
                "content": [], "stop_reason": null, "stop_sequence": null, "usage": usage(&self.usage),
            });
            out.push(("message_start", json!({"type": "message_start", "message": message})));
            out.push(("ping", json!({"type": "ping"})));
        }
        match event {
            StreamEvent::TextDelta { text } => {
                if !matches!(self.open, Open::Text) {
                    self.close(&mut out);
                    self.start(&mut out, json!({"type": "text", "text": ""}), Open::Text);
                }
                self.delta(&mut out, json!({"type": "text_delta", "text": text}));
            }
            StreamEvent::ReasoningDelta { text } => {
                if !matches!(self.open, Open::Thinking) {
                    self.close(&mut out);
                    self.start(
                        &mut out,
                        json!({"type": "thinking", "thinking": ""}),
                        Open::Thinking,
                    );
                }
                self.delta(&mut out, json!({"type": "thinking_delta", "thinking": text}));
            }
            StreamEvent::ReasoningEnd { signature, redacted, .. } => match redacted {
                Some(data) => {
                    self.close(&mut out);
                    self.start(
                        &mut out,
                        json!({"type": "redacted_thinking", "data": data}),
                        Open::Nothing,
                    );
                    self.stop(&mut out);
                }
                None => {
                    if !matches!(self.open, Open::Thinking) {
                        self.close(&mut out);
                        self.start(
                            &mut out,
                            json!({"type": "thinking", "thinking": ""}),
                            Open::Thinking,
                        );
                    }
                    let signature = signature.unwrap_or_default();
                    self.delta(
                        &mut out,
                        json!({"type": "signature_delta", "signature": signature}),
                    );
                    self.close(&mut out);
                }
            },
            StreamEvent::ToolCallStart { index, id, name } => {
                self.calls.entry(index).or_insert(PendingCall {
                    id,
                    name,
                    arguments: String::new(),
                });
            }
            StreamEvent::ToolCallDelta { index, arguments } => {
                if let Some(call) = self.calls.get_mut(&index) {
                    call.arguments.push_str(&arguments);
                }
            }
            StreamEvent::ToolCallEnd { index } => {
                if let Some(call) = self.calls.remove(&index) {
                    self.call(&mut out, call);
                }
            }
            StreamEvent::Usage { usage } => self.usage = self.usage.updated_by(usage),
            StreamEvent::StopSequence { text } => self.stop_sequence = Some(text),
            StreamEvent::Finish { reason } => {
                for call in std::mem::take(&mut self.calls).into_values() {
                    self.call(&mut out, call);
                }
                self.close(&mut out);
                out.push((
                    "message_delta",
                    json!({"type": "message_delta", "delta": {"stop_reason": stop_reason(&reason, self.stop_sequence.as_ref()), "stop_sequence": self.stop_sequence}, "usage": usage(&self.usage)}),
                ));
                out.push(("message_stop", json!({"type": "message_stop"})));
            }
            _ => {}
        }
        out
    }

    fn start(&mut self, out: &mut Vec<(&'static str, Value)>, block: Value, open: Open) {
        out.push((
            "content_block_start",
            json!({"type": "content_block_start", "index": self.block, "content_block": block}),
        ));
        self.open = open;
    }

    fn delta(&self, out: &mut Vec<(&'static str, Value)>, delta: Value) {
        out.push((
            "content_block_delta",
            json!({"type": "content_block_delta", "index": self.block, "delta": delta}),
        ));
    }

    fn stop(&mut self, out: &mut Vec<(&'static str, Value)>) {
        out.push((
            "content_block_stop",
            json!({"type": "content_block_stop", "index": self.block}),
        ));
        self.block += 1;
        self.open = Open::Nothing;
    }

    /// Stops the open text or thinking block, if one is.
    fn close(&mut self, out: &mut Vec<(&'static str, Value)>) {
        if !matches!(self.open, Open::Nothing) {
            self.stop(out);
        }
    }

    /// A whole tool call as its block.
    fn call(&mut self, out: &mut Vec<(&'static str, Value)>, call: PendingCall) {
        self.close(out);
        let block = json!({"type": "tool_use", "id": call.id, "name": call.name, "input": {}});
        self.start(out, block, Open::Nothing);
        let arguments =
            if call.arguments.trim().is_empty() { "{}".to_string() } else { call.arguments };
        self.delta(out, json!({"type": "input_json_delta", "partial_json": arguments}));
        self.stop(out);
    }
}
