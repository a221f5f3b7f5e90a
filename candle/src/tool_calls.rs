//! Tool calls written in a local model's text, parsed by model family: Llama 3.1/3.3 JSON,
//! Llama 3.2's pythonic list, and `<tool_call>` tags (Hermes, Qwen, SmolLM2).
//!
//! Lenient where models are sloppy (`arguments` or `parameters`, arguments as a JSON string,
//! code fences, a missing closing tag), strict where it matters: only declared tools become
//! calls, and anything else stays text. Local models have no call ids, so ids are made up.

use anymodel_core::ToolCall;
use serde_json::Value;

use super::pythonic;

/// How a model family writes tool calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToolCallFormat {
    /// Llama 3.1 and 3.3: `{"name": …, "parameters": {…}}`, with or without `<|python_tag|>`.
    Llama3Json,
    /// Llama 3.2: `[get_weather(city="Paris"), …]`.
    Pythonic,
    /// Hermes, Qwen and SmolLM2: `<tool_call>{"name": …, "arguments": {…}}</tool_call>`.
    Hermes,
}

const PYTHON_TAG: &str = "<|python_tag|>";
const OPEN_TAG: &str = "<tool_call>";
const CLOSE_TAG: &str = "</tool_call>";

/// A reply split into its text and its tool calls.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ParsedReply {
    /// The text that is not a tool call.
    pub content: String,
    /// The calls of declared tools, in order.
    pub calls: Vec<ToolCall>,
}

impl ToolCallFormat {
    /// Splits a whole reply into text and calls of the `declared` tools.
    pub fn parse(self, text: &str, declared: &[String]) -> ParsedReply {
        let calls = match self {
            ToolCallFormat::Hermes => return parse_tagged(text, declared),
            ToolCallFormat::Llama3Json => json_calls(unwrap_reply(text)),
            ToolCallFormat::Pythonic => pythonic::parse_calls(unwrap_reply(text)),
        };
        match calls.filter(|calls| all_declared(calls, declared)) {
            Some(calls) => ParsedReply { content: String::new(), calls: with_ids(calls) },
            None => ParsedReply { content: text.to_string(), calls: Vec::new() },
        }
    }
}

/// The reply without a leading `<|python_tag|>` and code fences.
fn unwrap_reply(text: &str) -> &str {
    let text = text.trim();
    strip_fences(text.strip_prefix(PYTHON_TAG).unwrap_or(text).trim())
}

fn strip_fences(text: &str) -> &str {
    let Some(inner) = text.strip_prefix("```") else { return text };
    let inner = inner.trim_start_matches(|c: char| c.is_ascii_alphanumeric());
    inner.strip_suffix("```").unwrap_or(inner).trim()
}

fn all_declared(calls: &[pythonic::Call], declared: &[String]) -> bool {
    calls.iter().all(|(name, _)| declared.iter().any(|d| d == name))
}

fn with_ids(calls: Vec<pythonic::Call>) -> Vec<ToolCall> {
    calls
        .into_iter()
        .map(|(name, arguments)| ToolCall::new(ToolCall::minted_id(), name, arguments))
        .collect()
}

/// One call from a JSON object: `name`, then `arguments` or `parameters` (an object, or a
/// string holding one); `{"function": {…}}` wrappers are looked through.
fn json_call(value: Value) -> Option<pythonic::Call> {
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
fn json_calls(text: &str) -> Option<Vec<pythonic::Call>> {
    let mut calls = Vec::new();
    for part in text.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        for value in serde_json::Deserializer::from_str(part).into_iter::<Value>() {
            calls.push(json_call(value.ok()?)?);
        }
    }
    (!calls.is_empty()).then_some(calls)
}

fn parse_tagged(text: &str, declared: &[String]) -> ParsedReply {
    let mut content = String::new();
    let mut calls = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(OPEN_TAG) {
        content.push_str(&rest[..start]);
        let after = &rest[start + OPEN_TAG.len()..];
        // The call is the JSON value after the tag (its strings may hold anything, the closing
        // tag included); without one, whatever runs to the closing tag.
        let (body, next) = match json_end(after) {
            Some(end) => {
                let tail = after[end..].trim_start();
                (&after[..end], tail.strip_prefix(CLOSE_TAG).unwrap_or(tail))
            }
            None => match after.find(CLOSE_TAG) {
                Some(end) => (&after[..end], &after[end + CLOSE_TAG.len()..]),
                None => (after, ""),
            },
        };
        match json_calls(strip_fences(body.trim())).filter(|c| all_declared(c, declared)) {
            Some(found) => calls.extend(found),
            None => content.push_str(&rest[start..rest.len() - next.len()]),
        }
        rest = next;
    }
    content.push_str(rest);
    ParsedReply { content: content.trim().to_string(), calls: with_ids(calls) }
}

