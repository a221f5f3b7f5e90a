//! A Responses request as the core's [`ChatRequest`]: `instructions`, `input` as a string or
//! items (messages, `function_call`, `function_call_output`, `reasoning`), function tools, tool
//! choice, `text.format`, sampling and the reasoning effort.

use std::collections::HashMap;

use anymodel_core::{
    AssistantMessage, ChatRequest, Content, Media, Message, Part, Reasoning, ReasoningEffort,
    ReasoningOptions, ResponseFormat, Sampling, ToolCall, ToolChoice, ToolResult, ToolSpec,
};
use serde::Deserialize;
use serde_json::Value;

use crate::error::ApiError;
use crate::openai::{empty_object, tool_choice_mode};

/// The body of `POST /v1/responses`.
#[derive(Debug, Deserialize)]
pub(crate) struct ResponsesRequest {
    pub(crate) model: String,
    input: Input,
    #[serde(default)]
    pub(crate) instructions: Option<String>,
    #[serde(default)]
    tools: Vec<WireTool>,
    #[serde(default)]
    tool_choice: Option<WireToolChoice>,
    #[serde(default)]
    parallel_tool_calls: Option<bool>,
    #[serde(default)]
    text: Option<TextOptions>,
    #[serde(default)]
    pub(crate) stream: bool,
    #[serde(default)]
    max_output_tokens: Option<u32>,
    #[serde(default)]
    temperature: Option<f64>,
    #[serde(default)]
    top_p: Option<f64>,
    #[serde(default)]
    reasoning: Option<ReasoningConfig>,
    #[serde(default)]
    pub(crate) previous_response_id: Option<String>,
    #[serde(default = "stored")]
    pub(crate) store: bool,
}

fn stored() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Input {
    Text(String),
    Items(Vec<Item>),
}

/// An input item; a message may leave out its `type`, as the API's shorthand does.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Item {
    Typed(TypedItem),
    Message(WireMessage),
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum TypedItem {
    Message(WireMessage),
    FunctionCall {
        call_id: String,
        name: String,
        #[serde(default)]
        arguments: String,
    },
    FunctionCallOutput {
        call_id: String,
        output: String,
    },
    Reasoning {
        #[serde(default)]
        summary: Vec<SummaryText>,
    },
}

#[derive(Debug, Deserialize)]
struct SummaryText {
    text: String,
}

