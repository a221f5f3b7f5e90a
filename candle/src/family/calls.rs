//! The parsing the families share: replies split into text and calls, calls read from JSON
//! objects, code fences and the python tag looked through.
//!
//! Lenient where models are sloppy (`arguments` or `parameters`, arguments as a JSON string,
//! code fences), strict where it matters: only declared tools become calls, and anything else
//! stays text. Local models have no call ids, so ids are minted.

use anymodel_core::ToolCall;
use serde_json::Value;

pub(super) use super::python_calls::Call;

/// Llama 3's marker before a call (and a code interpreter's input).
pub(super) const PYTHON_TAG: &str = "<|python_tag|>";

/// A reply split into its text and its tool calls.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct ParsedReply {
    /// The text that is not a tool call.
    pub(crate) content: String,
    /// The calls of declared tools, in order.
    pub(crate) calls: Vec<ToolCall>,
}

/// A reply that is wholly calls (as `parse` reads them from the unwrapped text), or else text.
pub(super) fn whole_reply(
    text: &str,
    declared: &[String],
    parse: impl Fn(&str) -> Option<Vec<Call>>,
) -> ParsedReply {
    match parse(unwrap_reply(text)).filter(|calls| all_declared(calls, declared)) {
        Some(calls) => ParsedReply { content: String::new(), calls: with_ids(calls) },
        None => ParsedReply { content: text.to_string(), calls: Vec::new() },
    }
}

/// The reply without a leading `<|python_tag|>` and code fences.
fn unwrap_reply(text: &str) -> &str {
    let text = text.trim();
    strip_fences(text.strip_prefix(PYTHON_TAG).unwrap_or(text).trim())
}

pub(super) fn strip_fences(text: &str) -> &str {
    let Some(inner) = text.strip_prefix("```") else { return text };
    let inner = inner.trim_start_matches(|c: char| c.is_ascii_alphanumeric());
    inner.strip_suffix("```").unwrap_or(inner).trim()
}

pub(super) fn all_declared(calls: &[Call], declared: &[String]) -> bool {
    calls.iter().all(|(name, _)| declared.iter().any(|d| d == name))
}

pub(super) fn with_ids(calls: Vec<Call>) -> Vec<ToolCall> {
    calls
        .into_iter()
        .map(|(name, arguments)| ToolCall::new(ToolCall::minted_id(), name, arguments))
        .collect()
}

/// One call from a JSON object: `name`, then `arguments` or `parameters` (an object, or a
/// string holding one); `{"function": {…}}` wrappers are looked through.
fn json_call(value: Value) -> Option<Call> {
    let mut object = match value {
        Value::Object(object) => object,
        _ => return None,
    };
    if let Some(Value::Object(function)) = object.remove("function") {
        object = function;
    }
    let name = object.remove("name")?.as_str()?.to_string();
    let arguments = object.remove("arguments").or_else(|| object.remove("parameters"));
    let arguments = match arguments {
        None | Some(Value::Null) => Value::Object(Default::default()),
        Some(Value::String(text)) => serde_json::from_str(&text).ok().filter(Value::is_object)?,
        Some(object @ Value::Object(_)) => object,
        Some(_) => return None,
    };
    Some((name, arguments))
}

/// One or more JSON calls, separated by whitespace or `;`, and nothing else.
pub(super) fn json_calls(text: &str) -> Option<Vec<Call>> {
    let mut calls = Vec::new();
    for part in text.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        for value in serde_json::Deserializer::from_str(part).into_iter::<Value>() {
            calls.push(json_call(value.ok()?)?);
        }
    }
    (!calls.is_empty()).then_some(calls)
}
