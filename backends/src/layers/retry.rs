//! Retry with exponential backoff and full jitter, honouring the server's `retry-after`.

use std::time::Duration;

use anymodel_core::{
    ChatRequest, ChatResponse, Embedder, Error, EventStream, InputKind, Model, Result,
};
use async_trait::async_trait;

use super::first_event;

/// When and how long to wait before trying a failed call again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt. Default 3.
    pub max_retries: u32,
    /// The backoff before the first retry; it doubles each time. Default 500 ms.
    pub base_delay: Duration,
    /// The longest backoff. Default 30 s.
    pub max_delay: Duration,
    /// The longest server-requested wait (`retry-after`) honoured; a server asking for more is
    /// not retried, and its error is returned. Default 60 s.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 3,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// The wait before retry number `retry` (from 0) after `error`, or `None` to give up: the
    /// error is not retryable, the retries are spent, or the server asks for too long a wait.
    /// Without a server-requested wait, the backoff is drawn uniformly between zero and the
    /// exponential bound ("full jitter"), so clients that failed together do not retry together.
    pub fn delay(&self, retry: u32, error: &Error) -> Option<Duration> {
        if !error.is_retryable() || retry >= self.max_retries {
            return None;
        }
        if let Some(wait) = error.retry_after() {
            return (wait <= self.max_retry_after).then_some(wait);
        }
        let bound = self.base_delay.saturating_mul(2u32.saturating_pow(retry)).min(self.max_delay);
        let millis = u64::try_from(bound.as_millis()).unwrap_or(u64::MAX);
        Some(Duration::from_millis(fastrand::u64(0..=millis)))
    }
}

/// A `tower_layer::Layer` that wraps a model in [`Retry`].
#[derive(Debug, Clone, Default)]
pub struct RetryLayer {
    policy: RetryPolicy,
}

impl RetryLayer {
    /// A layer retrying by `policy`.
    pub fn new(policy: RetryPolicy) -> Self {
        RetryLayer { policy }
    }
}

impl<M> tower_layer::Layer<M> for RetryLayer {
    type Service = Retry<M>;

    fn layer(&self, inner: M) -> Retry<M> {
        Retry::new(inner, self.policy.clone())
    }
}

/// A model (or an embedder) that retries its inner one's retryable failures; a stream is
/// retried only while it has yielded nothing.
#[derive(Debug, Clone)]
pub struct Retry<M> {
    inner: M,
    policy: RetryPolicy,
}

impl<M> Retry<M> {
    /// Wraps `inner`.
    pub fn new(inner: M, policy: RetryPolicy) -> Self {
        Retry { inner, policy }
    }

    /// The wrapped model.
    pub fn inner(&self) -> &M {
        &self.inner
    }
}

impl RetryPolicy {
    /// Waits before the next try of `name`'s call if the policy allows one; otherwise hands
    /// the error back.
    async fn back_off(&self, name: &str, retry: u32, error: Error) -> Result<()> {
        let Some(wait) = self.delay(retry, &error) else { return Err(error) };
        tracing::warn!(model = name, retry = retry + 1, ?wait, %error, "retrying");
        tokio::time::sleep(wait).await;
        Ok(())
    }
}

#[async_trait]
impl<M: Model> Model for Retry<M> {
    anymodel_core::forward_model_identity!(inner);

    async fn chat(&self, request: ChatRequest) -> Result<ChatResponse> {
        let mut retry = 0;
        loop {
            match self.inner.chat(request.clone()).await {
                Ok(response) => return Ok(response),
                Err(error) => self.policy.back_off(self.inner.name(), retry, error).await?,
            }
            retry += 1;
        }
    }

    async fn stream(&self, request: ChatRequest) -> Result<EventStream> {
        let mut retry = 0;
        loop {
            let started = match self.inner.stream(request.clone()).await {
                Ok(events) => first_event(events).await,
                Err(error) => Err(error),
            };
            match started {
                Ok(events) => return Ok(events),
                Err(error) => self.policy.back_off(self.inner.name(), retry, error).await?,
            }
            retry += 1;
        }
    }

    async fn preview(&self, request: &ChatRequest) -> Result<Option<String>> {
        self.inner.preview(request).await
    }

    async fn count_tokens(&self, request: &ChatRequest) -> Result<Option<u64>> {
        self.inner.count_tokens(request).await
    }
}

/// An embedder retried as a model is: a batch that failed with a retryable error (a rate
/// limit, an overloaded server) is sent again whole.
#[async_trait]
impl<E: Embedder> Embedder for Retry<E> {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn dimensions(&self) -> usize {
        self.inner.dimensions()
    }

    fn max_input_tokens(&self) -> Option<usize> {
        self.inner.max_input_tokens()
    }

    fn capabilities(&self) -> anymodel_core::EmbedderCapabilities {
        self.inner.capabilities()
    }

    async fn embed(&self, texts: &[String], kind: InputKind) -> Result<Vec<Vec<f32>>> {
        let mut retry = 0;
        loop {
            match self.inner.embed(texts, kind).await {
                Ok(vectors) => return Ok(vectors),
                Err(error) => self.policy.back_off(self.inner.name(), retry, error).await?,
            }
            retry += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_jittered_below_an_exponential_bound() {
        let policy = RetryPolicy { max_retries: 10, ..Default::default() };
        let transient = Error::transient("503");
        for retry in 0..10 {
            let bound = Duration::from_millis(500 * 2u64.pow(retry)).min(policy.max_delay);
            for _ in 0..50 {
                assert!(policy.delay(retry, &transient).unwrap() <= bound);
            }
        }
        assert_eq!(policy.delay(10, &transient), None, "retries spent");
    }

    #[test]
    fn retry_after_is_honoured_up_to_a_cap() {
        let policy = RetryPolicy::default();
        let asked = |secs| Error::RateLimited {
            message: "slow down".into(),
            retry_after: Some(Duration::from_secs(secs)),
        };
        assert_eq!(policy.delay(0, &asked(2)), Some(Duration::from_secs(2)));
        assert_eq!(policy.delay(0, &asked(3600)), None);
        assert_eq!(policy.delay(0, &Error::Authentication { message: "no".into() }), None);
    }
}
