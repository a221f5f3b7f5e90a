//! What is sent to a model: the conversation, the tools it may call, and how to sample.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::content::Content;
use crate::error::{Error, Result};
use crate::message::Message;

/// One call to a model: everything the model sees and every knob on how it answers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ChatRequest {
    /// The conversation so far, oldest first.
    pub messages: Vec<Message>,
    /// The tools the model may call.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<ToolSpec>,
    /// Whether and which tool the model must call.
    #[serde(default)]
    pub tool_choice: ToolChoice,
    /// Whether the model may call several tools in one reply; `None` leaves the model's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallel_tool_calls: Option<bool>,
    /// How to pick tokens.
    #[serde(default)]
    pub sampling: Sampling,
    /// The shape the reply must take.
    #[serde(default)]
    pub response_format: ResponseFormat,
    /// How much a reasoning model thinks before it answers; `None` leaves the model's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<ReasoningOptions>,
    /// Where the provider may cache the prompt up to (Anthropic's `cache_control`). Providers
    /// that cache on their own (OpenAI, Gemini, DeepSeek) and local models need none, and take
    /// a request with breakpoints as if it had none: caching changes cost, never the reply.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cache: Vec<CacheBreakpoint>,
    /// Provider options anymodel does not model (OpenAI's `user` or `service_tier`, vLLM's
    /// sampling fields, Anthropic's `metadata`), merged into the top level of a remote request's
    /// body. A key anymodel writes itself is refused, not overridden: set it through the
    /// request's own fields. Local models refuse a request with any.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub extra: Map<String, Value>,
}

impl ChatRequest {
    /// A request holding these messages and default settings.
    pub fn new(messages: impl IntoIterator<Item = Message>) -> Self {
        ChatRequest { messages: messages.into_iter().collect(), ..Default::default() }
    }

    /// A request holding one user message.
    pub fn user(prompt: impl Into<Content>) -> Self {
        ChatRequest::new([Message::user(prompt)])
    }

    /// Declares the tools the model may call.
    pub fn with_tools(mut self, tools: impl IntoIterator<Item = ToolSpec>) -> Self {
        self.tools = tools.into_iter().collect();
        self
    }

    /// Sets the tool choice.
    pub fn with_tool_choice(mut self, choice: ToolChoice) -> Self {
        self.tool_choice = choice;
        self
    }

    /// Sets the sampling options.
    pub fn with_sampling(mut self, sampling: Sampling) -> Self {
        self.sampling = sampling;
        self
    }

    /// Sets the response format.
    pub fn with_response_format(mut self, format: ResponseFormat) -> Self {
        self.response_format = format;
        self
    }

    /// Sets how much a reasoning model thinks.
    pub fn with_reasoning(mut self, reasoning: ReasoningOptions) -> Self {
        self.reasoning = Some(reasoning);
        self
    }

    /// Adds a cache breakpoint.
    pub fn with_cache(mut self, breakpoint: CacheBreakpoint) -> Self {
        self.cache.push(breakpoint);
        self
    }

    /// Adds a provider option to the request's body.
    pub fn with_extra(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.extra.insert(key.into(), value.into());
        self
    }

    /// Whether a cache breakpoint falls on the message at `index`.
    pub fn caches_message(&self, index: usize) -> Option<&CacheBreakpoint> {
        let last = self.messages.len().checked_sub(1);
        self.cache.iter().find(|point| match point.target {
            CacheTarget::Message { index: at } => at == index,
            CacheTarget::LastMessage => last == Some(index),
            CacheTarget::System | CacheTarget::Tools => false,
        })
    }

    /// The breakpoint on `target` (the system prompt or the tools), if there is one.
    pub fn caches(&self, target: CacheTarget) -> Option<&CacheBreakpoint> {
        self.cache.iter().find(|point| point.target == target)
    }
}

/// How much a reasoning model thinks before it answers. Each backend maps what it can: an
/// effort to OpenAI's `reasoning_effort`, a budget to Anthropic's `thinking` and Gemini's
/// `thinkingBudget`; given one where a wire takes the other, it is converted
/// ([`ReasoningOptions::budget_or`], [`ReasoningOptions::effort_or_budget`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReasoningOptions {
    /// How hard to think.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effort: Option<ReasoningEffort>,
    /// The most tokens to spend thinking.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_tokens: Option<u32>,
}

impl ReasoningOptions {
    /// Thinking at this effort.
    pub fn effort(effort: ReasoningEffort) -> Self {
        ReasoningOptions { effort: Some(effort), budget_tokens: None }
    }

