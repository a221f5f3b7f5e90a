//! The run log: runs written step by step and read back, searched, continued; a version 1
//! database migrated; secrets scrubbed and attachments stored once; a locked database refused
//! with a clear error instead of a hang.

#![allow(clippy::unwrap_used)] // Tests fail loudly by design.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use anymodel_core::{
    Agent, ChatResponse, Content, Message, Part, Redactor, ScriptedModel, ToolCall, ToolError,
    TypedTool, async_trait,
};
use anymodel_runlog::{LogError, LogHook, RunLog, RunQuery, schema};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize, JsonSchema)]
struct Args {
    /// The city.
    city: String,
}

#[derive(Clone, Default)]
struct Weather(Arc<AtomicUsize>);

#[async_trait]
impl TypedTool for Weather {
    const NAME: &'static str = "weather";
    const DESCRIPTION: &'static str = "The weather in a city.";
    type Args = Args;
    type Output = String;

    async fn run(&self, args: Args) -> Result<String, ToolError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(format!("{}: 18C, key sk-secret-123", args.city))
    }
}

async fn logged_run(log: &Arc<RunLog>, conversation: Option<i64>, prompt: Content) -> i64 {
    let model = ScriptedModel::new([
        ChatResponse::tool_calls(vec![ToolCall::new("c1", "weather", json!({"city": "Paris"}))]),
        ChatResponse::text("It is 18C in Paris, sunny."),
    ]);
    let agent = Agent::builder(model).system("Be brief.").tool(Weather::default()).build().unwrap();
    let input = match conversation {
        Some(id) => log.conversation(id).unwrap(),
        None => Vec::new(),
    };
    let ids = log.begin(conversation, "scripted", &prompt.text()).unwrap();
    let hook = Arc::new(LogHook::new(log.clone(), ids.run));
    let mut messages = input;
    messages.push(Message::user(prompt));
    agent.with_hook(hook.clone()).run_messages(messages).await.unwrap();
    assert_eq!(hook.failure(), None);
    ids.run
}

#[tokio::test]
async fn a_run_is_logged_with_its_calls_found_by_text_and_continued() {
    let folder = tempfile::tempdir().unwrap();
    let log = Arc::new(
        RunLog::open(folder.path().join("nested/logs.db"))
            .unwrap()
            .with_redactor(Redactor::new(["sk-secret-123".to_string()])),
    );
    let image = Part::image(&[7u8; 4096], "image/png");
    let prompt =
        Content::from("Weather in Paris, key sk-secret-123?").with_all(vec![image.clone()]);
    let first = logged_run(&log, None, prompt.clone()).await;

    let detail = log.run(first).unwrap();
    assert_eq!(detail.summary.outcome, "answered");
    assert_eq!(detail.summary.answer.as_deref(), Some("It is 18C in Paris, sunny."));
    assert_eq!(detail.summary.prompt, "Weather in Paris, key <redacted>?");
    assert_eq!(detail.calls.len(), 2);
    assert_eq!(detail.calls[0].request["messages"], json!({"transcript": 2}));
    assert_eq!(detail.calls[0].request["tools"][0]["name"], "weather");
    assert_eq!(detail.calls[0].finish_reason.as_deref(), Some("tool_calls"));
    let tool = &detail.calls[0].tool_calls[0];
    assert_eq!((tool.name.as_str(), &tool.arguments), ("weather", &json!({"city": "Paris"})));
    assert_eq!(tool.result, Some(json!("Paris: 18C, key <redacted>")));
    let stored = serde_json::to_string(&detail).unwrap();
    assert!(!stored.contains("sk-secret-123"), "{stored}");
    assert!(!stored.contains(&"Bwc".repeat(10)), "the image's bytes are stored apart");

    // Found by a word of its answer, not by one it lacks.
    let found = log.runs(&RunQuery { text: Some("sunny".into()), ..Default::default() }).unwrap();
    assert_eq!(found.iter().map(|r| r.id).collect::<Vec<_>>(), [first]);
    let none = log.runs(&RunQuery { text: Some("rainy OR".into()), ..Default::default() });
    assert!(none.unwrap().is_empty());

    // Continuing: the earlier turns come back, the image's bytes with them.
    let conversation = log.latest_conversation().unwrap().unwrap();
    let earlier = log.conversation(conversation).unwrap();
    assert_eq!(earlier.len(), 4, "user, call, result, answer (no system prompt)");
    let Message::User { content } = &earlier[0] else { panic!("{earlier:?}") };
    assert_eq!(content.parts()[1], image);
    let second = logged_run(&log, Some(conversation), "And tomorrow?".into()).await;
    let runs = log.runs(&RunQuery { conversation: Some(conversation), ..Default::default() });
    assert_eq!(runs.unwrap().iter().map(|r| r.id).collect::<Vec<_>>(), [second, first]);
    let attachments: i64 = rusqlite::Connection::open(log.path())
        .unwrap()
        .query_row("SELECT count(*) FROM attachments", [], |r| r.get(0))
        .unwrap();
    assert_eq!(attachments, 1, "sent twice, stored once");

    assert!(matches!(log.run(999), Err(LogError::Missing { what: "run", .. })));
    assert!(matches!(log.begin(Some(999), "m", "p"), Err(LogError::Missing { .. })));
}

