//! `--schema`: a JSON Schema from a file, or written short: `name, age int, bio: their life`.

use serde_json::{Map, Value, json};

use super::Failure;

/// The schema `spec` names: the JSON Schema in the file at that path, or a short description of
/// an object's fields, separated by commas or new lines, each `NAME [TYPE][: DESCRIPTION]` with
/// TYPE one of str (the default), int, float, bool.
pub fn parse(spec: &str) -> Result<Value, Failure> {
    let path = std::path::Path::new(spec);
    if path.is_file() {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Failure::Usage(format!("--schema {spec}: {e}")))?;
        return serde_json::from_str(&text)
            .map_err(|e| Failure::Usage(format!("--schema {spec}: not JSON: {e}")));
    }
    let mut properties = Map::new();
    let mut required = Vec::new();
    for field in spec.split([',', '\n']).map(str::trim).filter(|f| !f.is_empty()) {
        let (head, description) = match field.split_once(':') {
            Some((head, description)) => (head.trim(), Some(description.trim())),
            None => (field, None),
        };
        let mut words = head.split_whitespace();
        let (Some(name), kind, None) = (words.next(), words.next(), words.next()) else {
            return Err(Failure::Usage(format!(
                "--schema: `{field}` is not NAME [TYPE][: DESCRIPTION]"
            )));
        };
        let kind = match kind.unwrap_or("str") {
            "str" | "string" => "string",
            "int" | "integer" => "integer",
            "float" | "number" => "number",
            "bool" | "boolean" => "boolean",
            other => {
                return Err(Failure::Usage(format!(
                    "--schema: `{other}` is not a type; the types are str, int, float, bool"
                )));
            }
        };
        let mut property = json!({ "type": kind });
        if let Some(description) = description {
            property["description"] = Value::String(description.to_string());
        }
        properties.insert(name.to_string(), property);
        required.push(Value::String(name.to_string()));
    }
    if properties.is_empty() {
        return Err(Failure::Usage(format!("--schema `{spec}`: neither a file nor any field")));
    }
    Ok(
        json!({ "type": "object", "properties": properties, "required": required, "additionalProperties": false }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_schemas_describe_objects() {
        let schema = parse("name, age int, height float: in metres\nalive bool").unwrap();
        assert_eq!(
            schema,
            json!({
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "age": {"type": "integer"},
                    "height": {"type": "number", "description": "in metres"},
                    "alive": {"type": "boolean"}
                },
                "required": ["name", "age", "height", "alive"],
                "additionalProperties": false
            })
        );
        assert!(
            matches!(parse("age years"), Err(Failure::Usage(why)) if why.contains("`years` is not a type"))
        );
        assert!(parse(" , ").is_err());
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1024))]

        /// Any short description gives an object schema or a usage error, never a panic.
        #[test]
        fn any_short_schema_parses_or_is_refused(spec in "[a-z_ :,\n]{0,60}|\\PC{0,60}") {
            if let Ok(schema) = super::parse(&spec) {
                prop_assert_eq!(&schema["type"], "object");
            }
        }
    }
}
