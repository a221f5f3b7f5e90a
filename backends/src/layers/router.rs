//! A router: one model name over several models, spreading requests among them, skipping one
//! that failed recently until its cool-down is over, and holding each to a limit on concurrent
//! requests.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anymodel_core::{Capabilities, ChatRequest, ChatResponse, Error, EventStream, Model, Result};
use async_trait::async_trait;
use futures::StreamExt;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// The longest a member is cooled down, whatever the policy says: a year is as good as forever,
/// and a longer one could not be added to the clock.
const LONGEST_COOL_DOWN: Duration = Duration::from_secs(365 * 24 * 3600);

/// How a router picks the model for a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Spread {
    /// Each model in turn.
    #[default]
    RoundRobin,
    /// The model with the fewest requests in flight (the first of those, on a tie).
    LeastInFlight,
}

/// How a router behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouterPolicy {
    /// How requests are spread.
    pub spread: Spread,
    /// How long a model that failed (with a retryable error) is skipped.
    pub cool_down: Duration,
    /// The most requests each model serves at once; more wait for a free place.
    pub max_in_flight: Option<usize>,
}

impl Default for RouterPolicy {
    /// Round-robin, a 30-second cool-down, no limit.
    fn default() -> Self {
        RouterPolicy {
            spread: Spread::RoundRobin,
            cool_down: Duration::from_secs(30),
            max_in_flight: None,
        }
    }
}

struct Member {
    model: Arc<dyn Model>,
    in_flight: Arc<AtomicUsize>,
    places: Option<Arc<Semaphore>>,
    cooling_until: Mutex<Option<Instant>>,
}

impl Member {
    fn cooling(&self, now: Instant) -> bool {
        self.cooling_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some_and(|until| until > now)
    }
}

/// A model that spreads requests over several (see [`RouterPolicy`]). Its capabilities are those
/// every member has. A member failing with a retryable error is skipped for the cool-down, and
/// the error is returned: wrap the router in [`super::Retry`] to try again on another member.
pub struct Router {
    name: String,
    members: Vec<Member>,
    policy: RouterPolicy,
    /// What every member supports, combined once.
    capabilities: Capabilities,
    turn: AtomicUsize,
}

impl std::fmt::Debug for Router {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Router").field("name", &self.name).field("policy", &self.policy).finish()
    }
}

/// Holds a member's place while its request (or its stream) lives.
struct Place {
    in_flight: Arc<AtomicUsize>,
    _permit: Option<OwnedSemaphorePermit>,
}

impl Drop for Place {
    fn drop(&mut self) {
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Router {
    /// Routes over `models` as `policy` says; an empty list is a configuration error.
    pub fn new(models: Vec<Arc<dyn Model>>, policy: RouterPolicy) -> Result<Self> {
        if models.is_empty() {
            return Err(Error::config("a router needs at least one model"));
        }
        if policy.max_in_flight == Some(0) {
            return Err(Error::config("a router's max_in_flight must be at least 1"));
        }
        if let Some(n) = policy.max_in_flight.filter(|&n| n > Semaphore::MAX_PERMITS) {
            return Err(Error::config(format!(
                "a router's max_in_flight is {n}; at most {} (leave it unset for no limit)",
                Semaphore::MAX_PERMITS
            )));
        }
        let name = super::combined_name("router", &models);
        let mut all = models.iter().map(|m| m.capabilities());
        let first = all.next().unwrap_or_default();
        let capabilities = all.fold(first, |both, one| both.intersection(&one));
        let members = models
            .into_iter()
            .map(|model| Member {
                model,
                in_flight: Arc::new(AtomicUsize::new(0)),
                places: policy.max_in_flight.map(|n| Arc::new(Semaphore::new(n))),
                cooling_until: Mutex::new(None),
            })
            .collect();
        Ok(Router { name, members, policy, capabilities, turn: AtomicUsize::new(0) })
    }

    /// The member for the next request: among those not cooling down (all, if every one is),
    /// the next in turn or the least busy.
    fn pick(&self) -> &Member {
        let now = Instant::now();
        let ready: Vec<&Member> = self.members.iter().filter(|m| !m.cooling(now)).collect();
        let candidates = if ready.is_empty() { self.members.iter().collect() } else { ready };
        match self.policy.spread {
            Spread::RoundRobin => {
                candidates[self.turn.fetch_add(1, Ordering::Relaxed) % candidates.len()]
            }
            Spread::LeastInFlight => candidates
                .into_iter()
                .min_by_key(|m| m.in_flight.load(Ordering::SeqCst))
                .unwrap_or(&self.members[0]),
        }
    }

    /// Takes a place on the member, waiting while it is at its limit.
    async fn enter(&self, member: &Member) -> Place {
        member.in_flight.fetch_add(1, Ordering::SeqCst);
        let permit = match &member.places {
            // The semaphore is never closed.
            Some(places) => places.clone().acquire_owned().await.ok(),
            None => None,
        };
        Place { in_flight: member.in_flight.clone(), _permit: permit }
    }

    /// Notes how a member's call went: a retryable failure cools it down.
    fn record<T>(&self, member: &Member, outcome: &Result<T>) {
        if let Err(error) = outcome
            && error.is_retryable()
        {
            tracing::warn!(model = member.model.name(), %error, cool_down = ?self.policy.cool_down, "cooling down");
            *member.cooling_until.lock().unwrap_or_else(PoisonError::into_inner) =
                Some(Instant::now() + self.policy.cool_down.min(LONGEST_COOL_DOWN));
        }
    }
}

#[async_trait]
impl Model for Router {
    fn name(&self) -> &str {
        &self.name
    }

    fn provider(&self) -> &str {
        super::shared_provider(self.members.iter().map(|member| &*member.model))
    }

    /// What every member can do.
    fn capabilities(&self) -> Capabilities {
        self.capabilities.clone()
    }

    async fn chat(&self, request: ChatRequest) -> Result<ChatResponse> {
        let member = self.pick();
        let _place = self.enter(member).await;
        let outcome = member.model.chat(request).await;
        self.record(member, &outcome);
        outcome
    }

    async fn stream(&self, request: ChatRequest) -> Result<EventStream> {
        let member = self.pick();
        let place = self.enter(member).await;
        let outcome = member.model.stream(request).await;
        self.record(member, &outcome);
        // The place is held until the stream is dropped.
        Ok(Box::pin(outcome?.map(move |event| {
            let _ = &place;
            event
        })))
    }

    async fn preview(&self, request: &ChatRequest) -> Result<Option<String>> {
        self.members[0].model.preview(request).await
    }

    async fn count_tokens(&self, request: &ChatRequest) -> Result<Option<u64>> {
        self.members[0].model.count_tokens(request).await
    }
}
