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
    /// The stop string that ended the reply, when one did and the backend says which (local
    /// models, Anthropic); the reply's text stops before it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_sequence: Option<String>,
    /// The server's id of the reply, where it gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The model that made the reply, as the server names it (often a dated version of the
    /// model asked for), where it says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
}

impl ChatResponse {
    /// A reply holding only text, finished with [`FinishReason::Stop`].
    pub fn text(content: impl Into<String>) -> Self {
        ChatResponse {
            message: AssistantMessage::text(content),
            finish_reason: FinishReason::Stop,
            ..Default::default()
        }
    }

    /// A reply holding only tool calls, finished with [`FinishReason::ToolCalls`].
    pub fn tool_calls(calls: Vec<ToolCall>) -> Self {
        ChatResponse {
            message: AssistantMessage::with_tool_calls(calls),
            finish_reason: FinishReason::ToolCalls,
            ..Default::default()
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
///
/// The counts mean the same for every backend: `input_tokens` is the whole prompt, of which
/// `cached_input_tokens` were read from a cache and `cache_write_input_tokens` written to one
/// (Anthropic counts those apart from its `input_tokens`; they are added in here), and
/// `output_tokens` is everything generated, of which `reasoning_tokens` were reasoning.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Tokens of the prompt, cached or not.
    pub input_tokens: u64,
    /// Tokens generated, reasoning included.
    pub output_tokens: u64,
    /// Prompt tokens read from the provider's prompt cache (or, for a local model, a prefix its
    /// key-value cache still held).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub cached_input_tokens: u64,
    /// Prompt tokens written to the provider's prompt cache (Anthropic's cache writes).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub cache_write_input_tokens: u64,
    /// Generated tokens that were reasoning, where the provider reports them.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub reasoning_tokens: u64,
}

fn is_zero(count: &u64) -> bool {
    *count == 0
}

impl Usage {
    /// A usage of so many input and output tokens.
    pub fn new(input_tokens: u64, output_tokens: u64) -> Self {
        Usage { input_tokens, output_tokens, ..Default::default() }
    }

    /// The same usage with this many input tokens read from a cache.
    pub fn with_cached_input(mut self, tokens: u64) -> Self {
        self.cached_input_tokens = tokens;
        self
    }

    /// The same usage with this many input tokens written to a cache.
    pub fn with_cache_write_input(mut self, tokens: u64) -> Self {
        self.cache_write_input_tokens = tokens;
        self
    }

    /// The same usage with this many output tokens of reasoning.
    pub fn with_reasoning(mut self, tokens: u64) -> Self {
        self.reasoning_tokens = tokens;
        self
    }

    /// Each count of `later` that is not zero in place of this one's: how running totals that
    /// arrive in pieces (input at a stream's start, output at its end) combine.
    pub fn updated_by(self, later: Usage) -> Usage {
        let pick = |old: u64, new: u64| if new > 0 { new } else { old };
        Usage {
            input_tokens: pick(self.input_tokens, later.input_tokens),
            output_tokens: pick(self.output_tokens, later.output_tokens),
            cached_input_tokens: pick(self.cached_input_tokens, later.cached_input_tokens),
            cache_write_input_tokens: pick(
                self.cache_write_input_tokens,
                later.cache_write_input_tokens,
            ),
            reasoning_tokens: pick(self.reasoning_tokens, later.reasoning_tokens),
        }
    }

    /// Input and output tokens together.
    pub fn total_tokens(&self) -> u64 {
        self.input_tokens + self.output_tokens
    }
}

impl Add for Usage {
    type Output = Usage;

    fn add(self, other: Usage) -> Usage {
        Usage {
            input_tokens: self.input_tokens + other.input_tokens,
            output_tokens: self.output_tokens + other.output_tokens,
            cached_input_tokens: self.cached_input_tokens + other.cached_input_tokens,
            cache_write_input_tokens: self.cache_write_input_tokens
                + other.cache_write_input_tokens,
            reasoning_tokens: self.reasoning_tokens + other.reasoning_tokens,
        }
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

/// What a model's tokens cost, per million, as providers list their prices: the price table of
/// a config (`[prices]`) and the costs `anymodel logs --cost` shows are made of these. The
/// currency is whatever the prices are written in.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    /// Per million input tokens that were not read from a cache.
    pub input: f64,
    /// Per million output tokens (reasoning included).
    pub output: f64,
    /// Per million input tokens read from the provider's cache; the input price when not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached_input: Option<f64>,
}

impl Price {
    /// What `usage` cost at these prices.
    pub fn cost(&self, usage: &Usage) -> f64 {
        let cached = usage.cached_input_tokens.min(usage.input_tokens);
        let uncached = usage.input_tokens - cached;
        let per_million = |tokens: u64, price: f64| tokens as f64 * price / 1_000_000.0;
        per_million(uncached, self.input)
            + per_million(cached, self.cached_input.unwrap_or(self.input))
            + per_million(usage.output_tokens, self.output)
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
        let cached = Usage::new(100, 10).with_cached_input(80).with_reasoning(4);
        let both = cached + Usage::new(1, 1).with_cache_write_input(1);
        assert_eq!((both.cached_input_tokens, both.cache_write_input_tokens), (80, 1));
        assert_eq!(both.reasoning_tokens, 4);
        // Saved usages without the new counts load, and are written as before.
        let old: Usage = serde_json::from_str(r#"{"input_tokens":3,"output_tokens":4}"#).unwrap();
        assert_eq!(old, Usage::new(3, 4));
        assert_eq!(serde_json::to_string(&old).unwrap(), r#"{"input_tokens":3,"output_tokens":4}"#);
    }

    #[test]
    fn unknown_finish_reasons_keep_their_name() {
        let reason = FinishReason::Other("recitation".into());
        let text = serde_json::to_string(&reason).unwrap();
        assert_eq!(serde_json::from_str::<FinishReason>(&text).unwrap(), reason);
        assert_eq!(serde_json::to_string(&FinishReason::ToolCalls).unwrap(), r#""tool_calls""#);
    }

    #[test]
    fn a_price_charges_cached_input_at_its_own_rate() {
        let price = Price { input: 2.5, output: 10.0, cached_input: Some(1.25) };
        let usage = Usage::new(1_000_000, 200_000).with_cached_input(400_000);
        // 600k uncached at 2.5, 400k cached at 1.25, 200k out at 10.
        assert!((price.cost(&usage) - (1.5 + 0.5 + 2.0)).abs() < 1e-9);
        let no_cache_price = Price { cached_input: None, ..price };
        assert!((no_cache_price.cost(&usage) - (2.5 + 2.0)).abs() < 1e-9);
    }
}
