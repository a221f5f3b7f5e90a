//! Names a server gives a reply (its id, the model that made it), read leniently: servers that
//! speak a provider's format differ, so a value that is not a non-empty string is ignored
//! rather than failing the reply.

use anymodel_core::StreamEvent;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// For `#[serde(default, deserialize_with = "label")]` on an `Option<String>` field: the
/// string, when the server wrote a non-empty one.
pub(crate) fn label<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<String>, D::Error> {
    Ok(match Value::deserialize(deserializer)? {
        Value::String(text) if !text.is_empty() => Some(text),
        _ => None,
    })
}

/// The event saying which reply a stream carries, when the server said anything of it.
pub(crate) fn origin(id: Option<String>, model: Option<String>) -> Option<StreamEvent> {
    (id.is_some() || model.is_some()).then_some(StreamEvent::Origin { id, model })
}
