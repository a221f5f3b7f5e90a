//! The shortest ways to finish a constrained reply that has been started: what the budget
//! forces when the tokens left come close to what the open structure needs.
//!
//! A constrained reply is a literal, a JSON value of a schema, and a literal (a tool call's
//! `<tool_call>\n` … `\n</tool_call>`, or nothing around plain JSON). Its text so far is parsed
//! as partial JSON (written compactly, as the grammar writes it: `": "` and `", "` between
//! parts, no other whitespace) and walked beside the schema: each open part (string, number,
//! array, object) is finished with the least it still needs (the rest of an escape or of a
//! character, padding up to `minLength`, the required properties not yet written with the
//! smallest values their schemas allow, items up to `minItems`) and closed.
//!
//! This is a model of what llguidance's grammar allows, not the grammar itself: every close is
//! checked against the grammar before it is trusted (see [`super::Guide`]), so a part of JSON
//! Schema modelled here too loosely costs only the guarantee, never a malformed reply. Parts
//! not modelled at all (`format`, `patternProperties`, `allOf` of several schemas, `multipleOf`
//! on fractions, patterns the lazy DFA cannot run) give no close.

use serde_json::{Map, Value};

use super::pattern::Patterns;

/// How deep schemas and JSON are followed (references included).
const MAX_DEPTH: usize = 32;
/// How many closes, shortest first, are kept at each level.
const MAX_CLOSES: usize = 4;
/// The most characters or items a close pads with to reach a `minLength` or `minItems`.
const MAX_PADDING: u64 = 4096;
/// The schema that allows anything.
const ANY: Value = Value::Bool(true);

/// The text that finishes one open part of a reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Piece {
    /// The bytes to write.
    pub(crate) text: Vec<u8>,
    /// Where the part they finish began, in bytes of the reply.
    pub(crate) start: usize,
}

/// One way to finish a reply: its pieces, innermost part first. Writing the first `k` pieces
/// finishes the `k` innermost open parts and leaves the rest open.
pub(crate) type Close = Vec<Piece>;

/// The shape of a constrained reply: a literal, a JSON value of a schema, a literal.
#[derive(Debug, Clone)]
pub(crate) struct Shape {
    prefix: String,
    schema: Value,
    suffix: String,
    patterns: Patterns,
}

/// Where a part that is finished inside its parent's piece begins: nowhere of its own.
const NO_PART: usize = usize::MAX;

impl Shape {
    /// A reply of `prefix`, then JSON matching `schema` (as given to the grammar), then `suffix`.
    pub(crate) fn new(prefix: &str, schema: Value, suffix: &str) -> Self {
        Shape {
            prefix: prefix.into(),
            schema,
            suffix: suffix.into(),
            patterns: Patterns::default(),
        }
    }

    /// The shortest ways to finish a reply whose text so far is `text`, shortest first; none
    /// when the text does not fit this shape or the schema uses what is not modelled here.
    pub(crate) fn closes(&self, text: &[u8]) -> Vec<Close> {
        let walker = Walker { root: &self.schema, patterns: &self.patterns };
        let prefix = self.prefix.as_bytes();
        let suffix = self.suffix.as_bytes();
        if text.len() < prefix.len() {
            if !prefix.starts_with(text) {
                return Vec::new();
            }
            let Some(value) = walker.minimal_of(&self.schema, 0) else { return Vec::new() };
            let text = [&prefix[text.len()..], &value, suffix].concat();
            return vec![vec![Piece { text, start: 0 }]];
        }
        let Some(json) = text.strip_prefix(prefix) else { return Vec::new() };
        let mut parser = Parser { text: json, at: 0, base: prefix.len() };
        match parser.value(0) {
            None => Vec::new(),
            Some(Node::Done(_)) => {
                // The value is whole; what follows is the suffix, or the start of it.
                let after = &json[parser.at..];
                match suffix.strip_prefix(after) {
                    Some(rest) => vec![vec![Piece { text: rest.to_vec(), start: 0 }]],
                    None => Vec::new(),
                }
            }
            Some(node) => walker
                .complete(&self.schema, &node, 0)
                .into_iter()
                .map(|close| outer(close, 0, suffix))
                .collect(),
        }
    }
}

/// `close` with the text that finishes the part begun at `start` after it: in the innermost
/// piece when that finished a value with no part of its own.
fn outer(mut close: Close, start: usize, text: &[u8]) -> Close {
    match close.last_mut() {
        Some(last) if last.start == NO_PART => {
            last.text.extend_from_slice(text);
            last.start = start;
        }
        _ => close.push(Piece { text: text.to_vec(), start }),
    }
    close
}

/// A close of one piece: the text that finishes a part begun at `start`.
fn single(start: usize, text: Vec<u8>) -> Close {
    vec![Piece { text, start }]
}

/// The shortest of `closes`, without repeats, at most [`MAX_CLOSES`].
fn shortest(mut closes: Vec<Close>) -> Vec<Close> {
    let length = |close: &Close| close.iter().map(|p| p.text.len()).sum::<usize>();
    closes.sort_by_key(length);
    closes.dedup();
    closes.truncate(MAX_CLOSES);
    closes
}

/// A value of a reply as far as it is written.
#[derive(Debug, Clone, PartialEq)]
enum Node {
    /// Nothing of it yet.
    Empty,
    /// Whole.
    Done(Value),
    /// A string: the bytes after its opening quote, escapes as written.
    Str { start: usize, raw: Vec<u8> },
    /// A number at the end of the text (more digits may follow).
    Num { start: usize, text: String },
    /// The start of `true`, `false` or `null`.
    Lit { start: usize, text: String },
    /// An object: its whole entries, then where it is.
    Obj { start: usize, entries: Vec<(String, Value)>, at: ObjectAt },
    /// An array: its whole items, then where it is.
    Arr { start: usize, items: Vec<Value>, at: ArrayAt },
}

/// Where the text ends inside an object.
#[derive(Debug, Clone, PartialEq)]
enum ObjectAt {
    /// After `{`, or after `, `.
    Open,
    /// After `,`, before its space.
    Comma,
    /// Inside a key: the bytes after its quote.
    Key(Vec<u8>),
    /// After a key, before `:`.
    Colon(String),
    /// After a key's `:`, before its space.
    Space(String),
    /// In the key's value (possibly not begun).
    Value(String, Box<Node>),
    /// After a whole entry.
    Next,
}

