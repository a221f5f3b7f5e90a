//! How an agent run can fail; every failure keeps the run so far, so no work is lost.

use serde_json::Value;

use super::record::AgentRun;
use crate::error::Error;
use crate::message::Message;

/// An agent run that stopped before an answer, with everything it had done.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{kind}")]
pub struct AgentError {
    /// Why it stopped.
    pub kind: AgentErrorKind,
    /// The run up to the failure: transcript, steps and usage (its answer is the last text the
    /// model gave, if any).
    pub partial: Box<AgentRun>,
}

impl AgentError {
    /// The conversation up to the failure.
    pub fn transcript(&self) -> &[Message] {
        &self.partial.transcript
    }
}

/// Why an agent run stopped without an answer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum AgentErrorKind {
    /// The model call of a step failed.
    #[error("the model failed at step {step}: {source}")]
    Model {
        /// The step, from 1.
        step: usize,
        /// The model's error.
        #[source]
        source: Error,
    },
    /// The model was still calling tools when the step limit was reached.
    #[error("no answer after {limit} steps (the step limit)")]
    MaxSteps {
        /// The limit.
        limit: usize,
    },
    /// The model asked for more tool calls than the run allows.
    #[error("the model asked for more than {limit} tool calls (the tool-call limit)")]
    MaxToolCalls {
        /// The limit.
        limit: usize,
    },
    /// A hook paused the run before the tool calls of a step ran ([`super::ToolDecision::Pause`]):
    /// resume it from `checkpoint` once they are decided.
    #[error("paused at step {step}: {reason}")]
    Paused {
        /// The step whose calls wait.
        step: usize,
        /// What awaits a decision.
        reason: String,
        /// The calls that wait.
        calls: Vec<crate::message::ToolCall>,
        /// Where the run stands: the reply with those calls kept as pending.
        checkpoint: Box<super::RunCheckpoint>,
    },
    /// The model kept making the same call with the same arguments.
    #[error("the model called `{tool}` with the same arguments {times} times in a row")]
    RepeatedToolCall {
        /// The tool.
        tool: String,
        /// The arguments it repeated.
        arguments: Value,
        /// How many times in a row.
        times: usize,
    },
}

impl AgentErrorKind {
    /// Why the run stopped, as a short stable word: the model error's class
    /// ([`Error::class`]), the limit reached (`max_steps`, `max_tool_calls`,
    /// `repeated_tool_call`), or `paused`.
    pub fn class(&self) -> &'static str {
        match self {
            AgentErrorKind::Model { source, .. } => source.class(),
            AgentErrorKind::MaxSteps { .. } => "max_steps",
            AgentErrorKind::MaxToolCalls { .. } => "max_tool_calls",
            AgentErrorKind::RepeatedToolCall { .. } => "repeated_tool_call",
            AgentErrorKind::Paused { .. } => "paused",
        }
    }
}
