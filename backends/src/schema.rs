//! One JSON Schema, adjusted to what each provider accepts. Schemas come from schemars (draft
//! 2020-12, with `$defs` and `$ref`s); providers differ in what they take, and this is the one
//! place that knows how.

use serde_json::{Map, Value};

/// What a provider accepts of JSON Schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// `$ref`s inlined, for providers and servers that reject or ignore references (many
    /// OpenAI-compatible servers, Anthropic tools).
    Inlined,
    /// OpenAI's strict mode: `$ref`s inlined, every object closed with
    /// `additionalProperties: false`, every property required (optional ones made nullable), and
    /// `oneOf` spelled `anyOf`, which is all strict mode supports.
    OpenAiStrict,
    /// Gemini's subset (an OpenAPI 3.0 schema): no references at all (recursive ones become a
    /// plain object), no `additionalProperties`, `const` or type unions (`["string", "null"]`
    /// and `anyOf` with `null` become `nullable`), `oneOf` spelled `anyOf`, and only the formats
    /// it knows.
    Gemini,
}

/// `schema` as `dialect` wants it. Recursive types cannot be inlined: their `$ref`s, and the
/// `$defs` they point to, are kept.
pub fn adapt(schema: &Value, dialect: Dialect) -> Value {
    let definitions = definitions(schema);
    let mut expanding = Vec::new();
    let mut adapted = inline(schema, &definitions, &mut expanding);
    let mut unresolved = false;
    visit(&adapted, &mut |node| unresolved |= node.get("$ref").is_some());
    if unresolved
        && dialect != Dialect::Gemini
        && let Some(object) = adapted.as_object_mut()
    {
        // Keep the definitions the remaining references need.
        object.insert("$defs".into(), Value::Object(definitions.clone()));
    }
    match dialect {
        Dialect::OpenAiStrict => make_strict(&mut adapted),
        Dialect::Gemini => make_gemini(&mut adapted),
        Dialect::Inlined => {}
    }
    adapted
}

/// The keywords Gemini's schema has no place for.
const NOT_IN_GEMINI: [&str; 8] = [
    "$schema",
    "$id",
    "$defs",
    "definitions",
    "additionalProperties",
    "examples",
    "default",
    "title",
];

/// Rewrites `node` into Gemini's subset, in place.
fn make_gemini(node: &mut Value) {
    match node {
        Value::Object(object) => {
            for key in NOT_IN_GEMINI {
                object.remove(key);
            }
            if object.remove("$ref").is_some() {
                // A recursive reference, which Gemini cannot express: any object will do.
                object.insert("type".into(), Value::String("object".into()));
            }
            if let Some(value) = object.remove("const") {
                object.insert("enum".into(), Value::Array(vec![value]));
            }
            if let Some(one_of) = object.remove("oneOf") {
                object.insert("anyOf".into(), one_of);
            }
            let null = Value::String("null".into());
            if let Some(Value::Array(types)) = object.get("type").cloned() {
                let rest: Vec<Value> = types.iter().filter(|t| **t != null).cloned().collect();
                if rest.len() < types.len() {
                    object.insert("nullable".into(), Value::Bool(true));
                }
                if let [only] = rest.as_slice() {
                    object.insert("type".into(), only.clone());
                }
            }
            if let Some(Value::Array(options)) = object.get("anyOf").cloned() {
                let is_null = |o: &Value| o.get("type") == Some(&null);
                let rest: Vec<Value> = options.iter().filter(|o| !is_null(o)).cloned().collect();
                if rest.len() < options.len() {
                    object.insert("nullable".into(), Value::Bool(true));
                    match rest.as_slice() {
                        [only] => {
                            object.remove("anyOf");
                            for (key, value) in only.as_object().into_iter().flatten() {
                                object.entry(key.clone()).or_insert_with(|| value.clone());
                            }
                        }
                        _ => {
                            object.insert("anyOf".into(), Value::Array(rest));
                        }
                    }
                }
            }
            let known_format =
                |kind: Option<&Value>, format: &str| match kind.and_then(Value::as_str) {
                    Some("string") => matches!(format, "enum" | "date-time"),
                    Some("integer") => matches!(format, "int32" | "int64"),
                    Some("number") => matches!(format, "float" | "double"),
                    _ => false,
                };
            if let Some(Value::String(format)) = object.get("format").cloned()
                && !known_format(object.get("type"), &format)
            {
                object.remove("format");
            }
            object.values_mut().for_each(make_gemini);
        }
        Value::Array(items) => items.iter_mut().for_each(make_gemini),
        _ => {}
    }
}