/// Where the text ends inside an array.
#[derive(Debug, Clone, PartialEq)]
enum ArrayAt {
    /// After `[`, or after `, `.
    Open,
    /// After `,`, before its space.
    Comma,
    /// In an item.
    Item(Box<Node>),
    /// After a whole item.
    Next,
}

/// Reads compact JSON that may stop anywhere.
struct Parser<'t> {
    text: &'t [u8],
    at: usize,
    /// Where the text starts in the reply.
    base: usize,
}

impl Parser<'_> {
    fn at_end(&self) -> bool {
        self.at >= self.text.len()
    }

    fn eat(&mut self, byte: u8) -> Option<()> {
        (self.text.get(self.at) == Some(&byte)).then(|| self.at += 1)
    }

    /// The value from here; `None` when the text is not JSON written compactly.
    fn value(&mut self, depth: usize) -> Option<Node> {
        if depth > MAX_DEPTH {
            return None;
        }
        let start = self.base + self.at;
        let Some(&byte) = self.text.get(self.at) else { return Some(Node::Empty) };
        match byte {
            b'{' => {
                self.at += 1;
                self.object(start, depth)
            }
            b'[' => {
                self.at += 1;
                self.array(start, depth)
            }
            b'"' => {
                self.at += 1;
                Some(match self.string()? {
                    Ok(text) => Node::Done(Value::String(text)),
                    Err(raw) => Node::Str { start, raw },
                })
            }
            b'-' | b'0'..=b'9' => {
                let from = self.at;
                while self.text.get(self.at).is_some_and(|b| b"0123456789+-.eE".contains(b)) {
                    self.at += 1;
                }
                let text = std::str::from_utf8(&self.text[from..self.at]).ok()?;
                if self.at_end() {
                    Some(Node::Num { start, text: text.into() })
                } else {
                    serde_json::from_str(text).ok().map(Node::Done)
                }
            }
            b't' | b'f' | b'n' => {
                let from = self.at;
                while self.text.get(self.at).is_some_and(u8::is_ascii_lowercase) {
                    self.at += 1;
                }
                let text = std::str::from_utf8(&self.text[from..self.at]).ok()?;
                match text {
                    "true" => Some(Node::Done(Value::Bool(true))),
                    "false" => Some(Node::Done(Value::Bool(false))),
                    "null" => Some(Node::Done(Value::Null)),
                    _ if self.at_end() => Some(Node::Lit { start, text: text.into() }),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    /// A string after its opening quote: its text when it is closed, the bytes written when the
    /// text ends inside it.
    fn string(&mut self) -> Option<Result<String, Vec<u8>>> {
        let from = self.at;
        while let Some(&byte) = self.text.get(self.at) {
            match byte {
                b'\\' => self.at += 2,
                b'"' => {
                    self.at += 1;
                    return serde_json::from_slice(&self.text[from - 1..self.at]).ok().map(Ok);
                }
                _ => self.at += 1,
            }
        }
        self.at = self.text.len();
        Some(Err(self.text[from..].to_vec()))
    }

    fn object(&mut self, start: usize, depth: usize) -> Option<Node> {
        let mut entries: Vec<(String, Value)> = Vec::new();
        let open = |entries, at| Some(Node::Obj { start, entries, at });
        loop {
            if self.at_end() {
                return open(entries, ObjectAt::Open);
            }
            if entries.is_empty() && self.eat(b'}').is_some() {
                return Some(Node::Done(Value::Object(Map::new())));
            }
            self.eat(b'"')?;
            let key = match self.string()? {
                Ok(key) => key,
                Err(raw) => return open(entries, ObjectAt::Key(raw)),
            };
            if self.at_end() {
                return open(entries, ObjectAt::Colon(key));
            }
            self.eat(b':')?;
            if self.at_end() {
                return open(entries, ObjectAt::Space(key));
            }
            self.eat(b' ')?;
            match self.value(depth + 1)? {
                Node::Done(value) => entries.push((key, value)),
                partial => return open(entries, ObjectAt::Value(key, Box::new(partial))),
            }
            if self.at_end() {
                return open(entries, ObjectAt::Next);
            }
            if self.eat(b'}').is_some() {
                return Some(Node::Done(Value::Object(entries.into_iter().collect())));
            }
            self.eat(b',')?;
            if self.at_end() {
                return open(entries, ObjectAt::Comma);
            }
            self.eat(b' ')?;
        }
    }

    fn array(&mut self, start: usize, depth: usize) -> Option<Node> {
        let mut items = Vec::new();
        let open = |items, at| Some(Node::Arr { start, items, at });
        loop {
            if self.at_end() {
                return open(items, ArrayAt::Open);
            }
            if items.is_empty() && self.eat(b']').is_some() {
                return Some(Node::Done(Value::Array(Vec::new())));
            }
            match self.value(depth + 1)? {
                Node::Done(value) => items.push(value),
                partial => return open(items, ArrayAt::Item(Box::new(partial))),
            }
            if self.at_end() {
                return open(items, ArrayAt::Next);
            }
            if self.eat(b']').is_some() {
                return Some(Node::Done(Value::Array(items)));
            }
            self.eat(b',')?;
            if self.at_end() {
                return open(items, ArrayAt::Comma);
            }
            self.eat(b' ')?;
        }
    }
}

/// What a (sub)schema allows, one kind of value at a time.
#[derive(Debug, Clone, Copy)]
enum Kind<'s> {
    Null,
    Bool,
    Int,
    Num,
    Str,
    Arr,
    Obj,
    Any,
    Const(&'s Value),
    Enum(&'s [Value]),
}

/// One kind of value a schema allows, with the schema's keywords for it.
#[derive(Debug, Clone, Copy)]
struct Branch<'s> {
    kind: Kind<'s>,
    schema: &'s Value,
}

impl<'s> Branch<'s> {
    fn keyword(&self, name: &str) -> Option<&'s Value> {
        self.schema.get(name)
    }

    fn count(&self, name: &str) -> Option<u64> {
        self.keyword(name).and_then(Value::as_u64)
    }
}

/// The range of numbers a schema allows: bounds and whether each is included.
#[derive(Debug, Clone, Copy)]
struct Range {
    low: f64,
    low_in: bool,
    high: f64,
    high_in: bool,
}

impl Range {
    fn of(schema: &Value) -> Range {
        // Draft 6 and later give exclusive bounds as numbers; draft 4 as flags on the others.
        let bound = |plain: &str, exclusive: &str, unbounded: f64| {
            let given = schema.get(plain).and_then(Value::as_f64);
            match schema.get(exclusive) {
                Some(Value::Number(n)) => (n.as_f64().unwrap_or(unbounded), false),
                Some(Value::Bool(true)) => (given.unwrap_or(unbounded), false),
                _ => (given.unwrap_or(unbounded), true),
            }
        };
        let (low, low_in) = bound("minimum", "exclusiveMinimum", f64::NEG_INFINITY);
        let (high, high_in) = bound("maximum", "exclusiveMaximum", f64::INFINITY);
        Range { low, low_in, high, high_in }
    }

    fn holds(&self, x: f64) -> bool {
        let above = if self.low_in { x >= self.low } else { x > self.low };
        let below = if self.high_in { x <= self.high } else { x < self.high };
        above && below
    }

    /// The integers it holds, as closed bounds (within ±10^20, past which no close goes).
    fn integers(&self) -> (i128, i128) {
        const FAR: f64 = 1e20;
        let low = if self.low.is_finite() {
            let up = self.low.ceil();
            if up == self.low && !self.low_in { up + 1.0 } else { up }
        } else {
            -FAR
        };
        let high = if self.high.is_finite() {
            let down = self.high.floor();
            if down == self.high && !self.high_in { down - 1.0 } else { down }
        } else {
            FAR
        };
        (low.clamp(-FAR, FAR) as i128, high.clamp(-FAR, FAR) as i128)
    }
}

/// Walks a schema beside the reply.
struct Walker<'s> {
    root: &'s Value,
    patterns: &'s Patterns,
}

impl<'s> Walker<'s> {
    /// `schema` with its `$ref`s followed (local ones: `#`, `#/$defs/…`, `#/definitions/…`).
    fn resolve(&self, mut schema: &'s Value) -> Option<&'s Value> {
        for _ in 0..MAX_DEPTH {
            let Some(reference) = schema.get("$ref").and_then(Value::as_str) else {
                return Some(schema);
            };
            schema = match reference {
                "#" => self.root,
                _ => self.root.pointer(reference.strip_prefix('#')?)?,
            };
        }
        None
    }

    /// The kinds of value `schema` allows.
    fn branches(&self, schema: &'s Value, depth: usize) -> Vec<Branch<'s>> {
        if depth > MAX_DEPTH {
            return Vec::new();
        }
        let Some(schema) = self.resolve(schema) else { return Vec::new() };
        let object = match schema {
            Value::Bool(true) => return vec![Branch { kind: Kind::Any, schema }],
            Value::Object(object) => object,
            _ => return Vec::new(),
        };
        if let Some(options) = object.get("anyOf").or_else(|| object.get("oneOf")) {
            let options = options.as_array().map(Vec::as_slice).unwrap_or_default();
            return options.iter().flat_map(|o| self.branches(o, depth + 1)).collect();
        }
        if let Some(all) = object.get("allOf") {
            return match all.as_array().map(Vec::as_slice) {
                Some([only]) => self.branches(only, depth + 1),
                _ => Vec::new(),
            };
        }
        if let Some(value) = object.get("const") {
            return vec![Branch { kind: Kind::Const(value), schema }];
        }
        if let Some(values) = object.get("enum").and_then(Value::as_array) {
            return vec![Branch { kind: Kind::Enum(values), schema }];
        }
        let kind = |name: &str| match name {
            "null" => Some(Kind::Null),
            "boolean" => Some(Kind::Bool),
            "integer" => Some(Kind::Int),
            "number" => Some(Kind::Num),
            "string" => Some(Kind::Str),
            "array" => Some(Kind::Arr),
            "object" => Some(Kind::Obj),
            _ => None,
        };
        let kinds: Vec<Kind> = match object.get("type") {
            Some(Value::String(name)) => kind(name).into_iter().collect(),
            Some(Value::Array(names)) => names.iter().filter_map(|n| kind(n.as_str()?)).collect(),
            _ => {
                let has = |keys: &[&str]| keys.iter().any(|k| object.contains_key(*k));
                vec![if has(&["properties", "required", "additionalProperties"]) {
                    Kind::Obj
                } else if has(&["items", "prefixItems", "minItems", "maxItems"]) {
                    Kind::Arr
                } else if has(&["minLength", "maxLength", "pattern", "format"]) {
                    Kind::Str
                } else if has(&["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"]) {
                    Kind::Num
                } else {
                    Kind::Any
                }]
            }
        };
        kinds.into_iter().map(|kind| Branch { kind, schema }).collect()
    }

    /// The shortest JSON text of a value `schema` allows.
    fn minimal_of(&self, schema: &'s Value, depth: usize) -> Option<Vec<u8>> {
        self.branches(schema, depth)
            .iter()
            .filter_map(|branch| self.minimal(branch, depth))
            .min_by_key(Vec::len)
    }

    fn minimal(&self, branch: &Branch<'s>, depth: usize) -> Option<Vec<u8>> {
        match branch.kind {
            Kind::Null => Some(b"null".to_vec()),
            // The neutral value rather than the shorter `true`.
            Kind::Bool => Some(b"false".to_vec()),
            Kind::Any => Some(b"0".to_vec()),
            Kind::Int => integer_rest(branch, ""),
            Kind::Num => number_minimal(branch),
            Kind::Str => self.string_rest(branch, b"").map(|rest| [b"\"", &rest[..]].concat()),
            Kind::Const(value) => scalar(value),
            Kind::Enum(values) => values.iter().filter_map(scalar).min_by_key(Vec::len),
            Kind::Arr => {
                let array = ArrayRules::of(branch)?;
                let mut text = b"[".to_vec();
                text.extend(self.array_fill(&array, 0, depth)?);
                Some(text)
            }
            Kind::Obj => {
                let object = ObjectRules::of(branch)?;
                let mut text = b"{".to_vec();
                text.extend(self.object_rest(&object, 0, false, false, depth)?);
                Some(text)
            }
        }
    }

    /// The shortest ways to finish `node`, a value of `schema`.
    fn complete(&self, schema: &'s Value, node: &Node, depth: usize) -> Vec<Close> {
        let closes = self
            .branches(schema, depth)
            .iter()
            .flat_map(|branch| self.complete_branch(branch, node, depth))
            .collect();
        shortest(closes)
    }

    fn complete_branch(&self, branch: &Branch<'s>, node: &Node, depth: usize) -> Vec<Close> {
        let leaf = |start: usize, rests: Vec<Vec<u8>>| -> Vec<Close> {
            rests.into_iter().map(|rest| single(start, rest)).collect()
        };
        match node {
            Node::Empty => leaf(NO_PART, self.minimal(branch, depth).into_iter().collect()),
            Node::Done(_) => Vec::new(),
            Node::Str { start, raw } => leaf(*start, self.string_rests(branch, raw)),
            Node::Num { start, text } => leaf(*start, number_rests(branch, text)),
            Node::Lit { start, text } => leaf(*start, literal_rests(branch, text)),
            Node::Obj { start, entries, at } => {
                let Some(object) = ObjectRules::of(branch) else { return Vec::new() };
                self.object_closes(&object, *start, entries, at, depth)
            }
            Node::Arr { start, items, at } => {
                let Some(array) = ArrayRules::of(branch) else { return Vec::new() };
                self.array_closes(&array, *start, items, at, depth)
            }
        }
    }

    /// What finishes a string of `branch` begun as `raw` (its closing quote included): the
    /// character it ends inside, then what its `pattern` or `minLength` still needs; `None`
    /// when it cannot be finished or the string is a `format`, which is not modelled.
    fn string_rest(&self, branch: &Branch, raw: &[u8]) -> Option<Vec<u8>> {
        if branch.keyword("format").is_some() {
            return None;
        }
        let (mut rest, chars) = escape_rest(raw)?;
        let least = branch.count("minLength").unwrap_or(0);
        let most = branch.count("maxLength");
        if most.is_some_and(|max| chars > max) || least > MAX_PADDING {
            return None;
        }
        if let Some(pattern) = branch.keyword("pattern") {
            let written: String =
                serde_json::from_slice(&[b"\"", raw, &rest, b"\""].concat()).ok()?;
            let added = self.patterns.finish(
                pattern.as_str()?,
                &written,
                least as usize,
                most.map(|m| m as usize),
            )?;
            rest.extend_from_slice(added.as_bytes());
        } else {
            let padding = least.saturating_sub(chars);
            rest.extend(std::iter::repeat_n(b'a', padding as usize));
        }
        rest.push(b'"');
        Some(rest)
    }

    /// The ways to finish a string begun as `raw` as a value of `branch`.
    fn string_rests(&self, branch: &Branch, raw: &[u8]) -> Vec<Vec<u8>> {
        match branch.kind {
            Kind::Str | Kind::Any => self.string_rest(branch, raw).into_iter().collect(),
            Kind::Const(_) | Kind::Enum(_) => constant_rests(branch, |text| {
                text.strip_prefix(b"\"").and_then(|inside| inside.strip_prefix(raw))
            }),
            _ => Vec::new(),
        }
    }

    /// Whether a whole `value` fits `schema`, as far as this module models schemas (to tell
    /// which of several branches a reply is in).
    fn fits(&self, schema: &'s Value, value: &Value, depth: usize) -> bool {
        if depth > MAX_DEPTH {
            return true;
        }
        self.branches(schema, depth).iter().any(|branch| match branch.kind {
            Kind::Null => value.is_null(),
            Kind::Bool => value.is_boolean(),
            Kind::Any => true,
            Kind::Const(expected) => value == expected,
            Kind::Enum(values) => values.contains(value),
            Kind::Int => value
                .as_f64()
                .is_some_and(|x| x.fract() == 0.0 && Range::of(branch.schema).holds(x)),
            Kind::Num => value.as_f64().is_some_and(|x| Range::of(branch.schema).holds(x)),
            Kind::Str => value.as_str().is_some_and(|text| {
                let chars = text.chars().count() as u64;
                chars >= branch.count("minLength").unwrap_or(0)
                    && branch.count("maxLength").is_none_or(|max| chars <= max)
            }),
            Kind::Arr => value.as_array().is_some_and(|items| {
                ArrayRules::of(branch).is_some_and(|array| {
                    array.holds(items.len())
                        && items.iter().enumerate().all(|(i, item)| {
                            array.item(i).is_some_and(|s| self.fits(s, item, depth + 1))
                        })
                })
            }),
            Kind::Obj => value.as_object().is_some_and(|map| {
                ObjectRules::of(branch).is_some_and(|object| {
                    object.required.iter().all(|name| map.contains_key(*name))
                        && map.iter().all(|(key, item)| {
                            object.value(key).is_some_and(|s| self.fits(s, item, depth + 1))
                        })
                })
            }),
        })
    }

    /// What finishes an object whose declared properties from `from` on are still to come:
    /// the required ones with their smallest values, then `}`. `written` says whether an entry
    /// came before; `extra` whether an undeclared one did (declared ones cannot follow it).
    fn object_rest(
        &self,
        object: &ObjectRules<'s>,
        from: usize,
        mut written: bool,
        extra: bool,
        depth: usize,
    ) -> Option<Vec<u8>> {
        let mut text = Vec::new();
        for (name, schema) in object.properties.iter().skip(from) {
            if !object.is_required(name) {
                continue;
            }
            if extra {
                return None;
            }
            if written {
                text.extend_from_slice(b", ");
            }
            text.extend(entry(name, &self.minimal_of(schema, depth + 1)?));
            written = true;
        }
        text.push(b'}');
        Some(text)
    }

    fn object_closes(
        &self,
        object: &ObjectRules<'s>,
        start: usize,
        entries: &[(String, Value)],
        at: &ObjectAt,
        depth: usize,
    ) -> Vec<Close> {
        // Declared properties come in their order and undeclared ones after them all.
        let mut next = 0;
        let mut extra = false;
        for (key, value) in entries {
            match object.position(key) {
                Some(index) if index >= next && !extra => {
                    let skipped = &object.properties[next..index];
                    if skipped.iter().any(|(name, _)| object.is_required(name))
                        || !self.fits(object.properties[index].1, value, depth + 1)
                    {
                        return Vec::new();
                    }
                    next = index + 1;
                }
                None if object.additional.is_some_and(|s| self.fits(s, value, depth + 1)) => {
                    extra = true;
                }
                _ => return Vec::new(),
            }
        }
        // What follows the value of `key`.
        let after = |key: &str| match object.position(key) {
            Some(index) => self.object_rest(object, index + 1, true, false, depth),
            None => self.object_rest(object, next, true, true, depth),
        };
        let value_then_rest = |key: &str| -> Option<Vec<u8>> {
            let value = self.minimal_of(object.value(key)?, depth + 1)?;
            Some([&value[..], &after(key)?].concat())
        };
        let rests: Vec<Vec<u8>> = match at {
            ObjectAt::Open if entries.is_empty() => {
                self.object_rest(object, 0, false, false, depth).into_iter().collect()
            }
            ObjectAt::Open => self.next_entries(object, next, extra, b"", depth),
            ObjectAt::Comma => self.next_entries(object, next, extra, b" ", depth),
            ObjectAt::Key(raw) => self.key_rests(object, next, extra, raw, depth),
            ObjectAt::Colon(key) => {
                value_then_rest(key).map(|rest| [b": ", &rest[..]].concat()).into_iter().collect()
            }
            ObjectAt::Space(key) => {
                value_then_rest(key).map(|rest| [b" ", &rest[..]].concat()).into_iter().collect()
            }
            ObjectAt::Value(key, child) => {
                let (Some(schema), Some(rest)) = (object.value(key), after(key)) else {
                    return Vec::new();
                };
                return self
                    .complete(schema, child, depth + 1)
                    .into_iter()
                    .map(|close| outer(close, start, &rest))
                    .collect();
            }
            ObjectAt::Next => {
                self.object_rest(object, next, true, extra, depth).into_iter().collect()
            }
        };
        rests.into_iter().map(|rest| single(start, rest)).collect()
    }

    /// The ways to write one more entry (after `lead`, the rest of a separator) and finish the
    /// object: a key begun as nothing at all.
    fn next_entries(
        &self,
        object: &ObjectRules<'s>,
        next: usize,
        extra: bool,
        lead: &[u8],
        depth: usize,
    ) -> Vec<Vec<u8>> {
        let rests = self.key_rests(object, next, extra, b"", depth);
        rests.into_iter().map(|rest| [lead, b"\"", &rest].concat()).collect()
    }

    /// The ways to finish a key begun as `raw`, its value and the object: a declared property
    /// that may come next (the optional ones up to the next required one), or any other name
    /// where undeclared ones may come.
    fn key_rests(
        &self,
        object: &ObjectRules<'s>,
        next: usize,
        extra: bool,
        raw: &[u8],
        depth: usize,
    ) -> Vec<Vec<u8>> {
        let mut rests = Vec::new();
        if !extra {
            for (index, (name, schema)) in object.properties.iter().enumerate().skip(next) {
                let quoted = quote(name);
                if let Some(rest) = quoted[1..].strip_prefix(raw)
                    && let Some(value) = self.minimal_of(schema, depth + 1)
                    && let Some(after) = self.object_rest(object, index + 1, true, false, depth)
                {
                    rests.push([rest, b": ", &value, &after].concat());
                }
                if object.is_required(name) {
                    return rests;
                }
            }
        }
        // An undeclared key: any other name.
        if let Some(schema) = object.additional
            && let Some(value) = self.minimal_of(schema, depth + 1)
            && let Some((pending, _)) = escape_rest(raw)
        {
            for filler in ["", "_", "__"] {
                let end = [&pending[..], filler.as_bytes(), b"\""].concat();
                let name: Option<String> =
                    serde_json::from_slice(&[b"\"", raw, &end[..]].concat()).ok();
                if name.is_some_and(|n| object.position(&n).is_none()) {
                    rests.push([&end[..], b": ", &value, b"}"].concat());
                    break;
                }
            }
        }
        rests
    }

    /// What an array needs from item `from` on: items up to `minItems`, then `]`.
    fn array_fill(&self, array: &ArrayRules<'s>, from: usize, depth: usize) -> Option<Vec<u8>> {
        let mut text = Vec::new();
        for index in from..array.min_items {
            if index > 0 {
                text.extend_from_slice(b", ");
            }
            text.extend(self.minimal_of(array.item(index)?, depth + 1)?);
        }
        text.push(b']');
        Some(text)
    }

    fn array_closes(
        &self,
        array: &ArrayRules<'s>,
        start: usize,
        items: &[Value],
        at: &ArrayAt,
        depth: usize,
    ) -> Vec<Close> {
        let fits = items.iter().enumerate().all(|(index, item)| {
            array.item(index).is_some_and(|schema| self.fits(schema, item, depth + 1))
        });
        if !fits {
            return Vec::new();
        }
        let count = items.len();
        let another = |lead: &[u8]| -> Option<Vec<u8>> {
            let item = self.minimal_of(array.item(count)?, depth + 1)?;
            Some([lead, &item, &self.array_fill(array, count + 1, depth)?].concat())
        };
        let rest = match at {
            ArrayAt::Open if items.is_empty() => self.array_fill(array, 0, depth),
            ArrayAt::Open => another(b""),
            ArrayAt::Comma => another(b" "),
            ArrayAt::Next => self.array_fill(array, count, depth),
            ArrayAt::Item(child) => {
                let (Some(schema), Some(rest)) =
                    (array.item(count), self.array_fill(array, count + 1, depth))
                else {
                    return Vec::new();
                };
                return self
                    .complete(schema, child, depth + 1)
                    .into_iter()
                    .map(|close| outer(close, start, &rest))
                    .collect();
            }
        };
        rest.map(|rest| single(start, rest)).into_iter().collect()
    }
}

/// The keywords of an object schema that a close needs.
struct ObjectRules<'s> {
    /// Declared properties in the order the grammar writes them: `properties`, then required
    /// names it does not list.
    properties: Vec<(&'s str, &'s Value)>,
    required: Vec<&'s str>,
    /// The schema of undeclared properties; `None` when there may be none.
    additional: Option<&'s Value>,
}

impl<'s> ObjectRules<'s> {
    /// The rules of an object branch; `None` for what is not modelled.
    fn of(branch: &Branch<'s>) -> Option<Self> {
        match branch.kind {
            Kind::Obj => {}
            Kind::Any => {
                return Some(ObjectRules {
                    properties: Vec::new(),
                    required: Vec::new(),
                    additional: Some(&ANY),
                });
            }
            _ => return None,
        }
        if branch.keyword("patternProperties").is_some() {
            return None;
        }
        let required: Vec<&str> = branch
            .keyword("required")
            .and_then(Value::as_array)
            .map(|names| names.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        if branch.count("minProperties").unwrap_or(0) > required.len() as u64 {
            return None;
        }
        let additional = match branch.keyword("additionalProperties") {
            None => Some(&ANY),
            Some(Value::Bool(false)) => None,
            Some(schema) => Some(schema),
        };
        let declared = branch.keyword("properties").and_then(Value::as_object);
        let mut properties: Vec<(&str, &Value)> =
            declared.into_iter().flatten().map(|(name, schema)| (name.as_str(), schema)).collect();
        for name in &required {
            if declared.is_none_or(|d| !d.contains_key(*name)) {
                properties.push((name, additional.unwrap_or(&ANY)));
            }
        }
        Some(ObjectRules { properties, required, additional })
    }

    fn position(&self, name: &str) -> Option<usize> {
        self.properties.iter().position(|(declared, _)| *declared == name)
    }

    fn is_required(&self, name: &str) -> bool {
        self.required.contains(&name)
    }

    /// The schema of the value of `key`.
    fn value(&self, key: &str) -> Option<&'s Value> {
        match self.position(key) {
            Some(index) => Some(self.properties[index].1),
            None => self.additional,
        }
    }
}

/// The keywords of an array schema that a close needs.
struct ArrayRules<'s> {
    prefix: &'s [Value],
    items: Option<&'s Value>,
    min_items: usize,
    max_items: Option<u64>,
}

impl<'s> ArrayRules<'s> {
    fn of(branch: &Branch<'s>) -> Option<Self> {
        match branch.kind {
            Kind::Arr => {}
            Kind::Any => {
                return Some(ArrayRules {
                    prefix: &[],
                    items: Some(&ANY),
                    min_items: 0,
                    max_items: None,
                });
            }
            _ => return None,
        }
        // `prefixItems` (2020-12), or `items` as a list with `additionalItems` (older drafts).
        let (prefix, items) = match (branch.keyword("prefixItems"), branch.keyword("items")) {
            (Some(Value::Array(prefix)), items) => (prefix.as_slice(), items),
            (None, Some(Value::Array(prefix))) => {
                (prefix.as_slice(), branch.keyword("additionalItems"))
            }
            (_, items) => (&[][..], items),
        };
        let items = match items {
            None => Some(&ANY),
            Some(Value::Bool(false)) => None,
            Some(schema) => Some(schema),
        };
        let min_items = branch.count("minItems").unwrap_or(0);
        if min_items > MAX_PADDING {
            return None;
        }
        Some(ArrayRules {
            prefix,
            items,
            min_items: min_items as usize,
            max_items: branch.count("maxItems"),
        })
    }

    fn item(&self, index: usize) -> Option<&'s Value> {
        self.prefix.get(index).or(self.items)
    }

    fn holds(&self, count: usize) -> bool {
        count >= self.min_items && self.max_items.is_none_or(|max| count as u64 <= max)
    }
}

