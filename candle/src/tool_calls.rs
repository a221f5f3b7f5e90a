//! Tool calls in a streamed reply: text that may be the start of a call is held back until it
//! is known not to be one, and the calls are parsed, by the model's family, when the reply ends.

use crate::family::{Family, ParsedReply};

/// Holds back streamed text that may be the start of a tool call until it is known not to be,
/// and parses the calls when the reply ends.
#[derive(Debug)]
pub(crate) struct ToolCallFilter {
    family: &'static dyn Family,
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
    /// A filter for calls of the `declared` tools, written as `family` writes them.
    pub(crate) fn new(family: &'static dyn Family, declared: Vec<String>) -> Self {
        ToolCallFilter {
            family,
            declared,
            text: String::new(),
            released: 0,
            call_start: None,
            past_start: false,
        }
    }

    /// Takes more of the reply; returns the text that is certainly not part of a call.
    pub(crate) fn push(&mut self, delta: &str) -> String {
        self.text.push_str(delta);
        if self.call_start.is_some() {
            return String::new();
        }
        let pending = &self.text[self.released..];
        let marker = self.family.marker();
        if let Some(opener) = self.family.opener().filter(|_| !self.past_start) {
            let start = self.text.trim_start();
            if start.is_empty() || marker.starts_with(start) {
                return String::new();
            }
            if start.starts_with(opener) || start.starts_with(marker) || start.starts_with("```") {
                self.call_start = Some(0);
                return String::new();
            }
            self.past_start = true;
        }
        let trigger = marker;
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
    pub(crate) fn finish(self) -> ParsedReply {
        let held = &self.text[self.released..];
        if self.call_start.is_none() {
            return ParsedReply { content: held.to_string(), calls: Vec::new() };
        }
        let parsed = self.family.parse(held, &self.declared);
        if parsed.calls.is_empty() {
            // It looked like a call and was not: it was text all along.
            return ParsedReply { content: held.to_string(), calls: Vec::new() };
        }
        parsed
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::family::testing::{calls, declared};
    use crate::family::{HERMES, LLAMA3_JSON, PYTHONIC};

    /// Feeds `text` to a filter in pieces of `size` characters.
    fn stream(family: &'static dyn Family, text: &str, size: usize) -> (String, ParsedReply) {
        let mut filter = ToolCallFilter::new(family, declared());
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
            let (shown, end) = stream(HERMES, text, size);
            assert_eq!(shown, "Sure ", "size {size}");
            assert_eq!(calls(&end), vec![("get_weather".into(), json!({"city": "Nice"}))]);
        }
        let json = "<|python_tag|>{\"name\": \"search\", \"parameters\": {\"q\": \"a\"}}";
        for size in [1, 4, 100] {
            let (shown, end) = stream(LLAMA3_JSON, json, size);
            assert_eq!(shown, "");
            assert_eq!(calls(&end), vec![("search".into(), json!({"q": "a"}))]);
        }
        let (shown, end) = stream(PYTHONIC, " [search(q=\"b\")]", 2);
        assert_eq!((shown.as_str(), calls(&end)), ("", vec![("search".into(), json!({"q": "b"}))]));
    }

    #[test]
    fn streamed_text_that_is_not_a_call_comes_through_whole() {
        for (family, text) in [
            (HERMES, "A < B and <tool is not a tag <tool_cal"),
            (LLAMA3_JSON, "Hello, {world}!"),
            (LLAMA3_JSON, "{\"answer\": 42}"),
            (PYTHONIC, "[1, 2] is a list"),
        ] {
            for size in [1, 3, 100] {
                let (shown, end) = stream(family, text, size);
                assert!(end.calls.is_empty());
                assert_eq!(shown + &end.content, text, "{} size {size}", family.name());
            }
        }
        // Prose is released as it comes, not at the end.
        let mut filter = ToolCallFilter::new(LLAMA3_JSON, declared());
        assert_eq!(filter.push("Hello"), "Hello");
    }
}
