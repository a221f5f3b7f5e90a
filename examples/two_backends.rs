//! The same agent on two backends, chosen by a command-line argument: the point of anymodel.
//!
//! ```sh
//! OPENAI_API_KEY=... cargo run --example two_backends -- openai
//! ANTHROPIC_API_KEY=... cargo run --example two_backends -- anthropic
//! cargo run --example two_backends -- ollama        # a local Ollama at localhost:11434
//! cargo run --example two_backends -- local         # SmolLM2 in-process (scripts/fetch-model.sh)
//! ```
//!
//! `OPENAI_BASE_URL` points the `openai` choice at any OpenAI-compatible server (vLLM,
//! llama-server, LM Studio, ...), `ANTHROPIC_BASE_URL` the `anthropic` one at a gateway; `OPENAI_MODEL`, `ANTHROPIC_MODEL` and `OLLAMA_MODEL` pick the
//! model. Each model is wrapped in the retry layer; the agent cannot tell.

use std::process::ExitCode;
use std::sync::Arc;

use anymodel::backends::RemoteConfig;
use anymodel::backends::anthropic::{Anthropic, AnthropicConfig};
use anymodel::backends::candle::{LocalConfig, LocalModel};
use anymodel::backends::layers::{Layer, RetryLayer};
use anymodel::backends::openai::{OpenAi, OpenAiConfig};
use anymodel::{Agent, Error, Model, Sampling, ToolError, TypedTool, async_trait};
use schemars::JsonSchema;
use serde::Deserialize;

/// A word and a letter to count in it.
#[derive(Deserialize, JsonSchema)]
struct CountArgs {
    /// The word to look in.
    word: String,
    /// The letter to count (one character).
    letter: String,
}

/// Counts a letter in a word: something models are famously bad at doing in their heads.
struct CountLetter;

#[async_trait]
impl TypedTool for CountLetter {
    const NAME: &'static str = "count_letter";
    const DESCRIPTION: &'static str = "Counts how many times a letter occurs in a word.";
    type Args = CountArgs;
    type Output = usize;

    async fn run(&self, args: CountArgs) -> Result<usize, ToolError> {
        let mut letters = args.letter.chars();
        let (Some(letter), None) = (letters.next(), letters.next()) else {
            return Err(ToolError::InvalidArguments("`letter` must be one character".into()));
        };
        let letter = letter.to_lowercase().to_string();
        Ok(args.word.chars().filter(|c| c.to_lowercase().to_string() == letter).count())
    }
}

fn env_or(variable: &str, default: &str) -> String {
    std::env::var(variable).unwrap_or_else(|_| default.to_string())
}

/// The model a command-line choice names, built from the environment.
fn model(choice: &str) -> Result<Arc<dyn Model>, Error> {
    let model: Arc<dyn Model> = match choice {
        "openai" => {
            let config = OpenAiConfig::new(env_or("OPENAI_MODEL", "gpt-4o-mini"))
                .base_url(env_or("OPENAI_BASE_URL", anymodel::backends::openai::OPENAI_BASE_URL))
                .api_key_env("OPENAI_API_KEY")?;
            Arc::new(OpenAi::new(config)?)
        }
        "anthropic" => {
            let config = AnthropicConfig::new(env_or("ANTHROPIC_MODEL", "claude-sonnet-4-5"))
                .base_url(env_or(
                    "ANTHROPIC_BASE_URL",
                    anymodel::backends::anthropic::ANTHROPIC_BASE_URL,
                ))
                .api_key_env("ANTHROPIC_API_KEY")?;
            Arc::new(Anthropic::new(config)?)
        }
        "ollama" => {
            let config = OpenAiConfig::new(env_or("OLLAMA_MODEL", "llama3.2"))
                .base_url("http://localhost:11434/v1");
            Arc::new(OpenAi::new(config)?)
        }
        "local" => {
            let path = env_or("LOCAL_MODEL", "models/SmolLM2-135M-Instruct.Q4_1.gguf");
            Arc::new(LocalModel::load(LocalConfig::new(path))?)
        }
        other => {
            return Err(Error::config(format!(
                "unknown backend `{other}`: choose openai, anthropic, ollama or local"
            )));
        }
    };
    Ok(Arc::new(RetryLayer::default().layer(model)))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let choice = std::env::args().nth(1).unwrap_or_else(|| "openai".to_string());
    let model = match model(&choice) {
        Ok(model) => model,
        Err(err) => {
            eprintln!("{err}");
            return ExitCode::from(2);
        }
    };
    let agent = match Agent::builder(model)
        .system("Use the tools you have instead of guessing.")
        .tool(CountLetter)
        .sampling(Sampling { max_tokens: Some(512), ..Default::default() })
        .build()
    {
        Ok(agent) => agent,
        Err(err) => {
            eprintln!("{err}");
            return ExitCode::from(2);
        }
    };
    match agent.run("How many times does the letter r occur in 'strawberry'?").await {
        Ok(run) => {
            println!("{}", run.answer);
            eprintln!(
                "[{}: {} steps, {} tokens in, {} out]",
                run.model,
                run.steps.len(),
                run.usage.input_tokens,
                run.usage.output_tokens
            );
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("{err}");
            ExitCode::from(1)
        }
    }
}