/// `"name": value`.
fn entry(name: &str, value: &[u8]) -> Vec<u8> {
    [&quote(name)[..], b": ", value].concat()
}

/// A name as JSON writes it.
fn quote(name: &str) -> Vec<u8> {
    serde_json::to_vec(name).unwrap_or_default()
}

/// A scalar as JSON writes it; `None` for arrays and objects (not modelled as constants).
fn scalar(value: &Value) -> Option<Vec<u8>> {
    match value {
        Value::Array(_) | Value::Object(_) => None,
        scalar => serde_json::to_vec(scalar).ok(),
    }
}

/// What finishes the character a string's bytes `raw` end inside (an escape, or a UTF-8
/// sequence), and how many characters the string then has; `None` when `raw` is not the
/// inside of a JSON string.
fn escape_rest(raw: &[u8]) -> Option<(Vec<u8>, u64)> {
    let mut chars = 0;
    let mut at = 0;
    while at < raw.len() {
        chars += 1;
        let byte = raw[at];
        if byte == b'\\' {
            match raw.get(at + 1) {
                None => return Some((b"n".to_vec(), chars)),
                Some(b'u') => {
                    let hex = &raw[at + 2..raw.len().min(at + 6)];
                    if !hex.iter().all(u8::is_ascii_hexdigit) {
                        return None;
                    }
                    if hex.len() < 4 {
                        let mut digits = hex.to_vec();
                        digits.resize(4, b'0');
                        let mut rest = digits[hex.len()..].to_vec();
                        // A high surrogate needs its low half.
                        if matches!(
                            &digits[..2],
                            [b'd' | b'D', b'8' | b'9' | b'a' | b'b' | b'A' | b'B']
                        ) {
                            rest.extend_from_slice(b"\\udc00");
                        }
                        return Some((rest, chars));
                    }
                    at += 6;
                }
                Some(_) => at += 2,
            }
            continue;
        }
        let width = match byte {
            0x00..=0x7f => 1,
            0xc2..=0xdf => 2,
            0xe0..=0xef => 3,
            0xf0..=0xf4 => 4,
            _ => return None,
        };
        if at + width > raw.len() {
            // The least valid continuation of a character cut short.
            let written = raw.len() - at;
            let rest = (written..width)
                .map(|position| match (position, byte) {
                    (1, 0xe0) => 0xa0,
                    (1, 0xf0) => 0x90,
                    _ => 0x80,
                })
                .collect();
            return Some((rest, chars));
        }
        at += width;
    }
    Some((Vec::new(), chars))
}

