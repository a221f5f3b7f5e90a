//! A Chat Completions request as the core's [`ChatRequest`]: messages with string or part
//! content, tools, tool choice, response format and sampling. Fields the core has no use for are
//! accepted and ignored, as OpenAI-compatible servers do.

use std::collections::HashMap;

use anymodel_core::{
    AssistantMessage, ChatRequest, Content, Media, Message, Part, Reasoning, ResponseFormat,
    Sampling, ToolCall, ToolChoice, ToolResult, ToolSpec,
};
use serde::Deserialize;
use serde_json::Value;

use crate::error::ApiError;

/// The body of `POST /v1/chat/completions`.
#[derive(Debug, Deserialize)]
pub(crate) struct CompletionRequest {
    pub(crate) model: String,
    messages: Vec<WireMessage>,
    #[serde(default)]
    tools: Vec<WireTool>,
    #[serde(default)]
    tool_choice: Option<WireToolChoice>,
    #[serde(default)]
    parallel_tool_calls: Option<bool>,
    #[serde(default)]
    response_format: Option<WireFormat>,
    #[serde(default)]
    pub(crate) stream: bool,
    #[serde(default)]
    stream_options: Option<StreamOptions>,
    #[serde(default)]
    max_tokens: Option<u32>,
    #[serde(default)]
    max_completion_tokens: Option<u32>,
    #[serde(default)]
    stop: Option<Stop>,
    #[serde(default)]
    temperature: Option<f64>,
    #[serde(default)]
    top_p: Option<f64>,
    #[serde(default)]
    seed: Option<u64>,
}

#[derive(Debug, Deserialize)]
struct StreamOptions {
    #[serde(default)]
    include_usage: bool,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Stop {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Deserialize)]
#[serde(tag = "role", rename_all = "snake_case")]
enum WireMessage {
    System {
        content: WireContent,
    },
    Developer {
        content: WireContent,
    },
    User {
        content: WireContent,
    },
    Assistant {
        #[serde(default)]
        content: Option<WireContent>,
        #[serde(default)]
        tool_calls: Vec<WireToolCall>,
        #[serde(default)]
        reasoning_content: Option<String>,
    },
    Tool {
        tool_call_id: String,
        content: WireContent,
    },
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum WireContent {
    Text(String),
    Parts(Vec<WirePart>),
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum WirePart {
    Text { text: String },
    ImageUrl { image_url: ImageUrl },
    File { file: WireFile },
}

#[derive(Debug, Deserialize)]
struct ImageUrl {
    url: String,
}

#[derive(Debug, Deserialize)]
struct WireFile {
    #[serde(default)]
    file_data: Option<String>,
    #[serde(default)]
    filename: Option<String>,
}

#[derive(Debug, Deserialize)]
struct WireToolCall {
    id: String,
    function: WireFunction,
}

#[derive(Debug, Deserialize)]
struct WireFunction {
    name: String,
    #[serde(default)]
    arguments: String,
}

#[derive(Debug, Deserialize)]
struct WireTool {
    function: WireToolFunction,
}

#[derive(Debug, Deserialize)]
struct WireToolFunction {
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default = "empty_object")]
    parameters: Value,
}

/// An empty JSON object: the schema of a tool without parameters.
pub(crate) fn empty_object() -> Value {
    Value::Object(Default::default())
}

