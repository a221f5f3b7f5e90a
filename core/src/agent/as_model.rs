//! An agent behind the model trait: a request's conversation goes to the agent, which runs its
//! own tools until it answers, and the answer is the reply. Whatever takes a model (a server,
//! a router, another agent) can then take an agent.

use async_trait::async_trait;
use futures::StreamExt;

use super::{Agent, AgentError, AgentErrorKind, AgentEvent};
use crate::error::{Error, Result};
use crate::model::{Capabilities, Model};
use crate::request::ChatRequest;
use crate::response::{ChatResponse, FinishReason};
use crate::stream::{EventStream, StreamEvent};

/// An [`Agent`] as a [`Model`] named `name`: see [`Agent::into_model`].
pub struct AgentModel {
    agent: Agent,
    name: String,
}

impl std::fmt::Debug for AgentModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentModel").field("name", &self.name).field("agent", &self.agent).finish()
    }
}

impl Agent {
    /// This agent as a model named `name`. A request's messages are the conversation the agent
    /// runs on (its own system prompt first); its sampling options override the agent's; its
    /// tools are refused, since the agent's own are the ones it calls. The reply is the agent's
    /// answer, its usage that of every step; streamed, the text and reasoning of each step
    /// arrive as the model writes them.
    pub fn into_model(self, name: impl Into<String>) -> AgentModel {
        AgentModel { agent: self, name: name.into() }
    }
}

impl AgentModel {
    /// The agent for `request`: its sampling laid over the agent's.
    fn agent_for(&self, request: &ChatRequest) -> Result<Agent> {
        self.capabilities().check(&self.name, request)?;
        let mut agent = self.agent.clone();
        agent.sampling = request.sampling.clone().or(&self.agent.sampling);
        if request.reasoning.is_some() {
            agent.reasoning = request.reasoning;
        }
        Ok(agent)
    }
}

/// An agent's failure as a model's: a model's own error keeps its class, a run stopped by a
/// limit is the backend's failure, named.
fn model_error(error: AgentError) -> Error {
    match error.kind {
        AgentErrorKind::Model { source, .. } => source,
        other => Error::Backend { message: format!("the agent stopped: {other}") },
    }
}

#[async_trait]
impl Model for AgentModel {
    fn name(&self) -> &str {
        &self.name
    }

    fn provider(&self) -> &str {
        self.agent.model.provider()
    }

    /// Streamed text, with what the agent's model reads (images, documents) and takes
    /// (reasoning options, its context window); no tools of the caller's.
    fn capabilities(&self) -> Capabilities {
        let inner = self.agent.model.capabilities();
        Capabilities {
            streaming: true,
            vision: inner.vision,
            documents: inner.documents,
            reasoning: inner.reasoning,
            context_window: inner.context_window,
            ..Capabilities::default()
        }
    }

    async fn chat(&self, request: ChatRequest) -> Result<ChatResponse> {
        let agent = self.agent_for(&request)?;
        let run = agent.run_messages(request.messages).await.map_err(model_error)?;
        let last = run.steps.last().map(|step| step.response.clone()).unwrap_or_default();
        Ok(ChatResponse { usage: run.usage, ..last })
    }

    async fn stream(&self, request: ChatRequest) -> Result<EventStream> {
        let agent = self.agent_for(&request)?;
        let (sender, receiver) = tokio::sync::mpsc::channel(64);
        // The run goes on in a task of its own, and stops (its stream dropped) as soon as no
        // one listens.
        tokio::spawn(async move {
            let mut events = agent.run_messages_stream(request.messages);
            while let Some(event) = events.next().await {
                let out = match event {
                    Ok(AgentEvent::TextDelta { text, .. }) => vec![StreamEvent::TextDelta { text }],
                    Ok(AgentEvent::ReasoningDelta { text, .. }) => {
                        vec![StreamEvent::ReasoningDelta { text }]
                    }
                    Ok(AgentEvent::Finished { run }) => {
                        let reason = run
                            .steps
                            .last()
                            .map_or(FinishReason::Stop, |step| step.response.finish_reason.clone());
                        vec![
                            StreamEvent::Usage { usage: run.usage },
                            StreamEvent::Finish { reason },
                        ]
                    }
                    Ok(_) => Vec::new(),
                    Err(error) => {
                        let _ = sender.send(Err(model_error(error))).await;
                        return;
                    }
                };
                for event in out {
                    if sender.send(Ok(event)).await.is_err() {
                        return;
                    }
                }
            }
        });
        Ok(Box::pin(futures::stream::unfold(receiver, |mut receiver| async move {
            receiver.recv().await.map(|event| (event, receiver))
        })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::ToolCall;
    use crate::scripted::ScriptedModel;
    use crate::stream::collect_stream;
    use crate::{ToolError, TypedTool};
    use serde_json::json;

    #[derive(serde::Deserialize, schemars::JsonSchema)]
    struct Nothing {}

    struct Clock;

    #[async_trait]
    impl TypedTool for Clock {
        const NAME: &'static str = "clock";
        const DESCRIPTION: &'static str = "The time.";
        type Args = Nothing;
        type Output = String;

        async fn run(&self, _: Nothing) -> std::result::Result<String, ToolError> {
            Ok("noon".into())
        }
    }

    fn agent() -> Agent {
        let script = [
            ChatResponse::tool_calls(vec![ToolCall::new("c1", "clock", json!({}))])
                .with_usage(crate::Usage::new(10, 2)),
            ChatResponse::text("It is noon.").with_usage(crate::Usage::new(20, 3)),
        ];
        Agent::builder(ScriptedModel::new(script)).tool(Clock).build().unwrap()
    }

    #[tokio::test]
    async fn an_agent_answers_as_a_model_whole_and_streamed() {
        let whole =
            agent().into_model("agent:clock").chat(ChatRequest::user("Time?")).await.unwrap();
        assert_eq!(whole.message.content, "It is noon.");
        assert_eq!(whole.usage, crate::Usage::new(30, 5));
        let model = agent().into_model("agent:clock");
        let streamed =
            collect_stream(model.stream(ChatRequest::user("Time?")).await.unwrap()).await.unwrap();
        assert_eq!(
            (streamed.message.content, streamed.usage),
            (whole.message.content, whole.usage)
        );
        // The client's tools are not the agent's: refused, not dropped.
        let with_tools = ChatRequest::user("Time?").with_tools([crate::ToolSpec {
            name: "x".into(),
            description: String::new(),
            parameters: json!({}),
        }]);
        assert!(matches!(model.chat(with_tools).await, Err(Error::Unsupported { .. })));
    }
}
