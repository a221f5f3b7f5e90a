//! What is sent to a model: the conversation, the tools it may call, and how to sample.

use serde::{Deserialize, Serialize};
use serde_json::Value;

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
}

impl ChatRequest {
    /// A request holding these messages and default settings.
    pub fn new(messages: impl IntoIterator<Item = Message>) -> Self {
        ChatRequest { messages: messages.into_iter().collect(), ..Default::default() }
    }

    /// A request holding one user message.
    pub fn user(prompt: impl Into<String>) -> Self {
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
