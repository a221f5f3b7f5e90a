//! Cohere v2's wire format: requests, replies and stream events.

use anymodel_core::{
    AssistantMessage, ChatRequest, ChatResponse, Content, Error, FinishReason, Message, Part,
    Reasoning, ResponseFormat, Result, StreamEvent, ToolCall, ToolChoice, Usage,
};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::http::{SseEvent, StreamDecoder, label, origin, set_if, stream_error, unwritable};

const WIRE: &str = "Cohere";
use crate::schema::{Dialect, adapt};

/// The JSON body of a chat request. Cohere's `tool_choice` knows only REQUIRED and NONE, so a
/// named tool is forced by offering that tool alone.
pub(crate) fn body(model: &str, request: &ChatRequest, stream: bool) -> Result<Value> {
    let mut body = Map::new();
    body.insert("model".into(), model.into());
    let messages = request.messages.iter().map(message).collect::<Result<Vec<_>>>()?;
    body.insert("messages".into(), messages.into());
    body.insert("stream".into(), stream.into());
    if !request.tools.is_empty() {
        let offered = request.tools.iter().filter(|tool| match &request.tool_choice {
            ToolChoice::Tool { name } => tool.name == *name,
            _ => true,
        });
        let tools: Vec<Value> = offered
            .map(|tool| {
                json!({"type": "function", "function": {"name": tool.name, "description": tool.description, "parameters": adapt(&tool.parameters, Dialect::Inlined)}})
            })
            .collect();
        body.insert("tools".into(), tools.into());
        match &request.tool_choice {
            ToolChoice::Auto => {}
            ToolChoice::None => {
                body.insert("tool_choice".into(), "NONE".into());
            }
            ToolChoice::Required | ToolChoice::Tool { .. } => {
                body.insert("tool_choice".into(), "REQUIRED".into());
            }
            other => return Err(unwritable(WIRE, other)),
        }
        if request.parallel_tool_calls == Some(false) {
            body.insert("strict_tools".into(), true.into());
        }
    }
    if let Some(reasoning) = request.reasoning {
        // No effort and no budget: thinking on, at the model's own budget.
        let unset = reasoning.budget_tokens.is_none() && reasoning.effort.is_none();
        let thinking = match reasoning.budget_or(0) {
            _ if unset => json!({"type": "enabled"}),
            0 => json!({"type": "disabled"}),
            budget => json!({"type": "enabled", "token_budget": budget}),
        };
        body.insert("thinking".into(), thinking);
    }
    let sampling = &request.sampling;
    set_if(&mut body, "temperature", sampling.temperature);
    set_if(&mut body, "p", sampling.top_p);
    set_if(&mut body, "k", sampling.top_k);
    set_if(&mut body, "max_tokens", sampling.max_tokens);
    set_if(&mut body, "seed", sampling.seed);
    set_if(&mut body, "stop_sequences", (!sampling.stop.is_empty()).then(|| sampling.stop.clone()));
    match &request.response_format {
        ResponseFormat::Text => {}
        ResponseFormat::Json => {
            body.insert("response_format".into(), json!({"type": "json_object"}));
        }
        ResponseFormat::JsonSchema { schema, .. } => {
            body.insert(
                "response_format".into(),
                json!({"type": "json_object", "json_schema": adapt(schema, Dialect::Inlined)}),
            );
        }
    }
    Ok(body.into())
}