    /// Thinking within this many tokens.
    pub fn budget(tokens: u32) -> Self {
        ReasoningOptions { effort: None, budget_tokens: Some(tokens) }
    }

    /// The budget, or one for the effort (low 1,024 tokens, medium 4,096, high 16,384; none
    /// 0), or `default` when neither is set.
    pub fn budget_or(&self, default: u32) -> u32 {
        self.budget_tokens.unwrap_or(match self.effort {
            None => default,
            Some(ReasoningEffort::None) => 0,
            Some(ReasoningEffort::Minimal) => 512,
            Some(ReasoningEffort::Low) => 1024,
            Some(ReasoningEffort::Medium) => 4096,
            Some(ReasoningEffort::High) => 16384,
        })
    }

    /// The effort, or the one whose budget is nearest above the budget set; `None` when
    /// neither is set.
    pub fn effort_or_budget(&self) -> Option<ReasoningEffort> {
        self.effort.or_else(|| {
            self.budget_tokens.map(|tokens| match tokens {
                0 => ReasoningEffort::None,
                1..=512 => ReasoningEffort::Minimal,
                513..=1024 => ReasoningEffort::Low,
                1025..=4096 => ReasoningEffort::Medium,
                _ => ReasoningEffort::High,
            })
        })
    }
}

/// How hard a reasoning model thinks (OpenAI's `reasoning_effort` values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReasoningEffort {
    /// No reasoning, where the model allows it.
    None,
    /// The least.
    Minimal,
    /// Little.
    Low,
    /// The usual default.
    Medium,
    /// The most.
    High,
}

impl ReasoningEffort {
    /// The name on the wire and the command line: `none`, `minimal`, `low`, `medium`, `high`.
    pub fn as_str(self) -> &'static str {
        match self {
            ReasoningEffort::None => "none",
            ReasoningEffort::Minimal => "minimal",
            ReasoningEffort::Low => "low",
            ReasoningEffort::Medium => "medium",
            ReasoningEffort::High => "high",
        }
    }
}

impl std::str::FromStr for ReasoningEffort {
    type Err = String;

    fn from_str(text: &str) -> std::result::Result<Self, String> {
        [
            ReasoningEffort::None,
            ReasoningEffort::Minimal,
            ReasoningEffort::Low,
            ReasoningEffort::Medium,
            ReasoningEffort::High,
        ]
        .into_iter()
        .find(|effort| effort.as_str() == text)
        .ok_or_else(|| {
            format!("reasoning effort `{text}`: expected none, minimal, low, medium or high")
        })
    }
}

/// A point the provider may cache the prompt up to: everything before it, and it, is cached
/// for later requests that start the same way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheBreakpoint {
    /// Where the cached prefix ends.
    pub target: CacheTarget,
    /// How long the cache lives; the provider's default (Anthropic: 5 minutes) when `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<CacheTtl>,
}

impl CacheBreakpoint {
    /// A breakpoint at `target` with the provider's default lifetime.
    pub fn at(target: CacheTarget) -> Self {
        CacheBreakpoint { target, ttl: None }
    }

    /// The same breakpoint with this lifetime.
    pub fn ttl(mut self, ttl: CacheTtl) -> Self {
        self.ttl = Some(ttl);
        self
    }
}

/// Where a [`CacheBreakpoint`] falls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "at", rename_all = "snake_case")]
pub enum CacheTarget {
    /// The end of the tool list.
    Tools,
    /// The end of the system prompt.
    System,
    /// The end of the message at this position in [`ChatRequest::messages`].
    Message {
        /// Its position.
        index: usize,
    },
    /// The end of the last message, wherever it is: the usual breakpoint of a conversation
    /// that grows, each turn reading the cache of the one before.
    LastMessage,
}

/// How long a cached prompt lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CacheTtl {
    /// Five minutes (Anthropic's `5m`).
    FiveMinutes,
    /// An hour (Anthropic's `1h`).
    OneHour,
}

/// A tool as the model sees it: its name, what it does, and the JSON Schema of its arguments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolSpec {
    /// The name the model calls it by.
    pub name: String,
    /// What it does and when to use it, for the model.
    pub description: String,
    /// The JSON Schema its arguments must match (an object schema).
    pub parameters: Value,
}

