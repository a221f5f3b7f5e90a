//! The core request as Anthropic's Messages API wants it: the system prompt as a top-level
//! field, content blocks, tool results merged into one user turn, `max_tokens` always set,
//! thinking blocks returned as they came, and cache breakpoints as `cache_control`.

use anymodel_core::{
    AssistantMessage, CacheBreakpoint, CacheTarget, CacheTtl, ChatRequest, Content, Error, Media,
    MediaSource, Message, Part, Result, ToolChoice,
};
use serde_json::{Map, Value, json};

use crate::http::{set_if, system_prompt, unwritable};

const WIRE: &str = "Messages";
use crate::schema::{Dialect, adapt};

/// The most cache breakpoints one request may hold.
const MAX_BREAKPOINTS: usize = 4;

/// The smallest thinking budget the API takes.
const MIN_THINKING_BUDGET: u32 = 1024;

/// The JSON body of a Messages request for `model`; `max_tokens` is `default_max_tokens` when
/// the request sets none, as the API requires one (plus the thinking budget, which it counts in).
pub(crate) fn body(
    model: &str,
    request: &ChatRequest,
    stream: bool,
    default_max_tokens: u32,
) -> Result<Value> {
    if request.cache.len() > MAX_BREAKPOINTS {
        return Err(invalid(format!(
            "{} cache breakpoints: the Messages API takes at most {MAX_BREAKPOINTS}",
            request.cache.len()
        )));
    }
    let mut body = Map::new();
    body.insert("model".into(), model.into());
    let sampling = &request.sampling;
    let budget = request.reasoning.map(|r| r.budget_or(MIN_THINKING_BUDGET));
    let max_tokens = match (sampling.max_tokens, budget) {
        (Some(max), Some(budget)) if budget > 0 && max <= budget => {
            return Err(invalid(format!(
                "max_tokens {max} leaves nothing to answer with after a thinking budget of {budget} tokens: raise max_tokens"
            )));
        }
        (Some(max), _) => max,
        (None, budget) => default_max_tokens + budget.unwrap_or(0),
    };
    body.insert("max_tokens".into(), max_tokens.into());
    match budget {
        None => {}
        Some(0) => {
            body.insert("thinking".into(), json!({"type": "disabled"}));
        }
        Some(budget) => {
            let budget = budget.max(MIN_THINKING_BUDGET);
            body.insert("thinking".into(), json!({"type": "enabled", "budget_tokens": budget}));
        }
    }
    if let Some(system) = system_prompt(&request.messages) {
        let system = match request.caches(CacheTarget::System) {
            Some(point) => json!([cached(json!({"type": "text", "text": system}), point)]),
            None => system.into(),
        };
        body.insert("system".into(), system);
    }
    body.insert("messages".into(), turns(request)?.into());
    if stream {
        body.insert("stream".into(), true.into());
    }
    if !request.tools.is_empty() {
        let mut tools: Vec<Value> = request
            .tools
            .iter()
            .map(|tool| {
                json!({
                    "name": tool.name,
                    "description": tool.description,
                    "input_schema": adapt(&tool.parameters, Dialect::Inlined),
                })
            })
            .collect();
        if let Some(point) = request.caches(CacheTarget::Tools) {
            mark_last(&mut tools, point);
        }
        body.insert("tools".into(), tools.into());
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

/// The body of a `count_tokens` request: the message request's fields that make the prompt
/// (no limit, sampling or stream).
pub(crate) fn count_body(
    model: &str,
    request: &ChatRequest,
    default_max_tokens: u32,
) -> Result<Value> {
    let mut whole = body(model, request, false, default_max_tokens)?;
    if let Value::Object(fields) = &mut whole {
        fields.retain(|key, _| {
            ["model", "messages", "system", "tools", "tool_choice", "thinking"]
                .contains(&key.as_str())
        });
    }
    Ok(whole)
}

fn invalid(message: String) -> Error {
    Error::InvalidRequest { status: None, message }
}

/// Puts the breakpoint on the last of `blocks`.
fn mark_last(blocks: &mut [Value], point: &CacheBreakpoint) {
    if let Some(last) = blocks.last_mut() {
        *last = cached(std::mem::take(last), point);
    }
}

/// A block with the breakpoint's `cache_control`.
fn cached(mut block: Value, point: &CacheBreakpoint) -> Value {
    let mut control = json!({"type": "ephemeral"});
    match point.ttl {
        None => {}
        Some(CacheTtl::FiveMinutes) => control["ttl"] = "5m".into(),
        Some(CacheTtl::OneHour) => control["ttl"] = "1h".into(),
    }
    block["cache_control"] = control;
    block
}

/// The conversation as alternating turns of content blocks. Consecutive tool results become one
/// user turn, as the API wants every result of a reply answered together. A message with a
/// cache breakpoint has it on its last block.
fn turns(request: &ChatRequest) -> Result<Vec<Value>> {
    let mut turns: Vec<Value> = Vec::new();
    for (index, message) in request.messages.iter().enumerate() {
        let (role, mut blocks) = match message {
            Message::System { .. } => continue,
            Message::User { content } => ("user", content_blocks(content)?),
            Message::Assistant(reply) => ("assistant", assistant_blocks(reply)),
            Message::Tool(result) => {
                let content = match result.content.as_text() {
                    Some(text) => text.into(),
                    None => Value::Array(content_blocks(&result.content)?),
                };
                let mut block = json!({
                    "type": "tool_result",
                    "tool_use_id": result.tool_call_id,
                    "content": content,
                });
                if result.is_error {
                    block["is_error"] = true.into();
                }
                ("user", vec![block])
            }
            other => return Err(unwritable(WIRE, other)),
        };
        if let Some(point) = request.caches_message(index) {
            mark_last(&mut blocks, point);
        }
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

/// A reply's blocks: its thinking first, as Anthropic made it (signed thinking, redacted
/// thinking; reasoning from other providers cannot be verified and stays out), then its text
/// and tool calls.
fn assistant_blocks(reply: &AssistantMessage) -> Vec<Value> {
    let mut blocks = Vec::new();
    let provider = crate::providers::ANTHROPIC.id;
    for reasoning in reply.reasoning.iter().filter(|r| r.is_from(provider)) {
        if let Some(data) = &reasoning.redacted {
            blocks.push(json!({"type": "redacted_thinking", "data": data}));
        } else if let Some(signature) = &reasoning.signature {
            blocks.push(
                json!({"type": "thinking", "thinking": reasoning.text, "signature": signature}),
            );
        }
    }
    if !reply.content.is_empty() {
        blocks.push(json!({"type": "text", "text": reply.content}));
    }
    for call in &reply.tool_calls {
        // `input` must be an object: arguments that never parsed were already answered with an
        // error result, so an empty object loses nothing.
        let input = if call.arguments.is_object() { call.arguments.clone() } else { json!({}) };
        blocks.push(json!({"type": "tool_use", "id": call.id, "name": call.name, "input": input}));
    }
    blocks
}

/// Content as blocks: `text`, `image` and `document`, each image or document from base64
/// bytes or a URL.
fn content_blocks(content: &Content) -> Result<Vec<Value>> {
    content
        .parts()
        .iter()
        .map(|part| {
            Ok(match part {
                Part::Text { text } => json!({"type": "text", "text": text}),
                Part::Image(media) => json!({"type": "image", "source": source(media)}),
                Part::Document { media, title } => {
                    let mut block = json!({"type": "document", "source": source(media)});
                    if let Some(title) = title {
                        block["title"] = title.as_str().into();
                    }
                    block
                }
                other => return Err(unwritable(WIRE, other)),
            })
        })
        .collect()
}

fn source(media: &Media) -> Value {
    match &media.source {
        MediaSource::Base64(data) => {
            json!({"type": "base64", "media_type": media.media_type_or_default(), "data": data})
        }
        MediaSource::Url(url) => json!({"type": "url", "url": url}),
    }
}

fn holds_tool_results(turn: &Value) -> bool {
    turn["content"]
        .as_array()
        .is_some_and(|blocks| blocks.iter().all(|block| block["type"] == "tool_result"))
}
