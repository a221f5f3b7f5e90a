//! Typed output from any model: the reply as a Rust value of a type with a JSON Schema.
//!
//! Each backend gets the schema the way it can enforce it best: native JSON Schema output where
//! the model has it (OpenAI, local models through their grammar), a forced call of a tool whose
//! parameters are the schema where it does not (Anthropic), and the schema in the prompt as a last
//! resort. A reply that still does not validate is asked again with the validation error shown to
//! the model, up to a budget, then fails with [`Error::InvalidResponse`].

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde_json::Value;

use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::message::Message;
use crate::model::Model;
use crate::request::{ChatRequest, ResponseFormat, ToolChoice, ToolSpec};
use crate::response::{ChatResponse, FinishReason};
use crate::schema::schema_for;

/// The tool a forced call answers through when the model has no JSON Schema output.
const ANSWER_TOOL: &str = "answer";

/// How many times a reply that does not validate is asked again.
pub const DEFAULT_RETRIES: usize = 2;

/// How the schema reaches the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// The model's own JSON Schema output.
    JsonSchema,
    /// A forced call of a tool whose parameters are the schema.
    ForcedTool,
    /// The schema in the prompt, and a parse of the reply.
    Prompt,
}

impl Strategy {
    /// The best strategy `model` supports.
    pub fn for_model(model: &dyn Model) -> Strategy {
        let capabilities = model.capabilities();
        if capabilities.json_schema_output {
            Strategy::JsonSchema
        } else if capabilities.tools && capabilities.forced_tool_choice {
            Strategy::ForcedTool
        } else {
            Strategy::Prompt
        }
    }
}

/// Asks `model` about `prompt` and returns its answer as a `T`, retrying a reply that does not
/// validate up to [`DEFAULT_RETRIES`] times.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use anymodel_core::{ChatResponse, ScriptedModel, extract};
/// use schemars::JsonSchema;
/// use serde::Deserialize;
///
/// #[derive(Debug, Deserialize, JsonSchema, PartialEq)]
/// struct Person {
///     name: String,
///     age: u32,
/// }
///
/// let model = ScriptedModel::new([ChatResponse::text(r#"{"name": "Ada", "age": 36}"#)]);
/// let person: Person = extract(&model, "Ada Lovelace was 36.").await.unwrap();
/// assert_eq!(person, Person { name: "Ada".into(), age: 36 });
/// # });
/// ```
pub async fn extract<T: JsonSchema + DeserializeOwned>(
    model: &dyn Model,
    prompt: impl Into<crate::content::Content>,
) -> Result<T> {
    let value =
        extract_value(model, ChatRequest::user(prompt), &schema_for::<T>(), DEFAULT_RETRIES)
            .await?;
    serde_json::from_value(value)
        .map_err(|e| Error::invalid_response(format!("the answer does not fit the type: {e}")))
}

/// Asks `model` to continue the conversation of `request` with JSON matching `schema`, retrying
/// up to `retries` times with the validation error shown to it. The request's messages and
/// sampling are kept; its tools and response format give way to the schema.
///
/// A retry is not a repeat: besides the error in the prompt, greedy sampling becomes sampling
/// at temperature [`RETRY_TEMPERATURE`] with a seed that differs per try, and a reply that was
/// cut by its token limit is asked again with twice the `max_tokens`. The error after the last
/// try lists each try's problem.
pub async fn extract_value(
    model: &dyn Model,
    request: ChatRequest,
    schema: &Value,
    retries: usize,
) -> Result<Value> {
    extract_tries(model, request, schema, retries).await.value
}

/// The temperature of a retry whose first try sampled greedily: enough for another reply.
pub const RETRY_TEMPERATURE: f64 = 0.7;

/// What asking for a typed answer did.
pub(crate) struct Extraction {
    /// The answer, or why there is none.
    pub(crate) value: Result<Value>,
    /// Each try's reply and how long it took.
    pub(crate) tries: Vec<(ChatResponse, Duration)>,
    /// The conversation the model was in at the last try, with that try's reply when it gave a
    /// valid answer.
    pub(crate) messages: Vec<Message>,
}

