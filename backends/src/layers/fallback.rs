//! Fallback over a list of models: the first that can serve the request answers.

use std::sync::Arc;

use anymodel_core::{Capabilities, ChatRequest, ChatResponse, Error, EventStream, Model, Result};
use async_trait::async_trait;

use super::first_event;

/// A model that tries each of its models in order, moving on when one is unavailable (a
/// retryable failure, an authentication failure, an unknown model) or cannot serve the request
/// (it lacks a capability the request needs). Any other error (an invalid request, say) would
/// fail on every model alike, and is returned at once. A stream moves on only while it has
/// yielded nothing.
#[derive(Clone)]
pub struct Fallback {
    name: String,
    models: Vec<Arc<dyn Model>>,
    /// What at least one model supports, combined once.
    capabilities: Capabilities,
}

impl std::fmt::Debug for Fallback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fallback").field("name", &self.name).finish()
    }
}

impl Fallback {
    /// Falls back through `models`, first to last; an empty list is a configuration error.
    pub fn new(models: Vec<Arc<dyn Model>>) -> Result<Self> {
        if models.is_empty() {
            return Err(Error::config("a fallback needs at least one model"));
        }
        let capabilities =
            models.iter().fold(Capabilities::default(), |all, m| all.union(&m.capabilities()));
        Ok(Fallback { name: super::combined_name("fallback", &models), models, capabilities })
    }

    /// Runs `call` on each model in turn until one succeeds or fails for good.
    async fn first_success<T, F>(&self, request: ChatRequest, call: F) -> Result<T>
    where
        F: for<'a> Fn(&'a dyn Model, ChatRequest) -> futures::future::BoxFuture<'a, Result<T>>,
    {
        let mut last_error = None;
        for model in &self.models {
            let outcome = match model.capabilities().check(model.name(), &request) {
                Ok(()) => call(&**model, request.clone()).await,
                Err(unsupported) => Err(unsupported),
            };
            match outcome {
                Ok(value) => return Ok(value),
                Err(error) if moves_on(&error) => {
                    tracing::warn!(model = model.name(), %error, "falling back to the next model");
                    last_error = Some(error);
                }
                Err(error) => return Err(error),
            }
        }
        Err(last_error.unwrap_or_else(|| Error::config("a fallback needs at least one model")))
    }
}

fn moves_on(error: &Error) -> bool {
    error.is_retryable()
        || matches!(
            error,
            Error::Authentication { .. } | Error::NotFound { .. } | Error::Unsupported { .. }
        )
}

#[async_trait]
impl Model for Fallback {
    fn name(&self) -> &str {
        &self.name
    }

    fn provider(&self) -> &str {
        super::shared_provider(self.models.iter().map(|model| &**model))
    }

    /// What at least one of the models supports: a request is sent only to those that can
    /// serve it.
    fn capabilities(&self) -> Capabilities {
        self.capabilities.clone()
    }

    async fn chat(&self, request: ChatRequest) -> Result<ChatResponse> {
        self.first_success(request, |model, request| model.chat(request)).await
    }

    async fn stream(&self, request: ChatRequest) -> Result<EventStream> {
        self.first_success(request, |model, request| {
            Box::pin(async move { first_event(model.stream(request).await?).await })
        })
        .await
    }

    /// The first model's view: the one that answers while it is available.
    async fn preview(&self, request: &ChatRequest) -> Result<Option<String>> {
        self.models[0].preview(request).await
    }

    async fn count_tokens(&self, request: &ChatRequest) -> Result<Option<u64>> {
        self.models[0].count_tokens(request).await
    }
}
