//! An agent built from a configuration file by library code: the model, system prompt, tools and
//! limits of `[agents.helper]` in `examples/config_agent.toml`, exactly as `anymodel run --agent
//! helper` would run it.
//!
//! ```sh
//! scripts/fetch-model.sh     # the local model the file names
//! cargo run --example config_agent -- ["question"] [--config FILE] [--agent NAME]
//! ```
//!
//! `ANYMODEL_MODEL` runs the agent on another model (`ANYMODEL_MODEL=openai:gpt-4o-mini`).

use std::path::PathBuf;

use anymodel::config::Config;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut question = "Use the calculator to compute 12*7.".to_string();
    let mut file =
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/config_agent.toml"));
    let mut name = "helper".to_string();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--config" => file = args.next().ok_or("--config needs a file")?.into(),
            "--agent" => name = args.next().ok_or("--agent needs a name")?,
            _ => question = arg,
        }
    }

    let config = Config::load(Some(&file))?;
    let agent = config.build_agent(&name).await?;
    let tools = agent.tools().names().join(", ");
    eprintln!("agent `{name}` on {}, with tools: {tools}", agent.model().name());

    let run = agent.run(question).await?;
    for invocation in run.steps.iter().flat_map(|step| &step.tool_calls) {
        let call = &invocation.call;
        eprintln!("  called {}({}): {:?}", call.name, call.arguments, invocation.result);
    }
    println!("{}", run.answer);
    Ok(())
}
