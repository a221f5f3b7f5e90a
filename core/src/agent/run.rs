//! The agent loop: ask the model, run the tools it calls, send their results back, until it
//! answers or a limit stops it.

use std::time::Instant;

use futures::StreamExt;
use futures::future::{self, FutureExt};
use futures::stream::{self, BoxStream};
use serde_json::Value;
use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};
use tracing::Instrument;

use super::{
    Agent, AgentError, AgentErrorKind, AgentEvent, AgentRun, RunCheckpoint, Step, ToolDecision,
    ToolInvocation,
};
use crate::content::Content;
use crate::error::Error;
use crate::message::{Message, ToolCall};
use crate::request::{ChatRequest, ToolChoice};
use crate::response::ChatResponse;
use crate::stream::{ReplyAggregator, StreamEvent};
use crate::telemetry;
use crate::toolset::ToolCallError;

/// Where a run reports its events: nowhere for [`Agent::run`], a channel for the streams.
type Events<'a> = Option<&'a UnboundedSender<Result<AgentEvent, AgentError>>>;

fn emit(events: Events<'_>, event: AgentEvent) {
    if let Some(sender) = events {
        // The receiver only goes away with the stream that drives this run, so nobody is left
        // to tell.
        let _ = sender.send(Ok(event));
    }
}

fn millis_since(start: Instant) -> u64 {
    u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX)
}

impl Agent {
    /// Runs the agent on one user prompt until the model answers.
    pub async fn run(&self, prompt: impl Into<Content>) -> Result<AgentRun, AgentError> {
        self.run_messages(vec![Message::user(prompt)]).await
    }

    /// Runs the agent on a conversation (without the system prompt, which the agent adds), as a
    /// chat does turn after turn.
    pub async fn run_messages(&self, messages: Vec<Message>) -> Result<AgentRun, AgentError> {
        self.drive(self.checkpoint_for(messages), None).await
    }

    /// Goes on with a run from `checkpoint` (as a run log saved it after a step): the steps
    /// done are not taken again, and their tool calls not made again. The run's record holds
    /// the steps taken from here; its limits count the steps and tool calls before too.
    pub async fn resume(&self, checkpoint: RunCheckpoint) -> Result<AgentRun, AgentError> {
        self.drive(checkpoint, None).await
    }

