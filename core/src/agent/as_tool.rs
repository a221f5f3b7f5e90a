//! An agent behind the tool trait: another agent (or an MCP client) asks it a question in
//! words, it runs with its own model and tools, and its answer is the tool's result. How a
//! knowledge agent (`ask_docs`) is offered to agents that do not hold its index.

use async_trait::async_trait;
use serde_json::{Value, json};

use super::Agent;
use crate::tool::{Tool, ToolError};

/// An [`Agent`] as a [`Tool`]: see [`Agent::into_tool`].
#[derive(Debug)]
pub struct AgentTool {
    agent: Agent,
    name: String,
    description: String,
}

impl Agent {
    /// This agent as a tool named `name`, described by `description` (say what it knows or
    /// does, for the model that will choose it). The tool takes `{"question": TEXT}`; each call
    /// is a run of its own, and the result is the agent's answer.
    pub fn into_tool(self, name: impl Into<String>, description: impl Into<String>) -> AgentTool {
        AgentTool { agent: self, name: name.into(), description: description.into() }
    }
}

#[async_trait]
impl Tool for AgentTool {
    fn name(&self) -> &str {
        &self.name
    }

    fn description(&self) -> &str {
        &self.description
    }

    fn parameters(&self) -> Value {
        json!({
            "type": "object",
            "properties": {
                "question": {"type": "string", "description": "The question or task, in full: the agent sees nothing else."}
            },
            "required": ["question"],
            "additionalProperties": false
        })
    }

    async fn call(&self, arguments: Value) -> Result<Value, ToolError> {
        let question = arguments
            .get("question")
            .and_then(Value::as_str)
            .ok_or_else(|| ToolError::InvalidArguments("`question` must be a string".into()))?;
        let run = self.agent.run(question).await.map_err(ToolError::failed)?;
        Ok(Value::String(run.answer))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::{Agent, ChatResponse, ScriptedModel, Tool};

    #[tokio::test]
    async fn an_agent_answers_as_a_tool() {
        let model = ScriptedModel::new([ChatResponse::text("Descale monthly.")]);
        let tool =
            Agent::builder(model).build().unwrap().into_tool("ask_docs", "Knows the manual.");
        assert_eq!(tool.spec().parameters["required"], json!(["question"]));
        let answer = tool.call(json!({"question": "How often?"})).await.unwrap();
        assert_eq!(answer, json!("Descale monthly."));
        assert!(tool.call(json!({})).await.is_err());
    }
}
