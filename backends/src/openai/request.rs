//! The core request as the Chat Completions wire format wants it.

use anymodel_core::{ChatRequest, Message, ResponseFormat, Result, Sampling, ToolCall, ToolChoice};
use serde_json::{Map, Value, json};

use crate::http::{set_if, unwritable};

const WIRE: &str = "Chat Completions";
use crate::schema::{Dialect, adapt};

/// The JSON body of a Chat Completions request for `model`.
pub(crate) fn body(model: &str, request: &ChatRequest, stream: bool) -> Result<Value> {
    let mut body = Map::new();
    body.insert("model".into(), model.into());
    let messages = request.messages.iter().map(message).collect::<Result<Vec<_>>>()?;
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
    sampling(&request.sampling, &mut body);
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

fn message(message: &Message) -> Result<Value> {
    Ok(match message {
        Message::System { content } => json!({"role": "system", "content": content}),
        Message::User { content } => json!({"role": "user", "content": content}),
        Message::Assistant(reply) => {
            let mut wire = json!({"role": "assistant", "content": reply.content});
            if !reply.tool_calls.is_empty() {
                if reply.content.is_empty() {
                    wire["content"] = Value::Null;
                }
                wire["tool_calls"] = reply.tool_calls.iter().map(tool_call).collect();
            }
            wire
        }
        Message::Tool(result) => json!({
            "role": "tool",
            "tool_call_id": result.tool_call_id,
            "content": result.content,
        }),
        other => return Err(unwritable(WIRE, other)),
    })
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

fn sampling(sampling: &Sampling, body: &mut Map<String, Value>) {
    set_if(body, "temperature", sampling.temperature);
    set_if(body, "top_p", sampling.top_p);
    set_if(body, "top_k", sampling.top_k);
    set_if(body, "max_tokens", sampling.max_tokens);
    set_if(body, "seed", sampling.seed);
    set_if(body, "stop", (!sampling.stop.is_empty()).then(|| sampling.stop.clone()));
}
