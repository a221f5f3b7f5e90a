//! The core request as Anthropic's Messages API wants it: the system prompt as a top-level
//! field, content blocks, tool results merged into one user turn, `max_tokens` always set.

use anymodel_core::{ChatRequest, Message, Result, ToolChoice};
use serde_json::{Map, Value, json};

use crate::http::{set_if, system_prompt, unwritable};

const WIRE: &str = "Messages";
use crate::schema::{Dialect, adapt};

/// The JSON body of a Messages request for `model`; `max_tokens` is `default_max_tokens` when
/// the request sets none, as the API requires one.
pub(crate) fn body(
    model: &str,
    request: &ChatRequest,
    stream: bool,
    default_max_tokens: u32,
) -> Result<Value> {
    let mut body = Map::new();
    body.insert("model".into(), model.into());
    let sampling = &request.sampling;
    body.insert("max_tokens".into(), sampling.max_tokens.unwrap_or(default_max_tokens).into());
    if let Some(system) = system_prompt(&request.messages) {
        body.insert("system".into(), system.into());
    }
    body.insert("messages".into(), turns(&request.messages)?.into());
    if stream {
        body.insert("stream".into(), true.into());
    }
    if !request.tools.is_empty() {
        let tools = request.tools.iter().map(|tool| {
            json!({
                "name": tool.name,
                "description": tool.description,
                "input_schema": adapt(&tool.parameters, Dialect::Inlined),
            })
        });
        body.insert("tools".into(), tools.collect());
        let mut choice = match &request.tool_choice {
            ToolChoice::Auto => json!({"type": "auto"}),
            ToolChoice::None => json!({"type": "none"}),
            ToolChoice::Required => json!({"type": "any"}),
            ToolChoice::Tool { name } => json!({"type": "tool", "name": name}),
            other => return Err(unwritable(WIRE, other)),
        };
        if request.parallel_tool_calls == Some(false) && request.tool_choice != ToolChoice::None {
            choice["disable_parallel_tool_use"] = true.into();
        }
        body.insert("tool_choice".into(), choice);
    }
    set_if(&mut body, "temperature", sampling.temperature);
    set_if(&mut body, "top_p", sampling.top_p);
    set_if(&mut body, "top_k", sampling.top_k);
    set_if(&mut body, "stop_sequences", (!sampling.stop.is_empty()).then(|| sampling.stop.clone()));
    // Anthropic has no seed. It has no JSON response format either: the capability check
    // refuses one before a body is built, and typed output asks for a forced tool call instead.
    Ok(Value::Object(body))
}

/// The conversation as alternating turns of content blocks. Consecutive tool results become one
/// user turn, as the API wants every result of a reply answered together.
fn turns(messages: &[Message]) -> Result<Vec<Value>> {
    let mut turns: Vec<Value> = Vec::new();
    for message in messages {
        let (role, blocks) = match message {
            Message::System { .. } => continue,
            Message::User { content } => ("user", vec![json!({"type": "text", "text": content})]),
            Message::Assistant(reply) => {
                let mut blocks = Vec::new();
                if !reply.content.is_empty() {
                    blocks.push(json!({"type": "text", "text": reply.content}));
                }
                for call in &reply.tool_calls {
                    // `input` must be an object: arguments that never parsed were already
                    // answered with an error result, so an empty object loses nothing.
                    let input =
                        if call.arguments.is_object() { call.arguments.clone() } else { json!({}) };
                    blocks.push(json!({"type": "tool_use", "id": call.id, "name": call.name, "input": input}));
                }
                ("assistant", blocks)
            }
            Message::Tool(result) => {
                let mut block = json!({
                    "type": "tool_result",
                    "tool_use_id": result.tool_call_id,
                    "content": result.content,
                });
                if result.is_error {
                    block["is_error"] = true.into();
                }
                ("user", vec![block])
            }
            other => return Err(unwritable(WIRE, other)),
        };
        let follows_tool_results = matches!(message, Message::Tool(_))
            && turns.last().is_some_and(|last| last["role"] == "user" && holds_tool_results(last));
        match turns.last_mut() {
            Some(last) if follows_tool_results => {
                if let Some(content) = last["content"].as_array_mut() {
                    content.extend(blocks);
                }
            }
            _ => turns.push(json!({"role": role, "content": blocks})),
        }
    }
    Ok(turns)
}

fn holds_tool_results(turn: &Value) -> bool {
    turn["content"]
        .as_array()
        .is_some_and(|blocks| blocks.iter().all(|block| block["type"] == "tool_result"))
}