fn definitions(schema: &Value) -> Map<String, Value> {
    ["$defs", "definitions"]
        .iter()
        .filter_map(|key| schema.get(*key).and_then(Value::as_object))
        .flat_map(|defs| defs.iter().map(|(k, v)| (k.clone(), v.clone())))
        .collect()
}

fn definition_name(reference: &str) -> Option<&str> {
    reference.strip_prefix("#/$defs/").or_else(|| reference.strip_prefix("#/definitions/"))
}

/// A copy of `node` with local references replaced by what they point to, except references
/// back into a definition being expanded (recursion), which stay.
fn inline(node: &Value, definitions: &Map<String, Value>, expanding: &mut Vec<String>) -> Value {
    match node {
        Value::Object(object) => {
            let target = object
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(definition_name)
                .filter(|name| !expanding.iter().any(|e| e == name))
                .and_then(|name| definitions.get(name).map(|def| (name.to_string(), def)));
            if let Some((name, definition)) = target {
                expanding.push(name);
                let mut expanded = inline(definition, definitions, expanding);
                expanding.pop();
                // Keywords beside the `$ref` (a description, say) refine the definition.
                if let Value::Object(expanded) = &mut expanded {
                    for (key, value) in object.iter().filter(|(key, _)| *key != "$ref") {
                        expanded.insert(key.clone(), inline(value, definitions, expanding));
                    }
                }
                return expanded;
            }
            Value::Object(
                object
                    .iter()
                    .filter(|(key, _)| *key != "$defs" && *key != "definitions")
                    .map(|(key, value)| (key.clone(), inline(value, definitions, expanding)))
                    .collect(),
            )
        }
        Value::Array(items) => {
            Value::Array(items.iter().map(|item| inline(item, definitions, expanding)).collect())
        }
        other => other.clone(),
    }
}

/// Calls `f` on every object node of a schema, depth first.
fn visit(node: &Value, f: &mut impl FnMut(&Map<String, Value>)) {
    match node {
        Value::Object(object) => {
            f(object);
            object.values().for_each(|value| visit(value, f));
        }
        Value::Array(items) => items.iter().for_each(|item| visit(item, f)),
        _ => {}
    }
}

fn make_strict(node: &mut Value) {
    match node {
        Value::Object(object) => {
            if let Some(one_of) = object.remove("oneOf") {
                object.insert("anyOf".into(), one_of);
            }
            let required: Vec<String> = match object.get("required") {
                Some(Value::Array(names)) => {
                    names.iter().filter_map(Value::as_str).map(str::to_string).collect()
                }
                _ => Vec::new(),
            };
            let mut names = None;
            if let Some(Value::Object(properties)) = object.get_mut("properties") {
                for (name, property) in properties.iter_mut() {
                    if !required.contains(name) {
                        make_nullable(property);
                    }
                }
                names = Some(properties.keys().cloned().map(Value::String).collect());
            }
            if let Some(names) = names {
                object.insert("required".into(), Value::Array(names));
                object.insert("additionalProperties".into(), Value::Bool(false));
            }
            object.values_mut().for_each(make_strict);
        }
        Value::Array(items) => items.iter_mut().for_each(make_strict),
        _ => {}
    }
}

