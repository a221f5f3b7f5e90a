//! Inline images and documents stored once by their hash: the JSON the log keeps names each by
//! `"attachment": HASH` where it held `"base64": DATA`, and the bytes live in one row however
//! many runs send them again.

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;

/// Inline data shorter than this stays where it is: a row of its own would cost more.
const INLINE_UP_TO: usize = 256;

/// The deepest JSON walked (transcripts are a few levels deep; deeper is left as it is).
const MAX_DEPTH: usize = 32;

/// Moves every long `base64` field of `value` into the attachments table.
pub fn stash(connection: &Connection, value: &mut Value) -> rusqlite::Result<()> {
    walk(value, 0, &mut |object| {
        let Some(Value::String(data)) = object.get("base64") else { return Ok(()) };
        if data.len() <= INLINE_UP_TO {
            return Ok(());
        }
        let hash = blake3::hash(data.as_bytes()).to_hex().to_string();
        let media_type = object.get("media_type").and_then(Value::as_str);
        connection.execute(
            "INSERT OR IGNORE INTO attachments (hash, media_type, data) VALUES (?1, ?2, ?3)",
            params![hash, media_type, data],
        )?;
        object.remove("base64");
        object.insert("attachment".into(), Value::String(hash));
        Ok(())
    })
}

/// Puts each attachment's data back where [`stash`] took it from.
pub fn restore(connection: &Connection, value: &mut Value) -> rusqlite::Result<()> {
    walk(value, 0, &mut |object| {
        let Some(Value::String(hash)) = object.get("attachment") else { return Ok(()) };
        let data: Option<String> = connection
            .query_row("SELECT data FROM attachments WHERE hash = ?1", [hash], |row| row.get(0))
            .optional()?;
        if let Some(data) = data {
            object.remove("attachment");
            object.insert("base64".into(), Value::String(data));
        }
        Ok(())
    })
}

fn walk(
    value: &mut Value,
    depth: usize,
    visit: &mut dyn FnMut(&mut serde_json::Map<String, Value>) -> rusqlite::Result<()>,
) -> rusqlite::Result<()> {
    if depth > MAX_DEPTH {
        return Ok(());
    }
    match value {
        Value::Object(object) => {
            visit(object)?;
            for child in object.values_mut() {
                walk(child, depth + 1, visit)?;
            }
        }
        Value::Array(items) => {
            for item in items {
                walk(item, depth + 1, visit)?;
            }
        }
        _ => {}
    }
    Ok(())
}
