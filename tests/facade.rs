//! The facade as an app meets it: everything from `anymodel::`, a model chosen at run time behind
//! `Arc<dyn Model>`, and a saved run replayed.

use std::sync::Arc;

use anymodel::{
    Agent, AgentRun, ChatResponse, Message, Model, ScriptedModel, ToolCall, ToolError, TypedTool,
    async_trait, schemars::JsonSchema, serde_json::json,
};
use serde::Deserialize;

#[derive(Deserialize, JsonSchema)]
#[schemars(crate = "anymodel::schemars")]
struct EchoArgs {
    /// What to say back.
    text: String,
}

struct Echo;

#[async_trait]
impl TypedTool for Echo {
    const NAME: &'static str = "echo";
    const DESCRIPTION: &'static str = "Says the text back.";
    type Args = EchoArgs;
    type Output = String;

    async fn run(&self, args: EchoArgs) -> Result<String, ToolError> {
        Ok(args.text)
    }
}

/// Picks a model by name, as config will.
fn model_named(name: &str) -> Arc<dyn Model> {
    let script = [
        ChatResponse::tool_calls(vec![ToolCall::new("1", "echo", json!({"text": "ping"}))]),
        ChatResponse::text("pong"),
    ];
    Arc::new(ScriptedModel::new(script).with_name(name))
}

#[tokio::test]
async fn an_agent_runs_on_a_model_chosen_at_run_time_and_its_record_replays() {
    let agent = Agent::builder(model_named("scripted:demo")).tool(Echo).build().unwrap();
    let run = agent.run("say ping").await.unwrap();
    assert_eq!(run.answer, "pong");
    assert_eq!(run.model, "scripted:demo");

    let saved = serde_json::to_string_pretty(&run).unwrap();
    let replayed: AgentRun = serde_json::from_str(&saved).unwrap();
    assert_eq!(replayed.transcript, run.transcript);
    assert!(matches!(&replayed.transcript[2], Message::Tool(result) if result.content == "ping"));
}