/// Where the JSON value at the start of `text` (after any whitespace) ends, if one is there.
fn json_end(text: &str) -> Option<usize> {
    let mut values = serde_json::Deserializer::from_str(text).into_iter::<serde_json::Value>();
    match values.next() {
        Some(Ok(_)) => Some(values.byte_offset()),
        _ => None,
    }
}

/// Holds back streamed text that may be the start of a tool call until it is known not to be,
/// and parses the calls when the reply ends.
#[derive(Debug)]
pub struct ToolCallFilter {
    format: ToolCallFormat,
    declared: Vec<String>,
    text: String,
    /// Bytes of `text` already let through.
    released: usize,
    /// Where a tool call begins in `text`, once one has.
    call_start: Option<usize>,
    /// The reply's start has been seen not to be a call (Llama formats call from the start).
    past_start: bool,
}

impl ToolCallFilter {
    /// A filter for calls of the `declared` tools in `format`.
    pub fn new(format: ToolCallFormat, declared: Vec<String>) -> Self {
        ToolCallFilter {
            format,
            declared,
            text: String::new(),
            released: 0,
            call_start: None,
            past_start: false,
        }
    }

    /// Takes more of the reply; returns the text that is certainly not part of a call.
    pub fn push(&mut self, delta: &str) -> String {
        self.text.push_str(delta);
        if self.call_start.is_some() {
            return String::new();
        }
        let pending = &self.text[self.released..];
        if self.format != ToolCallFormat::Hermes && !self.past_start {
            let start = self.text.trim_start();
            let opener = if self.format == ToolCallFormat::Pythonic { "[" } else { "{" };
            if start.is_empty() || PYTHON_TAG.starts_with(start) {
                return String::new();
            }
            if start.starts_with(opener)
                || start.starts_with(PYTHON_TAG)
                || start.starts_with("```")
            {
                self.call_start = Some(0);
                return String::new();
            }
            self.past_start = true;
        }
        let trigger = if self.format == ToolCallFormat::Hermes { OPEN_TAG } else { PYTHON_TAG };
        let keep = match pending.find(trigger) {
            Some(at) => {
                self.call_start = Some(self.released + at);
                at
            }
            // Hold back a tail that could be the trigger's beginning.
            None => (1..=trigger.len().min(pending.len()))
                .rev()
                .find(|&n| {
                    pending.is_char_boundary(pending.len() - n)
                        && trigger.starts_with(&pending[pending.len() - n..])
                })
                .map_or(pending.len(), |n| pending.len() - n),
        };
        let out = pending[..keep].to_string();
        self.released += keep;
        out
    }

