//! Retry and fallback around scripted models: the caller cannot tell, and output is never repeated.

#![allow(clippy::unwrap_used)] // Tests fail loudly by design.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anymodel_backends::layers::{Fallback, Retry, RetryLayer, RetryPolicy};
use anymodel_core::{
    Capabilities, ChatRequest, ChatResponse, Error, EventStream, Model, Result, ScriptedModel,
    ScriptedReply, StreamEvent, ToolSpec, async_trait, collect_stream,
};
use futures::{StreamExt, stream};
use serde_json::json;
use tower_layer::Layer;

fn transient() -> ScriptedReply {
    ScriptedReply::Fail(Error::transient("503 Service Unavailable"))
}

fn quick() -> RetryPolicy {
    RetryPolicy { base_delay: Duration::from_millis(5), ..Default::default() }
}

#[tokio::test(start_paused = true)]
async fn retryable_failures_are_retried_until_the_call_succeeds() {
    let inner = Arc::new(ScriptedModel::new([
        transient(),
        ScriptedReply::Fail(Error::RateLimited {
            message: "slow down".into(),
            retry_after: Some(Duration::from_secs(20)),
        }),
        ScriptedReply::Reply(ChatResponse::text("ok")),
    ]));
    let model = RetryLayer::new(quick()).layer(inner.clone());

    let started = tokio::time::Instant::now();
    let reply = model.chat(ChatRequest::user("hi")).await.unwrap();

    assert_eq!(reply.message.content, "ok");
    assert_eq!(inner.requests().len(), 3);
    assert!(started.elapsed() >= Duration::from_secs(20), "retry-after was not waited for");
}

#[tokio::test(start_paused = true)]
async fn permanent_failures_and_spent_retries_are_returned() {
    let inner = Arc::new(ScriptedModel::new([
        ScriptedReply::Fail(Error::Authentication { message: "bad key".into() }),
        ScriptedReply::Reply(ChatResponse::text("never")),
    ]));
    let err = Retry::new(inner.clone(), quick()).chat(ChatRequest::user("hi")).await.unwrap_err();
    assert!(matches!(err, Error::Authentication { .. }));
    assert_eq!(inner.remaining(), 1);

    let inner = Arc::new(ScriptedModel::new([transient(), transient(), transient()]));
    let policy = RetryPolicy { max_retries: 2, ..quick() };
    let err = Retry::new(inner.clone(), policy).chat(ChatRequest::user("hi")).await.unwrap_err();
    assert!(err.is_retryable());
    assert_eq!(inner.requests().len(), 3, "one try and two retries");
}

/// Streams whatever it was told to for each call, errors included, and counts its calls.
struct Streams {
    calls: AtomicUsize,
    scripts: Vec<Vec<Result<StreamEvent>>>,
}

#[async_trait]
impl Model for Streams {
    fn name(&self) -> &str {
        "streams"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::all()
    }

    async fn stream(&self, _: ChatRequest) -> Result<EventStream> {
        let call = self.calls.fetch_add(1, Ordering::SeqCst);
        Ok(Box::pin(stream::iter(self.scripts[call].clone())))
    }
}

fn text(text: &str) -> Result<StreamEvent> {
    Ok(StreamEvent::TextDelta { text: text.into() })
}

#[tokio::test(start_paused = true)]
async fn a_stream_is_retried_only_before_it_yields_output() {
    let failing_first = Arc::new(Streams {
        calls: AtomicUsize::new(0),
        scripts: vec![vec![Err(Error::transient("reset"))], vec![text("fine")]],
    });
    let events = Retry::new(failing_first.clone(), quick()).stream(ChatRequest::user("hi")).await;
    assert_eq!(collect_stream(events.unwrap()).await.unwrap().message.content, "fine");
    assert_eq!(failing_first.calls.load(Ordering::SeqCst), 2);

    let failing_later = Arc::new(Streams {
        calls: AtomicUsize::new(0),
        scripts: vec![
            vec![text("The answer"), Err(Error::transient("reset"))],
            vec![text("again")],
        ],
    });
    let events = Retry::new(failing_later.clone(), quick()).stream(ChatRequest::user("hi")).await;
    let items: Vec<_> = events.unwrap().collect().await;
    assert_eq!(items[0], text("The answer"));
    assert!(matches!(items[1], Err(Error::Transient { .. })));
    assert_eq!(failing_later.calls.load(Ordering::SeqCst), 1, "output was not repeated");
}

