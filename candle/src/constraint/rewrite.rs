//! What a schema is turned into before it becomes a grammar: what a small model needs bounded
//! that the schema leaves open. Each result still accepts only values the schema accepts.

use serde_json::{Value, json};

/// The longest a string the schema leaves unbounded may be, in characters, for a reply of
/// `budget` tokens: a character per token of the budget (about a quarter of it, at four
/// characters a token), at least 16 and at most 1,000. A small model that starts describing
/// inside a string value (a "city" that becomes a paragraph) otherwise spends every token in it
/// and leaves the other fields the smallest values the budget can still close them with.
pub(super) fn free_string_chars(budget: usize) -> u64 {
    (budget as u64).clamp(16, 1000)
}

/// `schema` made ready for a reply of `budget` tokens: objects closed, free strings bounded.
pub(super) fn prepare(schema: Value, budget: usize) -> Value {
    let mut schema = schema;
    walk(&mut schema, &|node| {
        close_object(node);
        bound_string(node, free_string_chars(budget));
    });
    schema
}

/// Calls `visit` on every schema inside `schema` (the data in `const`, `enum`, `default` and
/// `examples` is left alone).
fn walk(node: &mut Value, visit: &dyn Fn(&mut serde_json::Map<String, Value>)) {
    match node {
        Value::Object(object) => {
            visit(object);
            for (key, value) in object.iter_mut() {
                match (key.as_str(), value) {
                    // Maps of names to schemas: each value is a schema.
                    (
                        "properties" | "$defs" | "definitions" | "patternProperties",
                        Value::Object(map),
                    ) => {
                        map.values_mut().for_each(|schema| walk(schema, visit));
                    }
                    // Data, not schemas.
                    ("const" | "enum" | "default" | "examples", _) => {}
                    (_, value) => walk(value, visit),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|item| walk(item, visit)),
        _ => {}
    }
}

/// An object whose schema lists properties but leaves others open gets only those: any such
/// output still matches, and a small model given room for more properties invents them until
/// the token limit cuts its JSON short.
fn close_object(object: &mut serde_json::Map<String, Value>) {
    if object.contains_key("properties") && !object.contains_key("additionalProperties") {
        object.insert("additionalProperties".into(), Value::Bool(false));
    }
}

/// A string schema with no bound on its length, and nothing else that shapes it, gets
/// `maxLength` `chars`.
fn bound_string(object: &mut serde_json::Map<String, Value>, chars: u64) {
    let is_string = match object.get("type") {
        Some(Value::String(name)) => name == "string",
        Some(Value::Array(names)) => names.iter().any(|n| n == "string"),
        _ => false,
    };
    let shaped = ["maxLength", "enum", "const", "pattern", "format"]
        .iter()
        .any(|key| object.contains_key(*key));
    if is_string && !shaped {
        let chars = chars.max(object.get("minLength").and_then(Value::as_u64).unwrap_or(0));
        object.insert("maxLength".into(), json!(chars));
    }
}

/// `schema` with llguidance told to write JSON compactly: one space after `:` and `,`, no free
/// whitespace a small model could loop in. The closes of [`super::close`] write the same way.
pub(super) fn compact(mut schema: Value) -> Value {
    if let Some(object) = schema.as_object_mut() {
        object.insert(
            "x-guidance".into(),
            json!({ "whitespace_flexible": false, "item_separator": ", ", "key_separator": ": " }),
        );
    }
    schema
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
        let closed = prepare(schema, 100);
        assert_eq!(closed["additionalProperties"], false);
        assert_eq!(closed["properties"]["properties"]["additionalProperties"], false);
        assert!(closed["properties"].get("additionalProperties").is_none());
        assert_eq!(closed["properties"]["free"]["additionalProperties"], true);
        assert_eq!(closed["properties"]["fixed"]["const"], json!({"properties": 1}));
        assert_eq!(closed["$defs"]["P"]["additionalProperties"], false);
    }

    #[test]
    fn free_strings_are_bounded_by_the_budget_and_shaped_ones_are_not() {
        let schema = json!({
            "type": "object",
            "properties": {
                "free": {"type": "string"},
                "nullable": {"type": ["string", "null"]},
                "long": {"type": "string", "minLength": 300},
                "bounded": {"type": "string", "maxLength": 5000},
                "choice": {"type": "string", "enum": ["a", "b"]},
                "pattern": {"type": "string", "pattern": "^x+$"},
                "items": {"type": "array", "items": {"type": "string"}}
            }
        });
        let bounded = prepare(schema, 80);
        let max = |name: &str| bounded["properties"][name].get("maxLength").cloned();
        assert_eq!(max("free"), Some(json!(80)));
        assert_eq!(max("nullable"), Some(json!(80)));
        assert_eq!(max("long"), Some(json!(300)), "never below minLength");
        assert_eq!(max("bounded"), Some(json!(5000)));
        assert_eq!(max("choice"), None);
        assert_eq!(max("pattern"), None);
        assert_eq!(bounded["properties"]["items"]["items"]["maxLength"], 80);
        assert_eq!(free_string_chars(4), 16);
        assert_eq!(free_string_chars(300), 300);
        assert_eq!(free_string_chars(100_000), 1000);
    }
}