    /// The reply is over: the text still held back that is not a call, and the calls.
    pub fn finish(self) -> ParsedReply {
        let held = &self.text[self.released..];
        if self.call_start.is_none() {
            return ParsedReply { content: held.to_string(), calls: Vec::new() };
        }
        let parsed = self.format.parse(held, &self.declared);
        if parsed.calls.is_empty() {
            // It looked like a call and was not: it was text all along.
            return ParsedReply { content: held.to_string(), calls: Vec::new() };
        }
        parsed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn declared() -> Vec<String> {
        vec!["get_weather".into(), "search".into()]
    }

    fn calls(parsed: &ParsedReply) -> Vec<(String, Value)> {
        parsed.calls.iter().map(|c| (c.name.clone(), c.arguments.clone())).collect()
    }

    #[test]
    fn llama3_json_with_or_without_the_python_tag() {
        for text in [
            r#"{"name": "get_weather", "parameters": {"city": "Paris"}}"#,
            r#"<|python_tag|>{"name": "get_weather", "parameters": {"city": "Paris"}}"#,
            "```json\n{\"name\": \"get_weather\", \"arguments\": \"{\\\"city\\\": \\\"Paris\\\"}\"}\n```",
            r#"{"type": "function", "function": {"name": "get_weather", "parameters": {"city": "Paris"}}}"#,
        ] {
            let parsed = ToolCallFormat::Llama3Json.parse(text, &declared());
            assert_eq!(
                calls(&parsed),
                vec![("get_weather".into(), json!({"city": "Paris"}))],
                "{text}"
            );
            assert_eq!(parsed.content, "");
        }
        let two = ToolCallFormat::Llama3Json.parse(
            r#"{"name": "get_weather", "parameters": {"city": "Oslo"}}; {"name": "search", "parameters": {}}"#,
            &declared(),
        );
        assert_eq!(calls(&two).len(), 2);
        assert_ne!(two.calls[0].id, two.calls[1].id);
    }

    #[test]
    fn undeclared_tools_and_prose_stay_text() {
        let text = r#"{"name": "launch_rockets", "parameters": {}}"#;
        let parsed = ToolCallFormat::Llama3Json.parse(text, &declared());
        assert_eq!(parsed, ParsedReply { content: text.into(), calls: vec![] });
        let prose = ToolCallFormat::Llama3Json.parse("The weather is fine.", &declared());
        assert!(prose.calls.is_empty());
        let json_answer = ToolCallFormat::Llama3Json.parse(r#"{"answer": 42}"#, &declared());
        assert!(json_answer.calls.is_empty());
    }

    #[test]
    fn llama32_pythonic_lists() {
        let parsed = ToolCallFormat::Pythonic
            .parse(r#"[get_weather(city="Paris", days=2), search(q="rust")]"#, &declared());
        assert_eq!(
            calls(&parsed),
            vec![
                ("get_weather".into(), json!({"city": "Paris", "days": 2})),
                ("search".into(), json!({"q": "rust"})),
            ]
        );
        assert!(ToolCallFormat::Pythonic.parse("[unknown(a=1)]", &declared()).calls.is_empty());
    }

    #[test]
    fn tagged_calls_with_text_around_and_sloppy_forms() {
        let text = "Let me check.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Rome\"}}\n</tool_call>\n<tool_call>{\"name\": \"search\", \"parameters\": \"{\\\"q\\\": \\\"x\\\"}\"}";
        let parsed = ToolCallFormat::Hermes.parse(text, &declared());
        assert_eq!(parsed.content, "Let me check.");
        assert_eq!(
            calls(&parsed),
            vec![
                ("get_weather".into(), json!({"city": "Rome"})),
                ("search".into(), json!({"q": "x"}))
            ]
        );
        let bad = "<tool_call>{\"name\": \"nope\"}</tool_call> done";
        assert_eq!(ToolCallFormat::Hermes.parse(bad, &declared()).content, bad);
    }

    /// Feeds `text` to a filter in pieces of `size` characters.
    fn stream(format: ToolCallFormat, text: &str, size: usize) -> (String, ParsedReply) {
        let mut filter = ToolCallFilter::new(format, declared());
        let chars: Vec<char> = text.chars().collect();
        let mut shown = String::new();
        for piece in chars.chunks(size) {
            shown.push_str(&filter.push(&piece.iter().collect::<String>()));
        }
        let end = filter.finish();
        (shown, end)
    }

    #[test]
    fn streamed_calls_split_across_chunks_are_held_back_then_parsed() {
        let text = "Sure <tool_call>{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Nice\"}}</tool_call>";
        for size in [1, 2, 3, 7, 100] {
            let (shown, end) = stream(ToolCallFormat::Hermes, text, size);
            assert_eq!(shown, "Sure ", "size {size}");
            assert_eq!(calls(&end), vec![("get_weather".into(), json!({"city": "Nice"}))]);
        }
        let json = "<|python_tag|>{\"name\": \"search\", \"parameters\": {\"q\": \"a\"}}";
        for size in [1, 4, 100] {
            let (shown, end) = stream(ToolCallFormat::Llama3Json, json, size);
            assert_eq!(shown, "");
            assert_eq!(calls(&end), vec![("search".into(), json!({"q": "a"}))]);
        }
        let (shown, end) = stream(ToolCallFormat::Pythonic, " [search(q=\"b\")]", 2);
        assert_eq!((shown.as_str(), calls(&end)), ("", vec![("search".into(), json!({"q": "b"}))]));
    }

    #[test]
    fn streamed_text_that_is_not_a_call_comes_through_whole() {
        for (format, text) in [
            (ToolCallFormat::Hermes, "A < B and <tool is not a tag <tool_cal"),
            (ToolCallFormat::Llama3Json, "Hello, {world}!"),
            (ToolCallFormat::Llama3Json, "{\"answer\": 42}"),
            (ToolCallFormat::Pythonic, "[1, 2] is a list"),
        ] {
            for size in [1, 3, 100] {
                let (shown, end) = stream(format, text, size);
                assert!(end.calls.is_empty());
                assert_eq!(shown + &end.content, text, "{format:?} size {size}");
            }
        }
        // Prose is released as it comes, not at the end.
        let mut filter = ToolCallFilter::new(ToolCallFormat::Llama3Json, declared());
        assert_eq!(filter.push("Hello"), "Hello");
    }

    #[test]
    fn a_closing_tag_inside_an_argument_does_not_end_the_call() {
        let text = "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"}}</tool_call> x\"}}\n</tool_call>";
        let parsed = ToolCallFormat::Hermes.parse(text, &declared());
        assert_eq!(parsed.calls.len(), 1, "{parsed:?}");
        assert_eq!(parsed.calls[0].arguments["city"], "}}</tool_call> x");
        assert_eq!(parsed.content, "");
    }
}