/// The rests of `branch`'s constants that `rest_of` finds in their JSON text.
fn constant_rests<'t>(
    branch: &Branch,
    rest_of: impl Fn(&[u8]) -> Option<&[u8]> + 't,
) -> Vec<Vec<u8>> {
    let values: &[Value] = match branch.kind {
        Kind::Const(value) => std::slice::from_ref(value),
        Kind::Enum(values) => values,
        _ => &[],
    };
    values.iter().filter_map(scalar).filter_map(|text| rest_of(&text).map(<[u8]>::to_vec)).collect()
}

/// The ways to finish `true`, `false` or `null` begun as `text`.
fn literal_rests(branch: &Branch, text: &str) -> Vec<Vec<u8>> {
    let words: &[&str] = match branch.kind {
        Kind::Bool => &["true", "false"],
        Kind::Null => &["null"],
        Kind::Any => &["true", "false", "null"],
        Kind::Const(_) | Kind::Enum(_) => {
            return constant_rests(branch, |word| word.strip_prefix(text.as_bytes()));
        }
        _ => &[],
    };
    words.iter().filter_map(|w| w.strip_prefix(text)).map(|rest| rest.as_bytes().to_vec()).collect()
}

/// The ways to finish a number begun as `text`.
fn number_rests(branch: &Branch, text: &str) -> Vec<Vec<u8>> {
    match branch.kind {
        Kind::Int => integer_rest(branch, text).into_iter().collect(),
        Kind::Num | Kind::Any => number_rest(branch, text).into_iter().collect(),
        Kind::Const(_) | Kind::Enum(_) => {
            constant_rests(branch, |number| number.strip_prefix(text.as_bytes()))
        }
        _ => Vec::new(),
    }
}

