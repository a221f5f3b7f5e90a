//! The core request as Gemini's `generateContent` wants it: the system prompt as
//! `systemInstruction`, turns of `user` and `model` with parts (text, `functionCall`,
//! `functionResponse`), tools as `functionDeclarations` in Gemini's schema subset.

use anymodel_core::{
    AssistantMessage, ChatRequest, Content, Error, Media, MediaSource, Message, Part,
    ResponseFormat, Result, ToolChoice,
};
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
    if let Some(reasoning) = request.reasoning {
        // The budget, or one for the effort; -1 lets the model decide. Thoughts come back
        // summarised, as reasoning.
        let budget = reasoning
            .budget_tokens
            .map(i64::from)
            .or_else(|| reasoning.effort.map(|_| i64::from(reasoning.budget_or(0))));
        let mut thinking = json!({"includeThoughts": budget != Some(0)});
        thinking["thinkingBudget"] = budget.unwrap_or(-1).into();
        generation.insert("thinkingConfig".into(), thinking);
    }
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
            Message::User { content } => ("user", content_parts(content)?),
            Message::Assistant(reply) => ("model", model_parts(reply)),
            Message::Tool(result) => {
                let text = result.content.text();
                let response = json!({"name": result.name, "response": {"content": text, "error": result.is_error}});
                // Images and documents a tool returned follow its response in the same turn.
                let media = Content::new(
                    result.content.parts().iter().filter(|p| p.media().is_some()).cloned(),
                );
                let mut parts = vec![json!({"functionResponse": response})];
                parts.extend(content_parts(&media)?);
                ("user", parts)
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

/// A reply as the model's parts: its thoughts as they came (summaries with their signatures),
/// its text, its calls; a signature that came on a call (or on the text) goes back on the
/// first call (or the text), where Gemini looks for it. Reasoning from other providers stays
/// out: Gemini cannot check it.
fn model_parts(reply: &AssistantMessage) -> Vec<Value> {
    let ours = crate::providers::GEMINI.id;
    let mut parts = Vec::new();
    let mut loose_signature = None;
    for reasoning in reply.reasoning.iter().filter(|r| r.is_from(ours)) {
        match (&reasoning.text, &reasoning.signature) {
            (text, Some(signature)) if !text.is_empty() => {
                parts.push(json!({"text": text, "thought": true, "thoughtSignature": signature}))
            }
            (_, Some(signature)) => loose_signature = loose_signature.or(Some(signature)),
            _ => {}
        }
    }
    if !reply.content.is_empty() {
        parts.push(json!({"text": reply.content}));
    }
    for call in &reply.tool_calls {
        let args = if call.arguments.is_object() { call.arguments.clone() } else { json!({}) };
        parts.push(json!({"functionCall": {"name": call.name, "args": args}}));
    }
    if let Some(signature) = loose_signature {
        let first_call = parts.iter().position(|p| p.get("functionCall").is_some());
        let last_text =
            parts.iter().rposition(|p| p.get("text").is_some() && p.get("thought").is_none());
        if let Some(at) = first_call.or(last_text) {
            parts[at]["thoughtSignature"] = signature.as_str().into();
        }
    }
    parts
}

/// Content as parts: `text`, inline bytes as `inlineData`, addresses as `fileData` (whose media
/// type Gemini requires).
fn content_parts(content: &Content) -> Result<Vec<Value>> {
    content
        .parts()
        .iter()
        .map(|part| {
            Ok(match part {
                Part::Text { text } => json!({"text": text}),
                Part::Image(media) | Part::Document { media, .. } => media_part(media)?,
                other => return Err(unwritable(WIRE, other)),
            })
        })
        .collect()
}

fn media_part(media: &Media) -> Result<Value> {
    Ok(match &media.source {
        MediaSource::Base64(data) => {
            json!({"inlineData": {"mimeType": media.media_type_or_default(), "data": data}})
        }
        MediaSource::Url(url) => {
            let mime = media.media_type.as_deref().ok_or_else(|| Error::InvalidRequest {
                status: None,
                message: format!(
                    "Gemini needs the media type of {url}, and its name does not say: give the part a media type"
                ),
            })?;
            json!({"fileData": {"mimeType": mime, "fileUri": url}})
        }
    })
}
