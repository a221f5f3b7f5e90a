//! Constrained decoding: while sampling, every token that would break a grammar is masked out,
//! so a reply that must be JSON of a schema, or a call of a declared tool, always is. The
//! grammars are llguidance's (the engine llama.cpp and mistral.rs use), over the model's own
//! vocabulary.

use std::sync::Arc;

use anymodel_core::{Error, Result, ToolSpec};
use candle_core::{DType, Tensor};
use llguidance::api::TopLevelGrammar;
use llguidance::toktrie::{ApproximateTokEnv, TokEnv, TokRxInfo, TokTrie};
use llguidance::{Matcher, ParserFactory};
use serde_json::{Value, json};

use super::tool_calls::ToolCallFormat;

fn failed(what: &str, error: impl std::fmt::Display) -> Error {
    Error::Backend { message: format!("local model: {what}: {error}") }
}

/// What builds constraints for one model: its vocabulary as llguidance sees it. Built once per
/// model (it indexes every token's bytes).
pub(crate) struct Grammars {
    factory: Arc<ParserFactory>,
}

impl Grammars {
    /// The grammars of a model whose tokenizer is `tokenizer` and whose turn ends with
    /// `end_tokens` (the first is the one a finished grammar allows).
    pub(crate) fn new(tokenizer: &tokenizers::Tokenizer, end_tokens: &[u32]) -> Result<Self> {
        let json: Value = serde_json::from_str(
            &tokenizer.to_string(false).map_err(|e| failed("its tokenizer", e))?,
        )
        .map_err(|e| failed("its tokenizer", e))?;
        let words = llguidance::token_bytes_from_tokenizer_json(&json)
            .map_err(|e| failed("its vocabulary", e))?;
        let eos = end_tokens.first().copied().unwrap_or(0);
        let info = TokRxInfo::new(u32::try_from(words.len()).unwrap_or(u32::MAX), eos);
        let trie = TokTrie::from(&info, &words).with_eos_tokens(end_tokens);
        let env: TokEnv = Arc::new(ApproximateTokEnv::new(trie));
        let mut factory = ParserFactory::new_simple(&env).map_err(|e| failed("grammars", e))?;
        factory.set_stderr_log_level(0);
        Ok(Grammars { factory: Arc::new(factory) })
    }

    /// A reply that is JSON matching `schema`.
    pub(crate) fn json(&self, schema: &Value) -> Result<Constraint> {
        self.constraint(TopLevelGrammar::from_json_schema(compact(closed(schema.clone()))))
    }

    /// A reply that is one call of one of `tools` (or of `only`, when given), with arguments
    /// matching its schema, written as `format` writes calls. With `after_trigger`, the grammar
    /// starts after the format's [`trigger`] (the model has written it already).
    pub(crate) fn tool_call(
        &self,
        format: ToolCallFormat,
        tools: &[ToolSpec],
        only: Option<&str>,
        after_trigger: bool,
    ) -> Result<Constraint> {
        let arguments_key = match format {
            ToolCallFormat::Hermes => "arguments",
            ToolCallFormat::Llama3Json => "parameters",
            ToolCallFormat::Pythonic => {
                return Err(Error::Backend {
                    message: "local model: no call grammar for the pythonic format".into(),
                });
            }
        };
        let calls: Vec<Value> = tools
            .iter()
            .filter(|tool| only.is_none_or(|name| tool.name == name))
            .map(|tool| {
                json!({
                    "type": "object",
                    "properties": { "name": { "const": tool.name }, arguments_key: closed(tool.parameters.clone()) },
                    "required": ["name", arguments_key],
                    "additionalProperties": false
                })
            })
            .collect();
        let schema = compact(json!({ "anyOf": calls }));
        let grammar = match format {
            ToolCallFormat::Hermes => {
                let open = if after_trigger { "" } else { "\"<tool_call>\" " };
                TopLevelGrammar::from_lark(format!(
                    "start: {open}\"\\n\" call \"\\n</tool_call>\"\ncall: %json {schema}"
                ))
            }
            _ => TopLevelGrammar::from_json_schema(schema),
        };
        self.constraint(grammar)
    }

    fn constraint(&self, grammar: TopLevelGrammar) -> Result<Constraint> {
        let parser = self.factory.create_parser(grammar);
        let matcher = Matcher::new(parser);
        if let Some(error) = matcher.get_error() {
            return Err(Error::InvalidRequest {
                status: None,
                message: format!("the schema cannot be followed: {error}"),
            });
        }
        Ok(Constraint { matcher })
    }
}

