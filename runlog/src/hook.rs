//! [`LogHook`]: an agent hook that writes each step of a run to the log as it ends.

use std::sync::{Arc, Mutex};

use anymodel_core::{
    AgentError, AgentHook, AgentRun, ChatRequest, RunCheckpoint, Step, ToolInvocation, async_trait,
};

use crate::error::LogError;
use crate::log::RunLog;

/// Logs one run: give it to the agent (`Agent::with_hook`, `AgentBuilder::hook`) after
/// [`RunLog::begin`]; it writes each step as it ends, journals a reply that calls tools before
/// they run and each call as it ends (so that a run killed mid-step resumes without making them
/// again), and the outcome when the run is over ([`RunLog::finish`]). A write the log cannot make does not stop the run: the first failure
/// is kept for [`LogHook::failure`].
#[derive(Debug)]
pub struct LogHook {
    log: Arc<RunLog>,
    run: i64,
    request: Mutex<Option<ChatRequest>>,
    /// The step that ended, with its request (none for a paused step's kept reply), until the
    /// run's checkpoint (or end) comes.
    step: Mutex<Option<(Option<ChatRequest>, Step)>>,
    failure: Mutex<Option<LogError>>,
}

impl LogHook {
    /// Logs into `log` under `run` (from [`RunLog::begin`]).
    pub fn new(log: Arc<RunLog>, run: i64) -> Self {
        LogHook {
            log,
            run,
            request: Mutex::new(None),
            step: Mutex::new(None),
            failure: Mutex::new(None),
        }
    }

    /// The first step the log could not write, if one failed (the log is then missing steps).
    pub fn failure(&self) -> Option<String> {
        lock(&self.failure).as_ref().map(ToString::to_string)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[async_trait]
impl AgentHook for LogHook {
    async fn before_model_call(&self, _step: usize, request: &ChatRequest) {
        *lock(&self.request) = Some(request.clone());
    }

    async fn after_tool_call(&self, _step: usize, invocation: &ToolInvocation) {
        if let Err(error) = self.log.record_completed(self.run, invocation) {
            tracing::warn!(%error, tool = %invocation.call.name, "the run log missed a tool call");
            lock(&self.failure).get_or_insert(error);
        }
    }

    async fn after_step(&self, step: &Step) {
        let request = lock(&self.request).take();
        *lock(&self.step) = Some((request, step.clone()));
    }

    async fn checkpoint(&self, checkpoint: &RunCheckpoint) {
        if lock(&self.step).is_some() {
            self.write_step(Some(checkpoint));
        } else if let Err(error) = self.log.record_checkpoint(self.run, checkpoint) {
            tracing::warn!(%error, "the run log missed where the run stands");
            lock(&self.failure).get_or_insert(error);
        }
    }

    async fn after_run(&self, outcome: Result<&AgentRun, &AgentError>) {
        self.write_step(None);
        if let Err(error) = self.log.finish(self.run, outcome) {
            tracing::warn!(%error, "the run log missed the run's end");
            lock(&self.failure).get_or_insert(error);
        }
    }
}

impl LogHook {
    /// Writes the step that ended, in one transaction with where the run stands.
    fn write_step(&self, checkpoint: Option<&RunCheckpoint>) {
        let Some((request, step)) = lock(&self.step).take() else { return };
        if let Err(error) = self.log.record_step(self.run, request.as_ref(), &step, checkpoint) {
            tracing::warn!(%error, step = step.index, "the run log missed a step");
            lock(&self.failure).get_or_insert(error);
        }
    }
}