/// Whether the model must, may or must not call a tool.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ToolChoice {
    /// The model decides.
    #[default]
    Auto,
    /// The model must answer in text.
    None,
    /// The model must call at least one tool.
    Required,
    /// The model must call this tool.
    Tool {
        /// The tool's name; it must be among the request's tools.
        name: String,
    },
}

/// How the next tokens are picked. `None` leaves each option to the model's default.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Sampling {
    /// Randomness: 0 is greedy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// Nucleus sampling: keep the smallest set of tokens whose probabilities add up to this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    /// Keep only the this many most likely tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_k: Option<u32>,
    /// The most tokens the reply may have.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// Text that ends the reply when generated (not included in it).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stop: Vec<String>,
    /// Seed for reproducible sampling, where the model supports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Drop tokens less likely than this share of the likeliest one's probability (local
    /// models; see [`crate::Capabilities::penalties`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_p: Option<f64>,
    /// Make tokens among the last [`Sampling::repeat_last_n`] generated this many times less
    /// likely (1 is none; local models, see [`crate::Capabilities::penalties`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repetition_penalty: Option<f64>,
    /// How many of the last generated tokens the repetition penalty looks at (local models).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeat_last_n: Option<u32>,
}

impl Sampling {
    /// These options with each one left unset taken from `defaults`.
    pub fn or(mut self, defaults: &Sampling) -> Sampling {
        self.temperature = self.temperature.or(defaults.temperature);
        self.top_p = self.top_p.or(defaults.top_p);
        self.top_k = self.top_k.or(defaults.top_k);
        self.max_tokens = self.max_tokens.or(defaults.max_tokens);
        if self.stop.is_empty() {
            self.stop = defaults.stop.clone();
        }
        self.seed = self.seed.or(defaults.seed);
        self.min_p = self.min_p.or(defaults.min_p);
        self.repetition_penalty = self.repetition_penalty.or(defaults.repetition_penalty);
        self.repeat_last_n = self.repeat_last_n.or(defaults.repeat_last_n);
        self
    }

    /// Whether each option set is a value it can take, else why not, naming the option:
    /// temperature finite and not negative, `top_p` and `min_p` in (0, 1] and [0, 1], `top_k` and
    /// `max_tokens` at least 1, the repetition penalty finite and positive, no empty stop string.
    /// A value out of range is refused, never quietly read as something else.
    pub fn validate(&self) -> Result<()> {
        let invalid = |message: String| Err(Error::InvalidRequest { status: None, message });
        if let Some(t) = self.temperature.filter(|t| !t.is_finite() || *t < 0.0) {
            return invalid(format!(
                "temperature {t}: expected a number of 0 or more (0 is greedy)"
            ));
        }
        if let Some(p) = self.top_p.filter(|p| !(*p > 0.0 && *p <= 1.0)) {
            return invalid(format!("top_p {p}: expected more than 0 and at most 1"));
        }
        if self.top_k == Some(0) {
            return invalid("top_k 0: expected at least 1 (leave it unset for no limit)".into());
        }
        if self.max_tokens == Some(0) {
            return invalid("max_tokens 0: expected at least 1".into());
        }
        if let Some(p) = self.min_p.filter(|p| !(*p >= 0.0 && *p <= 1.0)) {
            return invalid(format!("min_p {p}: expected 0 to 1"));
        }
        if let Some(r) = self.repetition_penalty.filter(|r| !r.is_finite() || *r <= 0.0) {
            return invalid(format!(
                "repetition_penalty {r}: expected a positive number (1 is none)"
            ));
        }
        if self.stop.iter().any(String::is_empty) {
            return invalid("an empty stop string would end every reply at once".into());
        }
        Ok(())
    }

    /// The names of the options set that only local models take (`min_p` and the repetition
    /// penalty's two).
    pub fn penalties_set(&self) -> Vec<&'static str> {
        [
            ("min_p", self.min_p.is_some()),
            ("repetition_penalty", self.repetition_penalty.is_some()),
            ("repeat_last_n", self.repeat_last_n.is_some()),
        ]
        .into_iter()
        .filter_map(|(name, set)| set.then_some(name))
        .collect()
    }
}