/// The digits that finish an integer begun as `text` (a sign, digits, or nothing) as the one
/// nearest zero of the fewest digits in the schema's range (and a multiple of its
/// `multipleOf`, when that is a whole number).
fn integer_rest(branch: &Branch, text: &str) -> Option<Vec<u8>> {
    if text.is_empty() {
        // The sign is still to choose.
        let negative = signed_integer_rest(branch, "-").map(|rest| [b"-", &rest[..]].concat());
        return [signed_integer_rest(branch, ""), negative]
            .into_iter()
            .flatten()
            .min_by_key(Vec::len);
    }
    signed_integer_rest(branch, text)
}

/// [`integer_rest`] once the sign is written (or known to be none).
fn signed_integer_rest(branch: &Branch, text: &str) -> Option<Vec<u8>> {
    let (low, high) = Range::of(branch.schema).integers();
    let step = match branch.keyword("multipleOf") {
        None => 1,
        Some(value) => match value.as_u64() {
            Some(step) if step > 0 => i128::from(step),
            _ => return None,
        },
    };
    let (negative, digits) = match text.strip_prefix('-') {
        Some(digits) => (true, digits),
        None => (false, text),
    };
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let range = Range::of(branch.schema);
    if step == 1 && range.low.is_infinite() && range.high.is_infinite() {
        // Any number of digits will do: only a sign alone needs one.
        return Some(match (digits.is_empty(), negative) {
            (false, _) => Vec::new(),
            (true, false) => b"0".to_vec(),
            (true, true) => b"1".to_vec(),
        });
    }
    let written: i128 = if digits.is_empty() { 0 } else { digits.parse().ok()? };
    if digits.starts_with('0') {
        // A leading zero is the whole number.
        return (written == 0 && low <= 0 && high >= 0).then(Vec::new);
    }
    for more in 0..=(20 - digits.len().min(20)) as u32 {
        if digits.is_empty() && more == 0 {
            continue;
        }
        let scale = 10_i128.pow(more);
        // The magnitudes of `more` more digits after those written.
        let (mut least, most) = (written * scale, written * scale + scale - 1);
        if digits.is_empty() && more > 1 {
            least = scale / 10;
        }
        let (from, to) = if negative { (-most, -least) } else { (least, most) };
        let (from, to) = (from.max(low), to.min(high));
        // The one nearest zero that is a multiple of the step.
        let candidate = if from > 0 {
            (from + step - 1).div_euclid(step) * step
        } else if to < 0 || negative {
            // A minus sign needs a number below zero.
            to.min(-1).div_euclid(step) * step
        } else {
            0
        };
        if candidate < from || candidate > to {
            continue;
        }
        let whole = candidate.abs().to_string();
        return Some(whole.as_bytes()[digits.len()..].to_vec());
    }
    None
}

