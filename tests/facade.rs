//! The facade as an app meets it: everything from `anymodel::`, a model chosen at run time behind
//! `Arc<dyn Model>`, and a saved run replayed.

use std::sync::Arc;

use anymodel::{
    Agent, AgentRun, ChatResponse, Message, Model, ScriptedModel, ToolCall, ToolError, TypedTool,
    async_trait, serde_json::json,
};
use schemars::JsonSchema;
use serde::Deserialize;

#[derive(Deserialize, JsonSchema)]
struct EchoArgs {
    /// What to say back.
    text: String,
}

struct Echo;

#[async_trait]
impl TypedTool for Echo {
    const NAME: &'static str = "echo";
    const DESCRIPTION: &'static str = "Says the text back.";
    type Args = EchoArgs;
    type Output = String;

    async fn run(&self, args: EchoArgs) -> Result<String, ToolError> {
        Ok(args.text)
    }
}

/// Picks a model by name, as config will.
fn model_named(name: &str) -> Arc<dyn Model> {
    let script = [
        ChatResponse::tool_calls(vec![ToolCall::new("1", "echo", json!({"text": "ping"}))]),
        ChatResponse::text("pong"),
    ];
    Arc::new(ScriptedModel::new(script).with_name(name))
}

#[tokio::test]
async fn an_agent_runs_on_a_model_chosen_at_run_time_and_its_record_replays() {
    let agent = Agent::builder(model_named("scripted:demo")).tool(Echo).build().unwrap();
    let run = agent.run("say ping").await.unwrap();
    assert_eq!(run.answer, "pong");
    assert_eq!(run.model, "scripted:demo");

    let saved = serde_json::to_string_pretty(&run).unwrap();
    let replayed: AgentRun = serde_json::from_str(&saved).unwrap();
    assert_eq!(replayed.transcript, run.transcript);
    assert!(matches!(&replayed.transcript[2], Message::Tool(result) if result.content == "ping"));
}

/// A model built from a config file carries the settings its entry gives (`temperature`,
/// `max_tokens`), and a request's own options still win.
#[tokio::test]
async fn a_model_from_config_keeps_its_sampling_settings() {
    use wiremock::matchers::{body_partial_json, method};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let server = MockServer::start().await;
    let reply = json!({
        "id": "1", "object": "chat.completion", "created": 0, "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
    });
    Mock::given(method("POST"))
        .and(body_partial_json(json!({"temperature": 0.25, "max_tokens": 33})))
        .respond_with(ResponseTemplate::new(200).set_body_json(&reply))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(body_partial_json(json!({"temperature": 0.25, "max_tokens": 5})))
        .respond_with(ResponseTemplate::new(200).set_body_json(&reply))
        .expect(1)
        .mount(&server)
        .await;
    let text = format!(
        "[models.fast]\nbackend = \"openai\"\nmodel = \"m\"\nbase_url = \"{}/v1\"\ntemperature = 0.25\nmax_tokens = 33\n",
        server.uri()
    );
    let config =
        anymodel::config::Config::parse(std::path::Path::new("anymodel.toml"), &text).unwrap();
    let model = config.build_model("fast").await.unwrap();
    model.chat(anymodel::ChatRequest::user("hi")).await.unwrap();
    let own = anymodel::Sampling { max_tokens: Some(5), ..Default::default() };
    model.chat(anymodel::ChatRequest::user("hi").with_sampling(own)).await.unwrap();
}

