//! Constrained decoding: while sampling, every token that would break a grammar is masked out,
//! so a reply that must be JSON of a schema, or a call of a declared tool, always is. The
//! grammars are llguidance's (the engine llama.cpp and mistral.rs use), over the model's own
//! vocabulary.
//!
//! A grammar alone guarantees a valid *prefix*; the token budget can still cut the reply. So a
//! [`Guide`] also keeps the budget: it knows the shortest way to finish what has been written
//! (`close`), and admits a token only if that way, after it, still fits in the tokens left;
//! otherwise it writes the close itself. Strings the schema leaves unbounded get a length that
//! fits the budget (`rewrite`), and a reply that starts repeating itself has its innermost
//! repeating part closed. The mechanism is a wrapper around llguidance rather than
//! llguidance's own limits: its `max_tokens` works per lexeme (a string, a number), not for
//! the reply, and knows nothing of what the rest of the structure still needs. Every close is
//! checked against the grammar (`validate_tokens`, ending with the end-of-turn token, which
//! only a complete reply accepts) before it is counted on.

mod close;
mod pattern;
mod rewrite;

use std::collections::VecDeque;
use std::sync::Arc;

use anymodel_core::{Error, Result, ToolSpec};
use candle_core::{DType, Tensor};
use llguidance::api::TopLevelGrammar;
use llguidance::toktrie::{ApproximateTokEnv, TokEnv, TokRxInfo, TokTrie};
use llguidance::{Matcher, ParserFactory};
use serde_json::{Value, json};

use self::close::{Piece, Shape};
use super::loops::CONSTRAINED;
use crate::family::Family;

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

    /// A reply that is JSON matching `schema`, in `budget` tokens.
    pub(crate) fn json(&self, schema: &Value, budget: usize) -> Result<Guide> {
        let schema = rewrite::compact(rewrite::prepare(schema.clone(), budget));
        let shape = Shape::new("", schema.clone(), "");
        self.guide(TopLevelGrammar::from_json_schema(schema), shape, None)
    }

    /// A reply that is one call of one of `tools` (or of `only`, when given), with arguments
    /// matching its schema, written as `family` writes calls, in `budget` tokens. With
    /// `trigger`, the grammar starts after the family's trigger (once the model has written it
    /// of its own accord).
    pub(crate) fn tool_call(
        &self,
        family: &dyn Family,
        tools: &[ToolSpec],
        only: Option<&str>,
        trigger: Option<&'static str>,
        budget: usize,
    ) -> Result<Guide> {
        let Some(syntax) = family.call_syntax() else {
            return Err(Error::Backend {
                message: format!("local model: no call grammar for the {} family", family.name()),
            });
        };
        let arguments_key = syntax.arguments_key;
        let calls: Vec<Value> = tools
            .iter()
            .filter(|tool| only.is_none_or(|name| tool.name == name))
            .map(|tool| {
                json!({
                    "type": "object",
                    "properties": { "name": { "const": tool.name }, arguments_key: tool.parameters },
                    "required": ["name", arguments_key],
                    "additionalProperties": false
                })
            })
            .collect();
        let schema = rewrite::compact(rewrite::prepare(json!({ "anyOf": calls }), budget));
        // The marker is the grammar's to write unless the model has written it.
        let before = if trigger.is_some() { "" } else { syntax.before };
        if [before, syntax.open, syntax.close].iter().all(|s| s.is_empty()) {
            let grammar = TopLevelGrammar::from_json_schema(schema.clone());
            return self.guide(grammar, Shape::new("", schema, ""), trigger);
        }
        let literal = |text: &str| match text {
            "" => String::new(),
            text => format!("{} ", Value::from(text)),
        };
        let grammar = TopLevelGrammar::from_lark(format!(
            "start: {}{}call {}\ncall: %json {schema}",
            literal(before),
            literal(syntax.open),
            literal(syntax.close).trim_end(),
        ));
        let shape = Shape::new(&format!("{before}{}", syntax.open), schema, syntax.close);
        self.guide(grammar, shape, trigger)
    }

    fn guide(
        &self,
        grammar: TopLevelGrammar,
        shape: Shape,
        trigger: Option<&'static str>,
    ) -> Result<Guide> {
        let parser = self.factory.create_parser(grammar);
        let matcher = Matcher::new(parser);
        if let Some(error) = matcher.get_error() {
            return Err(Error::InvalidRequest {
                status: None,
                message: format!("the schema cannot be followed: {error}"),
            });
        }
        Ok(Guide {
            matcher,
            env: self.factory.tok_env().clone(),
            trigger,
            shape,
            text: Vec::new(),
            tokens: Vec::new(),
            starts: Vec::new(),
            close: None,
            forced: VecDeque::new(),
            closing: false,
        })
    }
}

