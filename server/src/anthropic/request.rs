//! A Messages request as the core's [`ChatRequest`]: the system prompt, turns of content blocks
//! (text, image, document, `tool_use`, `tool_result`, `thinking`), tools, tool choice, stop
//! sequences, sampling and the thinking budget.

use std::collections::HashMap;

use anymodel_core::{
    AssistantMessage, ChatRequest, Content, Media, MediaSource, Message, Part, Reasoning,
    ReasoningOptions, Sampling, ToolCall, ToolChoice, ToolResult, ToolSpec,
};
use serde::Deserialize;
use serde_json::Value;

use crate::error::ApiError;

/// The body of `POST /v1/messages`.
#[derive(Debug, Deserialize)]
pub(crate) struct MessagesRequest {
    pub(crate) model: String,
    /// Required by `/v1/messages`, not by `/v1/messages/count_tokens`.
    #[serde(default)]
    pub(crate) max_tokens: Option<u32>,
    #[serde(default)]
    system: Option<Text>,
    messages: Vec<Turn>,
    #[serde(default)]
    tools: Vec<WireTool>,
    #[serde(default)]
    tool_choice: Option<WireToolChoice>,
    #[serde(default)]
    stop_sequences: Vec<String>,
    #[serde(default)]
    pub(crate) stream: bool,
    #[serde(default)]
    temperature: Option<f64>,
    #[serde(default)]
    top_p: Option<f64>,
    #[serde(default)]
    top_k: Option<u32>,
    #[serde(default)]
    thinking: Option<Thinking>,
}

/// A system prompt or tool result: a string, or text blocks.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Text {
    Plain(String),
    Blocks(Vec<Block>),
}