/// [`extract_value`], keeping each try.
pub(crate) async fn extract_tries(
    model: &dyn Model,
    request: ChatRequest,
    schema: &Value,
    retries: usize,
) -> Extraction {
    let mut sampling = request.sampling;
    let mut messages = request.messages;
    let mut tries = Vec::new();
    let validator = match jsonschema::validator_for(schema) {
        Ok(validator) => validator,
        Err(e) => {
            let message = format!("the schema is not valid: {e}");
            let value = Err(Error::InvalidRequest { status: None, message });
            return Extraction { value, tries, messages };
        }
    };
    let strategy = Strategy::for_model(model);
    let first_temperature = sampling.temperature;
    let mut problems = Vec::new();
    for attempt in 0..=retries {
        if attempt > 0 {
            // Greedy would give the same reply; unset leaves the model's own sampling.
            if first_temperature.is_some_and(|t| t <= 0.0) {
                sampling.temperature = Some(RETRY_TEMPERATURE);
            }
            sampling.seed = Some(sampling.seed.unwrap_or(0).wrapping_add(1));
        }
        let started = Instant::now();
        let request = ask(strategy, messages.clone(), schema).with_sampling(sampling.clone());
        let reply = match model.chat(request).await {
            Ok(reply) => reply,
            Err(error) => return Extraction { value: Err(error), tries, messages },
        };
        tries.push((reply.clone(), started.elapsed()));
        let text = match strategy {
            Strategy::ForcedTool => match reply.message.tool_calls.first() {
                Some(call) => call.arguments.to_string(),
                None => reply.message.content.clone(),
            },
            _ => reply.message.content.clone(),
        };
        let problem = match parse_json(&text) {
            Ok(value) => match validator
                .iter_errors(&value)
                .map(|e| format!("{} at `{}`", e, e.instance_path()))
                .collect::<Vec<_>>()
            {
                errors if errors.is_empty() => {
                    messages.push(Message::assistant(value.to_string()));
                    return Extraction { value: Ok(value), tries, messages };
                }
                errors => errors.join("; "),
            },
            Err(_) if reply.finish_reason == FinishReason::Length => {
                let limit = sampling
                    .max_tokens
                    .map_or("its token limit".into(), |max| format!("max_tokens ({max})"));
                // The next try gets room to finish.
                sampling.max_tokens = sampling.max_tokens.map(|max| max.saturating_mul(2));
                format!("the reply was cut at {limit} before its JSON was complete")
            }
            Err(e) => format!("it is not JSON: {e}"),
        };
        messages.push(Message::assistant(text));
        messages.push(Message::user(format!(
            "That answer is not valid: {problem}. Reply again with only JSON matching the schema."
        )));
        problems.push(format!("try {}: {problem}", attempt + 1));
    }
    let value = Err(Error::invalid_response(format!(
        "no valid answer after {} tries: {}",
        retries + 1,
        problems.join("; ")
    )));
    Extraction { value, tries, messages }
}

/// The request that asks for the schema the way `strategy` says.
fn ask(strategy: Strategy, mut messages: Vec<Message>, schema: &Value) -> ChatRequest {
    match strategy {
        Strategy::JsonSchema => {
            ChatRequest::new(messages).with_response_format(ResponseFormat::JsonSchema {
                name: ANSWER_TOOL.into(),
                schema: schema.clone(),
                strict: true,
            })
        }
        Strategy::ForcedTool => ChatRequest::new(messages)
            .with_tools([ToolSpec {
                name: ANSWER_TOOL.into(),
                description: "Gives the answer, in the required structure.".into(),
                parameters: schema.clone(),
            }])
            .with_tool_choice(ToolChoice::Tool { name: ANSWER_TOOL.into() }),
        Strategy::Prompt => {
            messages.push(Message::user(format!(
                "Reply with only a JSON value matching this JSON Schema, nothing else:\n{schema}"
            )));
            ChatRequest::new(messages)
        }
    }
}

