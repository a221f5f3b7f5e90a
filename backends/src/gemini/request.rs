//! The core request as Gemini's `generateContent` wants it: the system prompt as
//! `systemInstruction`, turns of `user` and `model` with parts (text, `functionCall`,
//! `functionResponse`), tools as `functionDeclarations` in Gemini's schema subset.

use anymodel_core::{ChatRequest, Message, ResponseFormat, Result, ToolChoice};
use serde_json::{Map, Value, json};

use crate::http::{set_if, system_prompt, unwritable};

const WIRE: &str = "Gemini";
use crate::schema::{Dialect, adapt};

/// The JSON body of a `generateContent` request.
pub(crate) fn body(request: &ChatRequest) -> Result<Value> {
    let mut body = Map::new();
    if let Some(system) = system_prompt(&request.messages) {
        body.insert("systemInstruction".into(), json!({"parts": [{"text": system}]}));
    }
    body.insert("contents".into(), contents(&request.messages)?.into());
    if !request.tools.is_empty() {
        let declarations: Vec<Value> = request
            .tools
            .iter()
            .map(|tool| {
                json!({"name": tool.name, "description": tool.description, "parameters": adapt(&tool.parameters, Dialect::Gemini)})
            })
            .collect();
        body.insert("tools".into(), json!([{"functionDeclarations": declarations}]));
        let config = match &request.tool_choice {
            ToolChoice::Auto => json!({"mode": "AUTO"}),
            ToolChoice::None => json!({"mode": "NONE"}),
            ToolChoice::Required => json!({"mode": "ANY"}),
            ToolChoice::Tool { name } => json!({"mode": "ANY", "allowedFunctionNames": [name]}),
            other => return Err(unwritable(WIRE, other)),
        };
        body.insert("toolConfig".into(), json!({"functionCallingConfig": config}));
    }
    let sampling = &request.sampling;
    let mut generation = Map::new();
    set_if(&mut generation, "temperature", sampling.temperature);
    set_if(&mut generation, "topP", sampling.top_p);
    set_if(&mut generation, "topK", sampling.top_k);
    set_if(&mut generation, "maxOutputTokens", sampling.max_tokens);
    set_if(&mut generation, "seed", sampling.seed);
    set_if(
        &mut generation,
        "stopSequences",
        (!sampling.stop.is_empty()).then(|| sampling.stop.clone()),
    );
    match &request.response_format {
        ResponseFormat::Text => {}
        ResponseFormat::Json => {
            generation.insert("responseMimeType".into(), "application/json".into());
        }
        ResponseFormat::JsonSchema { schema, .. } => {
            generation.insert("responseMimeType".into(), "application/json".into());
            generation.insert("responseSchema".into(), adapt(schema, Dialect::Gemini));
        }
    }
    if !generation.is_empty() {
        body.insert("generationConfig".into(), generation.into());
    }
    Ok(body.into())
}

/// The conversation as Gemini's turns: assistant turns are `model`, tool results go back as
/// `functionResponse` parts of one `user` turn (consecutive results merged).
fn contents(messages: &[Message]) -> Result<Vec<Value>> {
    let mut turns: Vec<Value> = Vec::new();
    for message in messages {
        let (role, parts) = match message {
            Message::System { .. } => continue,
            Message::User { content } => ("user", vec![json!({"text": content})]),
            Message::Assistant(reply) => {
                let mut parts = Vec::new();
                if !reply.content.is_empty() {
                    parts.push(json!({"text": reply.content}));
                }
                for call in &reply.tool_calls {
                    let args =
                        if call.arguments.is_object() { call.arguments.clone() } else { json!({}) };
                    parts.push(json!({"functionCall": {"name": call.name, "args": args}}));
                }
                ("model", parts)
            }
            Message::Tool(result) => {
                let response = json!({"name": result.name, "response": {"content": result.content, "error": result.is_error}});
                ("user", vec![json!({"functionResponse": response})])
            }
            other => return Err(unwritable(WIRE, other)),
        };
        let merge = matches!(message, Message::Tool(_))
            && turns.last().is_some_and(|t| {
                t["role"] == role && t["parts"][0].get("functionResponse").is_some()
            });
        match turns.last_mut() {
            Some(last) if merge => {
                if let Some(existing) = last["parts"].as_array_mut() {
                    existing.extend(parts);
                }
            }
            _ => turns.push(json!({"role": role, "parts": parts})),
        }
    }
    Ok(turns)
}
