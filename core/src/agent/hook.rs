//! Hooks that watch an agent run and may refuse tool calls: the basis for approval prompts,
//! run logs, traces and progress displays.

use async_trait::async_trait;

use super::checkpoint::RunCheckpoint;
use super::error::AgentError;
use super::record::{AgentRun, Step, ToolInvocation};
use crate::message::ToolCall;
use crate::request::ChatRequest;

/// Whether a tool call may run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolDecision {
    /// Run it.
    Allow,
    /// Do not run it; the model is told the reason as the call's result.
    Deny {
        /// Why, written for the model.
        reason: String,
    },
    /// Stop the run before any call of this step runs, until someone decides: the run ends
    /// with [`super::AgentErrorKind::Paused`], whose checkpoint resumes it
    /// ([`super::Agent::resume`]) with the model's reply kept, and the hooks asked again.
    Pause {
        /// What awaits a decision, written for a person.
        reason: String,
    },
}

/// Watches an agent run. Every method has a default that does nothing, so implement only the
/// ones you need.
#[async_trait]
pub trait AgentHook: Send + Sync {
    /// Called before each model call with the request as it is sent (step from 1).
    async fn before_model_call(&self, _step: usize, _request: &ChatRequest) {}

    /// Called before each tool call runs, for every call of a step before any of them runs; the
    /// first hook that does not allow it decides.
    async fn before_tool_call(&self, _call: &ToolCall) -> ToolDecision {
        ToolDecision::Allow
    }

    /// Called as each tool call of step `step` ends (in the order the model made them), before
    /// the step's others may have: what a journal keeps so that a run stopped mid-step goes on
    /// without making this call again ([`RunCheckpoint::completed`]).
    async fn after_tool_call(&self, _step: usize, _invocation: &ToolInvocation) {}

    /// Called after each step, with everything that happened in it.
    async fn after_step(&self, _step: &Step) {}

    /// Called with where the run stands whenever it could be resumed from there
    /// ([`super::Agent::resume`]): after each step that did not end the run, before the next
    /// model call; and once a reply that calls tools is in, before any of them runs (with the
    /// reply as [`RunCheckpoint::pending`], so that a run stopped mid-step does not ask the
    /// model again). What a run log saves.
    async fn checkpoint(&self, _checkpoint: &RunCheckpoint) {}

    /// Called once the run is over: answered, or stopped with why (and what it had done).
    async fn after_run(&self, _outcome: Result<&AgentRun, &AgentError>) {}
}

/// A shared hook is a hook, so a caller can keep a handle on one it gave to an agent.
#[async_trait]
impl<H: AgentHook + ?Sized> AgentHook for std::sync::Arc<H> {
    async fn before_model_call(&self, step: usize, request: &ChatRequest) {
        (**self).before_model_call(step, request).await
    }

    async fn before_tool_call(&self, call: &ToolCall) -> ToolDecision {
        (**self).before_tool_call(call).await
    }

    async fn after_tool_call(&self, step: usize, invocation: &ToolInvocation) {
        (**self).after_tool_call(step, invocation).await
    }

    async fn after_step(&self, step: &Step) {
        (**self).after_step(step).await
    }

    async fn checkpoint(&self, checkpoint: &RunCheckpoint) {
        (**self).checkpoint(checkpoint).await
    }

    async fn after_run(&self, outcome: Result<&AgentRun, &AgentError>) {
        (**self).after_run(outcome).await
    }
}
