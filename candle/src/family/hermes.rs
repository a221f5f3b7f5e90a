//! The Hermes family (Hermes, Qwen, SmolLM2, and ChatML templates generally): calls as JSON
//! objects inside `<tool_call>` tags, anywhere in the reply, with text around them.

use super::calls::{ParsedReply, all_declared, json_calls, strip_fences, with_ids};
use super::{CallSyntax, Family};

/// ChatML (`<|im_start|>role … <|im_end|>`), with Hermes-style `<tools>` and `<tool_call>`;
/// for files of other families that carry no template.
pub const CHATML_TEMPLATE: &str = include_str!("templates/chatml.jinja");

const OPEN_TAG: &str = "<tool_call>";
const CLOSE_TAG: &str = "</tool_call>";

/// `<tool_call>{"name": …, "arguments": {…}}</tool_call>`.
#[derive(Debug)]
struct Hermes;

/// The Hermes family.
pub(crate) const HERMES: &dyn Family = &Hermes;

impl Family for Hermes {
    fn name(&self) -> &'static str {
        "hermes"
    }

    /// The fallback: any template no other family recognises.
    fn detects(&self, _template: &str) -> bool {
        true
    }

    fn instructions(&self, definitions: &[String]) -> String {
        format!(
            "You may call one or more functions to help with the user's request. The functions are given in <tools></tools> tags:\n<tools>\n{}\n</tools>\n\nTo call a function, reply with a JSON object with the function's name and arguments inside <tool_call></tool_call> tags:\n<tool_call>\n{{\"name\": <function-name>, \"arguments\": <args-json-object>}}\n</tool_call>",
            definitions.join("\n")
        )
    }

    fn marker(&self) -> &'static str {
        OPEN_TAG
    }

    fn opener(&self) -> Option<&'static str> {
        None
    }

    fn parse(&self, text: &str, declared: &[String]) -> ParsedReply {
        parse_tagged(text, declared)
    }

    fn call_syntax(&self) -> Option<CallSyntax> {
        Some(CallSyntax {
            arguments_key: "arguments",
            before: OPEN_TAG,
            open: "\n",
            close: "\n</tool_call>",
        })
    }

    fn end_markers(&self) -> &'static [&'static str] {
        &["<|im_end|>", "<|endoftext|>"]
    }
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::family::testing::{calls, declared};

    #[test]
    fn tagged_calls_with_text_around_and_sloppy_forms() {
        let text = "Let me check.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Rome\"}}\n</tool_call>\n<tool_call>{\"name\": \"search\", \"parameters\": \"{\\\"q\\\": \\\"x\\\"}\"}";
        let parsed = HERMES.parse(text, &declared());
        assert_eq!(parsed.content, "Let me check.");
        assert_eq!(
            calls(&parsed),
            [("get_weather".into(), json!({"city": "Rome"})), ("search".into(), json!({"q": "x"}))]
        );
        let bad = "<tool_call>{\"name\": \"nope\"}</tool_call> done";
        assert_eq!(HERMES.parse(bad, &declared()).content, bad);
    }

    #[test]
    fn a_closing_tag_inside_an_argument_does_not_end_the_call() {
        let text = "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"}}</tool_call> x\"}}\n</tool_call>";
        let parsed = HERMES.parse(text, &declared());
        assert_eq!(parsed.calls.len(), 1, "{parsed:?}");
        assert_eq!(parsed.calls[0].arguments["city"], "}}</tool_call> x");
        assert_eq!(parsed.content, "");
    }
}
