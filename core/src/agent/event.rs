//! What [`crate::Agent::run_stream`] reports while a run goes on.

use serde::{Deserialize, Serialize};

use super::record::{AgentRun, Step, ToolInvocation};
use crate::message::ToolCall;

/// Something that happened during an agent run, in the order it happened.
///
/// For each step: the model's reasoning and text deltas, then a `ToolCallRequested` for each call it made, a
/// `ToolResult` for each call in call order, then `StepDone`. The last event is `Finished`, unless
/// the run fails, in which case the stream's last item is the error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum AgentEvent {
    /// The model produced more reasoning (a reasoning model's thinking, before its answer).
    ReasoningDelta {
        /// The step, from 1.
        step: usize,
        /// The new reasoning text.
        text: String,
    },
    /// The model produced more text.
    TextDelta {
        /// The step, from 1.
        step: usize,
        /// The new text.
        text: String,
    },
    /// The model asked for a tool call.
    ToolCallRequested {
        /// The step, from 1.
        step: usize,
        /// The call.
        call: ToolCall,
    },
    /// A tool call finished (or failed, or was refused).
    ToolResult {
        /// The step, from 1.
        step: usize,
        /// The call and its result.
        invocation: ToolInvocation,
    },
    /// A step is over.
    StepDone {
        /// What happened in it.
        step: Step,
    },
    /// The run is over.
    Finished {
        /// The whole run.
        run: AgentRun,
    },
}