    /// Runs the agent on one user prompt, reporting [`AgentEvent`]s as they happen. The model is
    /// streamed, so its text arrives as it is generated. Dropping the stream cancels the run.
    pub fn run_stream(
        &self,
        prompt: impl Into<Content>,
    ) -> BoxStream<'_, Result<AgentEvent, AgentError>> {
        self.run_messages_stream(vec![Message::user(prompt)])
    }

    /// [`Agent::run_stream`] on a conversation.
    pub fn run_messages_stream(
        &self,
        messages: Vec<Message>,
    ) -> BoxStream<'_, Result<AgentEvent, AgentError>> {
        self.resume_stream(self.checkpoint_for(messages))
    }

    /// [`Agent::resume`], reporting [`AgentEvent`]s as [`Agent::run_stream`] does.
    pub fn resume_stream(
        &self,
        checkpoint: RunCheckpoint,
    ) -> BoxStream<'_, Result<AgentEvent, AgentError>> {
        let (sender, receiver) = unbounded_channel();
        let driver = async move {
            let last =
                self.drive(checkpoint, Some(&sender)).await.map(|run| AgentEvent::Finished { run });
            let _ = sender.send(last);
        };
        let events = stream::unfold(receiver, |mut receiver| async move {
            receiver.recv().await.map(|event| (event, receiver))
        });
        // The driver yields nothing; polling it alongside the receiver makes the run progress
        // exactly as fast as its events are read, without spawning a task.
        stream::select(events.map(Some), driver.into_stream().map(|()| None))
            .filter_map(future::ready)
            .boxed()
    }

    /// The request the first step of a run on `input` sends: what the model receives first
    /// (`anymodel run --show-prompt` prints it through [`crate::Model::preview`]).
    pub fn first_request(&self, input: Vec<Message>) -> ChatRequest {
        self.step_request(self.transcript_for(input), 1)
    }

    /// The conversation a run on `input` starts from: the system prompt, then `input`.
    pub(super) fn transcript_for(&self, input: Vec<Message>) -> Vec<Message> {
        self.system.iter().map(|system| Message::system(system.clone())).chain(input).collect()
    }

    /// The request step `index` sends for `transcript`: the agent's tool choice at the first
    /// step, `auto` after (except `none`, which holds throughout).
    fn step_request(&self, transcript: Vec<Message>, index: usize) -> ChatRequest {
        let tool_choice = match &self.tool_choice {
            ToolChoice::None => ToolChoice::None,
            _ if index > 1 => ToolChoice::Auto,
            choice => choice.clone(),
        };
        ChatRequest {
            messages: transcript,
            tools: self.tools.specs(),
            tool_choice,
            sampling: self.sampling.clone(),
            reasoning: self.reasoning,
            cache: self.cache.clone(),
            ..Default::default()
        }
    }

    /// Runs the steps, then tells the hooks how the run ended.
    async fn drive(
        &self,
        checkpoint: RunCheckpoint,
        events: Events<'_>,
    ) -> Result<AgentRun, AgentError> {
        let span = telemetry::agent_span(self.name.as_deref(), &*self.model);
        let outcome = self.steps(checkpoint, events).instrument(span.clone()).await;
        let (usage, error) = match &outcome {
            Ok(run) => (run.usage, None),
            Err(error) => (error.partial.usage, Some(error.kind.class())),
        };
        telemetry::record_run(&span, usage, error);
        // The run's span ends with the run, before the hooks' own work on its end.
        drop(span);
        for hook in &self.hooks {
            hook.after_run(outcome.as_ref()).await;
        }
        outcome
    }

    async fn steps(
        &self,
        mut checkpoint: RunCheckpoint,
        events: Events<'_>,
    ) -> Result<AgentRun, AgentError> {
        let first = checkpoint.steps + 1;
        let mut pending = checkpoint.pending.take();
        let mut completed = std::mem::take(&mut checkpoint.completed);
        let mut run = RunState::new(self, checkpoint);
        let limits = &self.limits;
        for index in first..=limits.max_steps {
            let step_start = Instant::now();
            // `done`: the reply's tool calls already made (a run resumed mid-step).
            let (response, done) = match pending.take() {
                // A resumed run goes on with the reply it had; its tokens are counted already.
                Some(response) => (response, std::mem::take(&mut completed)),
                None => {
                    let request = self.step_request(run.record.transcript.clone(), index);
                    for hook in &self.hooks {
                        hook.before_model_call(index, &request).await;
                    }
                    let span = telemetry::chat_span(&*self.model, &request);
                    let reply = self.ask(request, index, events).instrument(span.clone()).await;
                    telemetry::record_reply(&span, reply.as_ref());
                    let response = match reply {
                        Ok(response) => response,
                        Err(source) => {
                            return Err(run.fail(AgentErrorKind::Model { step: index, source }));
                        }
                    };
                    run.record.usage += response.usage;
                    (response, Vec::new())
                }
            };
            tracing::debug!(
                step = index,
                tool_calls = response.message.tool_calls.len(),
                finish_reason = ?response.finish_reason,
                "model replied"
            );
            let calls = response.message.tool_calls.clone();
            let decisions = self.decide(&calls, &done).await;
            let (waiting, reasons): (Vec<ToolCall>, Vec<&str>) = calls
                .iter()
                .zip(&decisions)
                .filter_map(|(call, decision)| match decision {
                    ToolDecision::Pause { reason } => Some((call.clone(), reason.as_str())),
                    _ => None,
                })
                .unzip();
            if !waiting.is_empty() {
                let reason = reasons.join("; ");
                let checkpoint = run.checkpoint_within(index, response, done);
                for hook in &self.hooks {
                    hook.checkpoint(&checkpoint).await;
                }
                return Err(run.fail(AgentErrorKind::Paused {
                    step: index,
                    reason,
                    calls: waiting,
                    checkpoint: Box::new(checkpoint),
                }));
            }
            if !calls.is_empty() && !self.hooks.is_empty() {
                // The reply is journaled before any of its calls runs: a run stopped from here
                // on is resumed without asking the model again.
                let checkpoint = run.checkpoint_within(index, response.clone(), done.clone());
                for hook in &self.hooks {
                    hook.checkpoint(&checkpoint).await;
                }
            }
            run.record.transcript.push(Message::Assistant(response.message.clone()));
            if !calls.is_empty() {
                if let Some(kind) = run.check_calls(&calls, limits) {
                    return Err(run.fail(kind));
                }
                for call in &calls {
                    emit(events, AgentEvent::ToolCallRequested { step: index, call: call.clone() });
                }
            }
            let mut invocations = Vec::with_capacity(calls.len());
            // `buffered` runs up to the limit at once and yields results in call order.
            // (The futures are collected first: a lazy `map` closure here defeats the check that
            // the run's future is `Send`.)
            let started: Vec<_> = calls
                .iter()
                .zip(decisions)
                .map(|(call, decision)| {
                    let made = done.iter().find(|made| made.call.id == call.id).cloned();
                    async move {
                        match made {
                            Some(invocation) => (invocation, false),
                            None => (self.invoke(call, decision).await, true),
                        }
                    }
                })
                .collect();
            let mut running = stream::iter(started).buffered(limits.max_concurrent_tools);
            while let Some((invocation, new)) = running.next().await {
                if new {
                    for hook in &self.hooks {
                        hook.after_tool_call(index, &invocation).await;
                    }
                }
                run.record.transcript.push(Message::Tool(invocation.to_message()));
                emit(
                    events,
                    AgentEvent::ToolResult { step: index, invocation: invocation.clone() },
                );
                invocations.push(invocation);
            }
            drop(running);
            let step = Step {
                index,
                response,
                tool_calls: invocations,
                elapsed_ms: millis_since(step_start),
            };
            for hook in &self.hooks {
                hook.after_step(&step).await;
            }
            emit(events, AgentEvent::StepDone { step: step.clone() });
            let answered = step.tool_calls.is_empty();
            run.record.answer = step.response.message.content.clone();
            run.record.steps.push(step);
            if answered {
                return Ok(run.finish());
            }
            if !self.hooks.is_empty() {
                let checkpoint = run.checkpoint(index);
                for hook in &self.hooks {
                    hook.checkpoint(&checkpoint).await;
                }
            }
        }
        Err(run.fail(AgentErrorKind::MaxSteps { limit: limits.max_steps }))
    }

    /// One model call; streamed, with its text forwarded, when events are wanted.
    async fn ask(
        &self,
        request: ChatRequest,
        step: usize,
        events: Events<'_>,
    ) -> Result<ChatResponse, Error> {
        if events.is_none() {
            return self.model.chat(request).await;
        }
        let mut stream = self.model.stream(request).await?;
        let mut aggregator = ReplyAggregator::new();
        while let Some(event) = stream.next().await {
            let event = event?;
            match &event {
                StreamEvent::TextDelta { text } => {
                    emit(events, AgentEvent::TextDelta { step, text: text.clone() });
                }
                StreamEvent::ReasoningDelta { text } => {
                    emit(events, AgentEvent::ReasoningDelta { step, text: text.clone() });
                }
                _ => {}
            }
            aggregator.push(event)?;
        }
        Ok(aggregator.finish())
    }

    /// What the hooks decide for each of a step's calls: the first that does not allow one
    /// decides it. The calls `done` already were are not asked about again.
    async fn decide(&self, calls: &[ToolCall], done: &[ToolInvocation]) -> Vec<ToolDecision> {
        let mut decisions = Vec::with_capacity(calls.len());
        for call in calls {
            let mut decision = ToolDecision::Allow;
            if done.iter().any(|made| made.call.id == call.id) {
                decisions.push(decision);
                continue;
            }
            for hook in &self.hooks {
                decision = hook.before_tool_call(call).await;
                if decision != ToolDecision::Allow {
                    break;
                }
            }
            decisions.push(decision);
        }
        decisions
    }

    /// Runs one tool call as decided (a denied one gets the denial as its result).
    async fn invoke(&self, call: &ToolCall, decision: ToolDecision) -> ToolInvocation {
        let start = Instant::now();
        let span = telemetry::tool_span(call);
        let result = match decision {
            ToolDecision::Deny { reason } | ToolDecision::Pause { reason } => {
                Err(ToolCallError::Denied { tool: call.name.clone(), reason })
            }
            ToolDecision::Allow => {
                self.tools.invoke(call, self.limits.tool_timeout).instrument(span.clone()).await
            }
        };
        telemetry::record_tool(&span, result.as_ref());
        let elapsed_ms = millis_since(start);
        match &result {
            Ok(_) => tracing::debug!(tool = %call.name, elapsed_ms, "tool call succeeded"),
            Err(err) => {
                tracing::debug!(tool = %call.name, elapsed_ms, error = %err, "tool call failed")
            }
        }
        ToolInvocation { call: call.clone(), result, elapsed_ms }
    }
}

