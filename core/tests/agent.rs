//! The agent loop, driven by the scripted model.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anymodel_core::{
    Agent, AgentErrorKind, AgentEvent, AgentHook, ChatResponse, Error, FinishReason, Message,
    ScriptedModel, ScriptedReply, StreamEvent, ToolCall, ToolCallError, ToolDecision, ToolError,
    TypedTool, Usage, async_trait,
};
use futures::StreamExt;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

/// Arguments of the weather tool.
#[derive(Deserialize, JsonSchema)]
struct WeatherArgs {
    /// The city.
    city: String,
    /// How many days ahead, 1 to 7.
    #[schemars(range(min = 1, max = 7))]
    days: Option<u8>,
}

/// Counts its calls, so tests can tell whether it ran.
#[derive(Clone, Default)]
struct Weather {
    calls: Arc<AtomicUsize>,
}

#[async_trait]
impl TypedTool for Weather {
    const NAME: &'static str = "weather";
    const DESCRIPTION: &'static str = "The weather forecast for a city.";
    type Args = WeatherArgs;
    type Output = String;

    async fn run(&self, args: WeatherArgs) -> Result<String, ToolError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Ok(format!("{}: 18C for {} day(s)", args.city, args.days.unwrap_or(1)))
    }
}

#[derive(Deserialize, JsonSchema)]
struct SleepArgs {
    /// How long to sleep, in milliseconds.
    ms: u64,
    /// What to return.
    label: String,
}

/// Sleeps, then returns its label.
struct Sleep;

#[async_trait]
impl TypedTool for Sleep {
    const NAME: &'static str = "sleep";
    const DESCRIPTION: &'static str = "Sleeps, then echoes the label.";
    type Args = SleepArgs;
    type Output = String;

    async fn run(&self, args: SleepArgs) -> Result<String, ToolError> {
        tokio::time::sleep(Duration::from_millis(args.ms)).await;
        Ok(args.label)
    }
}

#[derive(Deserialize, JsonSchema)]
struct NoArgs {}

/// Always fails.
struct Broken;

#[async_trait]
impl TypedTool for Broken {
    const NAME: &'static str = "broken";
    const DESCRIPTION: &'static str = "Fails.";
    type Args = NoArgs;
    type Output = String;

    async fn run(&self, _: NoArgs) -> Result<String, ToolError> {
        Err(ToolError::failed("the database is down"))
    }
}

fn call(id: &str, name: &str, arguments: serde_json::Value) -> ToolCall {
    ToolCall::new(id, name, arguments)
}

fn calls(list: Vec<ToolCall>) -> ChatResponse {
    ChatResponse::tool_calls(list)
}