/// Retries sit where the config puts them: a router's members are not retried (so a failing
/// one is cooled down and the next one tried at once), the model asked for is retried as the
/// top-level `retry` says, and a member is retried only when its own entry says so.
#[tokio::test]
async fn retries_sit_where_the_config_puts_them() {
    use wiremock::matchers::method;
    use wiremock::{Mock, MockServer, ResponseTemplate};
    async fn down() -> MockServer {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(503).set_body_string("overloaded"))
            .mount(&server)
            .await;
        server
    }
    async fn calls(server: &MockServer) -> usize {
        server.received_requests().await.unwrap_or_default().len()
    }
    let config = |top: &str, first: &str, one: &MockServer, two: &MockServer| {
        let text = format!(
            "{top}\n[models.one]\nbackend = \"openai\"\nmodel = \"m\"\nbase_url = \"{}/v1\"\n{first}\n\n\
             [models.two]\nbackend = \"openai\"\nmodel = \"m\"\nbase_url = \"{}/v1\"\n\n\
             [models.pool]\nbackend = \"router\"\nmodels = [\"one\", \"two\"]\n",
            one.uri(),
            two.uri()
        );
        anymodel::config::Config::parse(std::path::Path::new("anymodel.toml"), &text).unwrap()
    };

    // One retry of the router: each member is asked once, neither retried inside.
    let (one, two) = (down().await, down().await);
    let pool = config("retry = { max_retries = 1, base_delay_ms = 1 }", "", &one, &two);
    let model = pool.build_model("pool").await.unwrap();
    assert!(model.chat(anymodel::ChatRequest::user("hi")).await.is_err());
    assert_eq!((calls(&one).await, calls(&two).await), (1, 1));

    // No retry at the top, two for the first member: it alone is asked three times.
    let (one, two) = (down().await, down().await);
    let pool = config(
        "retry = { max_retries = 0 }",
        "retry = { max_retries = 2, base_delay_ms = 1 }",
        &one,
        &two,
    );
    let model = pool.build_model("pool").await.unwrap();
    assert!(model.chat(anymodel::ChatRequest::user("hi")).await.is_err());
    assert_eq!((calls(&one).await, calls(&two).await), (3, 0));
}

/// `Config::build_agent` gives the agent `[agents.NAME]` describes, as the CLI runs it: its
/// model, system prompt and built-in tools, which it calls.
#[tokio::test]
async fn a_config_built_agent_has_its_model_prompt_and_tools() {
    use wiremock::matchers::method;
    use wiremock::{Mock, MockServer, Request, ResponseTemplate};
    let server = MockServer::start().await;
    let reply = |message: serde_json::Value, finish: &str| serde_json::json!({"choices": [{"index": 0, "message": message, "finish_reason": finish}]});
    let call = reply(
        serde_json::json!({"role": "assistant", "content": null, "tool_calls": [{"id": "c1",
            "type": "function", "function": {"name": "calculator", "arguments": "{\"expression\": \"12*7\"}"}}]}),
        "tool_calls",
    );
    let answer = reply(serde_json::json!({"role": "assistant", "content": "84"}), "stop");
    Mock::given(method("POST"))
        .respond_with(move |request: &Request| {
            let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap_or_default();
            let answered = body["messages"].as_array().is_some_and(|m| m.len() > 2);
            ResponseTemplate::new(200).set_body_json(if answered { &answer } else { &call })
        })
        .mount(&server)
        .await;
    let text = format!(
        "[models.m]\nbackend = \"openai\"\nmodel = \"m\"\nbase_url = \"{}/v1\"\n\n\
         [agents.maths]\nmodel = \"m\"\nsystem = \"Use the calculator.\"\ntools = [\"calculator\"]\nmax_steps = 3\n",
        server.uri()
    );
    let config =
        anymodel::config::Config::parse(std::path::Path::new("anymodel.toml"), &text).unwrap();
    let agent = config.build_agent("maths").await.unwrap();
    assert_eq!(agent.tools().names(), ["calculator"]);
    assert_eq!(agent.limits().max_steps, 3);
    let run = agent.run("What is 12 times 7?").await.unwrap();
    assert_eq!(run.answer, "84");
    let invocation = &run.steps[0].tool_calls[0];
    assert_eq!(invocation.result.as_ref().ok(), Some(&serde_json::json!("84")));
    let requests = server.received_requests().await.unwrap_or_default();
    let first: serde_json::Value = serde_json::from_slice(&requests[0].body).unwrap();
    assert_eq!(first["messages"][0]["content"], "Use the calculator.");
    assert_eq!(first["tools"][0]["function"]["name"], "calculator");

    let error = config.build_agent("nope").await.err().map(|e| e.to_string());
    assert!(error.is_some_and(|e| e.contains("unknown agent `nope`")));
}