/// The text with which a model of `format` starts a call of its own accord, after which
/// `tool_choice: auto` constrains the rest of the reply to a valid call.
pub(crate) fn trigger(format: ToolCallFormat) -> Option<&'static str> {
    match format {
        ToolCallFormat::Hermes => Some("<tool_call>"),
        ToolCallFormat::Llama3Json => Some("<|python_tag|>"),
        ToolCallFormat::Pythonic => None,
    }
}

/// `schema` with its objects closed where it leaves them open: only declared properties may be
/// written. Any such output still matches the schema, and a small model given room for more
/// properties invents them until the token limit cuts its JSON short.
fn closed(mut schema: Value) -> Value {
    fn close(node: &mut Value) {
        match node {
            Value::Object(object) => {
                if object.contains_key("properties") && !object.contains_key("additionalProperties")
                {
                    object.insert("additionalProperties".into(), Value::Bool(false));
                }
                for (key, value) in object.iter_mut() {
                    match (key.as_str(), value) {
                        // Maps of names to schemas: each value is a schema.
                        ("properties" | "$defs" | "definitions", Value::Object(map)) => {
                            map.values_mut().for_each(close);
                        }
                        // Data, not schemas.
                        ("const" | "enum" | "default" | "examples", _) => {}
                        (_, value) => close(value),
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(close),
            _ => {}
        }
    }
    close(&mut schema);
    schema
}

/// `schema` with llguidance told to write JSON compactly: one space after `:` and `,`, no free
/// whitespace a small model could loop in.
fn compact(mut schema: Value) -> Value {
    if let Some(object) = schema.as_object_mut() {
        object.insert(
            "x-guidance".into(),
            json!({ "whitespace_flexible": false, "item_separator": ", ", "key_separator": ": " }),
        );
    }
    schema
}

/// One generation's constraint: which tokens may come next.
pub(crate) struct Constraint {
    matcher: Matcher,
}

/// A constraint and when it starts: at once, or once the reply ends with a trigger.
pub(crate) struct Guide {
    /// The constraint.
    pub(crate) constraint: Constraint,
    /// The text after which it applies; `None` for the whole reply.
    pub(crate) trigger: Option<&'static str>,
}

impl Constraint {
    /// `logits` with every token the grammar forbids next set to minus infinity.
    pub(crate) fn mask(&mut self, logits: &Tensor) -> Result<Tensor> {
        let allowed = self.matcher.compute_mask().map_err(|e| failed("the constraint", e))?;
        let mut values: Vec<f32> = logits
            .to_dtype(DType::F32)
            .and_then(|l| l.flatten_all())
            .and_then(|l| l.to_vec1())
            .map_err(|e| failed("logits", e))?;
        for (token, value) in values.iter_mut().enumerate() {
            if token >= allowed.len() || !allowed.is_allowed(token as u32) {
                *value = f32::NEG_INFINITY;
            }
        }
        let len = values.len();
        Tensor::from_vec(values, len, logits.device()).map_err(|e| failed("logits", e))
    }

    /// Moves the grammar past `token`.
    pub(crate) fn consume(&mut self, token: u32) -> Result<()> {
        self.matcher.consume_token(token).map_err(|e| failed("the constraint", e))
    }

    /// Whether the grammar is complete and allows nothing more.
    pub(crate) fn is_done(&self) -> bool {
        self.matcher.is_stopped()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_objects_are_closed_and_the_rest_is_left_alone() {
        let schema = json!({
            "type": "object",
            "properties": {
                "properties": {"type": "object", "properties": {"x": {"type": "integer"}}},
                "free": {"type": "object", "properties": {}, "additionalProperties": true},
                "fixed": {"const": {"properties": 1}}
            },
            "$defs": {"P": {"type": "object", "properties": {"y": {"type": "string"}}}}
        });
        let closed = closed(schema);
        assert_eq!(closed["additionalProperties"], false);
        assert_eq!(closed["properties"]["properties"]["additionalProperties"], false);
        assert!(closed["properties"].get("additionalProperties").is_none());
        assert_eq!(closed["properties"]["free"]["additionalProperties"], true);
        assert_eq!(closed["properties"]["fixed"]["const"], json!({"properties": 1}));
        assert_eq!(closed["$defs"]["P"]["additionalProperties"], false);
    }
}