#[tokio::test]
async fn a_version_1_log_is_migrated_with_its_runs_searchable() {
    let folder = tempfile::tempdir().unwrap();
    let path = folder.path().join("logs.db");
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch(include_str!("fixtures/v1.sql"))
        .unwrap();
    let log = Arc::new(RunLog::open(&path).unwrap());
    let version: u32 = rusqlite::Connection::open(&path)
        .unwrap()
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, schema::VERSION);
    let runs = log.runs(&RunQuery::default()).unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0].cached_input_tokens, 0, "new columns have their defaults");
    let found = log.runs(&RunQuery { text: Some("square root".into()), ..Default::default() });
    assert_eq!(found.unwrap()[0].id, 2, "runs logged before the migration are searchable");
    let detail = log.run(2).unwrap();
    assert_eq!(detail.calls[0].tool_calls[0].result, Some(json!(19.77)));
    assert_eq!(log.conversation(1).unwrap().len(), 4);
    // New runs go on after the old ones.
    let third = logged_run(&log, Some(1), "Thanks".into()).await;
    assert_eq!(third, 3);
}

#[test]
fn a_newer_or_damaged_log_is_refused_and_a_locked_one_named() {
    let folder = tempfile::tempdir().unwrap();
    let newer = folder.path().join("newer.db");
    rusqlite::Connection::open(&newer).unwrap().pragma_update(None, "user_version", 99).unwrap();
    let error = RunLog::open(&newer).unwrap_err();
    assert!(matches!(error, LogError::Newer { found: 99, .. }), "{error}");
    assert!(error.to_string().contains("update anymodel"));

    let damaged = folder.path().join("damaged.db");
    std::fs::write(&damaged, b"this is not a database, it is a text file".repeat(100)).unwrap();
    let error = RunLog::open(&damaged).unwrap_err();
    assert!(matches!(error, LogError::Corrupt { .. }), "{error}");

    let path = folder.path().join("logs.db");
    let log = RunLog::open(&path).unwrap();
    let holder = rusqlite::Connection::open(&path).unwrap();
    holder.execute_batch("BEGIN IMMEDIATE").unwrap();
    let error = log.begin(None, "m", "p").unwrap_err();
    assert!(matches!(error, LogError::Locked { .. }), "{error}");
    assert!(error.to_string().contains("locked by another process"), "{error}");
    holder.execute_batch("ROLLBACK").unwrap();
    log.begin(None, "m", "p").unwrap();
}

