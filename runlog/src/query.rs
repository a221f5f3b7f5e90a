//! Reading the log back: runs selected by model, time and text, and one run in full.

use rusqlite::{Connection, OptionalExtension, Row, params_from_iter};
use serde::Serialize;
use serde_json::Value;

/// Which runs to list.
#[derive(Debug, Clone, Default)]
pub struct RunQuery {
    /// At most this many (latest first); `None` for all.
    pub limit: Option<usize>,
    /// Only runs of this model (as it was named), or whose name contains it.
    pub model: Option<String>,
    /// Only runs started at or after this time (RFC 3339, UTC).
    pub since: Option<String>,
    /// Only runs whose prompt or answer has these words (full-text search, every word).
    pub text: Option<String>,
    /// Only runs of this conversation.
    pub conversation: Option<i64>,
}

/// One run, as `anymodel logs` lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunSummary {
    /// The run's id.
    pub id: i64,
    /// Its conversation's id.
    pub conversation: i64,
    /// When it started (RFC 3339, UTC).
    pub started_at: String,
    /// When it ended, if it did.
    pub ended_at: Option<String>,
    /// The model, as it was named.
    pub model: String,
    /// The user's prompt.
    pub prompt: String,
    /// The answer, once there is one.
    pub answer: Option<String>,
    /// `running`, `paused`, `answered` or `failed`.
    pub outcome: String,
    /// Why it failed.
    pub error: Option<String>,
    /// The failure's class (`rate_limited`, `max_steps`, ...).
    pub error_class: Option<String>,
    /// Input tokens, all model calls together.
    pub input_tokens: u64,
    /// Output tokens, all model calls together.
    pub output_tokens: u64,
    /// Input tokens read from the provider's cache.
    pub cached_input_tokens: u64,
    /// Wall-clock time of the run, in milliseconds.
    pub elapsed_ms: Option<u64>,
}

/// A tool call of a model call.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ToolRecord {
    /// The call's id, as the model gave it.
    pub id: String,
    /// The tool.
    pub name: String,
    /// Its arguments.
    pub arguments: Value,
    /// What it returned.
    pub result: Option<Value>,
    /// Why it failed (or was refused).
    pub error: Option<String>,
    /// How long it took, in milliseconds.
    pub elapsed_ms: Option<u64>,
}

/// One model call of a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CallRecord {
    /// The step, from 1.
    pub step: u64,
    /// The request as it was sent, its messages given as their count in the run's transcript.
    pub request: Value,
    /// The reply: message with tool calls and reasoning, finish reason, usage.
    pub reply: Value,
    /// How the reply ended.
    pub finish_reason: Option<String>,
    /// Input tokens.
    pub input_tokens: u64,
    /// Output tokens.
    pub output_tokens: u64,
    /// Input tokens read from the provider's cache.
    pub cached_input_tokens: u64,
    /// Reasoning tokens, where the provider counts them.
    pub reasoning_tokens: u64,
    /// How long the step took, in milliseconds (the model call and its tools).
    pub elapsed_ms: Option<u64>,
    /// When it was logged.
    pub created_at: String,
    /// The tool calls it asked for, with their results.
    pub tool_calls: Vec<ToolRecord>,
}

/// Everything logged of one run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunDetail {
    /// The run.
    #[serde(flatten)]
    pub summary: RunSummary,
    /// Its model calls, in order.
    pub calls: Vec<CallRecord>,
    /// Its conversation as of its last step (attachments named by hash).
    pub transcript: Value,
}

const SUMMARY_COLUMNS: &str = "runs.id, runs.conversation_id, runs.started_at, runs.ended_at,
    runs.model, runs.prompt, runs.answer, runs.outcome, runs.error, runs.error_class,
    runs.input_tokens, runs.output_tokens, runs.cached_input_tokens, runs.elapsed_ms";

fn unsigned(row: &Row<'_>, at: usize) -> rusqlite::Result<u64> {
    Ok(u64::try_from(row.get::<_, i64>(at)?).unwrap_or(0))
}

fn summary(row: &Row<'_>) -> rusqlite::Result<RunSummary> {
    Ok(RunSummary {
        id: row.get(0)?,
        conversation: row.get(1)?,
        started_at: row.get(2)?,
        ended_at: row.get(3)?,
        model: row.get(4)?,
        prompt: row.get(5)?,
        answer: row.get(6)?,
        outcome: row.get(7)?,
        error: row.get(8)?,
        error_class: row.get(9)?,
        input_tokens: unsigned(row, 10)?,
        output_tokens: unsigned(row, 11)?,
        cached_input_tokens: unsigned(row, 12)?,
        elapsed_ms: row.get::<_, Option<i64>>(13)?.and_then(|v| u64::try_from(v).ok()),
    })
}

