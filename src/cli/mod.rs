//! The commands of the `anymodel` binary, one module each, and what they share: the loaded
//! configuration, output conventions and exit codes.

mod approval;
mod attach;
#[cfg(feature = "candle")]
pub mod bench;
pub mod chat;
pub mod embed;
pub mod index;
pub mod info;
#[cfg(feature = "candle")]
mod llama_bench;
mod logged;
pub mod logs;
#[cfg(feature = "mcp")]
pub mod mcp;
pub mod notices;
pub mod output;
pub mod resume;
pub mod run;
pub mod schema;
#[cfg(feature = "server")]
pub mod serve;
pub mod setup;

use std::process::ExitCode;

use anymodel::config::{Config, ConfigError};

/// Why a command failed, which decides the exit code: 2 for usage and configuration errors,
/// 1 for a run that failed, 3 for a run paused for approval.
#[derive(Debug)]
pub enum Failure {
    /// Bad arguments or configuration (exit 2).
    Usage(String),
    /// The work itself failed (exit 1).
    Run(String),
    /// Ctrl-C stopped it (exit 130, as shells report SIGINT).
    Interrupted,
    /// The run paused for a person's approval of a tool call, saying how to go on (exit 3).
    Paused(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Usage(message) | Failure::Run(message) | Failure::Paused(message) => {
                f.write_str(message)
            }
            Failure::Interrupted => f.write_str("interrupted"),
        }
    }
}

impl Failure {
    /// Exits as the failure says, after printing it.
    pub fn exit(self) -> ExitCode {
        match self {
            Failure::Usage(message) => {
                eprintln!("anymodel: {message}");
                ExitCode::from(2)
            }
            Failure::Run(message) => {
                eprintln!("anymodel: {message}");
                ExitCode::from(1)
            }
            Failure::Interrupted => {
                eprintln!("anymodel: interrupted");
                ExitCode::from(130)
            }
            Failure::Paused(message) => {
                eprintln!("anymodel: {message}");
                ExitCode::from(3)
            }
        }
    }
}

impl From<ConfigError> for Failure {
    fn from(error: ConfigError) -> Self {
        Failure::Usage(error.to_string())
    }
}

impl From<anymodel::Error> for Failure {
    /// Configuration errors (an unknown model, a missing key) are the user's to fix: exit 2.
    fn from(error: anymodel::Error) -> Self {
        match error {
            anymodel::Error::Configuration { .. } => Failure::Usage(error.to_string()),
            other => Failure::Run(other.to_string()),
        }
    }
}

impl From<anymodel::AgentError> for Failure {
    /// A paused run is not a failure of the run: exit 3, with what waits.
    fn from(error: anymodel::AgentError) -> Self {
        match error.kind {
            anymodel::AgentErrorKind::Paused { reason, .. } => Failure::Paused(reason),
            kind => Failure::Run(kind.to_string()),
        }
    }
}

impl Failure {
    /// A paused run's failure saying how to go on with run `run` (`None`: it was not logged).
    pub fn resumable(self, run: Option<i64>) -> Self {
        match (self, run) {
            (Failure::Paused(reason), Some(run)) => Failure::Paused(format!(
                "run {run} paused: {reason}: anymodel resume {run} --approve (or --deny)"
            )),
            (Failure::Paused(reason), None) => Failure::Paused(format!(
                "the run paused: {reason}; it is not in the run log, so it cannot be resumed (anymodel logs on, then run it again)"
            )),
            (other, _) => other,
        }
    }
}

impl From<anymodel::tools::index::IndexError> for Failure {
    fn from(error: anymodel::tools::index::IndexError) -> Self {
        use anymodel::tools::index::IndexError as E;
        match error {
            E::Missing { .. }
            | E::NotAnIndex { .. }
            | E::Version { .. }
            | E::Input { .. }
            | E::EmbedderNeeded { .. }
            | E::EmbedderMismatch { .. }
            | E::WithoutVectors { .. }
            | E::NoVectors { .. } => Failure::Usage(error.to_string()),
            E::Embedding { source, .. } => source.into(),
            other => Failure::Run(other.to_string()),
        }
    }
}

/// What every command gets: the configuration and how loud to be.
pub struct Context {
    /// The loaded configuration (empty when there is none).
    pub config: Config,
    /// `-q`: no tool activity or progress on standard error.
    pub quiet: bool,
    /// `-v`: say more (each skipped file, say) besides the debug log.
    pub verbose: bool,
}

/// The result of a command.
pub type Outcome = Result<(), Failure>;

/// The providers known inline, for `--help`: each id with where its key comes from, or the
/// address of a server on one's own machine.
pub fn providers_help() -> String {
    let rows = anymodel::backends::providers::PROVIDERS.iter().map(|provider| {
        let key = provider.key_env.map_or_else(
            || format!("no key, {}", provider.base_url),
            |variable| format!("key from {variable}"),
        );
        format!("  {}:MODEL  ({key})", provider.id)
    });
    let rows: Vec<String> = rows.collect();
    format!(
        "Providers (PROVIDER:MODEL inline, or backend = \"PROVIDER\" in the config):\n{}",
        rows.join("\n")
    )
}
