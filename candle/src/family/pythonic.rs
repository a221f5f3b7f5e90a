//! The Llama 3.2 family: a reply that is a call is a Python list of calls with keyword
//! arguments (`[get_weather(city="Paris")]`), read by [`super::python_calls`]. It has no call
//! grammar yet, so tool choice cannot be forced on it.

use super::calls::{PYTHON_TAG, ParsedReply, whole_reply};
use super::llama3::{END_MARKERS, HEADER};
use super::{CallSyntax, Family, python_calls};

/// `[func_name1(params_name1=params_value1), …]`.
#[derive(Debug)]
struct Pythonic;

/// The Llama 3.2 pythonic family.
pub(crate) const PYTHONIC: &dyn Family = &Pythonic;

impl Family for Pythonic {
    fn name(&self) -> &'static str {
        "llama3.2-pythonic"
    }

    /// Llama 3's header tokens, and the pythonic call example Llama 3.2's template writes.
    fn detects(&self, template: &str) -> bool {
        template.contains(HEADER) && template.contains("[func_name1(")
    }

    fn instructions(&self, definitions: &[String]) -> String {
        format!(
            "You have access to the following functions. To call them, reply only with a list in the form [func_name1(params_name1=params_value1, params_name2=params_value2), func_name2(params)], and nothing else.\n\n{}",
            definitions.join("\n\n")
        )
    }

    fn marker(&self) -> &'static str {
        PYTHON_TAG
    }

    fn opener(&self) -> Option<&'static str> {
        Some("[")
    }

    fn parse(&self, text: &str, declared: &[String]) -> ParsedReply {
        whole_reply(text, declared, python_calls::parse_calls)
    }

    fn call_syntax(&self) -> Option<CallSyntax> {
        None
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
    fn llama32_pythonic_lists() {
        let parsed =
            PYTHONIC.parse(r#"[get_weather(city="Paris", days=2), search(q="rust")]"#, &declared());
        assert_eq!(
            calls(&parsed),
            [
                ("get_weather".into(), json!({"city": "Paris", "days": 2})),
                ("search".into(), json!({"q": "rust"}))
            ]
        );
        assert!(PYTHONIC.parse("[unknown(a=1)]", &declared()).calls.is_empty());
    }
}