/// The words of `text` as an FTS5 query that matches them all, each quoted so that no word is
/// read as FTS5 syntax.
fn match_words(text: &str) -> String {
    text.split_whitespace()
        .map(|word| format!("\"{}\"", word.replace('"', "\"\"")))
        .collect::<Vec<_>>()
        .join(" ")
}

pub(crate) fn runs(connection: &Connection, query: &RunQuery) -> rusqlite::Result<Vec<RunSummary>> {
    let mut sql = format!("SELECT {SUMMARY_COLUMNS} FROM runs");
    let mut conditions = Vec::new();
    let mut values: Vec<rusqlite::types::Value> = Vec::new();
    if let Some(text) = query.text.as_deref().filter(|t| !t.trim().is_empty()) {
        sql.push_str(" JOIN runs_text ON runs_text.rowid = runs.id");
        conditions.push("runs_text MATCH ?".to_string());
        values.push(match_words(text).into());
    }
    if let Some(model) = &query.model {
        conditions.push("(runs.model = ? OR instr(runs.model, ?) > 0)".into());
        values.push(model.clone().into());
        values.push(model.clone().into());
    }
    if let Some(since) = &query.since {
        conditions.push("runs.started_at >= ?".into());
        values.push(since.clone().into());
    }
    if let Some(conversation) = query.conversation {
        conditions.push("runs.conversation_id = ?".into());
        values.push(conversation.into());
    }
    if !conditions.is_empty() {
        sql.push_str(" WHERE ");
        sql.push_str(&conditions.join(" AND "));
    }
    sql.push_str(" ORDER BY runs.id DESC");
    if let Some(limit) = query.limit {
        sql.push_str(&format!(" LIMIT {limit}"));
    }
    let mut statement = connection.prepare(&sql)?;
    let rows = statement.query_map(params_from_iter(values), summary)?;
    rows.collect()
}

fn json(text: String) -> Value {
    serde_json::from_str(&text).unwrap_or(Value::String(text))
}

pub(crate) fn detail(connection: &Connection, run: i64) -> rusqlite::Result<Option<RunDetail>> {
    let found = connection
        .query_row(
            &format!("SELECT {SUMMARY_COLUMNS}, runs.transcript FROM runs WHERE runs.id = ?1"),
            [run],
            |row| Ok((summary(row)?, row.get::<_, Option<String>>(14)?)),
        )
        .optional()?;
    let Some((summary, transcript)) = found else { return Ok(None) };
    let mut statement = connection.prepare(
        "SELECT id, step, request, reply, finish_reason, input_tokens, output_tokens,
            cached_input_tokens, reasoning_tokens, elapsed_ms, created_at
         FROM calls WHERE run_id = ?1 ORDER BY id",
    )?;
    let calls: Vec<(i64, CallRecord)> = statement
        .query_map([run], |row| {
            Ok((
                row.get(0)?,
                CallRecord {
                    step: unsigned(row, 1)?,
                    request: json(row.get(2)?),
                    reply: json(row.get(3)?),
                    finish_reason: row.get(4)?,
                    input_tokens: unsigned(row, 5)?,
                    output_tokens: unsigned(row, 6)?,
                    cached_input_tokens: unsigned(row, 7)?,
                    reasoning_tokens: unsigned(row, 8)?,
                    elapsed_ms: row.get::<_, Option<i64>>(9)?.and_then(|v| u64::try_from(v).ok()),
                    created_at: row.get(10)?,
                    tool_calls: Vec::new(),
                },
            ))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut tools = connection.prepare(
        "SELECT tool_call_id, name, arguments, result, error, elapsed_ms
         FROM tool_calls WHERE call_id = ?1 ORDER BY id",
    )?;
    let mut records = Vec::with_capacity(calls.len());
    for (id, mut call) in calls {
        call.tool_calls = tools
            .query_map([id], |row| {
                Ok(ToolRecord {
                    id: row.get(0)?,
                    name: row.get(1)?,
                    arguments: json(row.get(2)?),
                    result: row.get::<_, Option<String>>(3)?.map(json),
                    error: row.get(4)?,
                    elapsed_ms: row.get::<_, Option<i64>>(5)?.and_then(|v| u64::try_from(v).ok()),
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        records.push(call);
    }
    Ok(Some(RunDetail {
        summary,
        calls: records,
        transcript: transcript.map(json).unwrap_or(Value::Null),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_quoted_so_that_none_is_fts_syntax() {
        assert_eq!(match_words("paris OR \"x\" -y"), "\"paris\" \"OR\" \"\"\"x\"\"\" \"-y\"");
    }
}