#[derive(Debug, Deserialize)]
struct WireMessage {
    role: String,
    content: MessageContent,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum MessageContent {
    Text(String),
    Parts(Vec<WirePart>),
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum WirePart {
    InputText {
        text: String,
    },
    OutputText {
        text: String,
    },
    InputImage {
        #[serde(default)]
        image_url: Option<String>,
    },
    InputFile {
        #[serde(default)]
        file_data: Option<String>,
        #[serde(default)]
        filename: Option<String>,
    },
}

#[derive(Debug, Deserialize)]
struct WireTool {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default = "empty_object")]
    parameters: Value,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum WireToolChoice {
    Mode(String),
    Named { name: String },
}

#[derive(Debug, Deserialize)]
struct TextOptions {
    #[serde(default)]
    format: Option<Format>,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Format {
    Text,
    JsonObject,
    JsonSchema {
        name: String,
        schema: Value,
        #[serde(default)]
        strict: Option<bool>,
    },
}

#[derive(Debug, Deserialize)]
struct ReasoningConfig {
    #[serde(default)]
    effort: Option<ReasoningEffort>,
}

impl ResponsesRequest {
    /// The core request over `history` (the conversation of `previous_response_id`, empty
    /// without one) and this request's input; the input alone is returned too, for the store.
    pub(crate) fn into_core(
        self,
        history: Vec<Message>,
    ) -> Result<(ChatRequest, Vec<Message>), ApiError> {
        let mut names: HashMap<String, String> = history
            .iter()
            .filter_map(|m| match m {
                Message::Assistant(reply) => Some(reply.tool_calls.iter()),
                _ => None,
            })
            .flatten()
            .map(|call| (call.id.clone(), call.name.clone()))
            .collect();
        let items = match self.input {
            Input::Text(text) => vec![Item::Message(WireMessage {
                role: "user".into(),
                content: MessageContent::Text(text),
            })],
            Input::Items(items) => items,
        };
        let mut input: Vec<Message> = Vec::new();
        // Consecutive reasoning, calls and text of the model make one assistant message.
        let mut pending: Option<AssistantMessage> = None;
        for (index, item) in items.into_iter().enumerate() {
            let at = format!("input[{index}]");
            let item = match item {
                Item::Typed(item) => item,
                Item::Message(message) => TypedItem::Message(message),
            };
            match item {
                TypedItem::Reasoning { summary } => {
                    let text: Vec<String> = summary.into_iter().map(|s| s.text).collect();
                    pending
                        .get_or_insert_with(Default::default)
                        .reasoning
                        .push(Reasoning::text(text.join("\n\n")));
                }
                TypedItem::FunctionCall { call_id, name, arguments } => {
                    names.insert(call_id.clone(), name.clone());
                    let arguments = ToolCall::arguments_from_text(arguments);
                    pending
                        .get_or_insert_with(Default::default)
                        .tool_calls
                        .push(ToolCall::new(call_id, name, arguments));
                }
                TypedItem::FunctionCallOutput { call_id, output } => {
                    input.extend(pending.take().map(Message::Assistant));
                    let name = names.get(&call_id).cloned().ok_or_else(|| {
                        ApiError::invalid(
                            format!(
                                "the output of `{call_id}`, which no function_call before it made"
                            ),
                            Some(format!("{at}.call_id")),
                        )
                    })?;
                    input.push(Message::Tool(ToolResult {
                        tool_call_id: call_id,
                        name,
                        content: output.into(),
                        is_error: false,
                    }));
                }
                TypedItem::Message(message) if message.role == "assistant" => {
                    let text = message.content.into_content(&at)?.text();
                    pending.get_or_insert_with(Default::default).content.push_str(&text);
                }
                TypedItem::Message(message) => {
                    input.extend(pending.take().map(Message::Assistant));
                    let content = message.content.into_content(&at)?;
                    input.push(match message.role.as_str() {
                        "user" => Message::user(content),
                        "system" | "developer" => Message::system(content.text()),
                        other => {
                            return Err(ApiError::invalid(
                                format!(
                                    "role `{other}`: expected user, assistant, system or developer"
                                ),
                                Some(format!("{at}.role")),
                            ));
                        }
                    });
                }
            }
        }
        input.extend(pending.take().map(Message::Assistant));

        let mut messages = Vec::new();
        if let Some(instructions) = &self.instructions {
            messages.push(Message::system(instructions.clone()));
        }
        messages.extend(history.into_iter().filter(|m| !matches!(m, Message::System { .. })));
        messages.extend(input.iter().cloned());

        let tools: Vec<ToolSpec> = self
            .tools
            .into_iter()
            .enumerate()
            .map(|(index, tool)| {
                if tool.kind != "function" {
                    return Err(ApiError::invalid(
                        format!("tool type `{}`: only function tools are served here", tool.kind),
                        Some(format!("tools[{index}].type")),
                    ));
                }
                Ok(ToolSpec {
                    name: tool.name,
                    description: tool.description,
                    parameters: tool.parameters,
                })
            })
            .collect::<Result<_, _>>()?;
        let tool_choice = match self.tool_choice {
            None => ToolChoice::Auto,
            Some(WireToolChoice::Mode(mode)) => tool_choice_mode(&mode)?,
            Some(WireToolChoice::Named { name }) => ToolChoice::Tool { name },
        };
        let response_format = match self.text.and_then(|t| t.format) {
            None | Some(Format::Text) => ResponseFormat::Text,
            Some(Format::JsonObject) => ResponseFormat::Json,
            Some(Format::JsonSchema { name, schema, strict }) => {
                ResponseFormat::JsonSchema { name, schema, strict: strict.unwrap_or(false) }
            }
        };
        let sampling = Sampling {
            temperature: self.temperature,
            top_p: self.top_p,
            max_tokens: self.max_output_tokens,
            ..Default::default()
        };
        let mut request = ChatRequest::new(messages)
            .with_tools(tools)
            .with_tool_choice(tool_choice)
            .with_sampling(sampling)
            .with_response_format(response_format);
        request.parallel_tool_calls = self.parallel_tool_calls;
        if let Some(effort) = self.reasoning.and_then(|r| r.effort) {
            request = request.with_reasoning(ReasoningOptions::effort(effort));
        }
        Ok((request, input))
    }
}

impl MessageContent {
    fn into_content(self, at: &str) -> Result<Content, ApiError> {
        let parts = match self {
            MessageContent::Text(text) => return Ok(Content::from(text)),
            MessageContent::Parts(parts) => parts,
        };
        parts
            .into_iter()
            .enumerate()
            .map(|(index, part)| match part {
                WirePart::InputText { text } | WirePart::OutputText { text } => Ok(Part::text(text)),
                WirePart::InputImage { image_url: Some(url) } => Ok(Part::image_url(url)),
                WirePart::InputFile { file_data: Some(data), filename } => {
                    Ok(Part::Document { media: Media::url(data), title: filename })
                }
                _ => Err(ApiError::invalid(
                    "images and files are taken by `image_url` and `file_data` (uploaded file ids are not kept here)",
                    Some(format!("{at}.content[{index}]")),
                )),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Content::from)
    }
}
