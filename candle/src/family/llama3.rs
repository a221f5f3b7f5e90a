//! The Llama 3.1 / 3.3 family: a reply that is a call is a JSON object (`{"name": …,
//! "parameters": {…}}`), with or without `<|python_tag|>` before it.

use super::calls::{PYTHON_TAG, ParsedReply, json_calls, whole_reply};
use super::{CallSyntax, Family};

/// Llama 3.1's prompt format, with tools described in the system prompt and answered in the
/// `ipython` role; for Llama 3 files that carry no template.
pub const LLAMA3_TEMPLATE: &str = include_str!("templates/llama3.jinja");

/// The token Llama 3's templates write before each role.
pub(super) const HEADER: &str = "<|start_header_id|>";

/// Llama 3's turn-ending tokens, which the pythonic Llama 3.2 shares.
pub(super) const END_MARKERS: &[&str] = &["<|eot_id|>", "<|eom_id|>", "<|end_of_text|>"];

/// `{"name": …, "parameters": {…}}`.
#[derive(Debug)]
struct Llama3Json;

/// The Llama 3.1 / 3.3 JSON family.
pub(crate) const LLAMA3_JSON: &dyn Family = &Llama3Json;

impl Family for Llama3Json {
    fn name(&self) -> &'static str {
        "llama3-json"
    }

    fn detects(&self, template: &str) -> bool {
        template.contains(HEADER)
    }

    fn instructions(&self, definitions: &[String]) -> String {
        format!(
            "You have access to the following functions. To call one, reply only with a JSON object of the form {{\"name\": function name, \"parameters\": dictionary of argument name and its value}}, and nothing else.\n\n{}",
            definitions.join("\n\n")
        )
    }

    fn marker(&self) -> &'static str {
        PYTHON_TAG
    }

    fn opener(&self) -> Option<&'static str> {
        Some("{")
    }

    fn parse(&self, text: &str, declared: &[String]) -> ParsedReply {
        whole_reply(text, declared, json_calls)
    }

    fn call_syntax(&self) -> Option<CallSyntax> {
        Some(CallSyntax { arguments_key: "parameters", before: "", open: "", close: "" })
    }

    fn end_markers(&self) -> &'static [&'static str] {
        END_MARKERS
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::family::testing::{calls, declared};

    #[test]
    fn llama3_json_with_or_without_the_python_tag() {
        for text in [
            r#"{"name": "get_weather", "parameters": {"city": "Paris"}}"#,
            r#"<|python_tag|>{"name": "get_weather", "parameters": {"city": "Paris"}}"#,
            "```json\n{\"name\": \"get_weather\", \"arguments\": \"{\\\"city\\\": \\\"Paris\\\"}\"}\n```",
            r#"{"type": "function", "function": {"name": "get_weather", "parameters": {"city": "Paris"}}}"#,
        ] {
            let parsed = LLAMA3_JSON.parse(text, &declared());
            assert_eq!(
                calls(&parsed),
                vec![("get_weather".into(), json!({"city": "Paris"}))],
                "{text}"
            );
            assert_eq!(parsed.content, "");
        }
        let two = LLAMA3_JSON.parse(
            r#"{"name": "get_weather", "parameters": {"city": "Oslo"}}; {"name": "search", "parameters": {}}"#,
            &declared(),
        );
        assert_eq!(calls(&two).len(), 2);
        assert_ne!(two.calls[0].id, two.calls[1].id);
    }

    #[test]
    fn undeclared_tools_and_prose_stay_text() {
        let text = r#"{"name": "launch_rockets", "parameters": {}}"#;
        let parsed = LLAMA3_JSON.parse(text, &declared());
        assert_eq!(parsed, ParsedReply { content: text.into(), calls: vec![] });
        let prose = LLAMA3_JSON.parse("The weather is fine.", &declared());
        assert!(prose.calls.is_empty());
        let json_answer = LLAMA3_JSON.parse(r#"{"answer": 42}"#, &declared());
        assert!(json_answer.calls.is_empty());
    }
}
