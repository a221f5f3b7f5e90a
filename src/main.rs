//! The `anymodel` command line.

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
        model: std::path::PathBuf,
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
            // candle's quantised kernels size their thread pool once per process from
            // CANDLE_NUM_THREADS: run again with it set when it does not say `threads`.
            let wanted = threads.to_string();
            if std::env::var("CANDLE_NUM_THREADS").ok().as_deref() != Some(wanted.as_str()) {
                return rerun_with_threads(&wanted);
            }
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

/// Runs this same command again with candle's thread count set, and exits as it does.
#[cfg(feature = "candle")]
fn rerun_with_threads(threads: &str) -> ExitCode {
    let rerun = std::env::current_exe().and_then(|exe| {
        std::process::Command::new(exe)
            .args(std::env::args_os().skip(1))
            .env("CANDLE_NUM_THREADS", threads)
            .env("RAYON_NUM_THREADS", threads)
            .status()
    });
    match rerun {
        Ok(status) => ExitCode::from(status.code().and_then(|c| u8::try_from(c).ok()).unwrap_or(1)),
        Err(err) => {
            eprintln!("anymodel bench: could not start itself again with {threads} threads: {err}");
            ExitCode::from(1)
        }
    }
}
