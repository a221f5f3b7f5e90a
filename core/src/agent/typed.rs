//! Runs whose final answer is a typed value rather than text.

use schemars::JsonSchema;
use serde::de::DeserializeOwned;

use super::{Agent, AgentError, AgentErrorKind, AgentRun};
use crate::error::Error;
use crate::extract::{DEFAULT_RETRIES, extract_value};
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
    /// tools first. Returns the value and the run, whose transcript ends with the typed answer.
    pub async fn run_typed<T: JsonSchema + DeserializeOwned>(
        &self,
        prompt: impl Into<String>,
    ) -> Result<(T, AgentRun), AgentError> {
        let mut run = self.run(prompt).await?;
        let mut messages = run.transcript.clone();
        messages.push(Message::user(FINAL_ANSWER));
        let request = ChatRequest::new(messages).with_sampling(self.sampling.clone());
        let typed = extract_value(&*self.model, request, &schema_for::<T>(), DEFAULT_RETRIES)
            .await
            .and_then(|value| {
                let text = value.to_string();
                serde_json::from_value::<T>(value).map(|typed| (typed, text)).map_err(|e| {
                    Error::invalid_response(format!("the answer does not fit the type: {e}"))
                })
            });
        match typed {
            Ok((typed, text)) => {
                run.transcript.push(Message::user(FINAL_ANSWER));
                run.transcript.push(Message::assistant(text.clone()));
                run.answer = text;
                Ok((typed, run))
            }
            Err(source) => {
                let step = run.steps.len() + 1;
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
        assert_eq!(run.steps.len(), 2);
        assert_eq!(run.answer, r#"{"city":"Paris","celsius":18}"#);
        // The tools were offered freely; only the last request carried the schema.
        let requests = model.requests();
        assert_eq!(requests[0].response_format, ResponseFormat::Text);
        assert!(matches!(requests[2].response_format, ResponseFormat::JsonSchema { .. }));
    }
}
