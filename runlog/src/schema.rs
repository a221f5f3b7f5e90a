//! The log's tables, and the migrations that bring a database of any earlier version to the
//! current one. A database's version is SQLite's `user_version`; each migration runs once, in
//! order, inside one transaction with the version bump, so a crash mid-migration leaves the
//! database as it was.

use rusqlite::{Connection, TransactionBehavior};

/// Version 1: conversations, runs, model calls, tool calls.
const V1: &str = "
CREATE TABLE conversations (
    id INTEGER PRIMARY KEY,
    started_at TEXT NOT NULL,
    model TEXT NOT NULL
);
CREATE TABLE runs (
    id INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES conversations(id),
    started_at TEXT NOT NULL,
    ended_at TEXT,
    model TEXT NOT NULL,
    prompt TEXT NOT NULL,
    answer TEXT,
    outcome TEXT NOT NULL DEFAULT 'running',
    error TEXT,
    transcript TEXT,
    input_tokens INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    elapsed_ms INTEGER
);
CREATE INDEX runs_by_conversation ON runs(conversation_id);
CREATE TABLE calls (
    id INTEGER PRIMARY KEY,
    run_id INTEGER NOT NULL REFERENCES runs(id),
    step INTEGER NOT NULL,
    model TEXT NOT NULL,
    request TEXT NOT NULL,
    reply TEXT NOT NULL,
    finish_reason TEXT,
    input_tokens INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    elapsed_ms INTEGER,
    created_at TEXT NOT NULL
);
CREATE INDEX calls_by_run ON calls(run_id);
CREATE TABLE tool_calls (
    id INTEGER PRIMARY KEY,
    call_id INTEGER NOT NULL REFERENCES calls(id),
    tool_call_id TEXT NOT NULL,
    name TEXT NOT NULL,
    arguments TEXT NOT NULL,
    result TEXT,
    error TEXT,
    elapsed_ms INTEGER
);
CREATE INDEX tool_calls_by_call ON tool_calls(call_id);
";

/// Version 2: cached and reasoning tokens, error classes, where a run stands after each step
/// and the agent that ran it (to resume it), attachments stored once by hash, and full-text
/// search over prompts and answers (kept in step by triggers, filled from the runs already
/// logged).
const V2: &str = "
ALTER TABLE runs ADD COLUMN cached_input_tokens INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN error_class TEXT;
ALTER TABLE runs ADD COLUMN state TEXT;
ALTER TABLE runs ADD COLUMN agent TEXT;
ALTER TABLE calls ADD COLUMN cached_input_tokens INTEGER NOT NULL DEFAULT 0;
ALTER TABLE calls ADD COLUMN reasoning_tokens INTEGER NOT NULL DEFAULT 0;
CREATE TABLE attachments (
    hash TEXT PRIMARY KEY,
    media_type TEXT,
    data TEXT NOT NULL
);
CREATE VIRTUAL TABLE runs_text USING fts5(prompt, answer, content='runs', content_rowid='id');
INSERT INTO runs_text(rowid, prompt, answer) SELECT id, prompt, COALESCE(answer, '') FROM runs;
CREATE TRIGGER runs_text_insert AFTER INSERT ON runs BEGIN
    INSERT INTO runs_text(rowid, prompt, answer) VALUES (new.id, new.prompt, COALESCE(new.answer, ''));
END;
CREATE TRIGGER runs_text_update AFTER UPDATE OF prompt, answer ON runs BEGIN
    INSERT INTO runs_text(runs_text, rowid, prompt, answer)
        VALUES ('delete', old.id, old.prompt, COALESCE(old.answer, ''));
    INSERT INTO runs_text(rowid, prompt, answer) VALUES (new.id, new.prompt, COALESCE(new.answer, ''));
END;
CREATE TRIGGER runs_text_delete AFTER DELETE ON runs BEGIN
    INSERT INTO runs_text(runs_text, rowid, prompt, answer)
        VALUES ('delete', old.id, old.prompt, COALESCE(old.answer, ''));
END;
";

/// Version 3: where a run stands within a step (its reply in, its tool calls being made, each
/// journaled as it ends), in a small row of its own, so that journaling a call does not rewrite
/// the run's row with its transcript.
const V3: &str = "
CREATE TABLE journal (
    run_id INTEGER PRIMARY KEY REFERENCES runs(id),
    state TEXT NOT NULL
);
";

/// Every migration, in order: the one at index `i` brings version `i` to `i + 1`.
const MIGRATIONS: [&str; 3] = [V1, V2, V3];

/// The version this build writes.
pub const VERSION: u32 = MIGRATIONS.len() as u32;

/// The version a database holds (0 for a new one).
pub fn version(connection: &Connection) -> rusqlite::Result<u32> {
    connection.pragma_query_value(None, "user_version", |row| row.get(0))
}

/// Brings the database to [`VERSION`]; `Ok(Some(found))` leaves alone a database of a later
/// version than this build knows.
pub fn migrate(connection: &mut Connection) -> rusqlite::Result<Option<u32>> {
    if version(connection)? == VERSION {
        return Ok(None);
    }
    // Immediate: another process opening the same new database waits here, then finds it done.
    let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let found = version(&transaction)?;
    if found > VERSION {
        return Ok(Some(found));
    }
    for migration in &MIGRATIONS[found as usize..] {
        transaction.execute_batch(migration)?;
    }
    transaction.pragma_update(None, "user_version", VERSION)?;
    transaction.commit()?;
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_database_gets_every_table_and_the_current_version() {
        let mut connection = Connection::open_in_memory().unwrap();
        assert_eq!(migrate(&mut connection).unwrap(), None);
        assert_eq!(version(&connection).unwrap(), VERSION);
        assert_eq!(migrate(&mut connection).unwrap(), None, "a second run changes nothing");
        connection.pragma_update(None, "user_version", VERSION + 1).unwrap();
        assert_eq!(migrate(&mut connection).unwrap(), Some(VERSION + 1));
    }
}
