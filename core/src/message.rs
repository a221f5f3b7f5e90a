//! The conversation: who said what, including tool calls and their results.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Who a [`Message`] comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Instructions that frame the conversation.
    System,
    /// The person (or program) talking to the model.
    User,
    /// The model.
    Assistant,
    /// The result of a tool call, sent back to the model.
    Tool,
}

/// One turn of a conversation.
///
/// Serialised with a `role` tag, e.g. `{"role":"user","content":"hi"}`, so transcripts can be
/// saved and replayed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Message {
    /// Instructions that frame the conversation.
    System {
        /// The instructions.
        content: String,
    },
    /// What the user said.
    User {
        /// The text.
        content: String,
    },
    /// What the model replied: text, tool calls, or both.
    Assistant(AssistantMessage),
    /// The answer to one tool call.
    Tool(ToolResult),
}

impl Message {
    /// A system message.
    pub fn system(content: impl Into<String>) -> Self {
        Message::System { content: content.into() }
    }

    /// A user message.
    pub fn user(content: impl Into<String>) -> Self {
        Message::User { content: content.into() }
    }

    /// An assistant message holding text only.
    pub fn assistant(content: impl Into<String>) -> Self {
        Message::Assistant(AssistantMessage::text(content))
    }

    /// The role of this message.
    pub fn role(&self) -> Role {
        match self {
            Message::System { .. } => Role::System,
            Message::User { .. } => Role::User,
            Message::Assistant(_) => Role::Assistant,
            Message::Tool(_) => Role::Tool,
        }
    }
}

impl From<AssistantMessage> for Message {
    fn from(message: AssistantMessage) -> Self {
        Message::Assistant(message)
    }
}

impl From<ToolResult> for Message {
    fn from(result: ToolResult) -> Self {
        Message::Tool(result)
    }
}

/// A reply of the model: text, tool calls, or both.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AssistantMessage {
    /// The text of the reply; empty when the model only called tools.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub content: String,
    /// The tools the model asked to call, in the order it asked.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
}

impl AssistantMessage {
    /// A reply holding only text.
    pub fn text(content: impl Into<String>) -> Self {
        AssistantMessage { content: content.into(), tool_calls: Vec::new() }
    }

    /// A reply holding only tool calls.
    pub fn with_tool_calls(tool_calls: Vec<ToolCall>) -> Self {
        AssistantMessage { content: String::new(), tool_calls }
    }
}

/// A request from the model to run one tool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    /// The id the tool's result must answer (providers issue it; local backends make one up).
    pub id: String,
    /// The name of the tool to run.
    pub name: String,
    /// The arguments, normally a JSON object. When the model produced text that is not JSON,
    /// that text is kept here as a JSON string, so the mistake can be reported back to it.
    pub arguments: Value,
}

impl ToolCall {
    /// A tool call.
    pub fn new(id: impl Into<String>, name: impl Into<String>, arguments: Value) -> Self {
        ToolCall { id: id.into(), name: name.into(), arguments }
    }

    /// A new call id, for backends whose model or server gives none (local models, Gemini, an
    /// OpenAI-compatible server that leaves it out): unique within the process and, by a
    /// random part drawn once per process, across processes, so that a transcript that goes
    /// from one model to another never holds the same id twice.
    pub fn minted_id() -> String {
        use std::hash::{BuildHasher, Hasher};
        use std::sync::OnceLock;
        use std::sync::atomic::{AtomicU64, Ordering};
        static PROCESS: OnceLock<u32> = OnceLock::new();
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let process = *PROCESS.get_or_init(|| {
            // The standard library's per-process random keys, without a dependency.
            std::collections::hash_map::RandomState::new().build_hasher().finish() as u32
        });
        format!("call_{process:08x}_{}", NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

/// The answer to one [`ToolCall`], sent back to the model as a `tool` message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolResult {
    /// The id of the call this answers.
    pub tool_call_id: String,
    /// The name of the tool that was called (some providers require it).
    pub name: String,
    /// What the tool returned, or what went wrong, as text for the model.
    pub content: String,
    /// Whether `content` describes a failure rather than a result.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub is_error: bool,
}

#[cfg(test)]
mod tests {
    #[test]
    fn minted_ids_never_repeat() {
        let ids: std::collections::HashSet<String> =
            (0..1000).map(|_| super::ToolCall::minted_id()).collect();
        assert_eq!(ids.len(), 1000);
        assert!(ids.iter().all(|id| id.starts_with("call_")));
    }

    use super::*;
    use serde_json::json;

    #[test]
    fn messages_round_trip_through_json_with_a_role_tag() {
        let messages = vec![
            Message::system("be brief"),
            Message::user("weather in Paris?"),
            Message::Assistant(AssistantMessage {
                content: "Let me check.".into(),
                tool_calls: vec![ToolCall::new("c1", "weather", json!({"city": "Paris"}))],
            }),
            Message::Tool(ToolResult {
                tool_call_id: "c1".into(),
                name: "weather".into(),
                content: "18C".into(),
                is_error: false,
            }),
            Message::assistant("18C and sunny."),
        ];
        let text = serde_json::to_string(&messages).unwrap();
        assert!(text.starts_with(r#"[{"role":"system","content":"be brief"}"#), "{text}");
        let back: Vec<Message> = serde_json::from_str(&text).unwrap();
        assert_eq!(back, messages);
        assert_eq!(back[3].role(), Role::Tool);
    }
}