/// What finishes a number (fractions and exponents allowed) begun as `text`, within the
/// schema's range: the digits its last part lacks, or, when that is out of range, the
/// shortest digits that bring it in.
fn number_rest(branch: &Branch, text: &str) -> Option<Vec<u8>> {
    if branch.keyword("multipleOf").is_some() {
        return None;
    }
    let range = Range::of(branch.schema);
    let holds = |candidate: &str| {
        let whole = format!("{text}{candidate}");
        valid_number(&whole) && whole.parse::<f64>().is_ok_and(|x| range.holds(x))
    };
    let needs_digit = text.is_empty() || text.ends_with(['-', '+', '.', 'e', 'E']);
    let first = if needs_digit { "0" } else { "" };
    if range.low.is_infinite() && range.high.is_infinite() {
        // Any number will do, however many its digits.
        return Some(first.as_bytes().to_vec());
    }
    if holds(first) {
        return Some(first.as_bytes().to_vec());
    }
    // Up to three more characters, fewest first.
    let alphabet = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "."];
    let mut tails: Vec<String> = vec![String::new()];
    for _ in 0..3 {
        tails =
            tails.iter().flat_map(|t| alphabet.iter().map(move |c| format!("{t}{c}"))).collect();
        if let Some(found) = tails.iter().find(|t| holds(t)) {
            return Some(found.as_bytes().to_vec());
        }
    }
    None
}