/// A close the grammar accepts: its pieces, and the tokens that write them.
#[derive(Debug, Clone)]
struct Found {
    pieces: Vec<Piece>,
    tokens: Vec<u32>,
}

/// When no close is known after a token (a part of JSON Schema the closes do not model), the
/// token is still taken while the tokens left exceed the last known close by this many.
const UNKNOWN_MARGIN: usize = 16;

/// One generation's constraint: which tokens may come next, and the budget's word on them.
pub(crate) struct Guide {
    matcher: Matcher,
    env: TokEnv,
    /// The text after which it applies; `None` for the whole reply.
    pub(crate) trigger: Option<&'static str>,
    shape: Shape,
    /// The bytes the grammar has taken.
    text: Vec<u8>,
    /// The tokens it has taken.
    tokens: Vec<u32>,
    /// Where each of them starts in `text`.
    starts: Vec<usize>,
    /// The shortest known close of `text` that the grammar accepts.
    close: Option<Found>,
    /// Tokens the guide writes next instead of the model.
    forced: VecDeque<u32>,
    /// Whether `forced` holds the close that ends the reply.
    closing: bool,
}

impl Guide {
    /// How many tokens the shortest valid reply from here takes: from the start before a
    /// generation, or from the trigger once the model has written it. `None` when the schema
    /// uses what the closes do not model.
    pub(crate) fn needed(&mut self) -> Option<usize> {
        if self.close.is_none() {
            self.close = self.found(None);
        }
        self.close.as_ref().map(|found| found.tokens.len())
    }

    /// A token the guide writes next itself, instead of sampling one.
    pub(crate) fn forced(&mut self) -> Option<u32> {
        self.forced.pop_front()
    }

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

    /// Takes `proposed` (sampled, or forced) as the next token when the reply can still be
    /// finished validly in the `left - 1` tokens after it, and returns it; otherwise starts
    /// writing the shortest close of the reply so far (which fits in `left`) and returns its
    /// first token. Either way the grammar moves past the returned token.
    pub(crate) fn admit(&mut self, proposed: u32, left: usize) -> Result<u32> {
        if self.closing {
            self.take(proposed)?;
            return Ok(proposed);
        }
        if self.close.is_none() {
            self.needed();
        }
        let after = self.found(Some(proposed));
        let take = match (&after, &self.close) {
            (Some(found), _) => found.tokens.len() < left,
            (None, Some(known)) => known.tokens.len() + UNKNOWN_MARGIN < left,
            (None, None) => true,
        };
        if !take && let Some(known) = self.close.take() {
            self.forced = known.tokens.into();
            self.closing = true;
            let first = self.forced.pop_front().ok_or_else(|| failed("the close", "empty"))?;
            self.take(first)?;
            return Ok(first);
        }
        self.take(proposed)?;
        self.close = after;
        if self.forced.is_empty() {
            self.break_loop();
        }
        Ok(proposed)
    }

    /// Whether the reply is complete and nothing more may follow.
    pub(crate) fn is_done(&self) -> bool {
        self.matcher.is_stopped() || (self.closing && self.forced.is_empty())
    }

    /// Moves the grammar past `token`.
    fn take(&mut self, token: u32) -> Result<()> {
        self.matcher.consume_token(token).map_err(|e| failed("the constraint", e))?;
        self.tokens.push(token);
        self.starts.push(self.text.len());
        self.text.extend_from_slice(self.env.tok_trie().token(token));
        Ok(())
    }