/// A model wrapped in `LoggedModel`: each call a run of its own, whole or streamed; a failed
/// call with its error's class; a stream dropped before its end as cancelled.
#[tokio::test]
async fn a_logged_model_logs_each_call() {
    use anymodel_core::{ChatRequest, Error, Model, ScriptedReply, Usage};
    use anymodel_runlog::LoggedModel;
    use futures::StreamExt;
    let folder = tempfile::tempdir().unwrap();
    let log = Arc::new(RunLog::open(folder.path().join("logs.db")).unwrap());
    let reply = ChatResponse::text("Paris.").with_usage(Usage::new(7, 2));
    let script = [
        ScriptedReply::Reply(reply.clone()),
        ScriptedReply::Reply(reply.clone()),
        ScriptedReply::Fail(Error::RateLimited { message: "slow down".into(), retry_after: None }),
        ScriptedReply::Reply(reply),
    ];
    let model = LoggedModel::new(ScriptedModel::new(script), log.clone(), "served");
    let request = ChatRequest::new([Message::system("Be brief."), Message::user("Capital?")]);
    assert_eq!(model.chat(request.clone()).await.unwrap().message.content, "Paris.");
    let events: Vec<_> = model.stream(request.clone()).await.unwrap().collect().await;
    assert!(events.iter().all(Result::is_ok));
    assert!(model.chat(request.clone()).await.is_err());
    let mut dropped = model.stream(request).await.unwrap();
    let _first = dropped.next().await;
    drop(dropped);

    let mut runs = log.runs(&RunQuery::default()).unwrap();
    runs.reverse();
    let outcomes: Vec<(&str, Option<&str>)> =
        runs.iter().map(|r| (r.outcome.as_str(), r.error_class.as_deref())).collect();
    assert_eq!(
        outcomes,
        [
            ("answered", None),
            ("answered", None),
            ("failed", Some("rate_limited")),
            ("failed", Some("cancelled"))
        ]
    );
    for run in &runs[..2] {
        assert_eq!((run.model.as_str(), run.prompt.as_str()), ("served", "Capital?"));
        assert_eq!(run.answer.as_deref(), Some("Paris."));
        assert_eq!((run.input_tokens, run.output_tokens), (7, 2));
        let detail = log.run(run.id).unwrap();
        assert_eq!(detail.calls.len(), 1);
        assert_eq!(detail.transcript.as_array().unwrap().len(), 3, "system, user, reply");
    }
}

/// Counts its calls; while `stuck` is set, a call for Rome never ends (a process killed while
/// it runs).
#[derive(Clone, Default)]
struct Forecast {
    calls: Arc<AtomicUsize>,
    stuck: Arc<std::sync::atomic::AtomicBool>,
}

#[async_trait]
impl TypedTool for Forecast {
    const NAME: &'static str = "forecast";
    const DESCRIPTION: &'static str = "Tomorrow's weather in a city.";
    type Args = Args;
    type Output = String;

    async fn run(&self, args: Args) -> Result<String, ToolError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if args.city == "Rome" && self.stuck.load(Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        Ok(format!("{}: dry", args.city))
    }
}

/// A run stopped while the second of its step's two calls runs (its future dropped, as a killed
/// process's work is gone): the log kept the reply and the first call's result, and resuming
/// from the log makes only the second call, without asking the model again for that step.
#[tokio::test]
async fn a_run_stopped_mid_step_resumes_from_the_journal() {
    let folder = tempfile::tempdir().unwrap();
    let log = Arc::new(RunLog::open(folder.path().join("logs.db")).unwrap());
    let forecast = Forecast::default();
    forecast.stuck.store(true, Ordering::SeqCst);
    let both = ChatResponse::tool_calls(vec![
        ToolCall::new("c1", "forecast", json!({"city": "Oslo"})),
        ToolCall::new("c2", "forecast", json!({"city": "Rome"})),
    ]);
    let agent =
        Agent::builder(ScriptedModel::new([both.clone()])).tool(forecast.clone()).build().unwrap();
    let ids = log.begin(None, "scripted", "Oslo and Rome?").unwrap();
    let hook = Arc::new(LogHook::new(log.clone(), ids.run));
    let stopped = tokio::time::timeout(
        std::time::Duration::from_millis(300),
        agent.with_hook(hook.clone()).run("Oslo and Rome?"),
    )
    .await;
    assert!(stopped.is_err(), "stuck in Rome");
    assert_eq!(hook.failure(), None);

    let resumable = log.resumable(ids.run).unwrap();
    assert_eq!(resumable.outcome, "running");
    let checkpoint = resumable.checkpoint;
    assert_eq!(checkpoint.pending.as_ref(), Some(&both));
    let made: Vec<&str> = checkpoint.completed.iter().map(|i| i.call.id.as_str()).collect();
    assert_eq!(made, ["c1"]);

    forecast.stuck.store(false, Ordering::SeqCst);
    let model = Arc::new(ScriptedModel::new([ChatResponse::text("Dry in both.")]));
    let again = Agent::builder(model.clone()).tool(forecast.clone()).build().unwrap();
    let run = again.with_hook(hook.clone()).resume(checkpoint).await.unwrap();
    assert_eq!(run.answer, "Dry in both.");
    assert_eq!(forecast.calls.load(Ordering::SeqCst), 3, "Oslo once, Rome twice");
    assert_eq!(model.requests().len(), 1, "the model asked only for the answer");
    let detail = log.run(ids.run).unwrap();
    assert_eq!(detail.summary.outcome, "answered");
    let logged: Vec<&str> = detail.calls[0].tool_calls.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(logged, ["c1", "c2"], "the step logged whole, once");
}