/// The JSON in `text`: the whole text, or the part from its first `{` or `[` to the matching
/// last `}` or `]` (models like to wrap JSON in prose or code fences).
fn parse_json(text: &str) -> std::result::Result<Value, serde_json::Error> {
    serde_json::from_str(text.trim()).or_else(|error| {
        let start = text.find(['{', '[']);
        let end = text.rfind(['}', ']']);
        match (start, end) {
            (Some(start), Some(end)) if start < end => serde_json::from_str(&text[start..=end]),
            _ => Err(error),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Capabilities, ChatResponse, ScriptedModel, ToolCall};
    use serde::Deserialize;

    #[derive(Debug, Deserialize, JsonSchema, PartialEq)]
    struct Person {
        /// The person's name.
        name: String,
        /// Age in years.
        age: u32,
    }

    fn run<F: std::future::Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(future)
    }

    #[test]
    fn json_schema_models_are_asked_for_their_native_output() {
        let model = ScriptedModel::new([ChatResponse::text(r#"{"name": "Ada", "age": 36}"#)]);
        let person: Person = run(extract(&model, "Ada, 36")).unwrap();
        assert_eq!(person, Person { name: "Ada".into(), age: 36 });
        let sent = &model.requests()[0];
        assert!(
            matches!(&sent.response_format, ResponseFormat::JsonSchema { strict: true, schema, .. } if schema["required"] == serde_json::json!(["name", "age"]))
        );
    }

    #[test]
    fn models_without_json_schema_answer_through_a_forced_tool_call() {
        let capabilities =
            Capabilities { json_schema_output: false, json_output: false, ..Capabilities::all() };
        let call = ToolCall::new("c1", ANSWER_TOOL, serde_json::json!({"name": "Ada", "age": 36}));
        let model = ScriptedModel::new([ChatResponse::tool_calls(vec![call])])
            .with_capabilities(capabilities);
        let person: Person = run(extract(&model, "Ada, 36")).unwrap();
        assert_eq!(person.age, 36);
        let sent = &model.requests()[0];
        assert_eq!(sent.tool_choice, ToolChoice::Tool { name: ANSWER_TOOL.into() });
        assert_eq!(sent.tools[0].parameters["properties"]["age"]["description"], "Age in years.");
    }

    #[test]
    fn an_invalid_reply_is_asked_again_with_the_error_then_fails_typed() {
        let model = ScriptedModel::new([
            ChatResponse::text(r#"{"name": "Ada", "age": -1}"#),
            ChatResponse::text(r#"Sure! ```json {"name": "Ada", "age": 36} ```"#),
        ]);
        let person: Person = run(extract(&model, "Ada, 36")).unwrap();
        assert_eq!(person.age, 36);
        let retry = &model.requests()[1];
        let Some(Message::User { content }) = retry.messages.last() else { panic!() };
        assert!(
            content.text().contains("not valid") && content.text().contains("/age"),
            "{content}"
        );

        let stubborn = ScriptedModel::new([
            ChatResponse::text("no"),
            ChatResponse::text("no"),
            ChatResponse::text("no"),
        ]);
        let error = run(extract::<Person>(&stubborn, "Ada, 36")).unwrap_err();
        assert!(matches!(error, Error::InvalidResponse { .. }), "{error}");
        assert!(error.to_string().contains("no valid answer after 3 tries"), "{error}");
    }

    #[test]
    fn retries_change_the_sampling_and_a_cut_reply_gets_more_room() {
        use crate::{FinishReason, Sampling};
        let cut = ChatResponse {
            finish_reason: FinishReason::Length,
            ..ChatResponse::text(r#"{"name": "Ada Lovelace, the daughter of"#)
        };
        let model = ScriptedModel::new([
            cut,
            ChatResponse::text(r#"{"name": "Ada"}"#),
            ChatResponse::text("no"),
        ]);
        let greedy =
            Sampling { temperature: Some(0.0), max_tokens: Some(40), ..Default::default() };
        let request = ChatRequest::user("Ada, 36").with_sampling(greedy);
        let error = run(extract_value(&model, request, &schema_for::<Person>(), 2)).unwrap_err();
        let text = error.to_string();
        assert!(text.starts_with("invalid response from the model: no valid answer after 3 tries: try 1: the reply was cut at max_tokens (40)"), "{text}");
        assert!(
            text.contains("; try 2: ") && text.contains("\"age\" is a required property"),
            "{text}"
        );
        assert!(text.contains("; try 3: it is not JSON"), "{text}");
        let sent: Vec<Sampling> = model.requests().into_iter().map(|r| r.sampling).collect();
        assert_eq!(sent[0].temperature, Some(0.0));
        assert_eq!(
            (sent[1].temperature, sent[2].temperature),
            (Some(RETRY_TEMPERATURE), Some(RETRY_TEMPERATURE))
        );
        assert_ne!(sent[1].seed, sent[2].seed, "each retry samples anew");
        assert_eq!(
            sent.iter().map(|s| s.max_tokens).collect::<Vec<_>>(),
            [Some(40), Some(80), Some(80)]
        );
    }
}
