//! Runs whose final answer is a typed value rather than text.

use std::time::Instant;

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{Agent, AgentError, AgentErrorKind, AgentRun, Step};
use crate::content::Content;
use crate::error::Error;
use crate::extract::{DEFAULT_RETRIES, extract_tries};
use crate::message::Message;
use crate::request::ChatRequest;
use crate::schema::schema_for;

/// What the model is asked once the run has answered, to give that answer as the type.
const FINAL_ANSWER: &str =
    "Now give your final answer to my request as JSON matching the required structure.";

impl Agent {
    /// Runs the agent on `prompt` as [`Agent::run`] does, with its tools, then has its model give
    /// the final answer as a `T` (through the model's JSON Schema output, a forced tool call, or
    /// the prompt, as [`crate::extract`] does, retrying a reply that does not validate).
    ///
    /// The schema applies only to that last step, so it never keeps the model from calling its
    /// tools first. Returns the value and the run, whose transcript ends with the typed answer
    /// and whose steps, usage and time include each try at it.
    pub async fn run_typed<T: JsonSchema + DeserializeOwned>(
        &self,
        prompt: impl Into<Content>,
    ) -> Result<(T, AgentRun), AgentError> {
        let (value, run) = self.run_json(vec![Message::user(prompt)], &schema_for::<T>()).await?;
        match serde_json::from_value::<T>(value) {
            Ok(typed) => Ok((typed, run)),
            Err(e) => {
                let source =
                    Error::invalid_response(format!("the answer does not fit the type: {e}"));
                Err(AgentError {
                    kind: AgentErrorKind::Model { step: run.steps.len(), source },
                    partial: Box::new(run),
                })
            }
        }
    }

    /// [`Agent::run_typed`] on a conversation, with the answer's JSON Schema given as a value
    /// (a schema chosen at run time, as `anymodel run --schema` does).
    pub async fn run_json(
        &self,
        messages: Vec<Message>,
        schema: &Value,
    ) -> Result<(Value, AgentRun), AgentError> {
        let mut run = self.run_messages(messages).await?;
        let started = Instant::now();
        let mut conversation = run.transcript.clone();
        conversation.push(Message::user(FINAL_ANSWER));
        let request = ChatRequest::new(conversation).with_sampling(self.sampling.clone());
        let extraction = extract_tries(&*self.model, request, schema, DEFAULT_RETRIES).await;
        for (response, elapsed) in extraction.tries {
            run.usage += response.usage;
            run.steps.push(Step {
                index: run.steps.len() + 1,
                response,
                tool_calls: Vec::new(),
                elapsed_ms: u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
            });
        }
        let asked = run.transcript.len();
        run.transcript.extend(extraction.messages.into_iter().skip(asked));
        run.elapsed_ms = run
            .elapsed_ms
            .saturating_add(u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX));
        match extraction.value {
            Ok(value) => {
                run.answer = value.to_string();
                Ok((value, run))
            }
            Err(source) => {
                // Invalid answers fail at the last try; a model's own error at the next step.
                let step = match source {
                    Error::InvalidResponse { .. } => run.steps.len(),
                    _ => run.steps.len() + 1,
                };
                Err(AgentError {
                    kind: AgentErrorKind::Model { step, source },
                    partial: Box::new(run),
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;
    use serde_json::json;

    use super::*;
    use crate::{
        ChatResponse, ResponseFormat, ScriptedModel, ToolCall, ToolError, TypedTool, async_trait,
    };

    #[derive(Debug, Deserialize, JsonSchema, PartialEq)]
    struct Forecast {
        city: String,
        celsius: i32,
    }

    #[derive(Deserialize, JsonSchema)]
    struct CityArgs {
        city: String,
    }

    struct Weather;

    #[async_trait]
    impl TypedTool for Weather {
        const NAME: &'static str = "weather";
        const DESCRIPTION: &'static str = "The temperature in a city.";
        type Args = CityArgs;
        type Output = i32;

        async fn run(&self, args: CityArgs) -> Result<i32, ToolError> {
            Ok(if args.city == "Paris" { 18 } else { 0 })
        }
    }

    #[test]
    fn the_model_uses_its_tools_then_answers_as_the_type() {
        let model = std::sync::Arc::new(ScriptedModel::new([
            ChatResponse::tool_calls(vec![ToolCall::new(
                "c1",
                "weather",
                json!({"city": "Paris"}),
            )]),
            ChatResponse::text("It is 18 degrees in Paris."),
            ChatResponse::text(r#"{"city": "Paris", "celsius": 18}"#),
        ]));
        let agent = Agent::builder(model.clone()).tool(Weather).build().unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let (forecast, run) =
            runtime.block_on(agent.run_typed::<Forecast>("Weather in Paris?")).unwrap();
        assert_eq!(forecast, Forecast { city: "Paris".into(), celsius: 18 });
        assert_eq!(run.steps.len(), 3, "two steps of the run, one of the typed answer");
        assert_eq!(run.steps[2].response.message.content, r#"{"city": "Paris", "celsius": 18}"#);
        assert_eq!(run.answer, r#"{"city":"Paris","celsius":18}"#);
        assert_eq!(run.transcript.last(), Some(&Message::assistant(run.answer.clone())));
        // The tools were offered freely; only the last request carried the schema.
        let requests = model.requests();
        assert_eq!(requests[0].response_format, ResponseFormat::Text);
        assert!(matches!(requests[2].response_format, ResponseFormat::JsonSchema { .. }));
    }

    #[test]
    fn the_typed_answer_counts_in_the_runs_usage_and_keeps_each_try() {
        use crate::Usage;
        let model = std::sync::Arc::new(ScriptedModel::new([
            ChatResponse::text("It is 18 degrees.").with_usage(Usage::new(10, 5)),
            ChatResponse::text(r#"{"city": "Paris"}"#).with_usage(Usage::new(20, 4)),
            ChatResponse::text(r#"{"city": "Paris", "celsius": 18}"#).with_usage(Usage::new(30, 6)),
        ]));
        let agent = Agent::builder(model).build().unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let (_, run) = runtime.block_on(agent.run_typed::<Forecast>("Weather in Paris?")).unwrap();
        assert_eq!(run.usage, Usage::new(60, 15));
        assert_eq!(run.steps.iter().map(|s| s.index).collect::<Vec<_>>(), [1, 2, 3]);
        // The failed try and what the model was told about it are in the transcript.
        let told = run.transcript.iter().any(|m| {
            matches!(m, Message::User { content } if content.text().contains("not valid") && content.text().contains("celsius"))
        });
        assert!(told, "{:?}", run.transcript);
    }
}