/// The run being built, and the counters its limits need.
struct RunState {
    record: AgentRun,
    started: Instant,
    tool_calls: usize,
    last_call: Option<(String, Value)>,
    streak: usize,
}

impl RunState {
    fn new(agent: &Agent, checkpoint: RunCheckpoint) -> Self {
        RunState {
            record: AgentRun {
                transcript: checkpoint.transcript,
                usage: checkpoint.usage,
                model: agent.model.name().to_string(),
                ..Default::default()
            },
            started: Instant::now(),
            tool_calls: checkpoint.tool_calls,
            last_call: None,
            streak: 0,
        }
    }

    /// Counts a step's calls against the limits; the reason to stop, if one is reached.
    fn check_calls(
        &mut self,
        calls: &[ToolCall],
        limits: &super::Limits,
    ) -> Option<AgentErrorKind> {
        self.tool_calls += calls.len();
        if self.tool_calls > limits.max_tool_calls {
            return Some(AgentErrorKind::MaxToolCalls { limit: limits.max_tool_calls });
        }
        for call in calls {
            let same = self.last_call.as_ref().is_some_and(|(name, arguments)| {
                *name == call.name && *arguments == call.arguments
            });
            self.streak = if same { self.streak + 1 } else { 1 };
            self.last_call = Some((call.name.clone(), call.arguments.clone()));
            if self.streak >= limits.repeated_call_limit {
                return Some(AgentErrorKind::RepeatedToolCall {
                    tool: call.name.clone(),
                    arguments: call.arguments.clone(),
                    times: self.streak,
                });
            }
        }
        None
    }

    /// Where the run stands after step `steps`.
    fn checkpoint(&self, steps: usize) -> RunCheckpoint {
        RunCheckpoint {
            transcript: self.record.transcript.clone(),
            steps,
            tool_calls: self.tool_calls,
            usage: self.record.usage,
            pending: None,
            completed: Vec::new(),
        }
    }

    /// Where the run stands within step `step`: its reply in, the calls `done` made.
    fn checkpoint_within(
        &self,
        step: usize,
        reply: ChatResponse,
        done: Vec<ToolInvocation>,
    ) -> RunCheckpoint {
        RunCheckpoint { pending: Some(reply), completed: done, ..self.checkpoint(step - 1) }
    }

    fn finish(mut self) -> AgentRun {
        self.record.elapsed_ms = millis_since(self.started);
        self.record
    }

    fn fail(self, kind: AgentErrorKind) -> AgentError {
        AgentError { kind, partial: Box::new(self.finish()) }
    }
}