/// The shape the reply's text must take.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ResponseFormat {
    /// Free text.
    #[default]
    Text,
    /// Any JSON object.
    Json,
    /// JSON matching a schema.
    JsonSchema {
        /// A name for the schema (providers require one).
        name: String,
        /// The JSON Schema.
        schema: Value,
        /// Whether the provider must enforce the schema exactly rather than treat it as a hint.
        #[serde(default)]
        strict: bool,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn requests_round_trip_through_json() {
        let request = ChatRequest::user("hello")
            .with_tools([ToolSpec {
                name: "clock".into(),
                description: "Tells the time".into(),
                parameters: json!({"type": "object", "properties": {}}),
            }])
            .with_tool_choice(ToolChoice::Tool { name: "clock".into() })
            .with_sampling(Sampling {
                temperature: Some(0.2),
                stop: vec!["\n\n".into()],
                seed: Some(7),
                ..Default::default()
            })
            .with_response_format(ResponseFormat::JsonSchema {
                name: "answer".into(),
                schema: json!({"type": "object"}),
                strict: true,
            });
        let text = serde_json::to_string(&request).unwrap();
        let back: ChatRequest = serde_json::from_str(&text).unwrap();
        assert_eq!(back, request);
        let request = request
            .with_reasoning(ReasoningOptions::budget(2048))
            .with_cache(CacheBreakpoint::at(CacheTarget::LastMessage).ttl(CacheTtl::OneHour))
            .with_extra("service_tier", "flex");
        let text = serde_json::to_string(&request).unwrap();
        assert_eq!(serde_json::from_str::<ChatRequest>(&text).unwrap(), request);
        assert!(
            request.caches_message(0).is_some() && request.caches(CacheTarget::Tools).is_none()
        );
    }

    #[test]
    fn efforts_and_budgets_convert() {
        assert_eq!(ReasoningOptions::effort(ReasoningEffort::Low).budget_or(99), 1024);
        assert_eq!(ReasoningOptions::default().budget_or(99), 99);
        assert_eq!(
            ReasoningOptions::budget(3000).effort_or_budget(),
            Some(ReasoningEffort::Medium)
        );
        assert_eq!("high".parse::<ReasoningEffort>(), Ok(ReasoningEffort::High));
        assert!("max".parse::<ReasoningEffort>().unwrap_err().contains("`max`"));
    }

    #[test]
    fn unset_options_come_from_the_defaults() {
        let asked = Sampling { temperature: Some(0.0), ..Default::default() };
        let defaults = Sampling {
            temperature: Some(0.8),
            top_k: Some(40),
            stop: vec!["\n".into()],
            repetition_penalty: Some(1.1),
            ..Default::default()
        };
        let both = asked.or(&defaults);
        assert_eq!(both.temperature, Some(0.0), "what was asked stays");
        assert_eq!((both.top_k, both.repetition_penalty), (Some(40), Some(1.1)));
        assert_eq!(both.stop, ["\n"]);
        assert_eq!(both.penalties_set(), ["repetition_penalty"]);
    }

    #[test]
    fn a_minimal_request_needs_only_messages() {
        let request: ChatRequest =
            serde_json::from_value(json!({"messages": [{"role": "user", "content": "hi"}]}))
                .unwrap();
        assert_eq!(request, ChatRequest::user("hi"));
        assert_eq!(request.tool_choice, ToolChoice::Auto);
        assert_eq!(request.response_format, ResponseFormat::Text);
    }

    #[test]
    fn sampling_values_out_of_range_are_refused_by_name() {
        let refused = |sampling: Sampling| sampling.validate().unwrap_err().to_string();
        let base = Sampling::default;
        assert!(
            refused(Sampling { temperature: Some(f64::INFINITY), ..base() })
                .contains("temperature inf")
        );
        assert!(refused(Sampling { temperature: Some(-1.0), ..base() }).contains("temperature -1"));
        assert!(
            refused(Sampling { temperature: Some(f64::NAN), ..base() }).contains("temperature NaN")
        );
        assert!(refused(Sampling { top_p: Some(-3.0), ..base() }).contains("top_p -3"));
        assert!(refused(Sampling { top_k: Some(0), ..base() }).contains("top_k 0"));
        assert!(refused(Sampling { max_tokens: Some(0), ..base() }).contains("max_tokens 0"));
        assert!(refused(Sampling { stop: vec![String::new()], ..base() }).contains("empty stop"));
        assert!(
            refused(Sampling { repetition_penalty: Some(0.0), ..base() })
                .contains("repetition_penalty")
        );
        let fine = Sampling { temperature: Some(0.0), top_p: Some(1.0), top_k: Some(40), ..base() };
        assert!(fine.validate().is_ok());
        // Every backend checks it before sending anything.
        let request =
            ChatRequest::user("hi").with_sampling(Sampling { top_p: Some(2.0), ..base() });
        assert!(crate::Capabilities::all().check("m", &request).is_err());
    }
}
