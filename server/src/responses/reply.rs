//! The core's replies as Responses: a `response` object with its output items (reasoning,
//! message, function calls), or the stream's event sequence, from `response.created` to
//! `response.completed`, each event numbered.

use anymodel_core::{ChatResponse, FinishReason, StreamEvent, Usage};
use serde_json::{Value, json};

/// Who a response is: its id, the model as named, when it was made, its instructions.
#[derive(Debug, Clone)]
pub(crate) struct Stamp {
    pub(crate) id: String,
    pub(crate) model: String,
    pub(crate) created: u64,
    pub(crate) instructions: Option<String>,
    pub(crate) previous: Option<String>,
}

fn usage(usage: &Usage) -> Value {
    json!({
        "input_tokens": usage.input_tokens,
        "input_tokens_details": {"cached_tokens": usage.cached_input_tokens},
        "output_tokens": usage.output_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
        "total_tokens": usage.total_tokens(),
    })
}

/// The `response` object: `status` and `incomplete_details` from the finish reason.
fn response(
    stamp: &Stamp,
    status: &str,
    output: Vec<Value>,
    finish: Option<&FinishReason>,
    used: Option<&Usage>,
) -> Value {
    let incomplete = match finish {
        Some(FinishReason::Length | FinishReason::Repetition) => {
            json!({"reason": "max_output_tokens"})
        }
        Some(FinishReason::ContentFilter) => json!({"reason": "content_filter"}),
        _ => Value::Null,
    };
    let status = if status == "completed" && !incomplete.is_null() { "incomplete" } else { status };
    json!({
        "id": stamp.id, "object": "response", "created_at": stamp.created, "status": status,
        "model": stamp.model, "output": output, "instructions": stamp.instructions,
        "previous_response_id": stamp.previous, "incomplete_details": incomplete, "error": null,
        "usage": used.map(usage),
    })
}

fn message_item(id: &str, text: &str, status: &str) -> Value {
    let content: Vec<Value> = if status == "in_progress" {
        Vec::new()
    } else {
        vec![json!({"type": "output_text", "text": text, "annotations": []})]
    };
    json!({"type": "message", "id": id, "status": status, "role": "assistant", "content": content})
}

fn call_item(id: &str, call_id: &str, name: &str, arguments: &str, status: &str) -> Value {
    json!({"type": "function_call", "id": id, "call_id": call_id, "name": name, "arguments": arguments, "status": status})
}

fn reasoning_item(id: &str, text: &str) -> Value {
    let summary: Vec<Value> = if text.is_empty() {
        Vec::new()
    } else {
        vec![json!({"type": "summary_text", "text": text})]
    };
    json!({"type": "reasoning", "id": id, "summary": summary})
}

/// A whole reply.
pub(crate) fn whole(stamp: &Stamp, reply: &ChatResponse) -> Value {
    let mut output = Vec::new();
    let reasoning = reply.message.reasoning_text();
    if !reasoning.is_empty() {
        output.push(reasoning_item(&format!("rs_{}", stamp.id), &reasoning));
    }
    if !reply.message.content.is_empty() {
        output.push(message_item(
            &format!("msg_{}", stamp.id),
            &reply.message.content,
            "completed",
        ));
    }
    for (index, call) in reply.message.tool_calls.iter().enumerate() {
        let arguments = match &call.arguments {
            Value::String(raw) => raw.clone(),
            json => json.to_string(),
        };
        output.push(call_item(
            &format!("fc_{}_{index}", stamp.id),
            &call.id,
            &call.name,
            &arguments,
            "completed",
        ));
    }
    response(stamp, "completed", output, Some(&reply.finish_reason), Some(&reply.usage))
}

/// The item being written.
enum Open {
    Nothing,
    Reasoning { id: String, text: String },
    Message { id: String, text: String },
    Call { id: String, call_id: String, name: String, arguments: String },
}

/// Turns a core event stream into Responses events, numbered in order.
pub(crate) struct EventWriter {
    stamp: Stamp,
    sequence: u64,
    started: bool,
    open: Open,
    output: Vec<Value>,
    usage: Usage,
}

impl EventWriter {
    pub(crate) fn new(stamp: Stamp) -> Self {
        EventWriter {
            stamp,
            sequence: 0,
            started: false,
            open: Open::Nothing,
            output: Vec::new(),
            usage: Usage::default(),
        }
    }

    fn push(&mut self, out: &mut Vec<(String, Value)>, kind: &str, mut data: Value) {
        data["type"] = kind.into();
        data["sequence_number"] = self.sequence.into();
        self.sequence += 1;
        out.push((kind.to_string(), data));
    }

