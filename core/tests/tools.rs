//! Typed tools: their schemas, and the checks a tool set makes before running them.

use anymodel_core::{
    Error, Tool, ToolCall, ToolCallError, ToolError, ToolSet, TypedTool, async_trait,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Where and how to search.
#[derive(Deserialize, JsonSchema)]
#[allow(dead_code)]
struct SearchArgs {
    /// Words to look for.
    query: String,
    /// How many results to return.
    limit: Option<u32>,
    /// Which collection to search.
    scope: Scope,
}

/// A collection.
#[derive(Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)]
enum Scope {
    /// Only the user's notes.
    Notes,
    /// Everything.
    All,
}

#[derive(Serialize)]
struct Hit {
    title: String,
}

struct Search;

#[async_trait]
impl TypedTool for Search {
    const NAME: &'static str = "search";
    const DESCRIPTION: &'static str = "Searches the user's documents.";
    type Args = SearchArgs;
    type Output = Vec<Hit>;

    async fn run(&self, args: SearchArgs) -> Result<Vec<Hit>, ToolError> {
        Ok(vec![Hit { title: format!("about {}", args.query) }])
    }
}

#[test]
fn a_typed_tools_schema_carries_its_doc_comments_and_required_fields() {
    let spec = Search.spec();
    assert_eq!(spec.name, "search");
    assert_eq!(spec.description, "Searches the user's documents.");
    let schema = &spec.parameters;
    assert_eq!(schema["type"], "object");
    assert_eq!(schema["properties"]["query"]["description"], "Words to look for.");
    assert_eq!(schema["properties"]["limit"]["description"], "How many results to return.");
    assert_eq!(schema["required"], json!(["query", "scope"]));
    let scope = serde_json::to_string(&schema["$defs"]["Scope"]).unwrap();
    assert!(scope.contains("Only the user's notes.") && scope.contains("\"notes\""), "{scope}");
}

#[tokio::test]
async fn a_typed_tool_gets_its_arguments_deserialised_and_its_output_encoded() {
    let mut tools = ToolSet::new();
    tools.add(Search).unwrap();
    let call = ToolCall::new("1", "search", json!({"query": "rust", "scope": "notes"}));
    assert_eq!(tools.invoke(&call, None).await, Ok(json!([{"title": "about rust"}])));
    let bad_enum = ToolCall::new("2", "search", json!({"query": "rust", "scope": "mail"}));
    assert!(matches!(
        tools.invoke(&bad_enum, None).await,
        Err(ToolCallError::InvalidArguments { problems, .. }) if problems[0].starts_with("at /scope:")
    ));
}

/// A dynamic tool whose schema is not a schema.
struct Malformed;

#[async_trait]
impl Tool for Malformed {
    fn name(&self) -> &str {
        "malformed"
    }

    fn description(&self) -> &str {
        "Has a broken schema."
    }

    fn parameters(&self) -> Value {
        json!({"type": "objekt"})
    }

    async fn call(&self, _: Value) -> Result<Value, ToolError> {
        Ok(Value::Null)
    }
}

#[test]
fn a_tool_with_a_broken_schema_is_refused() {
    let mut tools = ToolSet::new();
    let err = tools.add(Malformed).unwrap_err();
    assert!(
        matches!(&err, Error::Configuration { message } if message.starts_with("the parameters of tool `malformed` are not a valid JSON Schema")),
        "{err}"
    );
    assert!(tools.is_empty());
}
