//! The `anymodel` command line.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Run AI agents against a model you can swap: a local Llama or any remote API.
///
/// The agent commands (run, chat, index, models, tools, config) arrive with the CLI issue; this
/// build has the local backend's benchmark.
#[derive(Parser)]
#[command(name = "anymodel", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Measures a local GGUF model: load time, prompt processing and decode speed, peak memory.
    ///
    /// Build with `--release` for meaningful figures: `cargo run --release -- bench
    /// models/SmolLM2-135M-Instruct.Q4_1.gguf --threads 1`.
    #[cfg(feature = "candle")]
    Bench {
        /// The GGUF file.
        model: PathBuf,
        /// CPU threads.
        #[arg(long, default_value_t = 1)]
        threads: usize,
        /// Prompt tokens to process.
        #[arg(long, default_value_t = 512)]
        prompt_tokens: usize,
        /// Tokens to decode.
        #[arg(long, default_value_t = 128)]
        decode_tokens: usize,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        #[cfg(feature = "candle")]
        Some(Command::Bench { model, threads, prompt_tokens, decode_tokens }) => {
            match anymodel::backends::candle::benchmark(
                &model,
                threads,
                prompt_tokens,
                decode_tokens,
            ) {
                Ok(report) => {
                    println!("{report}");
                    ExitCode::SUCCESS
                }
                Err(err) => {
                    eprintln!("anymodel bench: {err}");
                    ExitCode::from(1)
                }
            }
        }
        None => {
            use clap::CommandFactory;
            let _ = Cli::command().print_help();
            ExitCode::from(2)
        }
    }
}
