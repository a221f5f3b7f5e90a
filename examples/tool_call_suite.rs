//! The tool-calling suite (`examples/tool_calls/suite.json`: 50 prompts over 4 tools, each with
//! the tool and arguments expected) run through a local model twice: free (`tool_choice: auto`,
//! the model writes calls as it likes) and constrained (`tool_choice: required`, the grammar
//! allows only calls of declared tools with valid arguments). Prints the share of replies that
//! are a valid call and the share that pick the expected tool, then decode speed in each mode.
//!
//! ```text
//! cargo run --release --example tool_call_suite -- models/SmolLM2-135M-Instruct.Q4_1.gguf
//! cargo run --release --example tool_call_suite -- --max-tokens 48
//! ```

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anymodel::backends::candle::{LocalConfig, LocalModel};
use anymodel::{ChatRequest, ChatResponse, Message, Model, Sampling, ToolChoice, ToolSpec};
use clap::Parser;
use serde::Deserialize;
use serde_json::Value;

/// Runs the tool-calling suite through a local model, free and constrained.
#[derive(Parser)]
struct Args {
    /// The GGUF model.
    #[arg(default_value = "models/SmolLM2-135M-Instruct.Q4_1.gguf")]
    model: PathBuf,
    /// The suite.
    #[arg(long, default_value = "examples/tool_calls/suite.json")]
    suite: PathBuf,
    /// Run only the first N prompts.
    #[arg(long)]
    limit: Option<usize>,
    /// CPU threads of the model's own pool.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// The token budget of each reply. Constrained calls must come out valid within it.
    #[arg(long, default_value_t = 200)]
    max_tokens: u32,
}

#[derive(Deserialize)]
struct Suite {
    tools: Vec<ToolSpec>,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    prompt: String,
    tool: String,
    #[allow(dead_code)] // Kept in the suite for people reading it; the score is the tool choice.
    arguments: Value,
}

/// What one mode scored.
#[derive(Default)]
struct Tally {
    valid: usize,
    expected: usize,
    tokens: usize,
    decode: Duration,
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let suite: Suite = serde_json::from_str(&std::fs::read_to_string(&args.suite)?)?;
    let cases = &suite.cases[..args.limit.unwrap_or(suite.cases.len()).min(suite.cases.len())];
    let validators: Vec<(String, jsonschema::Validator)> = suite
        .tools
        .iter()
        .map(|tool| Ok((tool.name.clone(), jsonschema::validator_for(&tool.parameters)?)))
        .collect::<Result<_, Box<dyn std::error::Error>>>()?;
    let model = LocalModel::load(LocalConfig {
        threads: Some(args.threads),
        ..LocalConfig::new(&args.model)
    })?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let mut tallies = Vec::new();
    for (mode, choice) in [("free", ToolChoice::Auto), ("constrained", ToolChoice::Required)] {
        let mut tally = Tally::default();
        for case in cases {
            let request = ChatRequest::new([Message::user(&case.prompt)])
                .with_tools(suite.tools.clone())
                .with_tool_choice(choice.clone())
                .with_sampling(Sampling {
                    temperature: Some(0.0),
                    max_tokens: Some(args.max_tokens),
                    ..Default::default()
                });
            let reply: ChatResponse = runtime.block_on(model.chat(request))?;
            let stats = model.last_stats();
            tally.tokens += stats.completion_tokens;
            tally.decode += stats.decode_time;
            let calls = &reply.message.tool_calls;
            let valid = !calls.is_empty()
                && calls.iter().all(|call| {
                    validators.iter().any(|(name, validator)| {
                        *name == call.name && validator.is_valid(&call.arguments)
                    })
                });
            if !valid && std::env::var_os("SUITE_DEBUG").is_some() {
                eprintln!(
                    "{mode} / {}: {:?} {:?}",
                    case.prompt, reply.message, reply.finish_reason
                );
            }
            tally.valid += usize::from(valid);
            tally.expected += usize::from(valid && calls[0].name == case.tool);
        }
        tallies.push((mode, tally));
    }
    let n = cases.len();
    let share = |k: usize| format!("{k}/{n} ({:.0}%)", 100.0 * k as f64 / n.max(1) as f64);
    println!(
        "Tool calls ({} prompts, {} tools, {}, max_tokens {}):",
        n,
        suite.tools.len(),
        args.model.display(),
        args.max_tokens
    );
    println!("| mode | valid call of a declared tool | expected tool |");
    println!("| --- | --- | --- |");
    for (mode, tally) in &tallies {
        println!("| {mode} | {} | {} |", share(tally.valid), share(tally.expected));
    }
    println!();
    println!("Decode speed ({} thread{}):", args.threads, if args.threads == 1 { "" } else { "s" });
    println!("| mode | tokens | decode tokens/s |");
    println!("| --- | --- | --- |");
    for (mode, tally) in &tallies {
        let speed = tally.tokens as f64 / tally.decode.as_secs_f64().max(1e-9);
        println!("| {mode} | {} | {speed:.1} |", tally.tokens);
    }
    Ok(())
}
