//! The local model calling an MCP server's tools: with the tool choice forced, SmolLM2's
//! arguments are held by its grammar to the server's `inputSchema`, so every call validates.

#![allow(clippy::unwrap_used, missing_docs)]

use std::path::Path;
use std::sync::Arc;

use anymodel_backends::candle::{LocalConfig, LocalModel};
use anymodel_core::{Agent, Limits, Model, Sampling, ToolChoice};
use anymodel_mcp::{McpServers, ServerConfig};

fn smollm2() -> Arc<dyn Model> {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/SmolLM2-135M-Instruct.Q4_1.gguf");
    assert!(path.exists(), "{} is missing: run scripts/fetch-model.sh", path.display());
    let mut config = LocalConfig::new(path);
    config.threads = Some(2);
    Arc::new(LocalModel::load(config).unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn smollm2_calls_mcp_tools_with_arguments_that_match_their_input_schema() {
    let servers = McpServers::new([(
        "fixture".to_string(),
        ServerConfig::stdio(env!("CARGO_BIN_EXE_anymodel-mcp-fixture"), [""; 0]),
    )])
    .unwrap();
    let model = smollm2();
    let asks = [
        ("weather", "What is the weather in Paris, in fahrenheit?"),
        ("weather", "Is it warm in Tokyo today?"),
        ("weather", "London weather please"),
        ("add", "What is 17 plus 25?"),
        ("add", "Add minus three and one thousand."),
        ("echo", "Repeat after me: the kettle is on."),
        ("big", "Send me a kilobyte of text."),
        ("weather", "Should I take an umbrella in London? Celsius."),
    ];
    let listed = servers.get("fixture").unwrap().list_tools().await.unwrap();
    let mut calls = 0;
    for (round, (tool, prompt)) in asks.iter().enumerate() {
        let schema = &listed.iter().find(|t| t.name == *tool).unwrap().input_schema;
        let validator = jsonschema::validator_for(schema).unwrap();
        let mut builder = Agent::builder(model.clone())
            .tool_choice(ToolChoice::Tool { name: tool.to_string() })
            // Sampled, not greedy: each round a different seed, and still valid every time.
            .sampling(Sampling {
                seed: Some(round as u64),
                max_tokens: Some(64),
                ..Sampling::default()
            })
            .limits(Limits { max_steps: 1, ..Limits::default() });
        for mcp_tool in servers.tools(&format!("fixture/{tool}")).await.unwrap() {
            builder = builder.shared_tool(mcp_tool);
        }
        // One step: the forced call and its result; the run stops at the step limit after it.
        let error = builder.build().unwrap().run(*prompt).await.unwrap_err();
        let step = error.partial.steps.first().expect("the model's step is kept");
        for invocation in &step.tool_calls {
            assert_eq!(invocation.call.name, *tool);
            let problems: Vec<String> =
                validator.iter_errors(&invocation.call.arguments).map(|e| e.to_string()).collect();
            assert!(problems.is_empty(), "{prompt}: {} {problems:?}", invocation.call.arguments);
            assert!(invocation.result.is_ok(), "{prompt}: {:?}", invocation.result);
            calls += 1;
        }
    }
    assert!(calls >= asks.len(), "every round called its tool");
    servers.stop().await;
}
