//! [`RunLog`]: the SQLite database every run is written to, one transaction per model call.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use anymodel_core::{
    AgentError, AgentRun, ChatRequest, ChatResponse, Message, Redactor, RunCheckpoint, Step,
    ToolInvocation, Usage,
};
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;

use crate::attachments;
use crate::checkpointer::Checkpointer;
use crate::error::LogError;
use crate::query::{RunDetail, RunQuery, RunSummary};
use crate::schema;

/// How long a write waits for another process's lock before [`LogError::Locked`]: long enough
/// for many concurrent runs (each write takes a millisecond or so), short enough that a stuck
/// holder costs a run little.
const PATIENCE: Duration = Duration::from_secs(3);

/// The run and conversation a run is logged under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunIds {
    /// The run.
    pub run: i64,
    /// Its conversation (a new one unless the run continues one).
    pub conversation: i64,
}

/// A logged run that can be resumed: where it stood after its last step, and how it was run.
#[derive(Debug, Clone)]
pub struct Resumable {
    /// The run and its conversation.
    pub ids: RunIds,
    /// The model, as it was named.
    pub model: String,
    /// `running` (stopped before its end: killed), `paused` (for a decision on its tool
    /// calls), `answered` or `failed`.
    pub outcome: String,
    /// Where it stood after its last step logged (from the start when none was).
    pub checkpoint: RunCheckpoint,
    /// How the application described the agent that ran it ([`RunLog::record_agent`]).
    pub agent: Option<Value>,
}

/// A transcript as stored read back: the attachments' data put back, then the messages, or why
/// they could not be read (a damaged row).
fn read_transcript(
    connection: &Connection,
    text: &str,
) -> rusqlite::Result<Result<Vec<Message>, serde_json::Error>> {
    let mut value: Value = match serde_json::from_str(text) {
        Ok(value) => value,
        Err(error) => return Ok(Err(error)),
    };
    attachments::restore(connection, &mut value)?;
    Ok(serde_json::from_value(value))
}

/// The counters of a checkpoint, stored beside the run's transcript.
#[derive(serde::Serialize, serde::Deserialize)]
struct Progress {
    steps: usize,
    tool_calls: usize,
    usage: Usage,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pending: Option<ChatResponse>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    completed: Vec<ToolInvocation>,
}

impl Progress {
    fn of(checkpoint: &RunCheckpoint) -> Progress {
        Progress {
            steps: checkpoint.steps,
            tool_calls: checkpoint.tool_calls,
            usage: checkpoint.usage,
            pending: checkpoint.pending.clone(),
            completed: checkpoint.completed.clone(),
        }
    }
}

/// The run log: a SQLite database of runs, their model calls and tool calls. Cheap to share
/// behind an `Arc`; writes from threads of one process are serialised, and processes share the
/// file through SQLite's locks (write-ahead logging, so readers never wait).
pub struct RunLog {
    path: PathBuf,
    connection: Mutex<Connection>,
    redactor: Redactor,
    /// Dropped after the connection: its last checkpoint sees every write.
    checkpointer: Option<Checkpointer>,
}

impl std::fmt::Debug for RunLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunLog").field("path", &self.path).finish()
    }
}

/// The current time as the log writes it: RFC 3339 in UTC to the millisecond, which sorts as
/// text.
pub(crate) fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