/// OpenAI's tool choice by name (`auto`, `none`, `required`), in Chat Completions and Responses
/// alike.
pub(crate) fn tool_choice_mode(mode: &str) -> Result<ToolChoice, ApiError> {
    Ok(match mode {
        "auto" => ToolChoice::Auto,
        "none" => ToolChoice::None,
        "required" => ToolChoice::Required,
        other => {
            return Err(ApiError::invalid(
                format!("tool_choice `{other}`: expected auto, none, required or a function"),
                Some("tool_choice".into()),
            ));
        }
    })
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum WireToolChoice {
    Mode(String),
    Named { function: NamedFunction },
}

#[derive(Debug, Deserialize)]
struct NamedFunction {
    name: String,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum WireFormat {
    Text,
    JsonObject,
    JsonSchema { json_schema: JsonSchemaFormat },
}

#[derive(Debug, Deserialize)]
struct JsonSchemaFormat {
    name: String,
    #[serde(default = "empty_object")]
    schema: Value,
    #[serde(default)]
    strict: Option<bool>,
}

impl CompletionRequest {
    /// Whether the stream ends with a usage chunk.
    pub(crate) fn include_usage(&self) -> bool {
        self.stream_options.as_ref().is_some_and(|options| options.include_usage)
    }

    /// The core request; a message or option that cannot be read is a 400 naming it.
    pub(crate) fn into_core(self) -> Result<ChatRequest, ApiError> {
        let mut names: HashMap<String, String> = HashMap::new();
        let mut messages = Vec::with_capacity(self.messages.len());
        for (index, message) in self.messages.into_iter().enumerate() {
            let at = |field: &str| format!("messages[{index}].{field}");
            messages.push(match message {
                WireMessage::System { content } | WireMessage::Developer { content } => {
                    Message::system(content.into_core(&at("content"))?.text())
                }
                WireMessage::User { content } => Message::user(content.into_core(&at("content"))?),
                WireMessage::Assistant { content, tool_calls, reasoning_content } => {
                    let text = match content {
                        Some(content) => content.into_core(&at("content"))?.text(),
                        None => String::new(),
                    };
                    let calls = tool_calls.into_iter().map(|call| {
                        names.insert(call.id.clone(), call.function.name.clone());
                        let arguments = ToolCall::arguments_from_text(call.function.arguments);
                        ToolCall::new(call.id, call.function.name, arguments)
                    });
                    let mut reply = AssistantMessage::text(text);
                    reply.tool_calls = calls.collect();
                    reply.reasoning =
                        reasoning_content.filter(|r| !r.is_empty()).map(Reasoning::text).into_iter().collect();
                    Message::Assistant(reply)
                }
                WireMessage::Tool { tool_call_id, content } => {
                    let name = names.get(&tool_call_id).cloned().ok_or_else(|| {
                        ApiError::invalid(
                            format!("tool result for `{tool_call_id}`, which no assistant message before it called"),
                            Some(at("tool_call_id")),
                        )
                    })?;
                    Message::Tool(ToolResult {
                        tool_call_id,
                        name,
                        content: content.into_core(&at("content"))?,
                        is_error: false,
                    })
                }
            });
        }
        let tools: Vec<ToolSpec> = self
            .tools
            .into_iter()
            .map(|tool| ToolSpec {
                name: tool.function.name,
                description: tool.function.description,
                parameters: tool.function.parameters,
            })
            .collect();
        let tool_choice = match self.tool_choice {
            None => ToolChoice::Auto,
            Some(WireToolChoice::Mode(mode)) => tool_choice_mode(&mode)?,
            Some(WireToolChoice::Named { function }) => ToolChoice::Tool { name: function.name },
        };
        let response_format = match self.response_format {
            None | Some(WireFormat::Text) => ResponseFormat::Text,
            Some(WireFormat::JsonObject) => ResponseFormat::Json,
            Some(WireFormat::JsonSchema { json_schema }) => ResponseFormat::JsonSchema {
                name: json_schema.name,
                schema: json_schema.schema,
                strict: json_schema.strict.unwrap_or(false),
            },
        };
        let stop = match self.stop {
            None => Vec::new(),
            Some(Stop::One(stop)) => vec![stop],
            Some(Stop::Many(stops)) => stops,
        };
        let sampling = Sampling {
            temperature: self.temperature,
            top_p: self.top_p,
            max_tokens: self.max_completion_tokens.or(self.max_tokens),
            stop,
            seed: self.seed,
            ..Default::default()
        };
        let mut request = ChatRequest::new(messages)
            .with_tools(tools)
            .with_tool_choice(tool_choice)
            .with_sampling(sampling)
            .with_response_format(response_format);
        request.parallel_tool_calls = self.parallel_tool_calls;
        Ok(request)
    }
}

impl WireContent {
    fn into_core(self, at: &str) -> Result<Content, ApiError> {
        let parts = match self {
            WireContent::Text(text) => return Ok(Content::from(text)),
            WireContent::Parts(parts) => parts,
        };
        parts
            .into_iter()
            .map(|part| match part {
                WirePart::Text { text } => Ok(Part::text(text)),
                WirePart::ImageUrl { image_url } => Ok(Part::image_url(image_url.url)),
                WirePart::File { file } => {
                    let data = file.file_data.ok_or_else(|| {
                        ApiError::invalid(
                            "a file part needs `file_data` (uploaded file ids are not kept here)",
                            Some(format!("{at}.file.file_data")),
                        )
                    })?;
                    Ok(Part::Document { media: Media::url(data), title: file.filename })
                }
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Content::from)
    }
}
