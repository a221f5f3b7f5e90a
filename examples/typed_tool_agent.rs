//! An agent with a typed tool: the tool's arguments are a Rust struct, its JSON Schema comes from
//! the struct's doc comments, and the agent loop runs it when the model asks.
//!
//! The model here is a `ScriptedModel` that plays the part of a model deciding to call the tool,
//! so the example runs anywhere; swap in any backend's model and nothing else changes.
//!
//! Run it with `cargo run --example typed_tool_agent`.

use anymodel::{
    Agent, AgentEvent, ChatResponse, ScriptedModel, ToolCall, ToolError, TypedTool, async_trait,
    serde_json::json,
};
use futures::StreamExt;
use schemars::JsonSchema;
use serde::Deserialize;

/// A temperature to convert.
#[derive(Deserialize, JsonSchema)]
struct ConvertArgs {
    /// The temperature in degrees Celsius.
    celsius: f64,
}

/// Converts Celsius to Fahrenheit.
struct ToFahrenheit;

#[async_trait]
impl TypedTool for ToFahrenheit {
    const NAME: &'static str = "to_fahrenheit";
    const DESCRIPTION: &'static str = "Converts a temperature from Celsius to Fahrenheit.";
    type Args = ConvertArgs;
    type Output = String;

    async fn run(&self, args: ConvertArgs) -> Result<String, ToolError> {
        if args.celsius < -273.15 {
            return Err(ToolError::failed("that is below absolute zero"));
        }
        Ok(format!("{:.1}°F", args.celsius * 9.0 / 5.0 + 32.0))
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let model = ScriptedModel::new([
        ChatResponse::tool_calls(vec![ToolCall::new(
            "call_1",
            "to_fahrenheit",
            json!({"celsius": 21.5}),
        )]),
        ChatResponse::text("21.5°C is 70.7°F."),
    ]);
    let agent = Agent::builder(model)
        .system("Answer with the tools you have.")
        .tool(ToFahrenheit)
        .build()?;

    println!("tool schema: {}", agent.tools().specs()[0].parameters);
    let mut events = agent.run_stream("What is 21.5°C in Fahrenheit?");
    while let Some(event) = events.next().await {
        match event? {
            AgentEvent::ToolCallRequested { call, .. } => {
                println!("→ {}({})", call.name, call.arguments)
            }
            AgentEvent::ToolResult { invocation, .. } => {
                println!("← {}", invocation.to_message().content)
            }
            AgentEvent::Finished { run } => {
                println!("answer: {} ({} steps)", run.answer, run.steps.len())
            }
            _ => {} // text and reasoning as they stream, the end of each step
        }
    }
    Ok(())
}
