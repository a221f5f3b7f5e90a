//! Tools a model can call: the dynamic [`Tool`] trait and its typed form [`TypedTool`], whose
//! arguments are a Rust struct and whose JSON Schema is derived from it.

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::request::ToolSpec;
use crate::schema::schema_for;

/// Why a tool could not do what it was asked. The message goes back to the model as the tool's
/// result, so write it for the model: say what was wrong and, if it can, how to do better.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ToolError {
    /// The arguments did not make sense for the tool, though they may have matched its schema.
    #[error("invalid arguments: {0}")]
    InvalidArguments(String),
    /// The tool ran and failed.
    #[error("{0}")]
    Failed(String),
}

impl ToolError {
    /// A [`ToolError::Failed`] with this message.
    pub fn failed(message: impl std::fmt::Display) -> Self {
        ToolError::Failed(message.to_string())
    }
}

/// A tool with JSON arguments: implement this for tools whose schema is only known at run time.
///
/// Most tools are better written as a [`TypedTool`], which implements this trait for you.
#[async_trait]
pub trait Tool: Send + Sync {
    /// The name the model calls it by: letters, digits, `_` and `-`.
    fn name(&self) -> &str;

    /// What it does and when to use it, written for the model.
    fn description(&self) -> &str;

    /// The JSON Schema of its arguments, an object schema. Arguments are validated against it
    /// before [`Tool::call`] runs.
    fn parameters(&self) -> Value;

    /// Runs the tool with arguments that passed the schema.
    async fn call(&self, arguments: Value) -> Result<Value, ToolError>;

    /// The tool as a request declares it.
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: self.name().to_string(),
            description: self.description().to_string(),
            parameters: self.parameters(),
        }
    }
}

/// A tool whose arguments are a Rust type: its schema comes from `schemars`, with the doc comments
/// of the type's fields as descriptions, and its arguments arrive deserialised.
///
/// ```
/// use anymodel_core::{ToolError, TypedTool};
/// use schemars::JsonSchema;
/// use serde::Deserialize;
///
/// #[derive(Deserialize, JsonSchema)]
/// struct AddArgs {
///     /// The first number.
///     a: i64,
///     /// The second number.
///     b: i64,
/// }
///
/// struct Add;
///
/// #[async_trait::async_trait]
/// impl TypedTool for Add {
///     const NAME: &'static str = "add";
///     const DESCRIPTION: &'static str = "Adds two integers.";
///     type Args = AddArgs;
///     type Output = i64;
///
///     async fn run(&self, args: AddArgs) -> Result<i64, ToolError> {
///         args.a.checked_add(args.b).ok_or_else(|| ToolError::failed("the sum overflows"))
///     }
/// }
/// ```
#[async_trait]
pub trait TypedTool: Send + Sync {
    /// The name the model calls it by.
    const NAME: &'static str;
    /// What it does and when to use it, written for the model.
    const DESCRIPTION: &'static str;
    /// Its arguments; the JSON Schema the model sees is derived from this type.
    type Args: JsonSchema + DeserializeOwned + Send;
    /// What it returns; a string goes to the model as it is, anything else as JSON.
    type Output: Serialize + Send;

    /// Runs the tool.
    async fn run(&self, args: Self::Args) -> Result<Self::Output, ToolError>;
}

#[async_trait]
impl<T: TypedTool> Tool for T {
    fn name(&self) -> &str {
        T::NAME
    }

    fn description(&self) -> &str {
        T::DESCRIPTION
    }

    fn parameters(&self) -> Value {
        schema_for::<T::Args>()
    }

    async fn call(&self, arguments: Value) -> Result<Value, ToolError> {
        let args = serde_json::from_value(arguments)
            .map_err(|err| ToolError::InvalidArguments(err.to_string()))?;
        let output = self.run(args).await?;
        serde_json::to_value(output)
            .map_err(|err| ToolError::failed(format!("its result could not be encoded: {err}")))
    }
}
