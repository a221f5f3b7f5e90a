//! Model families: how each writes tool calls, and what follows from it for the rest of the
//! backend. One module per family, each a [`Family`]: how its chat templates are recognised,
//! the words that teach a model to call tools when its template drops them, the text that
//! starts a call, how a reply is parsed into calls, the syntax the call grammar enforces, and
//! the tokens that end a turn. Adding a family is one module here and one entry in [`ALL`].
//!
//! Nothing here depends on the rest of the crate: templates, the stream filter and the
//! constraint read the families, never the other way round.

mod calls;
mod hermes;
mod llama3;
mod python_calls;
mod pythonic;

use std::fmt;

pub(crate) use calls::ParsedReply;
pub use hermes::CHATML_TEMPLATE;
pub(crate) use hermes::HERMES;
pub(crate) use llama3::LLAMA3_JSON;
pub use llama3::LLAMA3_TEMPLATE;
pub(crate) use pythonic::PYTHONIC;

/// How a call is written around its JSON object, for the grammar that constrains it: `before`
/// (the family's call marker, written by the grammar unless the model wrote it), then `open`,
/// the object (`{"name": …, ARGUMENTS_KEY: {…}}`), then `close`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CallSyntax {
    /// The key the arguments go under.
    pub(crate) arguments_key: &'static str,
    /// The marker before a call.
    pub(crate) before: &'static str,
    /// What follows the marker, before the object.
    pub(crate) open: &'static str,
    /// What follows the object.
    pub(crate) close: &'static str,
}

/// The rules of one model family's tool calls.
pub(crate) trait Family: fmt::Debug + Send + Sync {
    /// Its name, for messages and tests.
    fn name(&self) -> &'static str;

    /// Whether a chat template (its source) is this family's, by the markers it writes.
    fn detects(&self, template: &str) -> bool;

    /// How to call tools, in the family's own words, around the tools' JSON `definitions`: for
    /// templates that drop the tools.
    fn instructions(&self, definitions: &[String]) -> String;

    /// The text that marks a call in the middle of a reply.
    fn marker(&self) -> &'static str;

    /// What a reply that is a call starts with, for families that call at the start of a
    /// reply without the marker (`{`, `[`); `None` when calls come only after the marker.
    fn opener(&self) -> Option<&'static str>;

    /// A whole reply split into text and calls of the `declared` tools.
    fn parse(&self, text: &str, declared: &[String]) -> ParsedReply;

    /// The syntax a call grammar enforces; `None` where there is no grammar for the family's
    /// calls (so tool choice cannot be forced).
    fn call_syntax(&self) -> Option<CallSyntax>;

    /// The tokens (by text) that end an assistant turn, beside the vocabulary's EOS.
    fn end_markers(&self) -> &'static [&'static str];

    /// The text with which a model starts a call of its own accord, after which `tool_choice:
    /// auto` constrains the rest of the reply to a valid call: the marker, where the family has
    /// a call grammar.
    fn trigger(&self) -> Option<&'static str> {
        self.call_syntax().map(|_| self.marker())
    }
}

/// Every family, in the order templates are tested against them; the last is the fallback.
pub(crate) const ALL: [&dyn Family; 3] = [PYTHONIC, LLAMA3_JSON, HERMES];

/// The family of a chat template (Hermes when none other recognises it).
pub(crate) fn of_template(source: &str) -> &'static dyn Family {
    ALL.into_iter().find(|family| family.detects(source)).unwrap_or(HERMES)
}

/// The built-in template for a file that carries none: Llama 3's when the vocabulary has its
/// header tokens, else ChatML.
pub(crate) fn builtin_template(has_token: impl Fn(&str) -> bool) -> &'static str {
    if has_token(llama3::HEADER) { LLAMA3_TEMPLATE } else { CHATML_TEMPLATE }
}

/// What the parsing tests of the families and the stream filter share: the tools they declare,
/// and calls as (name, arguments) pairs.
#[cfg(test)]
pub(crate) mod testing {
    use serde_json::Value;

    use super::ParsedReply;

    /// The tools the tests declare.
    pub(crate) fn declared() -> Vec<String> {
        vec!["get_weather".into(), "search".into()]
    }

    /// The calls of `parsed`, by name and arguments.
    pub(crate) fn calls(parsed: &ParsedReply) -> Vec<(String, Value)> {
        parsed.calls.iter().map(|c| (c.name.clone(), c.arguments.clone())).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_find_their_family() {
        assert_eq!(of_template(LLAMA3_TEMPLATE).name(), "llama3-json");
        assert_eq!(of_template(CHATML_TEMPLATE).name(), "hermes");
        let llama32 = "<|start_header_id|>… [func_name1(params_name1=params_value1)]";
        assert_eq!(of_template(llama32).name(), "llama3.2-pythonic");
        assert_eq!(of_template("{{ messages }}").name(), "hermes");
        assert_eq!(builtin_template(|token| token == "<|start_header_id|>"), LLAMA3_TEMPLATE);
        assert_eq!(PYTHONIC.trigger(), None, "no call grammar, so no trigger");
        assert_eq!(HERMES.trigger(), Some("<tool_call>"));
    }

    mod properties {
        use proptest::prelude::*;

        use super::super::ALL;
        use crate::tool_calls::ToolCallFilter;

        /// Replies made of the pieces calls are made of (markers, brackets, braces, quotes,
        /// names) with arbitrary text between, so that near-calls come up often.
        fn reply() -> impl Strategy<Value = String> {
            let piece = prop_oneof![
                Just("<tool_call>".to_string()),
                Just("</tool_call>".to_string()),
                Just("<|python_tag|>".to_string()),
                Just("{\"name\": \"get_weather\", \"arguments\": ".to_string()),
                Just("{\"name\": \"search\", \"parameters\": {}}".to_string()),
                Just("get_weather(city=".to_string()),
                Just("[".to_string()),
                Just("]".to_string()),
                Just("(".to_string()),
                Just(")".to_string()),
                Just("{".to_string()),
                Just("}".to_string()),
                Just("\"".to_string()),
                Just("```json\n".to_string()),
                "[a-z0-9 ,=:]{0,12}",
                any::<String>(),
            ];
            prop::collection::vec(piece, 0..40).prop_map(|pieces| pieces.concat())
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(1024))]

            /// No reply makes a parser panic, and only declared tools become calls, whole or
            /// streamed in any pieces.
            #[test]
            fn any_reply_parses_to_declared_calls_or_text(text in reply(), size in 1usize..16) {
                let declared = super::super::testing::declared();
                for family in ALL {
                    let whole = family.parse(&text, &declared);
                    prop_assert!(whole.calls.iter().all(|c| declared.contains(&c.name)));
                    let mut filter = ToolCallFilter::new(family, declared.clone());
                    let chars: Vec<char> = text.chars().collect();
                    for piece in chars.chunks(size) {
                        filter.push(&piece.iter().collect::<String>());
                    }
                    let streamed = filter.finish();
                    prop_assert!(streamed.calls.iter().all(|c| declared.contains(&c.name)));
                }
            }

            /// Deeply nested brackets are refused, not a stack overflow.
            #[test]
            fn deep_nesting_does_not_overflow(depth in 1usize..20_000, open in "[\\[({]") {
                let text = format!("[get_weather(city={}", open.repeat(depth));
                for family in ALL {
                    let _ = family.parse(&text, &["get_weather".to_string()]);
                }
            }
        }
    }
}
