//! Sampling defaults that travel with a model: a configured model's `temperature`,
//! `max_tokens` and the rest fill in whatever a request leaves unset, so that every caller of
//! the model (the CLI, an agent, a library user) gets the configuration's settings.

use anymodel_core::{ChatRequest, ChatResponse, EventStream, Model, Result, Sampling};
use async_trait::async_trait;

/// A model whose requests take their unset sampling options from `defaults`.
#[derive(Debug, Clone)]
pub struct SamplingDefaults<M> {
    inner: M,
    defaults: Sampling,
}

impl<M> SamplingDefaults<M> {
    /// Wraps `inner`; a request's own options still win over `defaults`.
    pub fn new(inner: M, defaults: Sampling) -> Self {
        SamplingDefaults { inner, defaults }
    }

    /// The defaults applied.
    pub fn defaults(&self) -> &Sampling {
        &self.defaults
    }

    fn fill(&self, mut request: ChatRequest) -> ChatRequest {
        request.sampling = request.sampling.or(&self.defaults);
        request
    }
}

#[async_trait]
impl<M: Model> Model for SamplingDefaults<M> {
    anymodel_core::forward_model_identity!(inner);

    async fn chat(&self, request: ChatRequest) -> Result<ChatResponse> {
        self.inner.chat(self.fill(request)).await
    }

    async fn stream(&self, request: ChatRequest) -> Result<EventStream> {
        self.inner.stream(self.fill(request)).await
    }

    async fn preview(&self, request: &ChatRequest) -> Result<Option<String>> {
        self.inner.preview(&self.fill(request.clone())).await
    }

    async fn count_tokens(&self, request: &ChatRequest) -> Result<Option<u64>> {
        self.inner.count_tokens(&self.fill(request.clone())).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use anymodel_core::{Capabilities, Message};
    use std::sync::Mutex;

    /// Remembers the sampling of the last request.
    #[derive(Default)]
    struct Seen(Mutex<Option<Sampling>>);

    #[async_trait]
    impl Model for Seen {
        fn name(&self) -> &str {
            "seen"
        }
        fn capabilities(&self) -> Capabilities {
            Capabilities::all()
        }
        async fn stream(&self, request: ChatRequest) -> Result<EventStream> {
            *self.0.lock().unwrap() = Some(request.sampling);
            Ok(Box::pin(futures::stream::empty()))
        }
    }

    #[tokio::test]
    async fn unset_options_come_from_the_defaults_and_set_ones_stay() {
        let defaults =
            Sampling { temperature: Some(0.2), max_tokens: Some(64), ..Default::default() };
        let model = SamplingDefaults::new(Seen::default(), defaults);
        let request = ChatRequest::new(vec![Message::user("hi")])
            .with_sampling(Sampling { max_tokens: Some(8), ..Default::default() });
        let _ = model.stream(request).await.unwrap();
        let seen = model.inner.0.lock().unwrap().clone().unwrap();
        assert_eq!((seen.temperature, seen.max_tokens), (Some(0.2), Some(8)));
    }
}
