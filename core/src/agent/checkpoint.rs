//! Where a run stands between steps, as a value: what a run log saves after each step, and
//! what [`Agent::resume`] goes on from after the process that ran it was killed.

use serde::{Deserialize, Serialize};

use super::Agent;
use super::record::ToolInvocation;
use crate::message::Message;
use crate::response::{ChatResponse, Usage};

/// A run between two steps, or within one: everything resuming it needs. Every tool call of the
/// steps done has its result in the transcript, and those of the pending reply made so far are
/// in [`RunCheckpoint::completed`], so a resumed run never calls a tool again.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunCheckpoint {
    /// The conversation so far: the system prompt, the input, each reply and tool result.
    pub transcript: Vec<Message>,
    /// How many steps (model calls) are done.
    pub steps: usize,
    /// How many tool calls were made, counted against [`super::Limits::max_tool_calls`].
    pub tool_calls: usize,
    /// The tokens of the steps done (and of the pending reply).
    pub usage: Usage,
    /// The model's reply whose tool calls are not all made: waiting for a decision (a run
    /// paused for approval), or running when the checkpoint was taken. Resuming takes it as the
    /// next step's reply instead of asking the model again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<ChatResponse>,
    /// The pending reply's tool calls already made, with their results (a journal's, as
    /// [`super::AgentHook::after_tool_call`] reported them): resuming takes these instead of
    /// calling again.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub completed: Vec<ToolInvocation>,
}

impl Agent {
    /// The checkpoint a run on `input` starts from (no step done yet).
    pub fn checkpoint_for(&self, input: Vec<Message>) -> RunCheckpoint {
        RunCheckpoint { transcript: self.transcript_for(input), ..RunCheckpoint::default() }
    }
}