/// The tool messages of a transcript, as (call id, content, is_error).
fn tool_results(transcript: &[Message]) -> Vec<(String, String, bool)> {
    transcript
        .iter()
        .filter_map(|m| match m {
            Message::Tool(r) => Some((r.tool_call_id.clone(), r.content.text(), r.is_error)),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn a_single_tool_call_is_run_and_its_result_sent_back() {
    let model = Arc::new(ScriptedModel::new([
        calls(vec![call("c1", "weather", json!({"city": "Paris", "days": 2}))]),
        ChatResponse::text("It is 18C in Paris."),
    ]));
    let weather = Weather::default();
    let agent = Agent::builder(model.clone())
        .system("You are a forecaster.")
        .tool(weather.clone())
        .build()
        .unwrap();

    let run = agent.run("Weather in Paris?").await.unwrap();

    assert_eq!(run.answer, "It is 18C in Paris.");
    assert_eq!(weather.calls.load(Ordering::SeqCst), 1);
    assert_eq!(run.steps.len(), 2);
    let requests = model.requests();
    assert_eq!(
        requests[0].messages,
        vec![Message::system("You are a forecaster."), Message::user("Weather in Paris?")]
    );
    assert_eq!(requests[0].tools[0].name, "weather");
    assert_eq!(
        tool_results(&requests[1].messages),
        vec![("c1".into(), "Paris: 18C for 2 day(s)".into(), false)]
    );
    assert_eq!(requests[1].messages, run.transcript[..4].to_vec());
    assert_eq!(run.transcript.len(), 5, "system, user, call, result, answer");
}

#[tokio::test(start_paused = true)]
async fn parallel_calls_run_together_and_answer_in_call_order() {
    let model = Arc::new(ScriptedModel::new([
        calls(vec![
            call("slow", "sleep", json!({"ms": 300, "label": "first"})),
            call("fast", "sleep", json!({"ms": 100, "label": "second"})),
        ]),
        ChatResponse::text("done"),
    ]));
    let agent = Agent::builder(model.clone()).tool(Sleep).build().unwrap();

    let started = tokio::time::Instant::now();
    let run = agent.run("go").await.unwrap();

    assert!(started.elapsed() < Duration::from_millis(400), "calls ran one after the other");
    assert_eq!(
        tool_results(&model.requests()[1].messages),
        vec![("slow".into(), "first".into(), false), ("fast".into(), "second".into(), false)]
    );
    let ids: Vec<_> = run.steps[0].tool_calls.iter().map(|i| i.call.id.as_str()).collect();
    assert_eq!(ids, ["slow", "fast"]);
}

#[tokio::test]
async fn an_unknown_tool_is_reported_to_the_model() {
    let model = Arc::new(ScriptedModel::new([
        calls(vec![call("c1", "forecast", json!({"city": "Oslo"}))]),
        ChatResponse::text("Sorry."),
    ]));
    let agent = Agent::builder(model.clone()).tool(Weather::default()).build().unwrap();

    let run = agent.run("Weather in Oslo?").await.unwrap();

    let (_, content, is_error) = &tool_results(&run.transcript)[0];
    assert!(is_error);
    assert_eq!(content, "there is no tool named `forecast`; the tools are: weather");
    assert!(matches!(
        &run.steps[0].tool_calls[0].result,
        Err(ToolCallError::UnknownTool { name, .. }) if name == "forecast"
    ));
    assert_eq!(run.answer, "Sorry.");
}

#[tokio::test]
async fn arguments_that_fail_the_schema_do_not_reach_the_tool() {
    let model = Arc::new(ScriptedModel::new([
        calls(vec![
            call("c1", "weather", json!({"days": "three"})),
            call("c2", "weather", json!({"city": "Rome", "days": 9})),
            call("c3", "weather", json!("{\"city\": \"Ro")),
        ]),
        ChatResponse::text("ok"),
    ]));
    let weather = Weather::default();
    let agent = Agent::builder(model.clone()).tool(weather.clone()).build().unwrap();

    let run = agent.run("Weather?").await.unwrap();

    assert_eq!(weather.calls.load(Ordering::SeqCst), 0);
    let results = tool_results(&run.transcript);
    assert!(results.iter().all(|(_, _, is_error)| *is_error));
    let first = &results[0].1;
    assert!(first.starts_with("invalid arguments for `weather`: "), "{first}");
    assert!(first.contains("\"city\" is a required property"), "{first}");
    assert!(first.contains("at /days: \"three\" is not of type"), "{first}");
    assert!(
        results[1].1.contains("at /days: 9 is greater than the maximum of 7"),
        "{}",
        results[1].1
    );
    assert!(results[2].1.contains("not valid JSON: {\"city\": \"Ro"), "{}", results[2].1);
}

#[tokio::test]
async fn a_failing_tool_becomes_an_error_result() {
    let model = Arc::new(ScriptedModel::new([
        calls(vec![call("c1", "broken", json!({}))]),
        ChatResponse::text("The tool is down."),
    ]));
    let agent = Agent::builder(model.clone()).tool(Broken).build().unwrap();

    let run = agent.run("try").await.unwrap();

    assert_eq!(
        tool_results(&run.transcript),
        vec![("c1".into(), "`broken` failed: the database is down".into(), true)]
    );
}

#[tokio::test(start_paused = true)]
async fn a_tool_that_times_out_is_stopped_and_reported() {
    let model = Arc::new(ScriptedModel::new([
        calls(vec![call("c1", "sleep", json!({"ms": 60_000, "label": "late"}))]),
        ChatResponse::text("It took too long."),
    ]));
    let agent = Agent::builder(model.clone())
        .tool(Sleep)
        .tool_timeout(Some(Duration::from_millis(1500)))
        .build()
        .unwrap();

    let started = tokio::time::Instant::now();
    let run = agent.run("sleep").await.unwrap();

    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(
        tool_results(&run.transcript),
        vec![("c1".into(), "`sleep` did not finish within 1.5 s and was stopped".into(), true)]
    );
    assert!(matches!(
        run.steps[0].tool_calls[0].result,
        Err(ToolCallError::TimedOut { timeout_ms: 1500, .. })
    ));
}

#[tokio::test]
async fn running_past_max_steps_fails_with_the_transcript_so_far() {
    let model = Arc::new(ScriptedModel::new(
        ["Paris", "Rome", "Oslo"]
            .map(|city| calls(vec![call(city, "weather", json!({"city": city}))])),
    ));
    let agent =
        Agent::builder(model.clone()).tool(Weather::default()).max_steps(3).build().unwrap();

    let err = agent.run("Weather everywhere").await.unwrap_err();

    assert_eq!(err.kind, AgentErrorKind::MaxSteps { limit: 3 });
    assert_eq!(err.partial.steps.len(), 3);
    assert_eq!(err.transcript().len(), 1 + 3 * 2, "the prompt, then a call and a result per step");
    assert_eq!(tool_results(err.transcript())[2].1, "Oslo: 18C for 1 day(s)");
    assert_eq!(model.remaining(), 0);
}

#[tokio::test]
async fn the_same_call_repeated_stops_the_run() {
    let same = || calls(vec![call("c", "weather", json!({"days": 1, "city": "Paris"}))]);
    let model = Arc::new(ScriptedModel::new([
        same(),
        calls(vec![call("c", "weather", json!({"city": "Paris", "days": 1}))]),
        same(),
        ChatResponse::text("never reached"),
    ]));
    let weather = Weather::default();
    let agent = Agent::builder(model.clone()).tool(weather.clone()).build().unwrap();

    let err = agent.run("Weather?").await.unwrap_err();

    assert_eq!(
        err.kind,
        AgentErrorKind::RepeatedToolCall {
            tool: "weather".into(),
            arguments: json!({"city": "Paris", "days": 1}),
            times: 3
        }
    );
    assert_eq!(weather.calls.load(Ordering::SeqCst), 2, "the third call does not run");
    assert_eq!(model.remaining(), 1);
}

#[tokio::test]
async fn different_calls_in_between_reset_the_repeat_count() {
    let paris = || call("c", "weather", json!({"city": "Paris"}));
    let rome = || call("d", "weather", json!({"city": "Rome"}));
    let model = ScriptedModel::new([
        calls(vec![paris(), paris()]),
        calls(vec![rome()]),
        calls(vec![paris(), paris()]),
        ChatResponse::text("fine"),
    ]);
    let agent = Agent::builder(model).tool(Weather::default()).build().unwrap();
    assert_eq!(agent.run("Weather?").await.unwrap().answer, "fine");
}

#[tokio::test]
async fn too_many_tool_calls_stop_the_run() {
    let many = (0..5)
        .map(|i| call(&format!("c{i}"), "weather", json!({"city": format!("city {i}")})))
        .collect();
    let model = ScriptedModel::new([calls(many)]);
    let limits = anymodel_core::Limits { max_tool_calls: 4, ..Default::default() };
    let agent = Agent::builder(model).tool(Weather::default()).limits(limits).build().unwrap();
    let err = agent.run("Weather?").await.unwrap_err();
    assert_eq!(err.kind, AgentErrorKind::MaxToolCalls { limit: 4 });
}

#[tokio::test]
async fn a_model_error_keeps_the_run_so_far() {
    let model = ScriptedModel::new([
        ScriptedReply::Reply(calls(vec![call("c1", "weather", json!({"city": "Lima"}))])),
        ScriptedReply::Fail(Error::RateLimited { message: "slow down".into(), retry_after: None }),
    ]);
    let agent = Agent::builder(model).tool(Weather::default()).build().unwrap();
    let err = agent.run("Weather?").await.unwrap_err();
    assert!(
        matches!(&err.kind, AgentErrorKind::Model { step: 2, source } if source.is_retryable())
    );
    assert_eq!(err.transcript().len(), 3);
    assert_eq!(err.to_string(), "the model failed at step 2: rate limited: slow down");
}

#[tokio::test]
async fn usage_is_summed_across_steps() {
    let model = ScriptedModel::new([
        calls(vec![call("c1", "weather", json!({"city": "Paris"}))])
            .with_usage(Usage::new(100, 20)),
        ChatResponse::text("18C").with_usage(Usage::new(150, 5)),
    ]);
    let agent = Agent::builder(model).tool(Weather::default()).build().unwrap();
    let run = agent.run("Weather?").await.unwrap();
    assert_eq!(run.usage, Usage::new(250, 25));
    assert_eq!(run.steps[1].response.usage, Usage::new(150, 5));
}

/// Refuses every call of one tool and counts the steps it saw.
#[derive(Default)]
struct Gatekeeper {
    steps: AtomicUsize,
}

#[async_trait]
impl AgentHook for Gatekeeper {
    async fn before_tool_call(&self, call: &ToolCall) -> ToolDecision {
        if call.name == "broken" {
            ToolDecision::Deny { reason: "the user declined".into() }
        } else {
            ToolDecision::Allow
        }
    }

    async fn after_step(&self, _step: &anymodel_core::Step) {
        self.steps.fetch_add(1, Ordering::SeqCst);
    }
}

#[tokio::test]
async fn a_hook_can_veto_a_tool_call() {
    let model = ScriptedModel::new([
        calls(vec![
            call("c1", "broken", json!({})),
            call("c2", "weather", json!({"city": "Paris"})),
        ]),
        ChatResponse::text("ok"),
    ]);
    let gatekeeper = Arc::new(Gatekeeper::default());
    let agent = Agent::builder(model)
        .tool(Broken)
        .tool(Weather::default())
        .hook(gatekeeper.clone())
        .build()
        .unwrap();
    let run = agent.run("go").await.unwrap();
    assert_eq!(
        tool_results(&run.transcript),
        vec![
            ("c1".into(), "the call to `broken` was not allowed: the user declined".into(), true),
            ("c2".into(), "Paris: 18C for 1 day(s)".into(), false),
        ]
    );
    assert_eq!(gatekeeper.steps.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn streamed_events_come_in_order() {
    let model = ScriptedModel::new([
        ScriptedReply::Events(vec![
            StreamEvent::TextDelta { text: "Let me ".into() },
            StreamEvent::TextDelta { text: "check.".into() },
            StreamEvent::ToolCallStart { index: 0, id: "a".into(), name: "weather".into() },
            StreamEvent::ToolCallDelta { index: 0, arguments: "{\"city\":".into() },
            StreamEvent::ToolCallStart { index: 1, id: "b".into(), name: "broken".into() },
            StreamEvent::ToolCallDelta { index: 0, arguments: "\"Nice\"}".into() },
            StreamEvent::Usage { usage: Usage::new(10, 4) },
            StreamEvent::Finish { reason: FinishReason::ToolCalls },
        ]),
        ScriptedReply::Reply(ChatResponse::text("Sunny in Nice.")),
    ]);
    let agent = Agent::builder(model).tool(Weather::default()).tool(Broken).build().unwrap();

    let events: Vec<_> = agent.run_stream("Weather in Nice?").collect().await;

    let names: Vec<String> = events
        .iter()
        .map(|event| match event.as_ref().unwrap() {
            AgentEvent::TextDelta { step, text } => format!("{step} text {text}"),
            AgentEvent::ReasoningDelta { step, text } => format!("{step} thought {text}"),
            AgentEvent::ToolCallRequested { step, call } => format!("{step} call {}", call.id),
            AgentEvent::ToolResult { step, invocation } => {
                format!("{step} result {}", invocation.call.id)
            }
            AgentEvent::StepDone { step } => format!("{} done", step.index),
            AgentEvent::Finished { run } => format!("finished: {}", run.answer),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(
        names,
        [
            "1 text Let me ",
            "1 text check.",
            "1 call a",
            "1 call b",
            "1 result a",
            "1 result b",
            "1 done",
            "2 text Sunny in Nice.",
            "2 done",
            "finished: Sunny in Nice.",
        ]
    );
    let Some(Ok(AgentEvent::Finished { run })) = events.last() else { panic!("no run") };
    assert_eq!(run.steps[0].tool_calls[0].call.arguments, json!({"city": "Nice"}));
    assert_eq!(run.usage, Usage::new(10, 4));
}

#[tokio::test]
async fn a_failed_stream_ends_with_the_error() {
    let model = ScriptedModel::new([ScriptedReply::Fail(Error::Authentication {
        message: "bad key".into(),
    })]);
    let agent = Agent::builder(model).build().unwrap();
    let events: Vec<_> = agent.run_stream("hi").collect().await;
    assert_eq!(events.len(), 1);
    let err = events[0].as_ref().unwrap_err();
    assert!(matches!(
        &err.kind,
        AgentErrorKind::Model { source: Error::Authentication { .. }, .. }
    ));
}

#[tokio::test]
async fn a_run_record_survives_json() {
    let model = ScriptedModel::new([
        calls(vec![call("c1", "weather", json!({"city": "Paris"})), call("c2", "nope", json!({}))]),
        ChatResponse::text("18C"),
    ]);
    let agent = Agent::builder(model).tool(Weather::default()).build().unwrap();
    let run = agent.run("Weather?").await.unwrap();
    let text = serde_json::to_string(&run).unwrap();
    let back: anymodel_core::AgentRun = serde_json::from_str(&text).unwrap();
    assert_eq!(back, run);
}

#[test]
fn agent_configuration_mistakes_are_reported_at_build() {
    let twice = Agent::builder(ScriptedModel::new(Vec::<ChatResponse>::new()))
        .tool(Weather::default())
        .tool(Weather::default())
        .build();
    assert_eq!(twice.unwrap_err(), Error::config("two tools are named `weather`"));
}

/// A forced tool choice holds for the first step only, so the model can answer once its tools
/// have run; `none` holds throughout.
#[tokio::test]
async fn a_forced_tool_choice_holds_until_tools_have_run() {
    let model = Arc::new(ScriptedModel::new([
        ChatResponse::tool_calls(vec![ToolCall::new("c1", "weather", json!({"city": "Oslo"}))]),
        ChatResponse::text("Cold."),
    ]));
    let agent = Agent::builder(model.clone())
        .tool(Weather::default())
        .tool_choice(anymodel_core::ToolChoice::Required)
        .build()
        .unwrap();
    agent.run("Weather in Oslo?").await.unwrap();
    let choices: Vec<_> = model.requests().into_iter().map(|r| r.tool_choice).collect();
    assert_eq!(choices, [anymodel_core::ToolChoice::Required, anymodel_core::ToolChoice::Auto]);
}

/// Keeps the last checkpoint it is given.
#[derive(Default)]
struct Keeper(std::sync::Mutex<Option<anymodel_core::RunCheckpoint>>);

#[async_trait]
impl AgentHook for Keeper {
    async fn checkpoint(&self, checkpoint: &anymodel_core::RunCheckpoint) {
        *self.0.lock().expect("not poisoned") = Some(checkpoint.clone());
    }
}

/// A run stopped after its tool step goes on from its checkpoint, as another process would:
/// the tool is not called again, and the model gets the whole conversation.
#[tokio::test]
async fn a_run_resumes_from_its_checkpoint_without_calling_tools_again() {
    let weather = Weather::default();
    let failing = ScriptedModel::new([
        calls(vec![call("c1", "weather", json!({"city": "Paris"}))]).into(),
        ScriptedReply::Fail(Error::Transient { message: "killed".into(), retry_after: None }),
    ]);
    let keeper = Arc::new(Keeper::default());
    let agent = Agent::builder(failing)
        .system("Forecaster.")
        .tool(weather.clone())
        .hook(keeper.clone())
        .build()
        .unwrap();
    assert!(agent.run("Weather in Paris?").await.is_err());
    let checkpoint = keeper.0.lock().unwrap().clone().expect("a checkpoint after the tool step");
    assert_eq!((checkpoint.steps, checkpoint.tool_calls), (1, 1));
    let saved = serde_json::to_string(&checkpoint).unwrap();

    let model = Arc::new(ScriptedModel::new([ChatResponse::text("18C in Paris.")]));
    let again = Agent::builder(model.clone()).system("Forecaster.").tool(weather.clone()).build();
    let run = again.unwrap().resume(serde_json::from_str(&saved).unwrap()).await.unwrap();
    assert_eq!(run.answer, "18C in Paris.");
    assert_eq!(weather.calls.load(Ordering::SeqCst), 1, "the tool ran once, before the stop");
    assert_eq!(model.requests()[0].messages, checkpoint.transcript);
    assert_eq!(run.steps.len(), 1);
    assert_eq!(run.steps[0].index, 2);
}

/// Keeps, in order, each checkpoint and each tool call the hooks are told of.
#[derive(Default)]
struct Journal(
    std::sync::Mutex<Vec<Result<anymodel_core::RunCheckpoint, anymodel_core::ToolInvocation>>>,
);

#[async_trait]
impl AgentHook for Journal {
    async fn checkpoint(&self, checkpoint: &anymodel_core::RunCheckpoint) {
        self.0.lock().expect("not poisoned").push(Ok(checkpoint.clone()));
    }

    async fn after_tool_call(&self, _step: usize, invocation: &anymodel_core::ToolInvocation) {
        self.0.lock().expect("not poisoned").push(Err(invocation.clone()));
    }
}

/// A reply that calls tools is journaled before any of them runs, and each call as it ends; a
/// run stopped between two calls of a step resumes from there: the model is not asked again for
/// that step, and the call made is not made again.
#[tokio::test]
async fn a_run_stopped_mid_step_resumes_without_repeating_the_calls_made() {
    let weather = Weather::default();
    let both = calls(vec![
        call("c1", "weather", json!({"city": "Oslo"})),
        call("c2", "weather", json!({"city": "Rome"})),
    ]);
    let journal = Arc::new(Journal::default());
    let agent = Agent::builder(ScriptedModel::new([both.clone(), ChatResponse::text("Done.")]))
        .tool(weather.clone())
        .hook(journal.clone())
        .build()
        .unwrap();
    agent.run("Weather in Oslo and Rome?").await.unwrap();
    let entries = journal.0.lock().unwrap().clone();
    let Ok(journaled) = &entries[0] else { panic!("the reply first: {entries:?}") };
    assert_eq!(journaled.pending.as_ref(), Some(&both), "journaled before any call ran");
    assert_eq!((journaled.steps, journaled.completed.len()), (0, 0));
    let made: Vec<&str> =
        entries[1..3].iter().map(|e| e.as_ref().unwrap_err().call.id.as_str()).collect();
    assert_eq!(made, ["c1", "c2"]);
    assert_eq!(weather.calls.load(Ordering::SeqCst), 2);

    // Stopped after c1: the journaled reply with c1's result.
    let mut stopped = journaled.clone();
    stopped.completed.push(entries[1].clone().unwrap_err());
    let stopped: anymodel_core::RunCheckpoint =
        serde_json::from_str(&serde_json::to_string(&stopped).unwrap()).unwrap();
    let model = Arc::new(ScriptedModel::new([ChatResponse::text("Oslo 5C, Rome 20C.")]));
    let again = Agent::builder(model.clone()).tool(weather.clone()).build().unwrap();
    let run = again.resume(stopped).await.unwrap();
    assert_eq!(run.answer, "Oslo 5C, Rome 20C.");
    assert_eq!(weather.calls.load(Ordering::SeqCst), 3, "c2 made again, c1 not");
    assert_eq!(model.requests().len(), 1, "the model asked only for the answer");
    let results = tool_results(&model.requests()[0].messages);
    assert_eq!(results.iter().map(|r| r.0.as_str()).collect::<Vec<_>>(), ["c1", "c2"]);
    assert_eq!(run.steps[0].tool_calls.len(), 2, "the step holds both calls");
}

/// Decides every call the same way.
struct Decides(ToolDecision);

#[async_trait]
impl AgentHook for Decides {
    async fn before_tool_call(&self, _call: &ToolCall) -> ToolDecision {
        self.0.clone()
    }
}

/// A hook that pauses a call ends the run before any call of its step runs, with a checkpoint
/// that keeps the model's reply; resumed with the call allowed it runs (the model is not asked
/// again for that step), resumed with it denied the model gets the denial.
#[tokio::test]
async fn a_paused_run_resumes_approved_or_denied() {
    let weather = Weather::default();
    let ask = || calls(vec![call("c1", "weather", json!({"city": "Oslo"}))]);
    let pausing = Agent::builder(ScriptedModel::new([ask()]))
        .tool(weather.clone())
        .hook(Decides(ToolDecision::Pause { reason: "weather needs approval".into() }))
        .build()
        .unwrap();
    let error = pausing.run("Weather in Oslo?").await.unwrap_err();
    let AgentErrorKind::Paused { step, calls: waiting, checkpoint, .. } = error.kind.clone() else {
        panic!("{error:?}")
    };
    assert_eq!((step, waiting.len(), weather.calls.load(Ordering::SeqCst)), (1, 1, 0));
    assert_eq!(error.kind.class(), "paused");
    assert!(checkpoint.pending.is_some());
    let checkpoint: anymodel_core::RunCheckpoint =
        serde_json::from_str(&serde_json::to_string(&checkpoint).unwrap()).unwrap();

    let model = Arc::new(ScriptedModel::new([ChatResponse::text("Cold in Oslo.")]));
    let approved = Agent::builder(model.clone()).tool(weather.clone()).build().unwrap();
    let run = approved.resume(checkpoint.clone()).await.unwrap();
    assert_eq!(run.answer, "Cold in Oslo.");
    assert_eq!(weather.calls.load(Ordering::SeqCst), 1);
    assert_eq!(model.requests().len(), 1, "the paused step's reply was not asked for again");
    assert_eq!(tool_results(&model.requests()[0].messages)[0].1, "Oslo: 18C for 1 day(s)");

    let model = Arc::new(ScriptedModel::new([ChatResponse::text("I may not look.")]));
    let denied = Agent::builder(model.clone())
        .tool(weather.clone())
        .hook(Decides(ToolDecision::Deny { reason: "the user said no".into() }))
        .build()
        .unwrap();
    assert_eq!(denied.resume(checkpoint).await.unwrap().answer, "I may not look.");
    assert_eq!(weather.calls.load(Ordering::SeqCst), 1, "a denied call does not run");
    let (_, text, is_error) = tool_results(&model.requests()[0].messages).remove(0);
    assert!(is_error && text.contains("the user said no"), "{text}");
}
