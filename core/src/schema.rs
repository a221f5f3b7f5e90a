//! JSON Schema from Rust types, as tools and typed output hand it to models.

use schemars::JsonSchema;
use schemars::generate::SchemaSettings;
use serde_json::Value;

/// The JSON Schema (draft 2020-12) of `T`, with the doc comments of `T` and its fields as
/// `description`s, and without the `$schema` and `title` keys, which only cost models tokens.
///
/// Provider-specific adjustments (strict mode, inlined `$ref`s) belong to the backends.
pub fn schema_for<T: JsonSchema>() -> Value {
    let generator = SchemaSettings::draft2020_12()
        .with(|settings| settings.meta_schema = None)
        .into_generator();
    let mut schema = Value::from(generator.into_root_schema_for::<T>());
    if let Some(object) = schema.as_object_mut() {
        object.remove("title");
    }
    schema
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Where to look.
    #[derive(JsonSchema)]
    #[allow(dead_code)]
    struct Lookup {
        /// The word to look up.
        word: String,
        /// How many senses to list.
        limit: Option<u8>,
    }

    #[test]
    fn carries_doc_comments_and_required_fields() {
        let schema = schema_for::<Lookup>();
        assert_eq!(schema["type"], "object");
        assert_eq!(schema["description"], "Where to look.");
        assert_eq!(schema["properties"]["word"]["description"], "The word to look up.");
        assert_eq!(schema["properties"]["limit"]["description"], "How many senses to list.");
        assert_eq!(schema["required"], json!(["word"]));
        assert!(schema.get("$schema").is_none() && schema.get("title").is_none(), "{schema}");
    }
}
