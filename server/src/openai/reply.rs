//! The core's replies as Chat Completions: a whole `chat.completion`, or the chunks of a
//! stream (role first, text and reasoning deltas, tool calls keyed by index with the id and name
//! on each call's first delta, the finish reason, a usage chunk when asked, `[DONE]`).

use anymodel_core::{ChatResponse, FinishReason, StreamEvent, Usage};
use serde_json::{Value, json};

/// The `finish_reason` a client expects.
fn finish_reason(reason: &FinishReason) -> String {
    match reason {
        FinishReason::Stop => "stop".into(),
        // A reply stopped for repeating itself was cut short, as one cut by the limit.
        FinishReason::Length | FinishReason::Repetition => "length".into(),
        FinishReason::ToolCalls => "tool_calls".into(),
        FinishReason::ContentFilter => "content_filter".into(),
        FinishReason::Other(other) => other.clone(),
    }
}

fn usage(usage: &Usage) -> Value {
    json!({
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.total_tokens(),
        "prompt_tokens_details": {"cached_tokens": usage.cached_input_tokens},
        "completion_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
    })
}

/// Who and when a reply is: its id, the model as the client named it, the time it was made.
#[derive(Debug, Clone)]
pub(crate) struct Stamp {
    pub(crate) id: String,
    pub(crate) model: String,
    pub(crate) created: u64,
}

impl Stamp {
    fn object(&self, object: &str) -> serde_json::Map<String, Value> {
        let mut fields = serde_json::Map::new();
        fields.insert("id".into(), self.id.clone().into());
        fields.insert("object".into(), object.into());
        fields.insert("created".into(), self.created.into());
        fields.insert("model".into(), self.model.clone().into());
        fields
    }
}

/// A whole reply.
pub(crate) fn completion(stamp: &Stamp, reply: &ChatResponse) -> Value {
    let message = &reply.message;
    let content = if message.content.is_empty() && !message.tool_calls.is_empty() {
        Value::Null
    } else {
        message.content.clone().into()
    };
    let mut wire = json!({"role": "assistant", "content": content});
    if !message.tool_calls.is_empty() {
        let calls: Vec<Value> = message
            .tool_calls
            .iter()
            .map(|call| {
                json!({"id": call.id, "type": "function", "function": {"name": call.name, "arguments": arguments_text(&call.arguments)}})
            })
            .collect();
        wire["tool_calls"] = calls.into();
    }
    let reasoning = message.reasoning_text();
    if !reasoning.is_empty() {
        wire["reasoning_content"] = reasoning.into();
    }
    let mut body = stamp.object("chat.completion");
    body.insert(
        "choices".into(),
        json!([{"index": 0, "message": wire, "finish_reason": finish_reason(&reply.finish_reason)}]),
    );
    body.insert("usage".into(), usage(&reply.usage));
    Value::Object(body)
}

fn arguments_text(arguments: &Value) -> String {
    match arguments {
        Value::String(raw) => raw.clone(),
        json => json.to_string(),
    }
}

/// Turns a core event stream into chunks, one event at a time.
pub(crate) struct ChunkWriter {
    stamp: Stamp,
    include_usage: bool,
    usage: Usage,
    started: bool,
}

impl ChunkWriter {
    pub(crate) fn new(stamp: Stamp, include_usage: bool) -> Self {
        ChunkWriter { stamp, include_usage, usage: Usage::default(), started: false }
    }

    fn chunk(&self, delta: Value, finish: Option<String>) -> Value {
        let mut body = self.stamp.object("chat.completion.chunk");
        body.insert(
            "choices".into(),
            json!([{"index": 0, "delta": delta, "finish_reason": finish}]),
        );
        Value::Object(body)
    }

    /// The chunks `event` makes: the first carries the role.
    pub(crate) fn write(&mut self, event: StreamEvent) -> Vec<Value> {
        let mut chunks = Vec::new();
        if !self.started {
            self.started = true;
            chunks.push(self.chunk(json!({"role": "assistant", "content": ""}), None));
        }
        match event {
            StreamEvent::TextDelta { text } => chunks.push(self.chunk(json!({"content": text}), None)),
            StreamEvent::ReasoningDelta { text } => {
                chunks.push(self.chunk(json!({"reasoning_content": text}), None));
            }
            StreamEvent::ToolCallStart { index, id, name } => chunks.push(self.chunk(
                json!({"tool_calls": [{"index": index, "id": id, "type": "function", "function": {"name": name, "arguments": ""}}]}),
                None,
            )),
            StreamEvent::ToolCallDelta { index, arguments } => chunks.push(self.chunk(
                json!({"tool_calls": [{"index": index, "function": {"arguments": arguments}}]}),
                None,
            )),
            StreamEvent::Usage { usage } => self.usage = self.usage.updated_by(usage),
            StreamEvent::Finish { reason } => {
                chunks.push(self.chunk(json!({}), Some(finish_reason(&reason))));
                if self.include_usage {
                    let mut body = self.stamp.object("chat.completion.chunk");
                    body.insert("choices".into(), json!([]));
                    body.insert("usage".into(), usage(&self.usage));
                    chunks.push(Value::Object(body));
                }
            }
            // Tool call ends and reasoning signatures have no place in this format.
            _ => {}
        }
        chunks
    }
}
