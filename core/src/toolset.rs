//! A set of tools by name: checks each call's arguments against the tool's schema, runs it under
//! a timeout, and turns every way a call can go wrong into a message the model can act on.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::content::Content;
use crate::error::{Error, Result};
use crate::message::ToolCall;
use crate::request::ToolSpec;
use crate::tool::{Tool, ToolError};

/// Why a tool call produced no result. Its `Display` is written for the model, which receives it
/// as the call's result and can correct itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ToolCallError {
    /// No tool of that name is declared.
    #[error("there is no tool named `{name}`; the tools are: {}", list(available))]
    UnknownTool {
        /// The name the model used.
        name: String,
        /// The names it could have used.
        available: Vec<String>,
    },
    /// The arguments are not JSON, not an object, or do not match the tool's schema.
    #[error("invalid arguments for `{tool}`: {}. Call it again with arguments that match its schema.", problems.join("; "))]
    InvalidArguments {
        /// The tool.
        tool: String,
        /// Each problem, with the JSON pointer of the argument at fault.
        problems: Vec<String>,
    },
    /// The tool ran and failed.
    #[error("`{tool}` failed: {message}")]
    Failed {
        /// The tool.
        tool: String,
        /// What it reported.
        message: String,
    },
    /// The tool did not finish in time and was stopped.
    #[error("`{tool}` did not finish within {} s and was stopped", *timeout_ms as f64 / 1000.0)]
    TimedOut {
        /// The tool.
        tool: String,
        /// The time it was given, in milliseconds.
        timeout_ms: u64,
    },
    /// A hook refused to let the call run.
    #[error("the call to `{tool}` was not allowed: {reason}")]
    Denied {
        /// The tool.
        tool: String,
        /// Why, as the hook gave it.
        reason: String,
    },
}

fn list(names: &[String]) -> String {
    if names.is_empty() { "none".to_string() } else { names.join(", ") }
}

struct Registered {
    tool: Arc<dyn Tool>,
    spec: ToolSpec,
    validator: jsonschema::Validator,
}

/// Tools by name, each with its schema compiled once for checking arguments.
///
/// Cloning is cheap: the tools are shared.
#[derive(Clone, Default)]
pub struct ToolSet {
    tools: Vec<Arc<Registered>>,
}

impl fmt::Debug for ToolSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.tools.iter().map(|t| &t.spec.name)).finish()
    }
}

impl ToolSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a tool. Fails with [`Error::Configuration`] when its name is taken or empty, or its
    /// parameters are not a valid JSON Schema.
    pub fn add(&mut self, tool: impl Tool + 'static) -> Result<()> {
        self.add_shared(Arc::new(tool))
    }

    /// Adds a tool that is shared with others.
    pub fn add_shared(&mut self, tool: Arc<dyn Tool>) -> Result<()> {
        let spec = tool.spec();
        if spec.name.is_empty() {
            return Err(Error::config("a tool has an empty name"));
        }
        if self.get(&spec.name).is_some() {
            return Err(Error::config(format!("two tools are named `{}`", spec.name)));
        }
        let validator = jsonschema::validator_for(&spec.parameters).map_err(|err| {
            Error::config(format!(
                "the parameters of tool `{}` are not a valid JSON Schema: {err}",
                spec.name
            ))
        })?;
        self.tools.push(Arc::new(Registered { tool, spec, validator }));
        Ok(())
    }

    /// The tool of that name.
    pub fn get(&self, name: &str) -> Option<&Arc<dyn Tool>> {
        self.registered(name).map(|r| &r.tool)
    }

    fn registered(&self, name: &str) -> Option<&Registered> {
        self.tools.iter().find(|r| r.spec.name == name).map(|r| &**r)
    }

    /// Whether the set holds no tool.
    pub fn is_empty(&self) -> bool {
        self.tools.is_empty()
    }

    /// The names of the tools, in the order they were added.
    pub fn names(&self) -> Vec<String> {
        self.tools.iter().map(|r| r.spec.name.clone()).collect()
    }

    /// The tools as a request declares them, in the order they were added.
    pub fn specs(&self) -> Vec<ToolSpec> {
        self.tools.iter().map(|r| r.spec.clone()).collect()
    }

    /// Checks a call's arguments, then runs it, stopping it after `timeout` when one is given.
    pub async fn invoke(
        &self,
        call: &ToolCall,
        timeout: Option<Duration>,
    ) -> Result<Value, ToolCallError> {
        let Some(registered) = self.registered(&call.name) else {
            return Err(ToolCallError::UnknownTool {
                name: call.name.clone(),
                available: self.names(),
            });
        };
        let invalid =
            |problems| ToolCallError::InvalidArguments { tool: call.name.clone(), problems };
        match &call.arguments {
            Value::Object(_) => {}
            Value::String(raw) => {
                return Err(invalid(vec![format!("the arguments are not valid JSON: {raw}")]));
            }
            other => {
                return Err(invalid(vec![format!(
                    "the arguments must be a JSON object, not {other}"
                )]));
            }
        }
        let problems: Vec<String> = registered
            .validator
            .iter_errors(&call.arguments)
            .map(|err| match err.instance_path().as_str() {
                "" => err.to_string(),
                path => format!("at {path}: {err}"),
            })
            .collect();
        if !problems.is_empty() {
            return Err(invalid(problems));
        }
        let run = registered.tool.call(call.arguments.clone());
        let outcome = match timeout {
            Some(limit) => {
                tokio::time::timeout(limit, run).await.map_err(|_| ToolCallError::TimedOut {
                    tool: call.name.clone(),
                    timeout_ms: u64::try_from(limit.as_millis()).unwrap_or(u64::MAX),
                })?
            }
            None => run.await,
        };
        outcome.map_err(|err| match err {
            ToolError::InvalidArguments(problem) => invalid(vec![problem]),
            ToolError::Failed(message) => {
                ToolCallError::Failed { tool: call.name.clone(), message }
            }
        })
    }
}

/// The one key of a tool output made by [`content_output`].
const CONTENT_KEY: &str = "$content";

/// A tool output that carries images or documents beside its text (an MCP tool's screenshot,
/// say): the model receives `content` as the tool result's parts where its wire takes them.
/// The value is `{"$content": CONTENT}`, so it stays plain JSON in run records.
pub fn content_output(content: Content) -> Value {
    let mut object = serde_json::Map::new();
    // Content serialises to a string or an array of parts; it cannot fail.
    object.insert(CONTENT_KEY.to_string(), serde_json::to_value(content).unwrap_or_default());
    Value::Object(object)
}

/// The content a tool output gives the model: the parts of a [`content_output`], else the
/// output as text ([`output_text`]).
pub fn output_content(output: &Value) -> Content {
    carried_content(output).unwrap_or_else(|| output_text(output).into())
}

fn carried_content(output: &Value) -> Option<Content> {
    match output.as_object() {
        Some(object) if object.len() == 1 => {
            serde_json::from_value(object.get(CONTENT_KEY)?.clone()).ok()
        }
        _ => None,
    }
}

/// A tool's output as the model reads it: strings as they are, the text of a
/// [`content_output`] (media shown as `[image: TYPE]`), anything else as JSON.
pub fn output_text(output: &Value) -> String {
    if let Some(content) = carried_content(output) {
        return content.to_string();
    }
    match output {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}
