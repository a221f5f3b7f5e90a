//! The conversation: who said what, including tool calls and their results.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::content::Content;

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
    /// What the user said: text, or text with images and documents.
    User {
        /// The text and media, in order.
        content: Content,
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

    /// A user message: text (`Message::user("hi")`), or [`Content`] with images and documents.
    pub fn user(content: impl Into<Content>) -> Self {
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

/// A reply of the model: text, tool calls, or both, and the reasoning that came before them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AssistantMessage {
    /// The model's reasoning before its answer (a reasoning model's thinking), in order. Kept in
    /// the conversation so that it goes back to the provider that made it: Anthropic requires
    /// its signed thinking back while a tool loop runs, Gemini its thought signatures.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasoning: Vec<Reasoning>,
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
        AssistantMessage { content: content.into(), ..Default::default() }
    }

    /// A reply holding only tool calls.
    pub fn with_tool_calls(tool_calls: Vec<ToolCall>) -> Self {
        AssistantMessage { tool_calls, ..Default::default() }
    }

    /// The reasoning's text, blocks joined by blank lines (empty without any).
    pub fn reasoning_text(&self) -> String {
        let texts: Vec<&str> =
            self.reasoning.iter().map(|r| r.text.as_str()).filter(|t| !t.is_empty()).collect();
        texts.join("\n\n")
    }
}

/// One block of a model's reasoning: its text, and what the provider that made it needs to
/// take it back (a signature over the text, or the reasoning in an opaque form it alone reads).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Reasoning {
    /// The reasoning as the model wrote it (or the provider's summary of it); empty when the
    /// provider gave only an opaque form.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub text: String,
    /// The provider's signature over the text (Anthropic's `signature`, Gemini's
    /// `thoughtSignature`), sent back with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
    /// Reasoning the provider withheld or encrypted (Anthropic's `redacted_thinking`), sent back
    /// as it came.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redacted: Option<String>,
    /// The wire that made the signature or the opaque form (`anthropic`, `gemini`), which only
    /// it can read: other wires leave those out. `None` for plain text any wire may take.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
}

impl Reasoning {
    /// Reasoning as plain text, with nothing provider-specific.
    pub fn text(text: impl Into<String>) -> Self {
        Reasoning { text: text.into(), ..Default::default() }
    }

    /// Whether this block carries a signature or opaque form made by `provider`.
    pub fn is_from(&self, provider: &str) -> bool {
        self.provider.as_deref() == Some(provider)
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

    /// Arguments as a model or wire wrote them, as text: JSON parsed; empty text is `{}` (a
    /// call of a tool without parameters); text that is not JSON is kept as a JSON string, so
    /// that the mistake can be reported back to the model.
    pub fn arguments_from_text(text: String) -> Value {
        if text.trim().is_empty() {
            return Value::Object(Default::default());
        }
        serde_json::from_str(&text).unwrap_or(Value::String(text))
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
    /// What the tool returned (text, or text with images and documents where the model takes
    /// them), or what went wrong, for the model.
    pub content: Content,
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
    fn transcripts_saved_before_content_parts_and_reasoning_still_load() {
        // Written by the release before parts, reasoning and cache usage existed.
        let saved = r#"[{"role":"system","content":"be brief"},{"role":"user","content":"hi"},
            {"role":"assistant","tool_calls":[{"id":"c1","name":"clock","arguments":{}}]},
            {"role":"tool","tool_call_id":"c1","name":"clock","content":"noon"},
            {"role":"assistant","content":"It is noon."}]"#;
        let messages: Vec<Message> = serde_json::from_str(saved).unwrap();
        assert_eq!(messages[1], Message::user("hi"));
        let Message::Tool(result) = &messages[3] else { panic!("{:?}", messages[3]) };
        assert_eq!(result.content, "noon");
        assert_eq!(messages[4], Message::assistant("It is noon."));
        // And text-only messages are written as they were.
        let written = serde_json::to_string(&messages[..2]).unwrap();
        assert_eq!(
            written,
            r#"[{"role":"system","content":"be brief"},{"role":"user","content":"hi"}]"#
        );
    }

    #[test]
    fn reasoning_round_trips_with_its_signature() {
        let reply = AssistantMessage {
            reasoning: vec![
                Reasoning {
                    text: "The user wants the time.".into(),
                    signature: Some("sig".into()),
                    provider: Some("anthropic".into()),
                    ..Default::default()
                },
                Reasoning { redacted: Some("opaque".into()), ..Default::default() },
            ],
            ..AssistantMessage::with_tool_calls(vec![ToolCall::new("c1", "clock", json!({}))])
        };
        let text = serde_json::to_string(&Message::from(reply.clone())).unwrap();
        assert_eq!(serde_json::from_str::<Message>(&text).unwrap(), Message::from(reply.clone()));
        assert_eq!(reply.reasoning_text(), "The user wants the time.");
        assert!(
            reply.reasoning[0].is_from("anthropic") && !reply.reasoning[1].is_from("anthropic")
        );
    }

    #[test]
    fn messages_round_trip_through_json_with_a_role_tag() {
        let messages = vec![
            Message::system("be brief"),
            Message::user("weather in Paris?"),
            Message::Assistant(AssistantMessage {
                content: "Let me check.".into(),
                tool_calls: vec![ToolCall::new("c1", "weather", json!({"city": "Paris"}))],
                ..Default::default()
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