#[derive(Debug, Deserialize)]
struct Turn {
    role: Role,
    content: Text,
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(rename_all = "snake_case")]
enum Role {
    User,
    Assistant,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Block {
    Text {
        text: String,
    },
    Image {
        source: Source,
    },
    Document {
        source: Source,
        #[serde(default)]
        title: Option<String>,
    },
    ToolUse {
        id: String,
        name: String,
        #[serde(default)]
        input: Value,
    },
    ToolResult {
        tool_use_id: String,
        #[serde(default)]
        content: Option<Text>,
        #[serde(default)]
        is_error: bool,
    },
    Thinking {
        thinking: String,
        #[serde(default)]
        signature: Option<String>,
    },
    RedactedThinking {
        data: String,
    },
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Source {
    Base64 { media_type: String, data: String },
    Url { url: String },
}

#[derive(Debug, Deserialize)]
struct WireTool {
    name: String,
    #[serde(default)]
    description: String,
    input_schema: Value,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum WireToolChoice {
    Auto {
        #[serde(default)]
        disable_parallel_tool_use: bool,
    },
    Any {
        #[serde(default)]
        disable_parallel_tool_use: bool,
    },
    Tool {
        name: String,
        #[serde(default)]
        disable_parallel_tool_use: bool,
    },
    None,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Thinking {
    Enabled { budget_tokens: u32 },
    Disabled,
}

/// Signed thinking that comes back in Anthropic's format was made by Anthropic's wire: it goes
/// back to that provider, the one that can check it.
const SIGNER: &str = "anthropic";

impl MessagesRequest {
    /// The core request; a block that cannot be read is a 400 naming where it is.
    pub(crate) fn into_core(self) -> Result<ChatRequest, ApiError> {
        let mut messages = Vec::new();
        if let Some(system) = self.system {
            messages.push(Message::system(system.into_content("system")?.text()));
        }
        let mut names: HashMap<String, String> = HashMap::new();
        for (index, turn) in self.messages.into_iter().enumerate() {
            let at = format!("messages[{index}].content");
            let blocks = match turn.content {
                Text::Plain(text) => vec![Block::Text { text }],
                Text::Blocks(blocks) => blocks,
            };
            if turn.role == Role::Assistant {
                messages.push(Message::Assistant(assistant(blocks, &mut names)));
                continue;
            }
            // A user turn: its tool results first (as the core's tool messages), then the rest.
            let mut parts = Vec::new();
            for (position, block) in blocks.into_iter().enumerate() {
                let at = format!("{at}[{position}]");
                match block {
                    Block::ToolResult { tool_use_id, content, is_error } => {
                        let name = names.get(&tool_use_id).cloned().ok_or_else(|| {
                            ApiError::invalid(
                                format!("a tool_result for `{tool_use_id}`, which no tool_use before it made"),
                                Some(format!("{at}.tool_use_id")),
                            )
                        })?;
                        let content = match content {
                            Some(text) => text.into_content(&at)?,
                            None => Content::default(),
                        };
                        messages.push(Message::Tool(ToolResult {
                            tool_call_id: tool_use_id,
                            name,
                            content,
                            is_error,
                        }));
                    }
                    other => parts.push(part(other, &at)?),
                }
            }
            if !parts.is_empty() {
                messages.push(Message::user(Content::new(parts)));
            }
        }
        let tools: Vec<ToolSpec> = self
            .tools
            .into_iter()
            .map(|tool| ToolSpec {
                name: tool.name,
                description: tool.description,
                parameters: tool.input_schema,
            })
            .collect();
        let (tool_choice, parallel) = match self.tool_choice {
            None => (ToolChoice::Auto, None),
            Some(WireToolChoice::Auto { disable_parallel_tool_use }) => {
                (ToolChoice::Auto, serial(disable_parallel_tool_use))
            }
            Some(WireToolChoice::Any { disable_parallel_tool_use }) => {
                (ToolChoice::Required, serial(disable_parallel_tool_use))
            }
            Some(WireToolChoice::Tool { name, disable_parallel_tool_use }) => {
                (ToolChoice::Tool { name }, serial(disable_parallel_tool_use))
            }
            Some(WireToolChoice::None) => (ToolChoice::None, None),
        };
        let sampling = Sampling {
            temperature: self.temperature,
            top_p: self.top_p,
            top_k: self.top_k,
            max_tokens: self.max_tokens,
            stop: self.stop_sequences,
            ..Default::default()
        };
        let mut request = ChatRequest::new(messages)
            .with_tools(tools)
            .with_tool_choice(tool_choice)
            .with_sampling(sampling);
        request.parallel_tool_calls = parallel;
        if let Some(Thinking::Enabled { budget_tokens }) = self.thinking {
            request = request.with_reasoning(ReasoningOptions::budget(budget_tokens));
        }
        Ok(request)
    }
}

fn serial(disabled: bool) -> Option<bool> {
    disabled.then_some(false)
}

/// An assistant turn: thinking, text and tool calls (whose names the results will need).
fn assistant(blocks: Vec<Block>, names: &mut HashMap<String, String>) -> AssistantMessage {
    let mut reply = AssistantMessage::default();
    for block in blocks {
        match block {
            Block::Text { text } => reply.content.push_str(&text),
            Block::ToolUse { id, name, input } => {
                names.insert(id.clone(), name.clone());
                reply.tool_calls.push(ToolCall::new(id, name, input));
            }
            Block::Thinking { thinking, signature } => reply.reasoning.push(Reasoning {
                text: thinking,
                provider: signature.is_some().then(|| SIGNER.to_string()),
                signature,
                redacted: None,
            }),
            Block::RedactedThinking { data } => reply.reasoning.push(Reasoning {
                redacted: Some(data),
                provider: Some(SIGNER.to_string()),
                ..Default::default()
            }),
            // Images and results have no place in a reply; they are not the model's words.
            _ => {}
        }
    }
    reply
}

/// A user block as a content part.
fn part(block: Block, at: &str) -> Result<Part, ApiError> {
    Ok(match block {
        Block::Text { text } => Part::text(text),
        Block::Image { source } => Part::Image(media(source)),
        Block::Document { source, title } => Part::Document { media: media(source), title },
        _ => {
            return Err(ApiError::invalid(
                "this block belongs in an assistant turn, not a user one",
                Some(at.to_string()),
            ));
        }
    })
}

fn media(source: Source) -> Media {
    match source {
        Source::Base64 { media_type, data } => {
            Media { media_type: Some(media_type), source: MediaSource::Base64(data) }
        }
        Source::Url { url } => Media::url(url),
    }
}

impl Text {
    fn into_content(self, at: &str) -> Result<Content, ApiError> {
        match self {
            Text::Plain(text) => Ok(Content::from(text)),
            Text::Blocks(blocks) => blocks
                .into_iter()
                .enumerate()
                .map(|(i, block)| part(block, &format!("{at}[{i}]")))
                .collect::<Result<Vec<_>, _>>()
                .map(Content::new),
        }
    }
}
