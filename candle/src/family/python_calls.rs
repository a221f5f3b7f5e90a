//! Python call syntax as Llama 3.2 writes tool calls: `[get_weather(city="Paris", days=3)]`.
//! A small recursive-descent parser for calls with keyword arguments whose values are Python
//! literals (strings, numbers, `True`/`False`/`None`, lists, dicts), turned into JSON.

use serde_json::{Map, Number, Value};

/// One parsed call: the function's name and its keyword arguments as a JSON object.
pub(super) type Call = (String, Value);

/// Parses `[f(a=1), g(b="x")]` (the brackets may be missing for a single call). `None` when the
/// text is not exactly that.
pub(super) fn parse_calls(text: &str) -> Option<Vec<Call>> {
    let mut parser = Parser { chars: text.trim().chars().collect(), at: 0, depth: 0 };
    let bracketed = parser.eat('[');
    let mut calls = Vec::new();
    loop {
        parser.skip_space();
        if bracketed && parser.eat(']') {
            break;
        }
        calls.push(parser.call()?);
        parser.skip_space();
        if parser.eat(',') {
            continue;
        }
        if bracketed {
            parser.skip_space();
            if !parser.eat(']') {
                return None;
            }
        }
        break;
    }
    parser.skip_space();
    (parser.at == parser.chars.len() && !calls.is_empty()).then_some(calls)
}

/// The deepest nesting of lists and dicts in an argument: the parser recurses, and a reply
/// of ten thousand `[` would overflow the stack.
const MAX_DEPTH: usize = 64;

struct Parser {
    chars: Vec<char>,
    at: usize,
    /// How deep in lists and dicts the parser is.
    depth: usize,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn eat(&mut self, expected: char) -> bool {
        self.skip_space();
        if self.peek() == Some(expected) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn skip_space(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.at += 1;
        }
    }

    fn identifier(&mut self) -> Option<String> {
        self.skip_space();
        let start = self.at;
        while self.peek().is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.' || c == '-') {
            self.at += 1;
        }
        let name: String = self.chars[start..self.at].iter().collect();
        (!name.is_empty() && !name.starts_with(|c: char| c.is_ascii_digit())).then_some(name)
    }

    fn call(&mut self) -> Option<Call> {
        let name = self.identifier()?;
        if !self.eat('(') {
            return None;
        }
        let mut arguments = Map::new();
        if !self.eat(')') {
            loop {
                let key = self.identifier()?;
                if !self.eat('=') {
                    return None;
                }
                arguments.insert(key, self.value()?);
                if self.eat(')') {
                    break;
                }
                if !self.eat(',') {
                    return None;
                }
                if self.eat(')') {
                    break; // a trailing comma
                }
            }
        }
        Some((name, Value::Object(arguments)))
    }

    fn value(&mut self) -> Option<Value> {
        self.skip_space();
        if self.depth >= MAX_DEPTH {
            return None;
        }
        self.depth += 1;
        let value = self.nested_or_plain();
        self.depth -= 1;
        value
    }

    fn nested_or_plain(&mut self) -> Option<Value> {
        match self.peek()? {
            '"' | '\'' => self.string().map(Value::String),
            '[' | '(' => {
                let close = if self.peek() == Some('[') { ']' } else { ')' };
                self.at += 1;
                let mut items = Vec::new();
                while !self.eat(close) {
                    items.push(self.value()?);
                    if !self.eat(',') && !matches!(self.peek(), Some(c) if c == close) {
                        return None;
                    }
                }
                Some(Value::Array(items))
            }
            '{' => {
                self.at += 1;
                let mut object = Map::new();
                while !self.eat('}') {
                    let key = match self.value()? {
                        Value::String(key) => key,
                        other => other.to_string(),
                    };
                    if !self.eat(':') {
                        return None;
                    }
                    object.insert(key, self.value()?);
                    if !self.eat(',') && self.peek() != Some('}') {
                        return None;
                    }
                }
                Some(Value::Object(object))
            }
            _ => self.bare(),
        }
    }

    fn string(&mut self) -> Option<String> {
        let quote = self.peek()?;
        self.at += 1;
        let mut text = String::new();
        loop {
            let c = self.peek()?;
            self.at += 1;
            match c {
                '\\' => {
                    let escaped = self.peek()?;
                    self.at += 1;
                    text.push(match escaped {
                        'n' => '\n',
                        't' => '\t',
                        'r' => '\r',
                        other => other,
                    });
                }
                c if c == quote => return Some(text),
                c => text.push(c),
            }
        }
    }

    /// Numbers and the named constants.
    fn bare(&mut self) -> Option<Value> {
        let start = self.at;
        while self.peek().is_some_and(|c| c.is_alphanumeric() || "+-._".contains(c)) {
            self.at += 1;
        }
        let word: String = self.chars[start..self.at].iter().collect();
        match word.as_str() {
            "True" | "true" => Some(Value::Bool(true)),
            "False" | "false" => Some(Value::Bool(false)),
            "None" | "null" => Some(Value::Null),
            number => {
                if let Ok(integer) = number.replace('_', "").parse::<i64>() {
                    return Some(Value::Number(integer.into()));
                }
                number
                    .replace('_', "")
                    .parse::<f64>()
                    .ok()
                    .and_then(Number::from_f64)
                    .map(Value::Number)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_lists_of_calls_with_python_literals() {
        let calls = parse_calls(
            r#"[get_weather(city="San Francisco", days=3, metric=True), search(q='it\'s', tags=["a", 'b'], opts={"k": None, 'n': -1.5})]"#,
        )
        .unwrap();
        assert_eq!(
            calls,
            vec![
                ("get_weather".into(), json!({"city": "San Francisco", "days": 3, "metric": true})),
                (
                    "search".into(),
                    json!({"q": "it's", "tags": ["a", "b"], "opts": {"k": null, "n": -1.5}})
                ),
            ]
        );
    }

    #[test]
    fn accepts_a_bare_call_and_empty_arguments() {
        assert_eq!(parse_calls("now()").unwrap(), vec![("now".into(), json!({}))]);
        assert_eq!(parse_calls(" [ f(a=1,) ] ").unwrap(), vec![("f".into(), json!({"a": 1}))]);
    }

    #[test]
    fn rejects_what_is_not_a_call_list() {
        for text in ["[1, 2, 3]", "Hello there", "[f(1)]", "f(a=1) and more", "[f(a=1)", "[]"] {
            assert_eq!(parse_calls(text), None, "{text}");
        }
    }
}