/// Whether `text` is a JSON number.
fn valid_number(text: &str) -> bool {
    serde_json::from_str::<serde_json::Number>(text).is_ok()
}

/// The shortest number in a number schema's range.
fn number_minimal(branch: &Branch) -> Option<Vec<u8>> {
    if let Some(found) = number_rest(branch, "") {
        return Some(found);
    }
    let range = Range::of(branch.schema);
    let (low, high) = range.integers();
    let nearest = if low > 0 { low } else { high };
    if (low..=high).contains(&nearest) && range.holds(nearest as f64) {
        return Some(nearest.to_string().into_bytes());
    }
    [range.low, range.high, (range.low + range.high) / 2.0]
        .into_iter()
        .filter(|x| x.is_finite() && range.holds(*x))
        .find_map(|x| serde_json::to_vec(&x).ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The shortest close of `text` as a string.
    fn close(shape: &Shape, text: &str) -> Option<String> {
        let close = shape.closes(text.as_bytes()).into_iter().next()?;
        Some(String::from_utf8(close.iter().flat_map(|p| p.text.clone()).collect()).unwrap())
    }

    fn person() -> Shape {
        Shape::new(
            "",
            json!({
                "type": "object",
                "properties": {
                    "city": {"type": "string", "maxLength": 10},
                    "note": {"type": "string"},
                    "population": {"type": "integer", "minimum": 0},
                    "coastal": {"type": "boolean"},
                    "kind": {"enum": ["town", "capital"]},
                },
                "required": ["city", "population", "coastal", "kind"],
                "additionalProperties": false
            }),
            "",
        )
    }

    #[test]
    fn every_open_part_is_finished_with_the_least_it_needs() {
        let shape = person();
        let cases = [
            ("", r#"{"city": "", "population": 0, "coastal": false, "kind": "town"}"#),
            ("{", r#""city": "", "population": 0, "coastal": false, "kind": "town"}"#),
            (r#"{"ci"#, r#"ty": "", "population": 0, "coastal": false, "kind": "town"}"#),
            (r#"{"city": "Lis"#, r#"", "population": 0, "coastal": false, "kind": "town"}"#),
            (r#"{"city": "a\"#, r#"n", "population": 0, "coastal": false, "kind": "town"}"#),
            (r#"{"city": "a\u00"#, r#"00", "population": 0, "coastal": false, "kind": "town"}"#),
            (
                r#"{"city": "x", "no"#,
                r#"te": "", "population": 0, "coastal": false, "kind": "town"}"#,
            ),
            (r#"{"city": "x", "p"#, r#"opulation": 0, "coastal": false, "kind": "town"}"#),
            (r#"{"city": "x","#, r#" "population": 0, "coastal": false, "kind": "town"}"#),
            (r#"{"city": "x", "population": 12"#, r#", "coastal": false, "kind": "town"}"#),
            (r#"{"city": "x", "population": 1, "coastal": t"#, r#"rue, "kind": "town"}"#),
            (r#"{"city": "x", "population": 1, "coastal": true, "kind": "cap"#, r#"ital"}"#),
            (r#"{"city": "x", "population": 1, "coastal": true, "kind": "town"}"#, ""),
        ];
        for (text, expected) in cases {
            assert_eq!(close(&shape, text).as_deref(), Some(expected), "after {text}");
        }
    }

    #[test]
    fn pieces_finish_the_innermost_parts_first() {
        let shape = Shape::new(
            "<call>\n",
            json!({"type": "object", "properties": {"tags": {"type": "array", "items": {"type": "string"}, "minItems": 1}}, "required": ["tags"]}),
            "\n</call>",
        );
        let text = "<call>\n{\"tags\": [\"a\", \"b";
        let close = &shape.closes(text.as_bytes())[0];
        let pieces: Vec<(String, usize)> =
            close.iter().map(|p| (String::from_utf8(p.text.clone()).unwrap(), p.start)).collect();
        assert_eq!(
            pieces,
            [("\"".into(), 22), ("]".into(), 16), ("}".into(), 7), ("\n</call>".into(), 0)],
            "string at 22, array at 16, object at 7, the suffix last"
        );
        assert_eq!(close_of(&shape, "<ca"), "ll>\n{\"tags\": [\"\"]}\n</call>");
        assert_eq!(close_of(&shape, "<call>\n{\"tags\": [\"\"]}\n</"), "call>");
    }

    fn close_of(shape: &Shape, text: &str) -> String {
        close(shape, text).unwrap()
    }

    #[test]
    fn branches_are_told_apart_by_what_is_written() {
        let calls = Shape::new(
            "",
            json!({"anyOf": [
                {"type": "object", "properties": {"name": {"const": "weather"}, "arguments": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}, "required": ["name", "arguments"], "additionalProperties": false},
                {"type": "object", "properties": {"name": {"const": "time"}, "arguments": {"type": "object", "properties": {}}}, "required": ["name", "arguments"], "additionalProperties": false}
            ]}),
            "",
        );
        assert_eq!(close_of(&calls, r#"{"name": "w"#), r#"eather", "arguments": {"city": ""}}"#);
        assert_eq!(close_of(&calls, r#"{"name": "weather", "arguments": {"#), r#""city": ""}}"#);
        assert_eq!(close_of(&calls, r#"{"name": "time", "arguments": {"#), "}}");
        assert_eq!(close_of(&calls, r#"{""#), r#"name": "time", "arguments": {}}"#);
    }

    #[test]
    fn numbers_come_within_their_range() {
        let number = |schema: Value, text: &str| close(&Shape::new("", schema, ""), text);
        let int = json!({"type": "integer", "minimum": 100, "maximum": 150});
        assert_eq!(number(int.clone(), "").as_deref(), Some("100"));
        assert_eq!(number(int.clone(), "1").as_deref(), Some("00"));
        assert_eq!(number(int.clone(), "14").as_deref(), Some("0"));
        assert_eq!(number(json!({"type": "integer", "maximum": -5}), "").as_deref(), Some("-5"));
        assert_eq!(number(json!({"type": "integer"}), "-").as_deref(), Some("1"));
        let float = json!({"type": "number", "minimum": 0.5, "maximum": 2});
        assert_eq!(number(float.clone(), "").as_deref(), Some("1"));
        assert_eq!(number(float.clone(), "0.").as_deref(), Some("5"));
        assert_eq!(number(json!({"type": "number"}), "1e").as_deref(), Some("0"));
    }

    #[test]
    fn nested_parts_lengths_and_any_json() {
        let padded = Shape::new("", json!({"type": "string", "minLength": 3}), "");
        assert_eq!(close_of(&padded, "\"a"), "aa\"");
        // A character cut between its bytes is finished first.
        let text = [&b"\"caf"[..], &[0xc3]].concat();
        let rest = &padded.closes(&text)[0][0].text;
        assert_eq!(rest, &[0x80, b'"']);
        let any = Shape::new("", json!({"type": "object"}), "");
        assert_eq!(close_of(&any, r#"{"a": [1, {"b": tr"#), "ue}]}");
        assert_eq!(close_of(&any, r#"{"a": 1, "#), r#""": 0}"#);
        let recursive = Shape::new(
            "",
            json!({"$defs": {"node": {"type": "object", "properties": {"children": {"type": "array", "items": {"$ref": "#/$defs/node"}}}, "required": ["children"]}}, "$ref": "#/$defs/node"}),
            "",
        );
        assert_eq!(
            close_of(&recursive, r#"{"children": [{"children": [{"#),
            r#""children": []}]}]}"#
        );
    }

    #[test]
    fn patterned_strings_get_what_their_pattern_needs() {
        let code = Shape::new("", json!({"type": "string", "pattern": "^[A-Z]{3}$"}), "");
        assert_eq!(close_of(&code, "\"E"), "AA\"");
        assert_eq!(close_of(&code, "\"EUR"), "\"");
        assert!(code.closes(b"\"eu").is_empty(), "no way on from there");
    }

    #[test]
    fn what_is_not_modelled_or_does_not_fit_has_no_close() {
        let date = Shape::new("", json!({"type": "string", "format": "date"}), "");
        assert!(date.closes(b"\"20").is_empty());
        assert!(person().closes(br#"{"town": "#).is_empty());
        assert!(person().closes(b"[").is_empty());
    }
}