/// `timeout_secs` on a remote entry: a server that stays silent fails the call after that long,
/// not after the default two minutes.
#[tokio::test]
async fn a_configured_timeout_cuts_a_silent_server_short() {
    use wiremock::matchers::method;
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(std::time::Duration::from_secs(30)))
        .mount(&server)
        .await;
    let text = format!(
        "retry = {{ max_retries = 0 }}\n[models.m]\nbackend = \"openai\"\nmodel = \"m\"\nbase_url = \"{}/v1\"\ntimeout_secs = 1\n",
        server.uri()
    );
    let config =
        anymodel::config::Config::parse(std::path::Path::new("anymodel.toml"), &text).unwrap();
    let model = config.build_model("m").await.unwrap();
    let started = std::time::Instant::now();
    let error = model.chat(anymodel::ChatRequest::user("hi")).await.unwrap_err();
    assert!(error.to_string().contains("sent nothing for 1 s"), "{error}");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}

/// `deadline_secs` on a remote entry: a call still going then is stopped, whatever the silence
/// limit, and is not retried; 0 is refused when the file is read.
#[tokio::test]
async fn a_configured_deadline_stops_a_call_that_goes_on() {
    use wiremock::matchers::method;
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(std::time::Duration::from_secs(30)))
        .mount(&server)
        .await;
    let entry = |deadline: u64| {
        format!(
            "[models.m]\nbackend = \"openai\"\nmodel = \"m\"\nbase_url = \"{}/v1\"\ntimeout_secs = 20\ndeadline_secs = {deadline}\n",
            server.uri()
        )
    };
    let path = std::path::Path::new("anymodel.toml");
    let config = anymodel::config::Config::parse(path, &entry(1)).unwrap();
    let model = config.build_model("m").await.unwrap();
    let error = model.chat(anymodel::ChatRequest::user("hi")).await.unwrap_err();
    assert!(error.to_string().contains("deadline of 1 s"), "{error}");
    assert!(!error.is_retryable());
    assert_eq!(server.received_requests().await.unwrap_or_default().len(), 1);
    let refused = anymodel::config::Config::parse(path, &entry(0)).err().map(|e| e.to_string());
    assert!(refused.is_some_and(|e| e.contains("deadline_secs must be at least 1")));
}

/// An agent over an index that holds vectors searches it hybrid, with the embedder the index
/// records, loaded by the name it was added with: a question sharing no word with the passage
/// still finds it.
#[tokio::test]
async fn an_agent_searches_an_index_with_vectors_by_meaning() {
    use anymodel::tools::index::{IngestOptions, KnowledgeIndex};
    let temp = tempfile::tempdir().unwrap();
    let docs = temp.path().join("docs");
    std::fs::create_dir_all(&docs).unwrap();
    std::fs::write(
        docs.join("kettle.md"),
        "# Kettle\n\n## Descaling\n\nRemove limescale monthly with citric acid.\n\n## Warranty\n\nThe warranty lasts two years.\n",
    )
    .unwrap();
    let minilm = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models/all-MiniLM-L6-v2");
    let config =
        anymodel::config::Config::parse(std::path::Path::new("anymodel.toml"), "").unwrap();
    let embedder = config.build_embedder(Some(minilm.to_str().unwrap())).unwrap();
    let folder = temp.path().join("index");
    let index = KnowledgeIndex::create(&folder).unwrap();
    let options =
        IngestOptions { embedder_named: Some(minilm.display().to_string()), ..Default::default() };
    index.ingest_embedding(&[&docs], &options, embedder.as_ref()).await.unwrap();

    let settings = config.tool_settings(Some(folder.to_str().unwrap())).unwrap();
    assert_eq!(settings.embedder.as_ref().map(|e| e.name()), Some("local:all-MiniLM-L6-v2"));
    let search = anymodel::tools::registry::make("search_documents", &settings).unwrap();
    let found = search
        .call(json!({"query": "how do I remove scale deposits from my appliance", "k": 1}))
        .await
        .unwrap();
    assert!(found.as_str().unwrap().contains("Kettle > Descaling"), "{found}");
}