/// Lets a property be `null`, which is how strict mode spells "optional".
fn make_nullable(property: &mut Value) {
    let null = Value::String("null".into());
    match property.get_mut("type") {
        Some(Value::Array(types)) if types.contains(&null) => {}
        Some(Value::Array(types)) => types.push(null),
        Some(single @ Value::String(_)) => {
            let name = single.take();
            *single = Value::Array(vec![name, null]);
        }
        _ => {
            let inner = property.take();
            *property = serde_json::json!({"anyOf": [inner, {"type": "null"}]});
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn with_refs() -> Value {
        json!({
            "type": "object",
            "properties": {
                "home": {"$ref": "#/$defs/Place", "description": "Where they live."},
                "trips": {"type": "array", "items": {"$ref": "#/$defs/Place"}},
                "nickname": {"type": "string"},
            },
            "required": ["home", "trips"],
            "$defs": {
                "Place": {
                    "type": "object",
                    "properties": {"city": {"type": "string"}, "zip": {"type": ["string", "null"]}},
                    "required": ["city"],
                },
            },
        })
    }

    #[test]
    fn references_are_inlined_with_their_sibling_keywords() {
        let inlined = adapt(&with_refs(), Dialect::Inlined);
        assert_eq!(inlined["properties"]["home"]["description"], "Where they live.");
        assert_eq!(inlined["properties"]["home"]["properties"]["city"]["type"], "string");
        assert_eq!(inlined["properties"]["trips"]["items"]["required"], json!(["city"]));
        assert!(inlined.get("$defs").is_none(), "{inlined}");
        assert!(!inlined.to_string().contains("$ref"), "{inlined}");
    }

    #[test]
    fn recursive_references_stay_with_their_definitions() {
        let tree = json!({
            "$ref": "#/$defs/Node",
            "$defs": {"Node": {
                "type": "object",
                "properties": {"children": {"type": "array", "items": {"$ref": "#/$defs/Node"}}},
            }},
        });
        let inlined = adapt(&tree, Dialect::Inlined);
        assert_eq!(inlined["type"], "object");
        assert_eq!(inlined["properties"]["children"]["items"]["$ref"], "#/$defs/Node");
        assert!(inlined["$defs"]["Node"].is_object());
    }

    #[test]
    fn strict_mode_closes_objects_and_requires_every_property() {
        let strict = adapt(&with_refs(), Dialect::OpenAiStrict);
        assert_eq!(strict["additionalProperties"], false);
        assert_eq!(strict["required"], json!(["home", "trips", "nickname"]));
        assert_eq!(strict["properties"]["nickname"]["type"], json!(["string", "null"]));
        let home = &strict["properties"]["home"];
        assert_eq!(home["additionalProperties"], false);
        assert_eq!(home["required"], json!(["city", "zip"]));
        assert_eq!(home["properties"]["zip"]["type"], json!(["string", "null"]));
        assert_eq!(strict["properties"]["trips"]["items"]["additionalProperties"], false);
    }

    #[test]
    fn strict_mode_makes_untyped_optionals_nullable_and_renames_one_of() {
        let schema = json!({
            "type": "object",
            "properties": {"shape": {"oneOf": [{"type": "string"}, {"type": "integer"}]}},
        });
        let strict = adapt(&schema, Dialect::OpenAiStrict);
        let shape = &strict["properties"]["shape"];
        assert_eq!(shape["anyOf"][1], json!({"type": "null"}));
        assert_eq!(shape["anyOf"][0]["anyOf"][0]["type"], "string");
        assert!(!strict.to_string().contains("oneOf"));
    }

    #[test]
    fn gemini_gets_its_subset() {
        let gemini = adapt(&with_refs(), Dialect::Gemini);
        let text = gemini.to_string();
        assert!(
            !text.contains("$ref")
                && !text.contains("$defs")
                && !text.contains("additionalProperties"),
            "{text}"
        );
        assert_eq!(gemini["properties"]["home"]["properties"]["city"]["type"], "string");
        assert_eq!(
            gemini["properties"]["home"]["properties"]["zip"],
            json!({"type": "string", "nullable": true})
        );
        let union = json!({"anyOf": [{"type": "integer", "format": "uint8", "minimum": 0}, {"type": "null"}]});
        let adapted = adapt(
            &json!({"type": "object", "properties": {"n": union, "k": {"const": "x"}}}),
            Dialect::Gemini,
        );
        assert_eq!(adapted["properties"]["n"]["nullable"], true);
        assert_eq!(adapted["properties"]["n"]["type"], "integer");
        assert!(adapted["properties"]["n"].get("format").is_none(), "{adapted}");
        assert_eq!(adapted["properties"]["k"], json!({"enum": ["x"]}));
    }

    /// A schemars schema with a `$ref`, `Option` fields and an enum, as Gemini takes it.
    #[test]
    fn a_schemars_schema_fits_gemini() {
        #[derive(schemars::JsonSchema)]
        #[allow(dead_code)]
        struct Place {
            city: String,
        }
        #[derive(schemars::JsonSchema)]
        #[allow(dead_code)]
        enum Mode {
            Train,
            Plane,
        }
        #[derive(schemars::JsonSchema)]
        #[allow(dead_code)]
        struct Trip {
            to: Place,
            from: Option<Place>,
            note: Option<String>,
            mode: Mode,
        }
        let schema = serde_json::to_value(schemars::schema_for!(Trip)).unwrap();
        let gemini = adapt(&schema, Dialect::Gemini);
        let text = gemini.to_string();
        for absent in ["$ref", "$defs", "$schema", "additionalProperties", "\"null\""] {
            assert!(!text.contains(absent), "{absent} in {text}");
        }
        assert_eq!(gemini["properties"]["to"]["properties"]["city"]["type"], "string");
        assert_eq!(gemini["properties"]["from"]["nullable"], true);
        assert_eq!(gemini["properties"]["from"]["properties"]["city"]["type"], "string");
        assert_eq!(gemini["properties"]["note"], json!({"type": "string", "nullable": true}));
        assert_eq!(gemini["properties"]["mode"]["enum"], json!(["Train", "Plane"]));
    }
}