/// One message: assistant turns with calls carry their text as `tool_plan`.
fn message(message: &Message) -> Result<Value> {
    Ok(match message {
        Message::System { content } => json!({"role": "system", "content": content}),
        Message::User { content } => json!({"role": "user", "content": user_content(content)?}),
        Message::Assistant(reply) if reply.tool_calls.is_empty() => {
            json!({"role": "assistant", "content": reply.content})
        }
        Message::Assistant(reply) => {
            let calls: Vec<Value> = reply
                .tool_calls
                .iter()
                .map(|call| {
                    let arguments = match &call.arguments {
                        Value::String(text) => text.clone(),
                        other => other.to_string(),
                    };
                    json!({"id": call.id, "type": "function", "function": {"name": call.name, "arguments": arguments}})
                })
                .collect();
            let mut turn = json!({"role": "assistant", "tool_calls": calls});
            if !reply.content.is_empty() {
                turn["tool_plan"] = reply.content.clone().into();
            }
            turn
        }
        Message::Tool(result) => {
            if !result.content.is_text() {
                return Err(Error::InvalidRequest {
                    status: None,
                    message: format!(
                        "the result of tool call `{}` holds an image or document, and the {WIRE} wire takes images only in user messages",
                        result.tool_call_id
                    ),
                });
            }
            json!({"role": "tool", "tool_call_id": result.tool_call_id, "content": result.content.text()})
        }
        other => return Err(unwritable(WIRE, other)),
    })
}

/// A user message's content: a string for text alone, else `text` and `image_url` parts
/// (documents are refused by the capability check before this: Cohere reads none).
fn user_content(content: &Content) -> Result<Value> {
    if let Some(text) = content.as_text() {
        return Ok(text.into());
    }
    let parts = content.parts().iter().map(|part| {
        Ok(match part {
            Part::Text { text } => json!({"type": "text", "text": text}),
            Part::Image(media) => {
                json!({"type": "image_url", "image_url": {"url": media.as_url()}})
            }
            other => return Err(unwritable(WIRE, other)),
        })
    });
    Ok(Value::Array(parts.collect::<Result<_>>()?))
}

#[derive(Deserialize)]
pub struct Reply {
    #[serde(default, deserialize_with = "label")]
    id: Option<String>,
    finish_reason: Option<String>,
    #[serde(default)]
    message: WireMessage,
    #[serde(default)]
    usage: Option<WireUsage>,
}

#[derive(Deserialize, Default)]
struct WireMessage {
    #[serde(default)]
    content: Vec<WireContent>,
    #[serde(default)]
    tool_calls: Vec<WireCall>,
    /// What the model says it will do before its calls: the text of a tool-calling reply, as
    /// it is sent back in the next request.
    #[serde(default)]
    tool_plan: Option<String>,
}

#[derive(Deserialize)]
struct WireContent {
    #[serde(default)]
    text: Option<String>,
    /// The reasoning of Cohere's reasoning models, in `thinking` items.
    #[serde(default)]
    thinking: Option<String>,
}

#[derive(Deserialize)]
struct WireCall {
    id: String,
    function: WireFunction,
}

#[derive(Deserialize)]
struct WireFunction {
    name: String,
    #[serde(default)]
    arguments: String,
}

#[derive(Deserialize, Default, Clone, Copy)]
struct Tokens {
    #[serde(default)]
    input_tokens: f64,
    #[serde(default)]
    output_tokens: f64,
}

#[derive(Deserialize, Default, Clone, Copy)]
struct WireUsage {
    #[serde(default)]
    tokens: Option<Tokens>,
    #[serde(default)]
    billed_units: Option<Tokens>,
}

impl From<WireUsage> for Usage {
    fn from(usage: WireUsage) -> Usage {
        let tokens = usage.tokens.or(usage.billed_units).unwrap_or_default();
        Usage::new(tokens.input_tokens as u64, tokens.output_tokens as u64)
    }
}

fn finish_reason(reason: &str) -> FinishReason {
    match reason {
        "COMPLETE" | "STOP_SEQUENCE" => FinishReason::Stop,
        "MAX_TOKENS" => FinishReason::Length,
        "TOOL_CALL" => FinishReason::ToolCalls,
        other => FinishReason::Other(other.to_ascii_lowercase()),
    }
}

