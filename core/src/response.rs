//! What a model returns: its message, why it stopped, and what it cost.

use std::ops::{Add, AddAssign};

use serde::{Deserialize, Serialize};

use crate::message::{AssistantMessage, ToolCall};

/// A whole reply of a model.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatResponse {
    /// The reply: text, tool calls, or both.
    pub message: AssistantMessage,
    /// Why the model stopped.
    pub finish_reason: FinishReason,
    /// Tokens read and written.
    #[serde(default)]
    pub usage: Usage,
}

impl ChatResponse {
    /// A reply holding only text, finished with [`FinishReason::Stop`].
    pub fn text(content: impl Into<String>) -> Self {
        ChatResponse {
            message: AssistantMessage::text(content),
            finish_reason: FinishReason::Stop,
            usage: Usage::default(),
        }
    }

    /// A reply holding only tool calls, finished with [`FinishReason::ToolCalls`].
    pub fn tool_calls(calls: Vec<ToolCall>) -> Self {
        ChatResponse {
            message: AssistantMessage::with_tool_calls(calls),
            finish_reason: FinishReason::ToolCalls,
            usage: Usage::default(),
        }
    }

    /// The same reply with this usage.
    pub fn with_usage(mut self, usage: Usage) -> Self {
        self.usage = usage;
        self
    }
}

/// Why the model stopped generating.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    /// It finished its reply or hit a stop sequence.
    #[default]
    Stop,
    /// It reached the token limit; the reply is cut short.
    Length,
    /// It stopped to have tools called.
    ToolCalls,
    /// The provider withheld or cut the reply.
    ContentFilter,
    /// It kept repeating the same words and was stopped (local models).
    Repetition,
    /// A reason this crate does not know, as the backend reported it.
    Other(String),
}

/// Tokens read and written by one or more model calls. Adding usages sums them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Tokens of the prompt.
    pub input_tokens: u64,
    /// Tokens generated.
    pub output_tokens: u64,
}

impl Usage {
    /// A usage of so many input and output tokens.
    pub fn new(input_tokens: u64, output_tokens: u64) -> Self {
        Usage { input_tokens, output_tokens }
    }

    /// Input and output tokens together.
    pub fn total_tokens(&self) -> u64 {
        self.input_tokens + self.output_tokens
    }
}

impl Add for Usage {
    type Output = Usage;

    fn add(self, other: Usage) -> Usage {
        Usage::new(self.input_tokens + other.input_tokens, self.output_tokens + other.output_tokens)
    }
}

impl AddAssign for Usage {
    fn add_assign(&mut self, other: Usage) {
        *self = *self + other;
    }
}

impl std::iter::Sum for Usage {
    fn sum<I: Iterator<Item = Usage>>(iter: I) -> Usage {
        iter.fold(Usage::default(), Add::add)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usages_add_up() {
        let total: Usage = [Usage::new(10, 2), Usage::new(15, 3)].into_iter().sum();
        assert_eq!(total, Usage::new(25, 5));
        assert_eq!(total.total_tokens(), 30);
    }

    #[test]
    fn unknown_finish_reasons_keep_their_name() {
        let reason = FinishReason::Other("recitation".into());
        let text = serde_json::to_string(&reason).unwrap();
        assert_eq!(serde_json::from_str::<FinishReason>(&text).unwrap(), reason);
        assert_eq!(serde_json::to_string(&FinishReason::ToolCalls).unwrap(), r#""tool_calls""#);
    }
}