    /// The shortest close the grammar accepts of the text so far, followed by `token` when
    /// given: tried shortest first, each written as the vocabulary's longest tokens and checked
    /// to the end of the turn.
    fn found(&mut self, token: Option<u32>) -> Option<Found> {
        let trie = self.env.tok_trie();
        let mut text = self.text.clone();
        if let Some(token) = token {
            let bytes = trie.token(token);
            if bytes.first() == Some(&TokTrie::SPECIAL_TOKEN_MARKER) {
                return None;
            }
            text.extend_from_slice(bytes);
        }
        for pieces in self.shape.closes(&text) {
            let bytes: Vec<u8> = pieces.iter().flat_map(|p| p.text.iter().copied()).collect();
            let tokens = trie.greedy_tokenize(&bytes);
            if trie.decode_raw(&tokens) != bytes {
                continue;
            }
            let checked: Vec<u32> =
                token.into_iter().chain(tokens.iter().copied()).chain([trie.eos_token()]).collect();
            if self.matcher.validate_tokens(&checked).ok() == Some(checked.len()) {
                return Some(Found { pieces, tokens });
            }
        }
        None
    }

    /// When the tokens taken end in a loop, has the guide close the innermost open part that
    /// began before the loop did (a string, an array), or the whole reply.
    fn break_loop(&mut self) {
        let (Some(first), Some(found)) = (CONSTRAINED.start(&self.tokens), &self.close) else {
            return;
        };
        let start = self.starts[first];
        let mut bytes = Vec::new();
        for (index, piece) in found.pieces.iter().enumerate() {
            bytes.extend_from_slice(&piece.text);
            if piece.start < start && !bytes.is_empty() {
                if index + 1 == found.pieces.len() {
                    // The whole reply is in the loop: close it.
                    self.forced = found.tokens.clone().into();
                    self.closing = true;
                    self.close = None;
                } else {
                    self.forced = self.env.tok_trie().greedy_tokenize(&bytes).into();
                }
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::family::{HERMES, LLAMA3_JSON};

    /// Llama 3's end of turn.
    const EOT: u32 = 128_009;

    fn grammars() -> Grammars {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../models/llama3.2/tokenizer.json");
        let tokenizer = tokenizers::Tokenizer::from_file(path)
            .unwrap_or_else(|e| panic!("{path}: {e} (run scripts/fetch-model.sh)"));
        Grammars::new(&tokenizer, &[EOT]).unwrap()
    }

    /// Writes a reply of at most `budget` tokens through `guide`, as an adversarial model would:
    /// a random token the grammar allows at each step (short ones more often, so that structure
    /// gets written, not only long strings). Returns the text and the tokens written.
    fn write(guide: &mut Guide, budget: usize, rng: &mut fastrand::Rng) -> (String, usize) {
        let mut written = 0;
        while !guide.is_done() && written < budget {
            let token = match guide.forced() {
                Some(token) => token,
                None => {
                    let allowed = guide.matcher.compute_mask().unwrap().to_list();
                    let trie = guide.env.tok_trie();
                    let short: Vec<u32> =
                        allowed.iter().copied().filter(|&t| trie.token_len(t) <= 2).collect();
                    let pool = if !short.is_empty() && rng.bool() { &short } else { &allowed };
                    let token = pool[rng.usize(..pool.len())];
                    if token == EOT {
                        break;
                    }
                    token
                }
            };
            guide.admit(token, budget - written).unwrap();
            written += 1;
        }
        let complete = guide.is_done() || guide.matcher.validate_tokens(&[EOT]).unwrap() == 1;
        assert!(complete, "not complete: {}", String::from_utf8_lossy(&guide.text));
        (String::from_utf8(guide.text.clone()).unwrap(), written)
    }

    /// Schemas of each kind the closes model. Numbers are bounded where a random writer would
    /// otherwise reach exponents past what a 64-bit float (and so `serde_json`) reads, which the
    /// grammar allows.
    fn schemas() -> Vec<Value> {
        vec![
            json!({"type": "object", "properties": {
                "city": {"type": "string"}, "country": {"type": "string"},
                "population": {"type": "integer"}, "coastal": {"type": "boolean"}},
                "required": ["city", "country", "population", "coastal"]}),
            json!({"type": "object", "properties": {
                "name": {"type": "string"},
                "kind": {"enum": ["person", "place", "thing"]},
                "address": {"type": "object", "properties": {
                    "street": {"type": "string"},
                    "zip": {"type": "integer", "minimum": 10000, "maximum": 99999}},
                    "required": ["street", "zip"]},
                "tags": {"type": "array", "items": {"type": "string", "maxLength": 12}, "minItems": 1, "maxItems": 4},
                "score": {"type": "number", "minimum": 0.5, "maximum": 1},
                "note": {"type": ["string", "null"]},
                "age": {"type": "integer", "format": "uint8", "minimum": 0, "maximum": 255}},
                "required": ["name", "kind", "address", "tags", "score"]}),
            json!({"$defs": {"Unit": {"type": "string", "enum": ["c", "f"]}},
                "type": "object", "properties": {"unit": {"$ref": "#/$defs/Unit"}, "values": {"type": "array", "items": {"type": "number", "maximum": 1e6}}},
                "required": ["unit", "values"]}),
            json!({"type": "object"}),
            json!({"type": "object", "properties": {
                "amount": {"type": "number", "minimum": -1e9, "maximum": 1e9},
                "from": {"type": "string", "pattern": "^[A-Z]{3}$"},
                "code": {"type": "string", "pattern": "[0-9]{2}-[a-z]", "minLength": 6}},
                "required": ["amount", "from", "code"]}),
        ]
    }

    /// The guarantee itself: whatever the model proposes, within any budget at least as large
    /// as the shortest valid reply, the reply ends complete and valid.
    #[test]
    fn random_replies_end_valid_within_every_budget() {
        let grammars = grammars();
        let mut rng = fastrand::Rng::with_seed(7);
        for schema in schemas() {
            let validator = jsonschema::validator_for(&schema).unwrap();
            for round in
                0..(std::env::var("ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(12))
            {
                let extra = [0, 1, 3, 8, 20, 60][round % 6];
                let budget = 10_000;
                let mut guide = grammars.json(&schema, budget).unwrap();
                let needed = guide.needed().unwrap_or_else(|| panic!("no close for {schema}"));
                let budget = needed + extra;
                let mut guide = grammars.json(&schema, budget).unwrap();
                let (text, written) = write(&mut guide, budget, &mut rng);
                assert!(written <= budget);
                let value: Value = serde_json::from_str(&text)
                    .unwrap_or_else(|e| panic!("{e}: {text} for {schema}"));
                assert!(validator.is_valid(&value), "{text} for {schema}");
                if std::env::var_os("SHOW").is_some() {
                    eprintln!("{budget} {written}: {text}");
                }
            }
        }
    }

    #[test]
    fn random_tool_calls_end_valid_within_every_budget() {
        let grammars = grammars();
        let tools = [
            ToolSpec {
                name: "get_weather".into(),
                description: String::new(),
                parameters: json!({"type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer", "minimum": 1, "maximum": 7}}, "required": ["city"]}),
            },
            ToolSpec {
                name: "search".into(),
                description: String::new(),
                parameters: json!({"type": "object", "properties": {"query": {"type": "string"}, "k": {"type": "integer"}}, "required": ["query", "k"]}),
            },
        ];
        let mut rng = fastrand::Rng::with_seed(11);
        let formats = [
            (HERMES, None, "<tool_call>\n", "\n</tool_call>"),
            (HERMES, Some("<tool_call>"), "\n", "\n</tool_call>"),
            (LLAMA3_JSON, None, "", ""),
        ];
        for (family, trigger, prefix, suffix) in formats {
            for round in
                0..(std::env::var("ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(10))
            {
                let mut guide = grammars.tool_call(family, &tools, None, trigger, 1000).unwrap();
                let budget = guide.needed().unwrap() + [0, 2, 5, 12, 40][round % 5];
                let mut guide = grammars.tool_call(family, &tools, None, trigger, budget).unwrap();
                let (text, _) = write(&mut guide, budget, &mut rng);
                let json = text.strip_prefix(prefix).and_then(|t| t.strip_suffix(suffix));
                let call: Value = serde_json::from_str(json.unwrap_or_else(|| panic!("{text}")))
                    .unwrap_or_else(|e| panic!("{e}: {text}"));
                let key = family.call_syntax().unwrap().arguments_key;
                let tool = tools.iter().find(|t| call["name"] == t.name.as_str()).unwrap();
                assert!(jsonschema::is_valid(&tool.parameters, &call[key]), "{text}");
            }
        }
    }

    #[test]
    fn a_budget_too_small_is_known_before_anything_is_written() {
        let grammars = grammars();
        let schema = &schemas()[0];
        let needed = grammars.json(schema, 5).unwrap().needed().unwrap();
        // {"city": "", "country": "", "population": 0, "coastal": false}
        assert!((10..30).contains(&needed), "{needed}");
        let unmodelled = json!({"type": "string", "format": "date"});
        assert_eq!(grammars.json(&unmodelled, 50).unwrap().needed(), None);
    }
}