    /// The events `event` makes, as (name, data) pairs.
    pub(crate) fn write(&mut self, event: StreamEvent) -> Vec<(String, Value)> {
        let mut out = Vec::new();
        if !self.started {
            self.started = true;
            let created = response(&self.stamp, "in_progress", Vec::new(), None, None);
            self.push(&mut out, "response.created", json!({"response": created}));
            self.push(&mut out, "response.in_progress", json!({"response": created}));
        }
        match event {
            StreamEvent::ReasoningDelta { text } => {
                if !matches!(self.open, Open::Reasoning { .. }) {
                    self.close(&mut out);
                    let id = format!("rs_{}_{}", self.stamp.id, self.output.len());
                    self.open_item(&mut out, reasoning_item(&id, ""));
                    let index = self.output.len();
                    self.push(&mut out, "response.reasoning_summary_part.added", json!({"item_id": id, "output_index": index, "summary_index": 0, "part": {"type": "summary_text", "text": ""}}));
                    self.open = Open::Reasoning { id, text: String::new() };
                }
                let index = self.output.len();
                if let Open::Reasoning { id, text: all } = &mut self.open {
                    all.push_str(&text);
                    let id = id.clone();
                    self.push(&mut out, "response.reasoning_summary_text.delta", json!({"item_id": id, "output_index": index, "summary_index": 0, "delta": text}));
                }
            }
            StreamEvent::TextDelta { text } => {
                if !matches!(self.open, Open::Message { .. }) {
                    self.close(&mut out);
                    let id = format!("msg_{}_{}", self.stamp.id, self.output.len());
                    self.open_item(&mut out, message_item(&id, "", "in_progress"));
                    let index = self.output.len();
                    self.push(&mut out, "response.content_part.added", json!({"item_id": id, "output_index": index, "content_index": 0, "part": {"type": "output_text", "text": "", "annotations": []}}));
                    self.open = Open::Message { id, text: String::new() };
                }
                let index = self.output.len();
                if let Open::Message { id, text: all } = &mut self.open {
                    all.push_str(&text);
                    let id = id.clone();
                    self.push(&mut out, "response.output_text.delta", json!({"item_id": id, "output_index": index, "content_index": 0, "delta": text}));
                }
            }
            StreamEvent::ToolCallStart { id: call_id, name, .. } => {
                self.close(&mut out);
                let id = format!("fc_{}_{}", self.stamp.id, self.output.len());
                self.open_item(&mut out, call_item(&id, &call_id, &name, "", "in_progress"));
                self.open = Open::Call { id, call_id, name, arguments: String::new() };
            }
            StreamEvent::ToolCallDelta { arguments, .. } => {
                let index = self.output.len();
                if let Open::Call { id, arguments: all, .. } = &mut self.open {
                    all.push_str(&arguments);
                    let id = id.clone();
                    self.push(
                        &mut out,
                        "response.function_call_arguments.delta",
                        json!({"item_id": id, "output_index": index, "delta": arguments}),
                    );
                }
            }
            StreamEvent::ToolCallEnd { .. } => self.close(&mut out),
            StreamEvent::Usage { usage } => self.usage = self.usage.updated_by(usage),
            StreamEvent::Finish { reason } => {
                self.close(&mut out);
                let done = response(
                    &self.stamp,
                    "completed",
                    self.output.clone(),
                    Some(&reason),
                    Some(&self.usage),
                );
                let kind = if done["status"] == "completed" {
                    "response.completed"
                } else {
                    "response.incomplete"
                };
                self.push(&mut out, kind, json!({"response": done}));
            }
            _ => {}
        }
        out
    }

    fn open_item(&mut self, out: &mut Vec<(String, Value)>, item: Value) {
        let index = self.output.len();
        self.push(out, "response.output_item.added", json!({"output_index": index, "item": item}));
    }

    /// Ends the open item: its `done` events, and it joins the output.
    fn close(&mut self, out: &mut Vec<(String, Value)>) {
        let index = self.output.len();
        let item = match std::mem::replace(&mut self.open, Open::Nothing) {
            Open::Nothing => return,
            Open::Reasoning { id, text } => {
                self.push(
                    out,
                    "response.reasoning_summary_text.done",
                    json!({"item_id": id, "output_index": index, "summary_index": 0, "text": text}),
                );
                self.push(out, "response.reasoning_summary_part.done", json!({"item_id": id, "output_index": index, "summary_index": 0, "part": {"type": "summary_text", "text": text}}));
                reasoning_item(&id, &text)
            }
            Open::Message { id, text } => {
                self.push(
                    out,
                    "response.output_text.done",
                    json!({"item_id": id, "output_index": index, "content_index": 0, "text": text}),
                );
                self.push(out, "response.content_part.done", json!({"item_id": id, "output_index": index, "content_index": 0, "part": {"type": "output_text", "text": text, "annotations": []}}));
                message_item(&id, &text, "completed")
            }
            Open::Call { id, call_id, name, arguments } => {
                self.push(
                    out,
                    "response.function_call_arguments.done",
                    json!({"item_id": id, "output_index": index, "arguments": arguments}),
                );
                call_item(&id, &call_id, &name, &arguments, "completed")
            }
        };
        self.push(out, "response.output_item.done", json!({"output_index": index, "item": item}));
        self.output.push(item);
    }
}
