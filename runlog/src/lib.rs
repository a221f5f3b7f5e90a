//! The run log: every agent run, with each model call (the request as sent, the reply with its
//! tool calls and reasoning, usage with cached tokens, timings, how it ended or why it failed)
//! and each tool call and result, kept in a SQLite database. Searchable by text, model and
//! time; a conversation continues from its latest run. On by default for the `anymodel` CLI,
//! opt-in for applications: [`RunLog::begin`], then a [`LogHook`] on the agent, which writes
//! each step and the run's end; or a [`LoggedModel`] around any model, which logs each of its
//! calls as a run of its own (what `anymodel serve` does).
//!
//! ```no_run
//! use std::sync::Arc;
//! use anymodel_core::{Agent, ChatResponse, ScriptedModel};
//! use anymodel_runlog::{LogHook, RunLog};
//!
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! let log = Arc::new(RunLog::open("logs.db")?);
//! let agent = Agent::builder(ScriptedModel::new([ChatResponse::text("Paris.")])).build()?;
//! let ids = log.begin(None, "scripted", "What is the capital of France?")?;
//! let hook = Arc::new(LogHook::new(log.clone(), ids.run));
//! let run = agent.with_hook(hook.clone()).run("What is the capital of France?").await?;
//! assert_eq!(hook.failure(), None, "every step was logged");
//! # Ok(())
//! # }
//! ```
//!
//! The database is SQLite in write-ahead-log mode: many processes log at once (each write waits
//! up to 3 s for another's lock), readers never wait. Schema versions are migrated in place
//! ([`schema::VERSION`]). Secrets given to [`RunLog::with_redactor`] are scrubbed from
//! everything stored; inline images and documents are stored once, by hash.

mod attachments;
mod checkpointer;
mod error;
mod hook;
mod log;
mod model;
mod query;
pub mod schema;

pub use error::LogError;
pub use hook::LogHook;
pub use log::{Resumable, RunIds, RunLog};
pub use model::LoggedModel;
pub use query::{CallRecord, RunDetail, RunQuery, RunSummary, ToolRecord};