fn count(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

impl RunLog {
    /// Where the log is kept unless told otherwise: `$XDG_DATA_HOME/anymodel/logs.db`
    /// (`~/.local/share/anymodel/logs.db` on Linux, the platform's data folder elsewhere).
    pub fn default_path() -> Option<PathBuf> {
        dirs::data_dir().map(|folder| folder.join("anymodel").join("logs.db"))
    }

    /// Opens the log at `path`, creating it (and its folder) when missing and migrating one of
    /// an earlier version.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, LogError> {
        let path = path.as_ref().to_path_buf();
        if let Some(folder) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(folder)
                .map_err(|source| LogError::Io { path: folder.to_path_buf(), source })?;
        }
        let started = Instant::now();
        let failed = |e: rusqlite::Error| LogError::sqlite(&path, e, millis(started.elapsed()));
        let mut connection = Connection::open(&path).map_err(failed)?;
        connection.busy_timeout(PATIENCE).map_err(failed)?;
        // Write-ahead logging: readers never wait for a writer, and a commit is one append.
        let mode: String = connection
            .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
            .map_err(failed)?;
        tracing::debug!(path = %path.display(), journal = mode, "run log opened");
        connection.pragma_update(None, "synchronous", "NORMAL").map_err(failed)?;
        connection.pragma_update(None, "foreign_keys", true).map_err(failed)?;
        if let Some(found) = schema::migrate(&mut connection).map_err(failed)? {
            return Err(LogError::Newer { path, found, known: schema::VERSION });
        }
        let checkpointer = Checkpointer::start(&path);
        if checkpointer.is_some() {
            // Checkpoints are the thread's: no commit waits for one.
            connection.pragma_update(None, "wal_autocheckpoint", 0).map_err(failed)?;
        }
        Ok(RunLog {
            path,
            connection: Mutex::new(connection),
            redactor: Redactor::default(),
            checkpointer,
        })
    }

    /// The same log, scrubbing these secrets out of everything it stores.
    pub fn with_redactor(mut self, redactor: Redactor) -> Self {
        self.redactor = redactor;
        self
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn connection(&self) -> MutexGuard<'_, Connection> {
        // Every write is one transaction, so a panic while it was held left nothing half done.
        self.connection.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Runs `work` in one write transaction, its errors classed.
    fn write<T>(
        &self,
        work: impl FnOnce(&rusqlite::Transaction<'_>) -> rusqlite::Result<T>,
    ) -> Result<T, LogError> {
        let started = Instant::now();
        let failed = |e| LogError::sqlite(&self.path, e, millis(started.elapsed()));
        let mut connection = self.connection();
        let transaction = connection
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(failed)?;
        let value = work(&transaction).map_err(failed)?;
        transaction.commit().map_err(failed)?;
        if let Some(checkpointer) = &self.checkpointer {
            checkpointer.committed();
        }
        Ok(value)
    }

    fn read<T>(
        &self,
        work: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, LogError> {
        let started = Instant::now();
        work(&self.connection())
            .map_err(|e| LogError::sqlite(&self.path, e, millis(started.elapsed())))
    }

    /// JSON as stored: secrets scrubbed, inline media moved to the attachments table.
    fn stored(
        &self,
        connection: &Connection,
        value: &impl serde::Serialize,
    ) -> rusqlite::Result<String> {
        let mut value = serde_json::to_value(value)
            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
        attachments::stash(connection, &mut value)?;
        self.redactor.scrub_value(&mut value);
        Ok(value.to_string())
    }

    /// Starts logging a run of `model` on `prompt`, in `conversation` (which must exist) or a
    /// new one.
    pub fn begin(
        &self,
        conversation: Option<i64>,
        model: &str,
        prompt: &str,
    ) -> Result<RunIds, LogError> {
        let prompt = self.redactor.scrub(prompt.to_string());
        let found = self.write(|tx| {
            let conversation = match conversation {
                Some(id) => {
                    let known: Option<i64> = tx
                        .query_row("SELECT id FROM conversations WHERE id = ?1", [id], |r| r.get(0))
                        .optional()?;
                    let Some(id) = known else { return Ok(Err(id)) };
                    id
                }
                None => {
                    tx.execute(
                        "INSERT INTO conversations (started_at, model) VALUES (?1, ?2)",
                        params![now(), model],
                    )?;
                    tx.last_insert_rowid()
                }
            };
            tx.execute(
                "INSERT INTO runs (conversation_id, started_at, model, prompt) VALUES (?1, ?2, ?3, ?4)",
                params![conversation, now(), model, prompt],
            )?;
            Ok(Ok(RunIds { run: tx.last_insert_rowid(), conversation }))
        })?;
        found.map_err(|id| LogError::Missing { path: self.path.clone(), what: "conversation", id })
    }

    /// Keeps how the application describes the agent of `run` (its model, tools, settings, as
    /// JSON of its own), for resuming the run with the same agent.
    pub fn record_agent(&self, run: i64, agent: &Value) -> Result<(), LogError> {
        let mut agent = agent.clone();
        self.redactor.scrub_value(&mut agent);
        let text = agent.to_string();
        self.write(|tx| {
            tx.execute("UPDATE runs SET agent = ?2 WHERE id = ?1", params![run, text])?;
            Ok(())
        })
    }

    /// Logs one step of `run`: the request as it was sent (its messages are the run's
    /// transcript up to the step, so the call keeps their count), the reply, usage, timing and
    /// the tool calls with their results; and the transcript after the step, so that a run that
    /// stops here can be continued, with the `checkpoint`'s counters when the run goes on
    /// (so that it can be resumed: [`RunLog::resumable`]).
    ///
    /// A step without a request is one whose reply was kept when the run paused, then taken
    /// again when it was resumed: no model call was made for it then.
    pub fn record_step(
        &self,
        run: i64,
        request: Option<&ChatRequest>,
        step: &Step,
        checkpoint: Option<&RunCheckpoint>,
    ) -> Result<(), LogError> {
        let progress = checkpoint.map(|c| self.state(&Progress::of(c)));
        let transcript = match (checkpoint, request) {
            (Some(checkpoint), _) => Some(checkpoint.transcript.clone()),
            (None, Some(request)) => {
                let mut transcript = request.messages.clone();
                transcript.push(Message::Assistant(step.response.message.clone()));
                transcript.extend(step.tool_calls.iter().map(|i| Message::Tool(i.to_message())));
                Some(transcript)
            }
            (None, None) => None,
        };
        self.write(|tx| {
            let sent = match request {
                Some(request) => {
                    let mut sent = serde_json::to_value(request)
                        .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
                    sent["messages"] = serde_json::json!({ "transcript": request.messages.len() });
                    sent
                }
                None => serde_json::json!({ "kept": "the reply from before the run paused" }),
            };
            let usage = &step.response.usage;
            tx.execute(
                "INSERT INTO calls (run_id, step, model, request, reply, finish_reason, input_tokens,
                    output_tokens, cached_input_tokens, reasoning_tokens, elapsed_ms, created_at)
                 VALUES (?1, ?2, (SELECT model FROM runs WHERE id = ?1), ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                params![
                    run,
                    count(step.index as u64),
                    self.stored(tx, &sent)?,
                    self.stored(tx, &step.response)?,
                    serde_json::to_value(&step.response.finish_reason)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string)),
                    count(usage.input_tokens),
                    count(usage.output_tokens),
                    count(usage.cached_input_tokens),
                    count(usage.reasoning_tokens),
                    count(step.elapsed_ms),
                    now(),
                ],
            )?;
            let call = tx.last_insert_rowid();
            for invocation in &step.tool_calls {
                self.record_tool(tx, call, invocation)?;
            }
            let transcript = transcript.map(|t| self.stored(tx, &t)).transpose()?;
            tx.execute(
                "UPDATE runs SET transcript = COALESCE(?2, transcript), state = COALESCE(?3, state)
                 WHERE id = ?1",
                params![run, transcript, progress],
            )?;
            // The step is whole: what was journaled within it is in the step now.
            tx.execute("DELETE FROM journal WHERE run_id = ?1", [run])?;
            Ok(())
        })
    }

    /// Keeps where `run` stands when no step ended with it: within a step, its reply in and its
    /// tool calls not all made (waiting for a decision, or running), the reply kept in the
    /// checkpoint, until the step is logged. The transcript is written only when the log holds
    /// none yet (a run stopped in its first step): after a step, the one that step kept is the
    /// checkpoint's.
    pub fn record_checkpoint(&self, run: i64, checkpoint: &RunCheckpoint) -> Result<(), LogError> {
        self.write(|tx| {
            let kept: bool = tx
                .query_row("SELECT transcript IS NOT NULL FROM runs WHERE id = ?1", [run], |r| {
                    r.get(0)
                })
                .optional()?
                .unwrap_or(false);
            if !kept {
                tx.execute(
                    "UPDATE runs SET transcript = ?2 WHERE id = ?1",
                    params![run, self.stored(tx, &checkpoint.transcript)?],
                )?;
            }
            tx.execute(
                "INSERT INTO journal (run_id, state) VALUES (?1, ?2)
                 ON CONFLICT (run_id) DO UPDATE SET state = excluded.state",
                params![run, self.state(&Progress::of(checkpoint))],
            )?;
            Ok(())
        })
    }

    /// Journals a tool call of the reply `run` is in the middle of (kept by
    /// [`RunLog::record_checkpoint`] before its calls ran), as soon as it ends: resuming the
    /// run takes its result instead of making the call again.
    pub fn record_completed(&self, run: i64, invocation: &ToolInvocation) -> Result<(), LogError> {
        let damaged = |e: serde_json::Error| {
            rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
        };
        self.write(|tx| {
            let state: Option<String> = tx
                .query_row("SELECT state FROM journal WHERE run_id = ?1", [run], |r| r.get(0))
                .optional()?;
            // No reply journaled (a hook that did not see it): nothing to add to.
            let Some(state) = state else { return Ok(()) };
            let mut progress: Progress = serde_json::from_str(&state).map_err(damaged)?;
            progress.completed.push(invocation.clone());
            tx.execute(
                "UPDATE journal SET state = ?2 WHERE run_id = ?1",
                params![run, self.state(&progress)],
            )?;
            Ok(())
        })
    }

    /// A run's state as stored: JSON, secrets scrubbed.
    fn state(&self, progress: &Progress) -> String {
        let mut value = serde_json::json!(progress);
        self.redactor.scrub_value(&mut value);
        value.to_string()
    }

    /// Where `run` stood after its last logged step, to go on with it
    /// ([`anymodel_core::Agent::resume`], logging into the same run).
    pub fn resumable(&self, run: i64) -> Result<Resumable, LogError> {
        type Row = (i64, String, String, Option<String>, Option<String>);
        type Read = Option<Result<Vec<Message>, serde_json::Error>>;
        let found: Option<(Row, Read)> = self.read(|connection| {
            let row: Option<(Row, Option<String>)> = connection
                .query_row(
                    "SELECT conversation_id, model, outcome,
                        COALESCE((SELECT state FROM journal WHERE run_id = runs.id), state),
                        agent, transcript
                     FROM runs WHERE id = ?1",
                    [run],
                    |r| Ok(((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?), r.get(5)?)),
                )
                .optional()?;
            let Some((row, transcript)) = row else { return Ok(None) };
            let transcript =
                transcript.map(|text| read_transcript(connection, &text)).transpose()?;
            Ok(Some((row, transcript)))
        })?;
        let Some(((conversation, model, outcome, state, agent), transcript)) = found else {
            return Err(LogError::Missing { path: self.path.clone(), what: "run", id: run });
        };
        let damaged = |what: &str, e: serde_json::Error| LogError::Corrupt {
            path: self.path.clone(),
            message: format!("the {what} of run {run}: {e}"),
        };
        let progress: Option<Progress> = state
            .map(|text| serde_json::from_str(&text).map_err(|e| damaged("state", e)))
            .transpose()?;
        let checkpoint = match (progress, transcript) {
            (Some(p), Some(transcript)) => RunCheckpoint {
                transcript: transcript.map_err(|e| damaged("transcript", e))?,
                steps: p.steps,
                tool_calls: p.tool_calls,
                usage: p.usage,
                pending: p.pending,
                completed: p.completed,
            },
            _ => RunCheckpoint::default(),
        };
        Ok(Resumable {
            ids: RunIds { run, conversation },
            model,
            outcome,
            checkpoint,
            agent: agent.and_then(|text| serde_json::from_str(&text).ok()),
        })
    }

    fn record_tool(
        &self,
        tx: &rusqlite::Transaction<'_>,
        call: i64,
        invocation: &ToolInvocation,
    ) -> rusqlite::Result<()> {
        let (result, error) = match &invocation.result {
            Ok(value) => (Some(self.stored(tx, value)?), None),
            Err(error) => (None, Some(self.redactor.scrub(error.to_string()))),
        };
        tx.execute(
            "INSERT INTO tool_calls (call_id, tool_call_id, name, arguments, result, error, elapsed_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                call,
                invocation.call.id,
                invocation.call.name,
                self.stored(tx, &invocation.call.arguments)?,
                result,
                error,
                count(invocation.elapsed_ms),
            ],
        )?;
        Ok(())
    }

    /// Ends `run`: answered, with its answer and totals, or failed, with why (and what it had
    /// done).
    pub fn finish(
        &self,
        run: i64,
        outcome: Result<&AgentRun, &AgentError>,
    ) -> Result<(), LogError> {
        let (record, failure) = match outcome {
            Ok(record) => (record, None),
            Err(error) => (&*error.partial, Some(&error.kind)),
        };
        self.write(|tx| {
            tx.execute(
                "UPDATE runs SET ended_at = ?2, answer = ?3, outcome = ?4, error = ?5, error_class = ?6,
                    transcript = ?7, input_tokens = ?8, output_tokens = ?9, cached_input_tokens = ?10,
                    elapsed_ms = ?11
                 WHERE id = ?1",
                params![
                    run,
                    now(),
                    self.redactor.scrub(record.answer.clone()),
                    match failure.map(|kind| kind.class()) {
                        None => "answered",
                        Some("paused") => "paused",
                        Some(_) => "failed",
                    },
                    failure.map(|kind| self.redactor.scrub(kind.to_string())),
                    failure.map(|kind| kind.class()),
                    self.stored(tx, &record.transcript)?,
                    count(record.usage.input_tokens),
                    count(record.usage.output_tokens),
                    count(record.usage.cached_input_tokens),
                    count(record.elapsed_ms),
                ],
            )?;
            Ok(())
        })
    }

    /// The conversation of the latest run, if any run was logged.
    pub fn latest_conversation(&self) -> Result<Option<i64>, LogError> {
        self.read(|connection| {
            connection
                .query_row("SELECT conversation_id FROM runs ORDER BY id DESC LIMIT 1", [], |r| {
                    r.get(0)
                })
                .optional()
        })
    }

    /// The messages a run continuing `conversation` starts from: the transcript of its latest
    /// answered run, without the system prompt (the agent adds its own), attachments restored.
    /// Empty when no run of it was answered.
    pub fn conversation(&self, conversation: i64) -> Result<Vec<Message>, LogError> {
        let found = self.read(|connection| {
            let known: Option<i64> = connection
                .query_row("SELECT id FROM conversations WHERE id = ?1", [conversation], |r| {
                    r.get(0)
                })
                .optional()?;
            if known.is_none() {
                return Ok(None);
            }
            let transcript: Option<String> = connection
                .query_row(
                    "SELECT transcript FROM runs WHERE conversation_id = ?1 AND outcome = 'answered'
                     ORDER BY id DESC LIMIT 1",
                    [conversation],
                    |r| r.get(0),
                )
                .optional()?
                .flatten();
            match transcript {
                Some(text) => read_transcript(connection, &text).map(Some),
                None => Ok(Some(Ok(Vec::new()))),
            }
        })?;
        let Some(read) = found else {
            return Err(LogError::Missing {
                path: self.path.clone(),
                what: "conversation",
                id: conversation,
            });
        };
        let messages = read.map_err(|e| LogError::Corrupt {
            path: self.path.clone(),
            message: format!("the transcript of conversation {conversation}: {e}"),
        })?;
        Ok(messages.into_iter().filter(|m| !matches!(m, Message::System { .. })).collect())
    }

    /// The runs `query` selects, latest first.
    pub fn runs(&self, query: &RunQuery) -> Result<Vec<RunSummary>, LogError> {
        self.read(|connection| crate::query::runs(connection, query))
    }

    /// Everything logged of `run`.
    pub fn run(&self, run: i64) -> Result<RunDetail, LogError> {
        let found = self.read(|connection| crate::query::detail(connection, run))?;
        found.ok_or(LogError::Missing { path: self.path.clone(), what: "run", id: run })
    }
}
