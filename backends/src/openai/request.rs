//! The core request as the Chat Completions wire format wants it.

use anymodel_core::{
    ChatRequest, Content, Error, Message, Part, ResponseFormat, Result, Sampling, ToolCall,
    ToolChoice,
};
use serde_json::{Map, Value, json};

use crate::http::{set_if, unwritable};

const WIRE: &str = "Chat Completions";
use crate::schema::{Dialect, adapt};

/// The JSON body of a Chat Completions request for `model`; a reasoning model's limit goes as
/// `max_completion_tokens`, the name those models take.
pub(crate) fn body(
    model: &str,
    request: &ChatRequest,
    stream: bool,
    reasoning_model: bool,
) -> Result<Value> {
    let mut body = Map::new();
    body.insert("model".into(), model.into());
    // Reasoning goes back only within the current turn (after the last user message): servers
    // that return it (DeepSeek) want it back while tools are called, and refuse it later.
    let turn_start = request.messages.iter().rposition(|m| matches!(m, Message::User { .. }));
    let messages = request
        .messages
        .iter()
        .enumerate()
        .map(|(i, m)| message(m, turn_start.is_some_and(|start| i > start)))
        .collect::<Result<Vec<_>>>()?;
    body.insert("messages".into(), messages.into());
    if stream {
        body.insert("stream".into(), true.into());
        body.insert("stream_options".into(), json!({"include_usage": true}));
    }
    if !request.tools.is_empty() {
        let tools = request.tools.iter().map(|tool| {
            json!({
                "type": "function",
                "function": {
                    "name": tool.name,
                    "description": tool.description,
                    "parameters": adapt(&tool.parameters, Dialect::Inlined),
                },
            })
        });
        body.insert("tools".into(), tools.collect());
        body.insert("tool_choice".into(), tool_choice(&request.tool_choice)?);
        if let Some(parallel) = request.parallel_tool_calls {
            body.insert("parallel_tool_calls".into(), parallel.into());
        }
    }
    sampling(&request.sampling, &mut body, reasoning_model);
    if let Some(effort) = request.reasoning.and_then(|r| r.effort_or_budget()) {
        body.insert("reasoning_effort".into(), effort.as_str().into());
    }
    match &request.response_format {
        ResponseFormat::Text => {}
        ResponseFormat::Json => {
            body.insert("response_format".into(), json!({"type": "json_object"}));
        }
        ResponseFormat::JsonSchema { name, schema, strict } => {
            let dialect = if *strict { Dialect::OpenAiStrict } else { Dialect::Inlined };
            body.insert(
                "response_format".into(),
                json!({
                    "type": "json_schema",
                    "json_schema": {"name": name, "schema": adapt(schema, dialect), "strict": strict},
                }),
            );
        }
    }
    Ok(Value::Object(body))
}

fn message(message: &Message, in_current_turn: bool) -> Result<Value> {
    Ok(match message {
        Message::System { content } => json!({"role": "system", "content": content}),
        Message::User { content } => json!({"role": "user", "content": user_content(content)?}),
        Message::Assistant(reply) => {
            let mut wire = json!({"role": "assistant", "content": reply.content});
            if !reply.tool_calls.is_empty() {
                if reply.content.is_empty() {
                    wire["content"] = Value::Null;
                }
                wire["tool_calls"] = reply.tool_calls.iter().map(tool_call).collect();
                // Plain reasoning text (none a provider signed for itself) returns while the
                // turn's tool loop goes on.
                let reasoning: Vec<&str> = reply
                    .reasoning
                    .iter()
                    .filter(|r| r.provider.is_none() && !r.text.is_empty())
                    .map(|r| r.text.as_str())
                    .collect();
                if in_current_turn && !reasoning.is_empty() {
                    wire["reasoning_content"] = reasoning.join("\n\n").into();
                }
            }
            wire
        }
        Message::Tool(result) => {
            if !result.content.is_text() {
                return Err(Error::InvalidRequest {
                    status: None,
                    message: format!(
                        "the result of tool call `{}` holds an image or document, and the {WIRE} wire takes those only in user messages",
                        result.tool_call_id
                    ),
                });
            }
            json!({
                "role": "tool",
                "tool_call_id": result.tool_call_id,
                "content": result.content.text(),
            })
        }
        other => return Err(unwritable(WIRE, other)),
    })
}

/// A user message's content: a string for text alone (what every server takes), else parts:
/// `text`, `image_url` (an address or a `data:` URL), `file` (a document's bytes as a `data:`
/// URL; Chat Completions takes no document by address).
fn user_content(content: &Content) -> Result<Value> {
    if let Some(text) = content.as_text() {
        return Ok(text.into());
    }
    let parts = content.parts().iter().map(|part| {
        Ok(match part {
            Part::Text { text } => json!({"type": "text", "text": text}),
            Part::Image(media) => json!({"type": "image_url", "image_url": {"url": media.as_url()}}),
            Part::Document { media, title } => match &media.source {
                anymodel_core::MediaSource::Base64(_) => json!({
                    "type": "file",
                    "file": {
                        "filename": title.as_deref().unwrap_or("document.pdf"),
                        "file_data": media.as_url(),
                    },
                }),
                anymodel_core::MediaSource::Url(url) => {
                    return Err(Error::InvalidRequest {
                        status: None,
                        message: format!(
                            "the {WIRE} wire takes documents as bytes, not by address ({url}): attach the file itself"
                        ),
                    });
                }
            },
            other => return Err(unwritable(WIRE, other)),
        })
    });
    Ok(Value::Array(parts.collect::<Result<_>>()?))
}

fn tool_call(call: &ToolCall) -> Value {
    // The wire carries arguments as JSON text; text that never parsed goes back as it came.
    let arguments = match &call.arguments {
        Value::String(raw) => raw.clone(),
        json => json.to_string(),
    };
    json!({
        "id": call.id,
        "type": "function",
        "function": {"name": call.name, "arguments": arguments},
    })
}

fn tool_choice(choice: &ToolChoice) -> Result<Value> {
    Ok(match choice {
        ToolChoice::Auto => "auto".into(),
        ToolChoice::None => "none".into(),
        ToolChoice::Required => "required".into(),
        ToolChoice::Tool { name } => json!({"type": "function", "function": {"name": name}}),
        other => return Err(unwritable(WIRE, other)),
    })
}

fn sampling(sampling: &Sampling, body: &mut Map<String, Value>, reasoning_model: bool) {
    // A reasoning model refuses fixed sampling other than its own (the capability check turned
    // away any other value), so 1, the value it uses, is left unsaid.
    let unless_fixed = |value: Option<f64>| value.filter(|_| !reasoning_model);
    set_if(body, "temperature", unless_fixed(sampling.temperature));
    set_if(body, "top_p", unless_fixed(sampling.top_p));
    set_if(body, "top_k", sampling.top_k);
    let limit = if reasoning_model { "max_completion_tokens" } else { "max_tokens" };
    set_if(body, limit, sampling.max_tokens);
    set_if(body, "seed", sampling.seed);
    set_if(body, "stop", (!sampling.stop.is_empty()).then(|| sampling.stop.clone()));
}
