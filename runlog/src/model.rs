//! [`LoggedModel`]: any model, each of its calls logged as a run of one model call: what a
//! server (`anymodel serve`) records, since its clients send whole conversations, one call at a
//! time.

use std::sync::Arc;
use std::time::Instant;

use anymodel_core::{
    AgentError, AgentErrorKind, AgentRun, ChatRequest, ChatResponse, Error, EventStream, Message,
    Model, Result, Step, async_trait, observe_reply,
};

use crate::log::RunLog;

/// Wraps a model so that each call is logged in a conversation of its own: the request as sent,
/// the reply (a stream's, once it ends), usage, timing, and why it failed (a stream dropped
/// before its end, by a client that went away, is logged as cancelled). A call the log cannot
/// write is still answered; the failure is a warning in the `tracing` log.
#[derive(Debug)]
pub struct LoggedModel<M> {
    inner: M,
    log: Arc<RunLog>,
    name: String,
}

impl<M: Model> LoggedModel<M> {
    /// `inner`, its calls logged into `log` under the model name `name` (what `anymodel logs
    /// -m` and the price table know it by).
    pub fn new(inner: M, log: Arc<RunLog>, name: impl Into<String>) -> Self {
        LoggedModel { inner, log, name: name.into() }
    }

    /// Starts logging a call of `request`; `None` when the log could not be written.
    fn begin(&self, request: &ChatRequest) -> Option<Call> {
        let prompt = request
            .messages
            .iter()
            .rev()
            .find_map(|message| match message {
                Message::User { content } => Some(content.text()),
                _ => None,
            })
            .unwrap_or_default();
        match self.log.begin(None, &self.name, &prompt) {
            Ok(ids) => Some(Call {
                log: self.log.clone(),
                run: ids.run,
                request: request.clone(),
                model: self.name.clone(),
                started: Instant::now(),
            }),
            Err(error) => {
                tracing::warn!(%error, "the run log missed a model call");
                None
            }
        }
    }
}

/// A call being logged.
struct Call {
    log: Arc<RunLog>,
    run: i64,
    request: ChatRequest,
    model: String,
    started: Instant,
}

impl Call {
    /// Logs how the call ended.
    fn end(self, outcome: std::result::Result<&ChatResponse, &Error>) {
        let elapsed_ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let mut record = AgentRun {
            transcript: self.request.messages.clone(),
            model: self.model.clone(),
            elapsed_ms,
            ..Default::default()
        };
        let written = match outcome {
            Ok(response) => {
                let step = Step {
                    index: 1,
                    response: response.clone(),
                    tool_calls: Vec::new(),
                    elapsed_ms,
                };
                record.answer = response.message.content.clone();
                record.usage = response.usage;
                record.transcript.push(Message::Assistant(response.message.clone()));
                self.log
                    .record_step(self.run, Some(&self.request), &step, None)
                    .and_then(|()| self.log.finish(self.run, Ok(&record)))
            }
            Err(error) => {
                let kind = AgentErrorKind::Model { step: 1, source: error.clone() };
                let failed = AgentError { kind, partial: Box::new(record) };
                self.log.finish(self.run, Err(&failed))
            }
        };
        if let Err(error) = written {
            tracing::warn!(%error, run = self.run, "the run log missed a model call's end");
        }
    }
}

#[async_trait]
impl<M: Model> Model for LoggedModel<M> {
    anymodel_core::forward_model_identity!(inner);

    async fn chat(&self, request: ChatRequest) -> Result<ChatResponse> {
        let call = self.begin(&request);
        let reply = self.inner.chat(request).await;
        if let Some(call) = call {
            call.end(reply.as_ref());
        }
        reply
    }

    async fn stream(&self, request: ChatRequest) -> Result<EventStream> {
        let call = self.begin(&request);
        match self.inner.stream(request).await {
            Ok(events) => Ok(observe_reply(events, move |reply| {
                if let Some(call) = call {
                    call.end(reply);
                }
            })),
            Err(error) => {
                if let Some(call) = call {
                    call.end(Err(&error));
                }
                Err(error)
            }
        }
    }

    async fn preview(&self, request: &ChatRequest) -> Result<Option<String>> {
        self.inner.preview(request).await
    }

    async fn count_tokens(&self, request: &ChatRequest) -> Result<Option<u64>> {
        self.inner.count_tokens(request).await
    }
}
