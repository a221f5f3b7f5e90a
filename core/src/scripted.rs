//! A model that replays a script: for testing agents and apps without a real model.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use futures::stream;

use crate::error::{Error, Result};
use crate::model::{Capabilities, Model};
use crate::request::ChatRequest;
use crate::response::ChatResponse;
use crate::stream::{EventStream, ReplyAggregator, StreamEvent};

/// One turn of a [`ScriptedModel`]'s script.
#[derive(Debug, Clone)]
pub enum ScriptedReply {
    /// Answer with this reply (streamed as its events when streaming is asked for).
    Reply(ChatResponse),
    /// Stream these events (collected into a reply when a whole reply is asked for).
    Events(Vec<StreamEvent>),
    /// Fail with this error.
    Fail(Error),
}

impl From<ChatResponse> for ScriptedReply {
    fn from(reply: ChatResponse) -> Self {
        ScriptedReply::Reply(reply)
    }
}

/// A [`Model`] that answers each call with the next turn of its script and records every request
/// it receives, so tests can check what a model was sent.
///
/// It checks requests against its capabilities (everything on by default) like a real backend,
/// and fails with [`Error::Backend`] once the script runs out.
///
/// ```
/// # tokio_test_block_on(async {
/// use anymodel_core::{ChatRequest, ChatResponse, Model, ScriptedModel};
///
/// let model = ScriptedModel::new([ChatResponse::text("Hello!")]);
/// let reply = model.chat(ChatRequest::user("Hi")).await.unwrap();
/// assert_eq!(reply.message.content, "Hello!");
/// assert_eq!(model.requests().len(), 1);
/// # });
/// # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
/// # }
/// ```
#[derive(Debug)]
pub struct ScriptedModel {
    name: String,
    capabilities: Capabilities,
    script: Mutex<VecDeque<ScriptedReply>>,
    requests: Mutex<Vec<ChatRequest>>,
}

impl ScriptedModel {
    /// A model that plays these turns in order.
    pub fn new<R: Into<ScriptedReply>>(script: impl IntoIterator<Item = R>) -> Self {
        ScriptedModel {
            name: "scripted".to_string(),
            capabilities: Capabilities::all(),
            script: Mutex::new(script.into_iter().map(Into::into).collect()),
            requests: Mutex::new(Vec::new()),
        }
    }

    /// The same model declaring other capabilities.
    pub fn with_capabilities(mut self, capabilities: Capabilities) -> Self {
        self.capabilities = capabilities;
        self
    }

    /// The same model under another name.
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<ChatRequest> {
        lock(&self.requests).clone()
    }

    /// How many turns of the script are left.
    pub fn remaining(&self) -> usize {
        lock(&self.script).len()
    }

    fn next_turn(&self, request: ChatRequest) -> Result<ScriptedReply> {
        self.capabilities.check(&self.name, &request)?;
        lock(&self.requests).push(request);
        lock(&self.script).pop_front().ok_or_else(|| Error::Backend {
            message: format!("scripted model `{}` has no more replies", self.name),
        })
    }
}

/// Locks a mutex; a panic elsewhere cannot leave the script half-written, so poison is ignored.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[async_trait]
impl Model for ScriptedModel {
    fn name(&self) -> &str {
        &self.name
    }

    fn capabilities(&self) -> Capabilities {
        self.capabilities.clone()
    }

    async fn chat(&self, request: ChatRequest) -> Result<ChatResponse> {
        match self.next_turn(request)? {
            ScriptedReply::Reply(reply) => Ok(reply),
            ScriptedReply::Events(events) => {
                let mut aggregator = ReplyAggregator::new();
                for event in events {
                    aggregator.push(event)?;
                }
                Ok(aggregator.finish())
            }
            ScriptedReply::Fail(error) => Err(error),
        }
    }

    async fn stream(&self, request: ChatRequest) -> Result<EventStream> {
        let events = match self.next_turn(request)? {
            ScriptedReply::Reply(reply) => reply.into_events(),
            ScriptedReply::Events(events) => events,
            ScriptedReply::Fail(error) => return Err(error),
        };
        Ok(Box::pin(stream::iter(events.into_iter().map(Ok))))
    }
}
