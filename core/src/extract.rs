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

use crate::error::{Error, Result};
use crate::message::Message;
use crate::model::Model;
use crate::request::{ChatRequest, ResponseFormat, ToolChoice, ToolSpec};
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
    prompt: impl Into<String>,
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
pub async fn extract_value(
    model: &dyn Model,
    request: ChatRequest,
    schema: &Value,
    retries: usize,
) -> Result<Value> {
    let sampling = request.sampling;
    let mut messages = request.messages;
    let validator = jsonschema::validator_for(schema).map_err(|e| Error::InvalidRequest {
        status: None,
        message: format!("the schema is not valid: {e}"),
    })?;
    let strategy = Strategy::for_model(model);
    let mut last_error = String::new();
    for _ in 0..=retries {
        let reply = model
            .chat(ask(strategy, messages.clone(), schema).with_sampling(sampling.clone()))
            .await?;
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
                errors if errors.is_empty() => return Ok(value),
                errors => errors.join("; "),
            },
            Err(e) => format!("it is not JSON: {e}"),
        };
        last_error = problem.clone();
        messages.push(Message::assistant(text));
        messages.push(Message::user(format!(
            "That answer is not valid: {problem}. Reply again with only JSON matching the schema."
        )));
    }
    Err(Error::invalid_response(format!(
        "no valid answer after {} tries: {last_error}",
        retries + 1
    )))
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
        assert!(content.contains("not valid") && content.contains("/age"), "{content}");

        let stubborn = ScriptedModel::new([
            ChatResponse::text("no"),
            ChatResponse::text("no"),
            ChatResponse::text("no"),
        ]);
        let error = run(extract::<Person>(&stubborn, "Ada, 36")).unwrap_err();
        assert!(matches!(error, Error::InvalidResponse { .. }), "{error}");
        assert!(error.to_string().contains("no valid answer after 3 tries"), "{error}");
    }
}