fn fallback(models: Vec<Arc<dyn Model>>) -> Fallback {
    Fallback::new(models).unwrap()
}

#[tokio::test]
async fn fallback_moves_on_when_a_model_is_unavailable() {
    for failure in [
        Error::transient("overloaded"),
        Error::Authentication { message: "bad key".into() },
        Error::NotFound { message: "no such model".into() },
    ] {
        let primary = Arc::new(ScriptedModel::new([ScriptedReply::Fail(failure)]).with_name("a"));
        let backup = Arc::new(ScriptedModel::new([ChatResponse::text("from b")]).with_name("b"));
        let model = fallback(vec![primary, backup.clone()]);
        assert_eq!(model.chat(ChatRequest::user("hi")).await.unwrap().message.content, "from b");
        assert_eq!(backup.requests().len(), 1);
    }
}

#[tokio::test]
async fn fallback_returns_errors_that_every_model_would_share() {
    let primary = Arc::new(ScriptedModel::new([ScriptedReply::Fail(Error::InvalidRequest {
        status: Some(400),
        message: "bad".into(),
    })]));
    let backup = Arc::new(ScriptedModel::new([ChatResponse::text("unused")]));
    let err =
        fallback(vec![primary, backup.clone()]).chat(ChatRequest::user("hi")).await.unwrap_err();
    assert!(matches!(err, Error::InvalidRequest { .. }));
    assert_eq!(backup.remaining(), 1);
}

#[tokio::test]
async fn fallback_skips_models_that_cannot_serve_the_request() {
    let text_only = Arc::new(
        ScriptedModel::new([ChatResponse::text("unused")]).with_name("small").with_capabilities({
            let mut streaming_only = Capabilities::default();
            streaming_only.streaming = true;
            streaming_only
        }),
    );
    let tooled = Arc::new(ScriptedModel::new([ChatResponse::text("with tools")]).with_name("big"));
    let model = fallback(vec![text_only.clone(), tooled]);
    assert!(model.capabilities().tools);
    assert_eq!(model.name(), "fallback(small, big)");
    let tool = ToolSpec { name: "t".into(), description: String::new(), parameters: json!({}) };
    let reply = model.chat(ChatRequest::user("hi").with_tools([tool])).await.unwrap();
    assert_eq!(reply.message.content, "with tools");
    assert!(text_only.requests().is_empty());
}

#[tokio::test]
async fn fallback_reports_the_last_error_when_all_fail() {
    let a = Arc::new(ScriptedModel::new([transient()]).with_name("a"));
    let b = Arc::new(
        ScriptedModel::new([ScriptedReply::Fail(Error::transient("b is down too"))]).with_name("b"),
    );
    let err = fallback(vec![a, b]).chat(ChatRequest::user("hi")).await.unwrap_err();
    assert_eq!(err, Error::transient("b is down too"));
    assert!(matches!(Fallback::new(vec![]), Err(Error::Configuration { .. })));
}

#[tokio::test]
async fn fallback_streams_move_on_only_before_output() {
    let broken = Arc::new(Streams {
        calls: AtomicUsize::new(0),
        scripts: vec![vec![Err(Error::transient("reset"))]],
    });
    let backup = Arc::new(ScriptedModel::new([ChatResponse::text("backup")]));
    let events = fallback(vec![broken, backup]).stream(ChatRequest::user("hi")).await.unwrap();
    assert_eq!(collect_stream(events).await.unwrap().message.content, "backup");

    let midway = Arc::new(Streams {
        calls: AtomicUsize::new(0),
        scripts: vec![vec![text("partial"), Err(Error::transient("reset"))]],
    });
    let backup = Arc::new(ScriptedModel::new([ChatResponse::text("unused")]));
    let events =
        fallback(vec![midway, backup.clone()]).stream(ChatRequest::user("hi")).await.unwrap();
    assert!(collect_stream(events).await.is_err());
    assert_eq!(backup.remaining(), 1);
}

#[tokio::test(start_paused = true)]
async fn layers_compose_behind_a_trait_object() {
    let flaky: Arc<dyn Model> =
        Arc::new(ScriptedModel::new([transient(), ScriptedReply::Reply(ChatResponse::text("a"))]));
    let retried: Arc<dyn Model> = Arc::new(RetryLayer::new(quick()).layer(flaky));
    let model: Arc<dyn Model> = Arc::new(fallback(vec![retried]));
    assert_eq!(model.chat(ChatRequest::user("hi")).await.unwrap().message.content, "a");
}
