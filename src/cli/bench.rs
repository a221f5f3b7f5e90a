//! `anymodel bench`: the local backend's speed benchmark.

use std::path::Path;
use std::process::ExitCode;

use super::output::outln;

/// Measures a local GGUF model. candle's quantised kernels size their thread pool once per
/// process from `CANDLE_NUM_THREADS`, so when it does not say `threads` the command runs itself
/// again with it set.
pub fn bench(model: &Path, threads: usize, prompt_tokens: usize, decode_tokens: usize) -> ExitCode {
    let wanted = threads.to_string();
    if std::env::var("CANDLE_NUM_THREADS").ok().as_deref() != Some(wanted.as_str()) {
        return rerun_with_threads(&wanted);
    }
    match anymodel::backends::candle::benchmark(model, threads, prompt_tokens, decode_tokens) {
        Ok(report) => {
            outln!("{report}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("anymodel bench: {err}");
            ExitCode::from(1)
        }
    }
}

/// Runs this same command again with candle's thread count set, and exits as it does.
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
