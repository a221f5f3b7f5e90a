//! What an agent run leaves behind: the answer, the transcript, each step and what it cost.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::message::{Message, ToolCall, ToolResult};
use crate::response::{ChatResponse, Usage};
use crate::toolset::{ToolCallError, output_content};

/// A finished (or, inside an [`crate::AgentError`], interrupted) agent run. Serialisable, so it can
/// be saved as a run record and its transcript replayed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AgentRun {
    /// The model's final answer: the text of its last reply.
    pub answer: String,
    /// Every message of the conversation, the system prompt and the input included.
    pub transcript: Vec<Message>,
    /// Each call to the model, with the tools it had run.
    pub steps: Vec<Step>,
    /// The tokens of all steps together.
    pub usage: Usage,
    /// The name of the model that ran.
    pub model: String,
    /// Wall-clock time of the whole run, in milliseconds.
    pub elapsed_ms: u64,
}

/// One call to the model and the tool calls it asked for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// Its position in the run, from 1.
    pub index: usize,
    /// The model's reply, with its usage and finish reason.
    pub response: ChatResponse,
    /// The tool calls of the reply as they ran, in the order the model asked for them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolInvocation>,
    /// Wall-clock time of the step (model and tools), in milliseconds.
    pub elapsed_ms: u64,
}

/// A tool call and how it went.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolInvocation {
    /// The call as the model made it.
    pub call: ToolCall,
    /// What the tool returned, or why it returned nothing; serialised as `{"ok": VALUE}` or
    /// `{"error": {"kind": …, …}}`.
    #[serde(with = "outcome")]
    pub result: Result<Value, ToolCallError>,
    /// How long it took, in milliseconds.
    pub elapsed_ms: u64,
}

impl ToolInvocation {
    /// The `tool` message that answers the call.
    pub fn to_message(&self) -> ToolResult {
        let (content, is_error) = match &self.result {
            Ok(output) => (output_content(output), false),
            Err(err) => (err.to_string().into(), true),
        };
        ToolResult {
            tool_call_id: self.call.id.clone(),
            name: self.call.name.clone(),
            content,
            is_error,
        }
    }
}

/// A tool's result as `{"ok": …}` or `{"error": …}`, as JSON readers expect (serde's own form of
/// a `Result` is `{"Ok": …}`).
mod outcome {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use serde_json::Value;

    use crate::toolset::ToolCallError;

    #[derive(Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    enum Outcome<T, E> {
        Ok(T),
        Error(E),
    }

    pub(super) fn serialize<S: Serializer>(
        result: &Result<Value, ToolCallError>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match result {
            Ok(value) => Outcome::<&Value, &ToolCallError>::Ok(value),
            Err(error) => Outcome::Error(error),
        }
        .serialize(serializer)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Result<Value, ToolCallError>, D::Error> {
        Ok(match Outcome::<Value, ToolCallError>::deserialize(deserializer)? {
            Outcome::Ok(value) => Ok(value),
            Outcome::Error(error) => Err(error),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tool_results_read_as_ok_or_error() {
        let call = ToolCall::new("c1", "clock", json!({}));
        let ok = ToolInvocation { call: call.clone(), result: Ok(json!("12:00")), elapsed_ms: 1 };
        assert_eq!(serde_json::to_value(&ok).unwrap()["result"], json!({"ok": "12:00"}));
        let failed = ToolInvocation {
            call,
            result: Err(ToolCallError::Failed { tool: "clock".into(), message: "stopped".into() }),
            elapsed_ms: 1,
        };
        let value = serde_json::to_value(&failed).unwrap();
        assert_eq!(
            value["result"],
            json!({"error": {"kind": "failed", "tool": "clock", "message": "stopped"}})
        );
        let back: ToolInvocation = serde_json::from_value(value).unwrap();
        assert_eq!(back, failed);
    }
}