impl Reply {
    pub(crate) fn into_response(self) -> Result<ChatResponse> {
        let mut message = AssistantMessage {
            content: self.message.tool_plan.unwrap_or_default(),
            ..Default::default()
        };
        for part in self.message.content {
            if let Some(thinking) = part.thinking.filter(|t| !t.is_empty()) {
                message.reasoning.push(Reasoning::text(thinking));
            }
            message.content.push_str(part.text.as_deref().unwrap_or_default());
        }
        for call in self.message.tool_calls {
            message.tool_calls.push(ToolCall {
                id: call.id,
                name: call.function.name,
                arguments: ToolCall::arguments_from_text(call.function.arguments),
            });
        }
        let finish_reason = finish_reason(self.finish_reason.as_deref().unwrap_or("COMPLETE"));
        let usage = self.usage.unwrap_or_default().into();
        // Cohere names no model in its replies.
        Ok(ChatResponse {
            message,
            finish_reason,
            usage,
            stop_sequence: None,
            id: self.id,
            model: None,
        })
    }
}

/// Decodes the v2 stream: `content-delta` and `tool-plan-delta` text (the plan is the text of a
/// tool-calling reply), `tool-call-start` / `-delta` / `-end`, and `message-end` with the finish
/// reason and usage.
#[derive(Default)]
pub struct EventDecoder;

impl StreamDecoder for EventDecoder {
    fn decode(&mut self, event: SseEvent, out: &mut Vec<StreamEvent>) -> Result<bool> {
        let Some(data) = event.json()? else { return Ok(false) };
        let index =
            data["index"].as_u64().and_then(|i| usize::try_from(i).ok()).unwrap_or_default();
        let delta = &data["delta"]["message"];
        match data["type"].as_str().unwrap_or(event.event.as_str()) {
            "content-delta" | "tool-plan-delta" => {
                if let Some(text) = delta["content"]["thinking"].as_str().filter(|t| !t.is_empty())
                {
                    out.push(StreamEvent::ReasoningDelta { text: text.to_string() });
                }
                if let Some(text) =
                    delta["content"]["text"].as_str().or_else(|| delta["tool_plan"].as_str())
                {
                    out.push(StreamEvent::TextDelta { text: text.to_string() });
                }
            }
            "tool-call-start" => {
                let call = &delta["tool_calls"];
                out.push(StreamEvent::ToolCallStart {
                    index,
                    id: call["id"].as_str().unwrap_or_default().to_string(),
                    name: call["function"]["name"].as_str().unwrap_or_default().to_string(),
                });
                if let Some(arguments) =
                    call["function"]["arguments"].as_str().filter(|a| !a.is_empty())
                {
                    out.push(StreamEvent::ToolCallDelta {
                        index,
                        arguments: arguments.to_string(),
                    });
                }
            }
            "tool-call-delta" => {
                let arguments =
                    delta["tool_calls"]["function"]["arguments"].as_str().unwrap_or_default();
                out.push(StreamEvent::ToolCallDelta { index, arguments: arguments.to_string() });
            }
            "message-start" => {
                let id = data["id"].as_str().filter(|id| !id.is_empty()).map(str::to_string);
                out.extend(origin(id, None));
            }
            "tool-call-end" => out.push(StreamEvent::ToolCallEnd { index }),
            "error" => return Err(stream_error(&data)),
            "message-end" => {
                let end = &data["delta"];
                if end.get("error").is_some_and(|e| !e.is_null()) {
                    return Err(stream_error(end));
                }
                if let Ok(usage) = WireUsage::deserialize(&end["usage"]) {
                    out.push(StreamEvent::Usage { usage: usage.into() });
                }
                out.push(StreamEvent::Finish {
                    reason: finish_reason(end["finish_reason"].as_str().unwrap_or("COMPLETE")),
                });
                return Ok(true);
            }
            _ => {} // content-start/end, citations, and later additions
        }
        Ok(false)
    }

    fn end_without_marker(&mut self, _out: &mut Vec<StreamEvent>) -> Result<()> {
        Err(Error::transient("the stream closed before message-end"))
    }
}
