//! The router over scripted and slow test models: spreading, cool-down after failures, and the
//! concurrency limit held under load.

#![allow(clippy::unwrap_used)] // Tests fail loudly by design.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anymodel_backends::layers::{Router, RouterPolicy, Spread};
use anymodel_core::{
    Capabilities, ChatRequest, ChatResponse, Error, EventStream, Model, Result, ScriptedModel,
    ScriptedReply, async_trait,
};

fn scripted(name: &str, replies: usize) -> Arc<ScriptedModel> {
    Arc::new(ScriptedModel::new((0..replies).map(|_| ChatResponse::text(name))).with_name(name))
}

#[tokio::test]
async fn round_robin_spreads_requests_evenly() {
    let models: Vec<Arc<ScriptedModel>> = ["a", "b", "c"].iter().map(|n| scripted(n, 10)).collect();
    let router = Router::new(
        models.iter().map(|m| m.clone() as Arc<dyn Model>).collect(),
        RouterPolicy::default(),
    )
    .unwrap();
    let mut answers = Vec::new();
    for _ in 0..30 {
        answers.push(router.chat(ChatRequest::user("?")).await.unwrap().message.content);
    }
    assert_eq!(&answers[..6], ["a", "b", "c", "a", "b", "c"]);
    assert!(models.iter().all(|m| m.requests().len() == 10));
}

#[tokio::test(start_paused = true)]
async fn a_failing_model_is_skipped_until_its_cool_down_is_over() {
    let flaky = Arc::new(
        ScriptedModel::new([
            ScriptedReply::Fail(Error::transient("overloaded")),
            ScriptedReply::Reply(ChatResponse::text("flaky")),
        ])
        .with_name("flaky"),
    );
    let steady = scripted("steady", 10);
    let policy = RouterPolicy { cool_down: Duration::from_secs(30), ..Default::default() };
    let router = Router::new(vec![flaky.clone(), steady.clone()], policy).unwrap();

    assert!(router.chat(ChatRequest::user("?")).await.is_err(), "the failure is returned");
    for _ in 0..4 {
        assert_eq!(router.chat(ChatRequest::user("?")).await.unwrap().message.content, "steady");
    }
    tokio::time::advance(Duration::from_secs(31)).await;
    let after: Vec<String> = [
        router.chat(ChatRequest::user("?")).await.unwrap(),
        router.chat(ChatRequest::user("?")).await.unwrap(),
    ]
    .into_iter()
    .map(|r| r.message.content)
    .collect();
    assert!(after.contains(&"flaky".to_string()), "back in turn after the cool-down: {after:?}");
    assert_eq!(flaky.requests().len(), 2);
}

/// A model that takes a while and records how many requests it serves at once.
struct Slow {
    name: String,
    now: AtomicUsize,
    most: AtomicUsize,
    served: AtomicUsize,
}

impl Slow {
    fn new(name: &str) -> Arc<Self> {
        Arc::new(Slow {
            name: name.into(),
            now: AtomicUsize::new(0),
            most: AtomicUsize::new(0),
            served: AtomicUsize::new(0),
        })
    }
}

#[async_trait]
impl Model for Slow {
    fn name(&self) -> &str {
        &self.name
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::all()
    }

    async fn chat(&self, _: ChatRequest) -> Result<ChatResponse> {
        let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(2)).await;
        self.now.fetch_sub(1, Ordering::SeqCst);
        self.served.fetch_add(1, Ordering::SeqCst);
        Ok(ChatResponse::text(&self.name))
    }

    async fn stream(&self, request: ChatRequest) -> Result<EventStream> {
        Ok(Box::pin(futures::stream::iter(
            self.chat(request).await?.into_events().into_iter().map(Ok),
        )))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_concurrency_limit_holds_under_load_and_no_request_is_lost() {
    for spread in [Spread::RoundRobin, Spread::LeastInFlight] {
        let models = [Slow::new("a"), Slow::new("b")];
        let policy = RouterPolicy { spread, max_in_flight: Some(3), ..Default::default() };
        let router = Arc::new(
            Router::new(models.iter().map(|m| m.clone() as Arc<dyn Model>).collect(), policy)
                .unwrap(),
        );
        let tasks: Vec<_> = (0..200)
            .map(|_| {
                let router = router.clone();
                tokio::spawn(async move { router.chat(ChatRequest::user("?")).await })
            })
            .collect();
        let mut answered = 0;
        for task in tasks {
            task.await.unwrap().unwrap();
            answered += 1;
        }
        assert_eq!(answered, 200);
        assert_eq!(
            models.iter().map(|m| m.served.load(Ordering::SeqCst)).sum::<usize>(),
            200,
            "{spread:?}"
        );
        for model in &models {
            let most = model.most.load(Ordering::SeqCst);
            assert!(most <= 3, "{spread:?}: {} served {most} at once", model.name);
            assert!(
                model.served.load(Ordering::SeqCst) > 0,
                "{spread:?}: {} got nothing",
                model.name
            );
        }
    }
}

/// Policies at the edges of their types: no panic, at build or when a member fails.
#[tokio::test]
async fn huge_limits_are_refused_or_held_without_a_panic() {
    let policy = RouterPolicy { max_in_flight: Some(usize::MAX), ..Default::default() };
    let error = Router::new(vec![scripted("a", 1)], policy).err().map(|e| e.to_string());
    assert!(error.is_some_and(|e| e.contains("max_in_flight is")), "refused at build");

    let failing = Arc::new(
        ScriptedModel::new([ScriptedReply::Fail(Error::transient("down"))]).with_name("failing"),
    );
    let policy = RouterPolicy { cool_down: Duration::from_secs(u64::MAX), ..Default::default() };
    let router = Router::new(vec![failing, scripted("steady", 2)], policy).unwrap();
    assert!(router.chat(ChatRequest::user("?")).await.is_err(), "the failure, not a panic");
    assert_eq!(router.chat(ChatRequest::user("?")).await.unwrap().message.content, "steady");
}
