//! The `anymodel` command line end to end: each command run as a process, against loopback mock
//! servers for the remote backends and against the real local model.

#![allow(clippy::unwrap_used)] // Tests fail loudly by design.

use std::fs;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::{Value, json};
use wiremock::matchers::{body_partial_json, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// The command, with no config or model from the environment, in `folder`.
fn anymodel(folder: &Path) -> Command {
    let mut command = Command::cargo_bin("anymodel").unwrap();
    command
        .current_dir(folder)
        .env_remove("ANYMODEL_CONFIG")
        .env_remove("ANYMODEL_MODEL")
        .env_remove("OPENAI_API_KEY")
        .env_remove("ANTHROPIC_API_KEY")
        .env("HOME", folder)
        .env("XDG_CONFIG_HOME", folder.join(".config"))
        .env("XDG_DATA_HOME", folder.join(".local/share"));
    command
}

fn sse(events: &[Value]) -> String {
    events.iter().map(|e| format!("data: {e}\n\n")).collect::<String>() + "data: [DONE]\n\n"
}

/// An OpenAI-compatible server answering `text` once (streamed or whole), or for ever when
/// `times` is `None`.
async fn openai_says(server: &MockServer, text: &str, times: Option<u64>) {
    let chunks = sse(&[
        json!({"id": "c", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"role": "assistant", "content": text}, "finish_reason": null}]}),
        json!({"id": "c", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}], "usage": {"prompt_tokens": 11, "completion_tokens": 3, "total_tokens": 14}}),
    ]);
    let whole = json!({"id": "c", "object": "chat.completion", "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}], "usage": {"prompt_tokens": 11, "completion_tokens": 3, "total_tokens": 14}});
    let mut streamed = Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(body_partial_json(json!({"stream": true})))
        .respond_with(ResponseTemplate::new(200).set_body_raw(chunks, "text/event-stream"));
    let mut plain = Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(not_streamed)
        .respond_with(ResponseTemplate::new(200).set_body_json(whole));
    if let Some(times) = times {
        streamed = streamed.up_to_n_times(times);
        plain = plain.up_to_n_times(times);
    }
    streamed.mount(server).await;
    plain.mount(server).await;
}

/// Whether a request asks for a whole reply rather than a stream.
fn not_streamed(request: &wiremock::Request) -> bool {
    serde_json::from_slice::<Value>(&request.body)
        .map_or(true, |body| body["stream"] != json!(true))
}

/// An OpenAI-compatible server whose next reply calls `tool` with `arguments`.
async fn openai_calls(server: &MockServer, tool: &str, arguments: Value) {
    let call = json!({"index": 0, "id": "call_1", "type": "function", "function": {"name": tool, "arguments": arguments.to_string()}});
    let chunks = sse(&[
        json!({"id": "c", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"role": "assistant", "tool_calls": [call]}, "finish_reason": null}]}),
        json!({"id": "c", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]}),
    ]);
    let whole = json!({"id": "c", "object": "chat.completion", "choices": [{"index": 0, "message": {"role": "assistant", "content": null, "tool_calls": [call]}, "finish_reason": "tool_calls"}]});
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(body_partial_json(json!({"stream": true})))
        .respond_with(ResponseTemplate::new(200).set_body_raw(chunks, "text/event-stream"))
        .up_to_n_times(1)
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(not_streamed)
        .respond_with(ResponseTemplate::new(200).set_body_json(whole))
        .up_to_n_times(1)
        .mount(server)
        .await;
}

/// An Anthropic Messages server answering `text`, streamed.
async fn anthropic_says(server: &MockServer, text: &str) {
    let events = [
        (
            "message_start",
            json!({"type": "message_start", "message": {"id": "m", "type": "message", "role": "assistant", "content": [], "model": "claude", "usage": {"input_tokens": 9, "output_tokens": 0}}}),
        ),
        (
            "content_block_start",
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        ),
        (
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}}),
        ),
        ("content_block_stop", json!({"type": "content_block_stop", "index": 0})),
        (
            "message_delta",
            json!({"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 4}}),
        ),
        ("message_stop", json!({"type": "message_stop"})),
    ];
    let body: String =
        events.iter().map(|(name, data)| format!("event: {name}\ndata: {data}\n\n")).collect();
    Mock::given(method("POST"))
        .and(path("/v1/messages"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(body, "text/event-stream"))
        .mount(server)
        .await;
}

/// The bodies the server received, in order.
async fn bodies(server: &MockServer) -> Vec<Value> {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect()
}

/// A config with a model on each mock server and an agent using them.
fn config(folder: &Path, openai: &MockServer, anthropic: Option<&MockServer>) -> PathBuf {
    let anthropic_uri = anthropic.map_or("http://127.0.0.1:9".to_string(), MockServer::uri);
    let text = format!(
        "default_model = \"gpt\"\n\n\
         [models.gpt]\nbackend = \"openai\"\nmodel = \"gpt-test\"\nbase_url = \"{}/v1\"\napi_key_env = \"TEST_OPENAI_KEY\"\n\n\
         [models.claude]\nbackend = \"anthropic\"\nmodel = \"claude-test\"\nbase_url = \"{anthropic_uri}\"\napi_key_env = \"TEST_ANTHROPIC_KEY\"\nmax_tokens = 100\n\n\
         [agents.helper]\nsystem = \"You are the helper.\"\ntools = [\"calculator\"]\n\n\
         [tools.files]\nroot = \"files\"\n",
        openai.uri()
    );
    fs::create_dir_all(folder.join("files")).unwrap();
    let file = folder.join("anymodel.toml");
    fs::write(&file, text).unwrap();
    file
}

/// `program` as a std `Command` (one that can be spawned and killed) in `folder`, with the
/// tests' environment.
fn process(program: impl AsRef<std::ffi::OsStr>, folder: &Path) -> std::process::Command {
    let mut command = std::process::Command::new(program);
    for (key, value) in anymodel(folder).get_envs() {
        match value {
            Some(value) => command.env(key, value),
            None => command.env_remove(key),
        };
    }
    command.current_dir(folder);
    command
}

/// `anymodel ARGS` (a server: `serve`, `mcp serve --http`) started in `folder` with the tests'
/// environment and `env`: the running server, and the address it says it listens at.
fn serving(folder: &Path, env: &[(&str, &str)], args: &[&str]) -> (std::process::Child, String) {
    use std::io::BufRead;
    let mut child = process(assert_cmd::cargo::cargo_bin("anymodel"), folder)
        .envs(env.iter().copied())
        .args(args)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let base = lines
        .find_map(|line| {
            let line = line.ok()?;
            let start = line.find("http://")?;
            Some(line[start..].split_whitespace().next()?.to_string())
        })
        .expect("the server says where it listens");
    // The rest of its standard error is read on, so that its writes never meet a closed pipe.
    std::thread::spawn(move || lines.for_each(drop));
    (child, base)
}

fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn run_streams_an_answer_from_a_remote_model_with_stdin_before_the_prompt() {
    let temp = tempfile::tempdir().unwrap();
    let server = MockServer::start().await;
    openai_says(&server, "It is Paris.", None).await;
    config(temp.path(), &server, None);
    let output = anymodel(temp.path())
        .env("TEST_OPENAI_KEY", "sk-test-secret")
        .args(["What is the capital?"])
        .write_stdin("Notes: France.\n")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output), "It is Paris.\n");
    let sent = bodies(&server).await;
    assert_eq!(sent[0]["model"], "gpt-test");
    assert_eq!(sent[0]["messages"][0]["content"], "Notes: France.\n\nWhat is the capital?");
    assert!(!stderr(&output).contains("sk-test-secret"));
}

/// In a `while read` loop standard input belongs to the loop: `--no-stdin` leaves it unread
/// (the lines stay for the loop) and does not wait for a pipe that never ends; input over
/// 16 MiB is refused, not read whole.
#[tokio::test(flavor = "multi_thread")]
async fn no_stdin_leaves_standard_input_to_the_loop_and_huge_input_is_refused() {
    let temp = tempfile::tempdir().unwrap();
    let server = MockServer::start().await;
    openai_says(&server, "Done.", None).await;
    config(temp.path(), &server, None);
    let script = format!(
        "printf 'one\\ntwo\\nthree\\n' | while read -r line; do '{}' run --no-stdin \"item $line\"; done",
        assert_cmd::cargo::cargo_bin("anymodel").display()
    );
    let mut looped = process("sh", temp.path());
    looped.args(["-c", &script]);
    let output = looped.env("TEST_OPENAI_KEY", "k").output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let prompts: Vec<Value> =
        bodies(&server).await.iter().map(|b| b["messages"][0]["content"].clone()).collect();
    assert_eq!(prompts, [json!("item one"), json!("item two"), json!("item three")]);

    // A pipe that is never closed: --no-stdin runs at once.
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("anymodel"))
        .args(["run", "--no-stdin", "hi"])
        .envs(anymodel(temp.path()).get_envs().filter_map(|(k, v)| Some((k, v?))))
        .env_remove("ANYMODEL_CONFIG")
        .env("TEST_OPENAI_KEY", "k")
        .current_dir(temp.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let _open = child.stdin.take();
    let started = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        assert!(started.elapsed() < std::time::Duration::from_secs(30), "still waiting for stdin");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(child.wait().unwrap().success());

    let huge = "x".repeat(17 * 1024 * 1024);
    let output = anymodel(temp.path()).args(["run", "hi"]).write_stdin(huge).output().unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("standard input is longer than 16 MiB"),
        "{}",
        stderr(&output)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn json_output_is_one_record_of_the_run() {
    let temp = tempfile::tempdir().unwrap();
    let server = MockServer::start().await;
    openai_calls(&server, "calculator", json!({"expression": "17 * 23"})).await;
    openai_says(&server, "17 × 23 = 391.", None).await;
    config(temp.path(), &server, None);
    let output = anymodel(temp.path())
        .env("TEST_OPENAI_KEY", "k")
        .args(["run", "--json", "-T", "calculator", "What is 17 * 23?"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let record: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(record["answer"], "17 × 23 = 391.");
    assert_eq!(record["model"], "gpt", "as configured");
    assert_eq!(record["provider_model"], "openai:gpt-test");
    assert_eq!(record["finish_reason"], "stop");
    assert_eq!(record["steps"].as_array().unwrap().len(), 2);
    let invocation = &record["steps"][0]["tool_calls"][0];
    assert_eq!(invocation["call"]["name"], "calculator");
    assert_eq!(invocation["result"], json!({"ok": "391"}));
    assert_eq!(record["usage"]["output_tokens"], 3);
    assert!(record["elapsed_ms"].is_u64());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_agent_runs_on_two_backends_switched_with_m() {
    let temp = tempfile::tempdir().unwrap();
    let openai = MockServer::start().await;
    let anthropic = MockServer::start().await;
    openai_says(&openai, "from gpt", None).await;
    anthropic_says(&anthropic, "from claude").await;
    config(temp.path(), &openai, Some(&anthropic));
    for (model, answer) in [("gpt", "from gpt"), ("claude", "from claude")] {
        let output = anymodel(temp.path())
            .env("TEST_OPENAI_KEY", "k1")
            .env("TEST_ANTHROPIC_KEY", "k2")
            .args(["run", "--agent", "helper", "-m", model, "hi"])
            .output()
            .unwrap();
        assert!(output.status.success(), "{model}: {}", stderr(&output));
        assert_eq!(stdout(&output).trim(), answer);
    }
    // Both got the agent's system prompt and tool, each in its own wire format.
    let gpt = &bodies(&openai).await[0];
    assert_eq!(gpt["messages"][0], json!({"role": "system", "content": "You are the helper."}));
    assert_eq!(gpt["tools"][0]["function"]["name"], "calculator");
    let claude = &bodies(&anthropic).await[0];
    assert_eq!(claude["system"], "You are the helper.");
    assert_eq!(claude["tools"][0]["name"], "calculator");
    assert_eq!(claude["max_tokens"], 100);
}

#[tokio::test(flavor = "multi_thread")]
async fn chat_keeps_the_conversation_across_a_model_switch() {
    let temp = tempfile::tempdir().unwrap();
    let openai = MockServer::start().await;
    let anthropic = MockServer::start().await;
    openai_says(&openai, "Hello from gpt", None).await;
    anthropic_says(&anthropic, "Hello from claude").await;
    config(temp.path(), &openai, Some(&anthropic));
    let output = anymodel(temp.path())
        .env("TEST_OPENAI_KEY", "k1")
        .env("TEST_ANTHROPIC_KEY", "k2")
        .args(["chat", "-q"])
        .write_stdin("hello\n/tools\n/model claude\nand you?\n/save chat.json\n/exit\n")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let out = stdout(&output);
    assert!(
        out.contains("Hello from gpt")
            && out.contains("(now claude)")
            && out.contains("Hello from claude"),
        "{out}"
    );
    let claude = &bodies(&anthropic).await[0];
    let contents: Vec<&str> = claude["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"][0]["text"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(contents, ["hello", "Hello from gpt", "and you?"], "{claude}");
    let saved: Value =
        serde_json::from_str(&fs::read_to_string(temp.path().join("chat.json")).unwrap()).unwrap();
    assert_eq!(saved["messages"].as_array().unwrap().len(), 4);
    assert_eq!(saved["model"], "claude");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_file_tool_refuses_a_path_out_of_its_root() {
    let temp = tempfile::tempdir().unwrap();
    let server = MockServer::start().await;
    openai_calls(&server, "read_file", json!({"path": "../anymodel.toml"})).await;
    openai_says(&server, "I may not read that.", None).await;
    config(temp.path(), &server, None);
    let output = anymodel(temp.path())
        .env("TEST_OPENAI_KEY", "k")
        .args(["run", "-T", "read_file", "show the config"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let sent = bodies(&server).await;
    let tool_message = sent[1]["messages"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(tool_message["role"], "tool");
    assert!(
        tool_message["content"].as_str().unwrap().contains("goes up with `..`"),
        "{tool_message}"
    );
    assert!(
        stderr(&output).contains("→ read_file"),
        "tool activity goes to stderr: {}",
        stderr(&output)
    );
}

#[test]
fn config_errors_unknown_models_and_missing_keys_exit_2_with_what_to_fix() {
    let temp = tempfile::tempdir().unwrap();
    let bad = temp.path().join("bad.toml");
    fs::write(&bad, "default_model = \"a\"\n\n[models.a]\nbackend = \"openai\"\nmodle = \"x\"\n")
        .unwrap();
    let output = anymodel(temp.path()).args(["-c", "bad.toml", "hi"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("bad.toml:5: unknown field `modle`"), "{}", stderr(&output));

    fs::write(&bad, "[models.a]\nbackend = \"bard\"\n").unwrap();
    let output = anymodel(temp.path()).args(["--config", "bad.toml", "models"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("bad.toml:1: [models.a]: unknown backend `bard`"),
        "{}",
        stderr(&output)
    );

    let output = anymodel(temp.path()).args(["-m", "nonesuch", "hi"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("unknown model `nonesuch`"), "{}", stderr(&output));

    let output = anymodel(temp.path()).args(["-m", "anthropic:claude-x", "hi"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("set the environment variable ANTHROPIC_API_KEY"),
        "{}",
        stderr(&output)
    );

    let output = anymodel(temp.path())
        .args(["-m", "openai:x", "-o", "warmth=3", "hi"])
        .env("OPENAI_API_KEY", "k")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("-o warmth: unknown option"), "{}", stderr(&output));
}

#[test]
fn models_tools_and_config_describe_the_setup() {
    let temp = tempfile::tempdir().unwrap();
    let output = anymodel(temp.path()).args(["config", "init"]).output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let written = temp.path().join(".config/anymodel/config.toml");
    assert!(
        stdout(&output).contains(&format!("wrote {}", written.display())),
        "{}",
        stdout(&output)
    );
    assert!(stdout(&output).contains("scripts/fetch-model.sh"), "the model is not here yet");
    let output = anymodel(temp.path()).args(["config", "path"]).output().unwrap();
    assert_eq!(stdout(&output).trim(), written.display().to_string());
    let output = anymodel(temp.path()).args(["models"]).output().unwrap();
    let out = stdout(&output);
    assert!(
        out.contains("* local")
            && out.contains("candle")
            && out.contains("robust")
            && out.contains("claude → gpt → local"),
        "{out}"
    );
    let output = anymodel(temp.path()).args(["tools", "--json"]).output().unwrap();
    let tools: Value = serde_json::from_str(&stdout(&output)).unwrap();
    let names: Vec<&str> =
        tools.as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["search_documents", "read_file", "list_files", "http_get", "calculator", "current_time"]
    );
    assert_eq!(tools[4]["parameters"]["required"], json!(["expression"]));
    assert!(
        anymodel(temp.path()).args(["config", "init"]).output().unwrap().status.code() == Some(2),
        "never overwrites"
    );
}

#[test]
fn index_commands_add_search_stat_and_remove() {
    let temp = tempfile::tempdir().unwrap();
    fs::create_dir_all(temp.path().join("docs")).unwrap();
    fs::write(temp.path().join("docs/setup.md"), "# Setup\n\n## Linux\n\nRun make install.\n")
        .unwrap();
    let add = anymodel(temp.path()).args(["index", "add", "docs"]).output().unwrap();
    assert!(add.status.success(), "{}", stderr(&add));
    assert!(stdout(&add).starts_with("1 added"), "{}", stdout(&add));
    let search =
        anymodel(temp.path()).args(["index", "search", "install", "linux"]).output().unwrap();
    let out = stdout(&search);
    assert!(
        out.contains("[docs/setup.md:1-5] Setup > Linux") && out.contains("**install**"),
        "{out}"
    );
    let json =
        anymodel(temp.path()).args(["index", "search", "--json", "install"]).output().unwrap();
    let passages: Value = serde_json::from_str(&stdout(&json)).unwrap();
    assert_eq!(passages[0]["source"]["path"], "docs/setup.md");
    let stats = anymodel(temp.path()).args(["index", "stats"]).output().unwrap();
    assert_eq!(stdout(&stats).trim(), ".anymodel/index: 1 files, 1 chunks");
    let rm = anymodel(temp.path()).args(["index", "rm", "docs/"]).output().unwrap();
    assert_eq!(stdout(&rm).trim(), "removed 1 files");
    let missing =
        anymodel(temp.path()).args(["index", "--index", "nowhere", "stats"]).output().unwrap();
    assert_eq!(missing.status.code(), Some(2));
}

/// `index add --embed` with the default embedding model: vectors for every chunk, none made
/// again for unchanged files, only the edited chunk's after an edit; dense and hybrid search.
#[test]
fn index_add_embed_makes_vectors_once_and_searches_by_meaning() {
    let temp = tempfile::tempdir().unwrap();
    let docs = temp.path().join("docs");
    fs::create_dir_all(&docs).unwrap();
    let manual = "# Kettle\n\n## Descaling\n\nRemove limescale monthly with citric acid.\n\n## Warranty\n\nThe warranty lasts two years.\n";
    fs::write(docs.join("kettle.md"), manual).unwrap();
    fs::write(docs.join("toaster.md"), "# Toaster\n\nBread goes in the slots.\n").unwrap();
    let minilm = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/all-MiniLM-L6-v2");
    let add = |args: &[&str]| {
        let output = anymodel(temp.path()).args(["index", "add"]).args(args).output().unwrap();
        assert!(output.status.success(), "{}", stderr(&output));
        stdout(&output)
    };
    let first = add(&["--embed", minilm.to_str().unwrap(), "docs"]);
    assert!(first.contains("(3 chunks written)") && first.contains("3 chunks embedded"), "{first}");
    // Later adds use the embedder the index records.
    let again = add(&["docs"]);
    assert!(again.contains("2 unchanged") && !again.contains("embedded"), "{again}");
    fs::write(docs.join("kettle.md"), manual.replace("two years", "three years")).unwrap();
    let edited = add(&["docs"]);
    assert!(edited.contains("1 chunks embedded, 1 vectors reused"), "{edited}");

    let search = |mode: &str, query: &str| {
        let output = anymodel(temp.path())
            .args(["index", "search", "--json", "-k", "1", "--mode", mode, query])
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", stderr(&output));
        let passages: Value = serde_json::from_str(&stdout(&output)).unwrap();
        passages[0]["source"]["title"].as_str().unwrap_or_default().to_string()
    };
    // No word in common with the passage: only the vectors find it.
    assert_eq!(
        search("dense", "how do I remove scale deposits from my appliance"),
        "Kettle > Descaling"
    );
    assert_eq!(search("hybrid", "guarantee period"), "Kettle > Warranty");
    let stats = anymodel(temp.path()).args(["index", "stats"]).output().unwrap();
    assert!(stdout(&stats).contains("vectors: local:all-MiniLM-L6-v2 (384 dimensions)"));
}

/// The default local model, run in-process by the CLI.
#[test]
fn run_answers_with_the_local_model() {
    let model =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("models/SmolLM2-135M-Instruct.Q4_1.gguf");
    assert!(model.exists(), "{} is missing: scripts/fetch-model.sh fetches it", model.display());
    let temp = tempfile::tempdir().unwrap();
    let output = anymodel(temp.path())
        .args([
            "run",
            "-q",
            "-m",
            model.to_str().unwrap(),
            "-s",
            "You are a helpful assistant.",
            "-o",
            "temperature=0",
            "-o",
            "max_tokens=20",
        ])
        .arg("What is the capital of France?")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output).trim(), "The capital of France is Paris.");
    let shown = anymodel(temp.path())
        .args(["run", "--show-prompt", "-m", model.to_str().unwrap(), "Hi"])
        .output()
        .unwrap();
    assert!(stdout(&shown).contains("<|im_start|>user\nHi<|im_end|>"), "{}", stdout(&shown));
}

#[test]
fn eval_retrieval_runs_the_benchmark_on_a_beir_folder() {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("tiny");
    fs::create_dir_all(data.join("qrels")).unwrap();
    fs::write(data.join("corpus.jsonl"), "{\"_id\": \"d1\", \"title\": \"\", \"text\": \"apple pie\"}\n{\"_id\": \"d2\", \"title\": \"\", \"text\": \"cherry\"}\n").unwrap();
    fs::write(data.join("queries.jsonl"), "{\"_id\": \"q1\", \"text\": \"apple\"}\n").unwrap();
    fs::write(data.join("qrels/test.tsv"), "query-id\tcorpus-id\tscore\nq1\td1\t1\n").unwrap();
    let output = anymodel(temp.path()).args(["eval", "retrieval", "tiny"]).output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let out = stdout(&output);
    assert!(
        out.contains("1 queries over 2 documents")
            && out.contains("nDCG@10 1.0000")
            && out.contains("query latency p50"),
        "{out}"
    );
    let minilm = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/all-MiniLM-L6-v2");
    let output = anymodel(temp.path())
        .args(["-q", "eval", "retrieval", "tiny", "--mode", "all", "-e", minilm.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let out = stdout(&output);
    assert!(out.contains("embedder local:all-MiniLM-L6-v2"), "{out}");
    for row in [
        "| bm25 | 1.0000 |",
        "| dense | 1.0000 |",
        "| hybrid (blend, weights [1.0, 0.75]) | 1.0000",
    ] {
        assert!(out.contains(row), "{row} in {out}");
    }
    let missing = anymodel(temp.path())
        .args(["eval", "retrieval", "tiny", "--mode", "dense"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
    assert!(stderr(&missing).contains("scripts/fetch-model.sh"), "{}", stderr(&missing));
}

/// `anymodel embed` prints one normalised vector per text, the same for the same text.
#[test]
fn embed_prints_vectors_as_json() {
    let temp = tempfile::tempdir().unwrap();
    let minilm = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/all-MiniLM-L6-v2");
    let output = anymodel(temp.path())
        .args([
            "-q",
            "embed",
            "-e",
            minilm.to_str().unwrap(),
            "descale monthly",
            "descale monthly",
            "warranty",
        ])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let vectors: Vec<Vec<f32>> = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!((vectors.len(), vectors[0].len()), (3, 384));
    let norm: f32 = vectors[0].iter().map(|x| x * x).sum::<f32>().sqrt();
    assert!((norm - 1.0).abs() < 1e-4);
    assert_eq!(vectors[0], vectors[1]);
    assert!(anymodel::cosine(&vectors[0], &vectors[2]) < 0.9);
}

/// A stand-in for llama.cpp's `llama-bench`: it notes its arguments and reports, in its JSON
/// form, 100 tokens/s for every prompt test and 50 for every decode test it was asked for.
const FAKE_LLAMA_BENCH: &str = r#"#!/bin/sh
echo "$@" >> "$(dirname "$0")/calls"
while [ $# -gt 0 ]; do
  case "$1" in -p) p=$2 ;; -n) n=$2 ;; -d) d=$2 ;; -t) t=$2 ;; esac
  shift
done
sep=''
printf '['
for x in $(echo "$p" | tr , ' '); do
  if [ "$x" -gt 0 ]; then
    printf '%s{"n_prompt": %s, "n_gen": 0, "n_depth": %s, "n_threads": %s, "avg_ts": 100.0}' "$sep" "$x" "$d" "$t"
    sep=','
  fi
done
if [ "$n" -gt 0 ]; then
  printf '%s{"n_prompt": 0, "n_gen": %s, "n_depth": %s, "n_threads": %s, "avg_ts": 50.0}' "$sep" "$n" "$d" "$t"
fi
printf ']\n'
"#;

#[test]
fn bench_measures_the_local_model_beside_llama_bench() {
    let model =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("models/SmolLM2-135M-Instruct.Q4_1.gguf");
    let temp = tempfile::tempdir().unwrap();
    let fake = temp.path().join("llama-bench");
    fs::write(&fake, FAKE_LLAMA_BENCH).unwrap();
    fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let output = anymodel(temp.path())
        .args(["bench", model.to_str().unwrap(), "-t", "1,2", "-p", "16,32", "-n", "4"])
        .args(["-d", "8", "-r", "1", "--llama-bench", fake.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let out = stdout(&output);
    for threads in ["1", "2"] {
        for test in ["pp16", "pp32", "tg4", "tg4 @ d8"] {
            let line = out
                .lines()
                .find(|l| l.starts_with(&format!("| {test} | {threads} |")))
                .unwrap_or_else(|| panic!("no {test} at {threads} threads in {out}"));
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let (ours, theirs, ratio): (f64, f64, f64) =
                (cells[3].parse().unwrap(), cells[4].parse().unwrap(), cells[5].parse().unwrap());
            assert!(ours > 0.0, "{line}");
            assert!((ratio - ours / theirs).abs() < 0.01, "{line}");
        }
        assert!(out.contains(&format!("| pp32 / pp16 | {threads} |")), "{out}");
        assert!(out.contains(&format!("| tg4 @ d8 / tg4 | {threads} | ")), "{out}");
        assert!(out.contains(&format!("| peak memory, MiB | {threads} |")), "{out}");
        assert!(out.contains(&format!("| load and first token, s | {threads} |")), "{out}");
        // Decode against the read roofline, for both programs: percentages.
        let share = out
            .lines()
            .find(|l| l.starts_with("| tg4, share of ") && l.contains(&format!(" | {threads} | ")))
            .unwrap_or_else(|| panic!("no roofline share at {threads} threads in {out}"));
        assert_eq!(share.matches('%').count(), 2, "{share}");
    }
    // llama.cpp ran per thread count: a timed one-token prompt without warm-up, the prompts
    // and the shallow decode, then the deep one.
    let calls = fs::read_to_string(temp.path().join("calls")).unwrap();
    let calls: Vec<&str> = calls.lines().collect();
    assert_eq!(calls.len(), 6, "{calls:?}");
    assert!(calls[0].contains("-t 1 -p 1 -n 0 -d 0 -r 1") && calls[0].contains("--no-warmup"));
    assert!(calls[1].contains("-t 1 -p 16,32 -n 4 -d 0"), "{calls:?}");
    assert!(calls[2].contains("-t 1 -p 0 -n 4 -d 8"), "{calls:?}");
    assert!(calls[5].contains("-t 2 -p 0 -n 4 -d 8"), "{calls:?}");
}

/// A file that is not GGUF fails in the measuring process; the command says so once, as the
/// configuration error it is.
#[test]
fn bench_on_a_file_that_is_not_gguf_is_a_configuration_error_said_once() {
    let temp = tempfile::tempdir().unwrap();
    let junk = temp.path().join("junk.gguf");
    fs::write(&junk, vec![0x5a; 4096]).unwrap();
    let output = anymodel(temp.path())
        .args(["bench", junk.to_str().unwrap(), "-p", "4", "-n", "1", "-r", "1", "--no-llama"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let err = stderr(&output);
    assert!(err.contains("is not a readable GGUF file"), "{err}");
    assert_eq!(err.matches("anymodel:").count(), 1, "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn schema_prints_a_json_object_of_the_schema() {
    let temp = tempfile::tempdir().unwrap();
    let server = MockServer::start().await;
    openai_says(&server, "{\"name\": \"Ada\", \"age\": 36}", None).await;
    config(temp.path(), &server, None);
    let output = anymodel(temp.path())
        .env("TEST_OPENAI_KEY", "k")
        .args(["run", "--schema", "name, age int", "Ada Lovelace was 36."])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let value: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(value, json!({"name": "Ada", "age": 36}));
    // The agent answers first, then gives that answer in the schema.
    let bodies = bodies(&server).await;
    assert_eq!(bodies.len(), 2);
    assert!(bodies[0].get("response_format").is_none(), "{}", bodies[0]);
    let sent = &bodies[1];
    assert_eq!(
        sent["response_format"]["json_schema"]["schema"]["properties"]["age"],
        json!({"type": "integer"})
    );
}

/// The local model answers `--schema` by construction, within its token budget: its grammar
/// admits nothing else, and the budget closes what the model leaves open.
#[test]
fn schema_on_the_local_model_is_always_valid_json() {
    let model =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("models/SmolLM2-135M-Instruct.Q4_1.gguf");
    let temp = tempfile::tempdir().unwrap();
    let output = anymodel(temp.path())
        .args([
            "run",
            "-q",
            "-m",
            model.to_str().unwrap(),
            "--no-stream",
            "--schema",
            "city, country, population int, coastal bool",
            "-o",
            "max_tokens=40",
            "Describe Lisbon.",
        ])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let value: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert!(value["city"].is_string() && value["country"].is_string(), "{value}");
    assert!(value["population"].is_i64() && value["coastal"].is_boolean(), "{value}");
    // A budget no valid reply fits is refused, naming max_tokens.
    let output = anymodel(temp.path())
        .args(["run", "-q", "-m", model.to_str().unwrap(), "--schema", "city, country"])
        .args(["-o", "max_tokens=4", "Describe Lisbon."])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(stderr(&output).contains("raise max_tokens to at least"), "{}", stderr(&output));
}

/// A first run as a newcomer makes it: an empty home, no config, no `-m`. With the default model
/// fetched into the models folder (as `scripts/fetch-model.sh` does), the answer comes from it
/// and ends by itself; without it, the error says the one command that fetches it.
#[test]
fn a_first_run_with_nothing_set_up_answers_from_the_default_model() {
    let temp = tempfile::tempdir().unwrap();
    let output = anymodel(temp.path()).arg("What is the capital of France?").output().unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("run `scripts/fetch-model.sh`"), "{}", stderr(&output));

    let store = temp.path().join(".local/share/anymodel/models");
    fs::create_dir_all(&store).unwrap();
    let model = fs::canonicalize(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("models/SmolLM2-135M-Instruct.Q4_1.gguf"),
    )
    .unwrap();
    std::os::unix::fs::symlink(&model, store.join("SmolLM2-135M-Instruct.Q4_1.gguf")).unwrap();
    let started = std::time::Instant::now();
    let output = anymodel(temp.path()).arg("What is the capital of France?").output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(!stdout(&output).trim().is_empty(), "no answer");
    assert!(started.elapsed() < std::time::Duration::from_secs(20), "{:?}", started.elapsed());
}

/// A mistyped command is an error that names the command meant, not a prompt sent to a model;
/// a prompt of several words, or one after `run`, is still a prompt.
#[test]
fn a_mistyped_command_says_what_was_meant() {
    let temp = tempfile::tempdir().unwrap();
    for (typed, meant) in [("modles", "models"), ("chta", "chat"), ("indx", "index")] {
        let output = anymodel(temp.path()).arg(typed).output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{typed}: {}", stderr(&output));
        assert!(
            stderr(&output).contains(&format!("did you mean `{meant}`?")),
            "{typed}: {}",
            stderr(&output)
        );
    }
    let output = anymodel(temp.path()).args(["-q", "modles"]).output().unwrap();
    assert!(stderr(&output).contains("did you mean `models`?"), "{}", stderr(&output));
    // As prompts they go to the model (here, with no model, the usual error about it).
    for args in [&["run", "modles"][..], &["what", "is", "this"][..]] {
        let output = anymodel(temp.path()).args(args).output().unwrap();
        assert!(!stderr(&output).contains("did you mean"), "{args:?}: {}", stderr(&output));
    }
    let output = anymodel(temp.path()).args(["completions", "bash"]).output().unwrap();
    assert!(output.status.success() && stdout(&output).contains("_anymodel()"));
}

/// `--tool-choice required` makes even the 135M model call a tool, with valid arguments.
#[test]
fn a_required_tool_choice_gives_a_valid_call_on_the_local_model() {
    let model =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("models/SmolLM2-135M-Instruct.Q4_1.gguf");
    let temp = tempfile::tempdir().unwrap();
    let output = anymodel(temp.path())
        .args(["run", "--json", "-m", model.to_str().unwrap(), "-T", "calculator"])
        .args(["--tool-choice", "required", "-o", "max_tokens=60", "What is 17 * 23?"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let record: Value = serde_json::from_str(&stdout(&output)).unwrap();
    let first = &record["steps"][0];
    assert_eq!(first["response"]["finish_reason"], "tool_calls", "{first}");
    let call = &first["tool_calls"][0]["call"];
    assert_eq!(call["name"], "calculator");
    assert!(call["arguments"]["expression"].is_string(), "{call}");
    let output = anymodel(temp.path())
        .args(["run", "-m", model.to_str().unwrap(), "--tool-choice", "clock", "hi"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("--tool-choice clock: expected auto, required, none"));
}

/// A server that is down: each retry is one dim line (none with -q), never a raw log record,
/// and the error names the server and asks whether it runs.
#[tokio::test(flavor = "multi_thread")]
async fn a_server_that_is_down_is_named_and_retries_are_one_line_each() {
    let temp = tempfile::tempdir().unwrap();
    let server = MockServer::start().await;
    config(temp.path(), &server, None);
    let output = anymodel(temp.path())
        .env("TEST_ANTHROPIC_KEY", "k")
        .args(["run", "-m", "claude", "hi"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert_eq!(err.matches("↻ anthropic:claude-test: retrying (retry ").count(), 3, "{err}");
    assert!(!err.contains("WARN"), "{err}");
    assert!(
        err.contains("cannot connect to http://127.0.0.1:9: is the server running there?"),
        "{err}"
    );
    let quiet = anymodel(temp.path())
        .env("TEST_ANTHROPIC_KEY", "k")
        .args(["run", "-q", "-m", "claude", "hi"])
        .output()
        .unwrap();
    assert!(!stderr(&quiet).contains("↻"), "{}", stderr(&quiet));
    assert!(stderr(&quiet).contains("cannot connect to http://127.0.0.1:9"));
}

/// A fallback whose first member has no key set moves on to the next, with a warning line.
#[tokio::test(flavor = "multi_thread")]
async fn a_fallback_leaves_out_a_member_without_its_key() {
    let temp = tempfile::tempdir().unwrap();
    let server = MockServer::start().await;
    openai_says(&server, "Paris.", None).await;
    let file = config(temp.path(), &server, None);
    let mut text = fs::read_to_string(&file).unwrap();
    text.push_str("\n[models.robust]\nbackend = \"fallback\"\nmodels = [\"claude\", \"gpt\"]\n");
    fs::write(&file, text).unwrap();
    let output = anymodel(temp.path())
        .env("TEST_OPENAI_KEY", "k")
        .env_remove("TEST_ANTHROPIC_KEY")
        .args(["run", "-m", "robust", "Capital of France?"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output).trim(), "Paris.");
    let err = stderr(&output);
    assert!(
        err.contains("→ claude: left out of `robust`") && err.contains("TEST_ANTHROPIC_KEY"),
        "{err}"
    );
    // With no member left, the error names each one's reason.
    let output = anymodel(temp.path())
        .env_remove("TEST_OPENAI_KEY")
        .env_remove("TEST_ANTHROPIC_KEY")
        .args(["run", "-q", "-m", "robust", "Capital of France?"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("no model of `robust` could be built: claude: "),
        "{}",
        stderr(&output)
    );
}

/// `models --load` says which servers are down rather than calling them available, and
/// `models` lists what the models folder holds.
#[tokio::test(flavor = "multi_thread")]
async fn models_load_says_which_servers_are_unreachable() {
    let temp = tempfile::tempdir().unwrap();
    let server = MockServer::start().await;
    config(temp.path(), &server, None);
    let store = temp.path().join(".local/share/anymodel/models/org/repo");
    fs::create_dir_all(&store).unwrap();
    fs::write(store.join("tiny.gguf"), vec![0u8; 2 * 1024 * 1024]).unwrap();
    let output = anymodel(temp.path())
        .env("TEST_OPENAI_KEY", "k")
        .env("TEST_ANTHROPIC_KEY", "k")
        .args(["models", "--load"])
        .output()
        .unwrap();
    let out = stdout(&output);
    assert!(out.contains("org/repo/tiny.gguf") && out.contains("2.0 MiB"), "{out}");
    let claude = out.split("claude").nth(1).unwrap_or_default();
    assert!(claude.contains("unreachable: 127.0.0.1:9"), "{out}");
    let gpt = out.split("* gpt").nth(1).unwrap_or_default();
    assert!(gpt.lines().nth(1).is_some_and(|l| l.contains("tools true")), "{out}");
}

/// The chat as a person drives it, in a pseudo-terminal (`tests/chat_pty.py`): Ctrl-C stops a
/// reply and the session goes on; `/save` then `/load` restore the conversation; Ctrl-D leaves.
#[test]
fn chat_survives_ctrl_c_and_saves_and_loads() {
    let model =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("models/SmolLM2-135M-Instruct.Q4_1.gguf");
    let temp = tempfile::tempdir().unwrap();
    let binary = assert_cmd::cargo::cargo_bin("anymodel");
    let output = std::process::Command::new("python3")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/chat_pty.py"))
        .args([binary.as_os_str(), model.as_os_str(), temp.path().as_os_str()])
        .env("HOME", temp.path())
        .env_remove("ANYMODEL_CONFIG")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// `-m hf:OWNER/REPO/FILE` downloads the model from the Hub (here a stand-in for the Hub's API,
/// reached through `HF_ENDPOINT`) into the models folder, saying so on stderr, and answers; the
/// same name then runs offline, and `models` lists the file.
#[tokio::test(flavor = "multi_thread")]
async fn a_hub_model_is_downloaded_once_then_found_offline() {
    use sha2::Digest;
    let bytes = fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("models/SmolLM2-135M-Instruct.Q4_1.gguf"),
    )
    .unwrap();
    let sha: String = sha2::Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect();
    let server = MockServer::start().await;
    let resolve = "/HuggingFaceTB/SmolLM2-135M-Instruct-GGUF/resolve/main/smollm2-q4_1.gguf";
    Mock::given(method("HEAD"))
        .and(path(resolve))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("x-linked-size", bytes.len().to_string())
                .insert_header("x-linked-etag", format!("\"{sha}\""))
                .insert_header("x-repo-commit", "b".repeat(40)),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(resolve))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(bytes.clone()))
        .expect(1)
        .mount(&server)
        .await;
    let temp = tempfile::tempdir().unwrap();
    let name = "hf:HuggingFaceTB/SmolLM2-135M-Instruct-GGUF/smollm2-q4_1.gguf";
    let ask = |endpoint: &str| {
        anymodel(temp.path())
            .env("HF_ENDPOINT", endpoint)
            .args(["-m", name, "-o", "max_tokens=40", "What is the capital of France?"])
            .output()
            .unwrap()
    };
    let output = ask(&server.uri());
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(!stdout(&output).trim().is_empty(), "no answer");
    let said = stderr(&output);
    assert!(said.contains(&format!("↓ downloading {name} (")), "{said}");
    assert!(said.contains(&format!("↓ downloaded {name}")), "{said}");
    let local = temp.path().join(
        ".local/share/anymodel/models/HuggingFaceTB/SmolLM2-135M-Instruct-GGUF/smollm2-q4_1.gguf",
    );
    assert_eq!(fs::metadata(&local).unwrap().len(), bytes.len() as u64);

    drop(server);
    let output = ask("http://127.0.0.1:9");
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(!stderr(&output).contains("downloading"), "{}", stderr(&output));
    let output = anymodel(temp.path()).arg("models").output().unwrap();
    assert!(
        stdout(&output).contains("HuggingFaceTB/SmolLM2-135M-Instruct-GGUF/smollm2-q4_1.gguf"),
        "{}",
        stdout(&output)
    );
}

/// `index add` on a folder with many binary files says what it left out in one line, by kind
/// (`-v` lists each file), and reads gzip-compressed text.
#[test]
fn index_add_summarises_skipped_files_and_reads_gzip() {
    use std::io::Write;
    let temp = tempfile::tempdir().unwrap();
    let docs = temp.path().join("docs");
    fs::create_dir_all(&docs).unwrap();
    for i in 0..30 {
        fs::write(docs.join(format!("figure{i}.png")), b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR").unwrap();
    }
    for i in 0..5 {
        fs::write(docs.join(format!("manual{i}.pdf")), b"%PDF-1.7\n\0\0binary").unwrap();
    }
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(b"# Changelog\n\n## 2.0\n\nThe descaling reminder is new.\n").unwrap();
    fs::write(docs.join("CHANGELOG.md.gz"), encoder.finish().unwrap()).unwrap();

    let add = anymodel(temp.path()).args(["index", "add", "docs"]).output().unwrap();
    assert!(add.status.success(), "{}", stderr(&add));
    assert!(stdout(&add).starts_with("1 added"), "{}", stdout(&add));
    let said = stderr(&add);
    assert_eq!(said.lines().count(), 1, "{said}");
    assert!(said.contains("skipped 35 files: 30 .png, 5 .pdf (-v lists them)"), "{said}");

    let search = anymodel(temp.path()).args(["index", "search", "descaling"]).output().unwrap();
    assert!(
        stdout(&search).contains("[docs/CHANGELOG.md.gz:1-5] Changelog > 2.0"),
        "{}",
        stdout(&search)
    );

    fs::write(docs.join("figure0.png"), b"\x89PNG\r\n\x1a\n\0changed").unwrap();
    let verbose = anymodel(temp.path()).args(["-v", "index", "add", "docs"]).output().unwrap();
    let listed = stderr(&verbose);
    assert!(listed.contains("skipped docs/figure7.png: binary"), "{listed}");
    assert!(!listed.contains("-v lists them"), "{listed}");
}

/// `bench` takes a model as the other commands do (a configured name too), and its errors exit
/// as theirs: 2 for a model that is not there or not local, as `eval` does for a dataset.
#[test]
fn bench_and_eval_take_names_and_exit_as_the_rest() {
    let model = fs::canonicalize(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("models/SmolLM2-135M-Instruct.Q4_1.gguf"),
    )
    .unwrap();
    let temp = tempfile::tempdir().unwrap();
    fs::write(
        temp.path().join("anymodel.toml"),
        format!(
            "[models.small]\nbackend = \"candle\"\npath = \"{}\"\n\n[models.remote]\nbackend = \"openai\"\nmodel = \"m\"\nbase_url = \"http://127.0.0.1:9/v1\"\n",
            model.display()
        ),
    )
    .unwrap();
    let output = anymodel(temp.path())
        .args(["bench", "small", "-p", "8", "-n", "2", "-r", "1", "--no-llama"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stdout(&output).starts_with(&model.display().to_string()), "{}", stdout(&output));
    assert!(stdout(&output).contains("| tg2 | 1 |"), "{}", stdout(&output));

    for (name, says) in [
        ("remote", "`remote` is not a local model"),
        ("nowhere.gguf", "nowhere.gguf: no such model file"),
        ("gpt-5", "unknown model `gpt-5`"),
    ] {
        let output = anymodel(temp.path()).args(["bench", name]).output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{name}: {}", stderr(&output));
        assert!(stderr(&output).contains(says), "{name}: {}", stderr(&output));
    }
    let output =
        anymodel(temp.path()).args(["eval", "retrieval", "no-such-dataset"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
}

/// A reply cut at `max_tokens` says so on stderr, streamed or not, and says how to raise it.
#[tokio::test(flavor = "multi_thread")]
async fn a_reply_cut_at_the_token_limit_says_so() {
    let temp = tempfile::tempdir().unwrap();
    let server = MockServer::start().await;
    let chunks = sse(&[
        json!({"id": "c", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Paris is the"}, "finish_reason": null}]}),
        json!({"id": "c", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {}, "finish_reason": "length"}], "usage": {"prompt_tokens": 11, "completion_tokens": 3, "total_tokens": 14}}),
    ]);
    let whole = json!({"id": "c", "object": "chat.completion", "choices": [{"index": 0, "message": {"role": "assistant", "content": "Paris is the"}, "finish_reason": "length"}], "usage": {"prompt_tokens": 11, "completion_tokens": 3, "total_tokens": 14}});
    Mock::given(method("POST"))
        .and(body_partial_json(json!({"stream": true})))
        .respond_with(ResponseTemplate::new(200).set_body_raw(chunks, "text/event-stream"))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(not_streamed)
        .respond_with(ResponseTemplate::new(200).set_body_json(whole))
        .mount(&server)
        .await;
    config(temp.path(), &server, None);
    for extra in [&[][..], &["--no-stream"][..]] {
        let output = anymodel(temp.path())
            .env("TEST_OPENAI_KEY", "k")
            .args(["run", "-o", "max_tokens=3"])
            .args(extra)
            .arg("Capital of France?")
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", stderr(&output));
        assert_eq!(stdout(&output).trim(), "Paris is the");
        assert!(
            stderr(&output).contains(
                "(the reply was cut at the token limit after 3 tokens: raise it with -o max_tokens=N)"
            ),
            "{extra:?}: {}",
            stderr(&output)
        );
    }
}

/// `run -a` sends a file's image with the prompt; `--reasoning-effort` asks for reasoning, and
/// `--show-reasoning` shows it on standard error while the answer alone goes to standard
/// output. A model that reads no images refuses the file, saying so.
#[tokio::test(flavor = "multi_thread")]
async fn run_attaches_images_and_shows_reasoning_apart_from_the_answer() {
    let temp = tempfile::tempdir().unwrap();
    let server = MockServer::start().await;
    let chunks = sse(&[
        json!({"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"role": "assistant", "reasoning_content": "A red square, "}, "finish_reason": null}]}),
        json!({"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"reasoning_content": "surely."}, "finish_reason": null}]}),
        json!({"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": "A red square."}, "finish_reason": "stop"}]}),
    ]);
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(chunks, "text/event-stream"))
        .mount(&server)
        .await;
    config(temp.path(), &server, None);
    std::fs::write(temp.path().join("photo.png"), b"\x89PNG\r\n\x1a\nsquare").unwrap();
    let output = anymodel(temp.path())
        .env("TEST_OPENAI_KEY", "k")
        .args(["run", "--no-stdin", "-a", "photo.png", "--reasoning-effort", "low"])
        .args(["--show-reasoning", "What is it?"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output), "A red square.\n");
    assert!(stderr(&output).contains("A red square, surely."), "{}", stderr(&output));
    let sent = &bodies(&server).await[0];
    assert_eq!(sent["reasoning_effort"], "low");
    assert_eq!(
        sent["messages"][0]["content"],
        json!([
            {"type": "text", "text": "What is it?"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgpzcXVhcmU="}},
        ])
    );
    // Hidden by default.
    let quiet = anymodel(temp.path())
        .env("TEST_OPENAI_KEY", "k")
        .args(["run", "--no-stdin", "What is it?"])
        .output()
        .unwrap();
    assert!(!stderr(&quiet).contains("surely"), "{}", stderr(&quiet));

    let model =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("models/SmolLM2-135M-Instruct.Q4_1.gguf");
    let refused = anymodel(temp.path())
        .args(["run", "--no-stdin", "-q", "-m", model.to_str().unwrap(), "-a", "photo.png", "Hi"])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(stderr(&refused).contains("does not support images"), "{}", stderr(&refused));
    let missing = anymodel(temp.path())
        .args(["run", "--no-stdin", "-a", "nowhere.png", "Hi"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2), "{}", stderr(&missing));
    assert!(stderr(&missing).contains("--attach nowhere.png"), "{}", stderr(&missing));
}

/// `anymodel serve` on the local model: typed output through the server is schema-valid JSON
/// every time (the local backend constrains its sampling to the schema), and a non-loopback
/// address without a key is refused.
#[tokio::test(flavor = "multi_thread")]
async fn serve_gives_schema_valid_json_from_the_local_model() {
    let temp = tempfile::tempdir().unwrap();
    let refused = anymodel(temp.path()).args(["serve", "--host", "0.0.0.0"]).output().unwrap();
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    assert!(stderr(&refused).contains("--api-key"), "{}", stderr(&refused));

    let model =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("models/SmolLM2-135M-Instruct.Q4_1.gguf");
    let (mut child, base) =
        serving(temp.path(), &[], &["serve", "--port", "0", "--models", model.to_str().unwrap()]);
    let schema = json!({
        "type": "object",
        "properties": {"city": {"type": "string"}, "population": {"type": "integer"}},
        "required": ["city", "population"],
    });
    let validator = jsonschema::validator_for(&schema).unwrap();
    assert!(base.ends_with("/v1"), "{base}");
    let http = reqwest::Client::new();
    for seed in 0..3 {
        let body = json!({
            "model": model.to_str().unwrap(),
            "messages": [{"role": "user", "content": "The largest city of France, as JSON."}],
            "response_format": {"type": "json_schema", "json_schema": {"name": "city", "schema": schema, "strict": true}},
            "max_tokens": 60, "seed": seed, "temperature": 0.8,
        });
        let reply: Value = http
            .post(format!("{base}/chat/completions"))
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let content = reply["choices"][0]["message"]["content"].as_str().unwrap();
        let value: Value = serde_json::from_str(content).unwrap();
        assert!(validator.is_valid(&value), "seed {seed}: {content}");
    }
    child.kill().unwrap();
    let _ = child.wait();
}

/// `anymodel serve --agents helper` serves the configured agent as the model `agent:helper`:
/// it runs server-side (its system prompt reaches its model), and the client gets its answer,
/// whole or streamed.
#[tokio::test(flavor = "multi_thread")]
async fn serve_runs_a_configured_agent_behind_a_model_name() {
    let temp = tempfile::tempdir().unwrap();
    let upstream = MockServer::start().await;
    openai_says(&upstream, "It is Paris.", None).await;
    config(temp.path(), &upstream, None);
    let (mut child, base) = serving(
        temp.path(),
        &[("TEST_OPENAI_KEY", "sk-upstream-secret")],
        &["serve", "--port", "0", "--agents", "helper", "--api-key", "sk-local"],
    );
    let http = reqwest::Client::new();
    for stream in [false, true] {
        let body = json!({"model": "agent:helper", "stream": stream, "messages": [{"role": "user", "content": "Capital?"}]});
        let response = http
            .post(format!("{base}/chat/completions"))
            .bearer_auth("sk-local")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200);
        let text = response.text().await.unwrap();
        assert!(text.contains("It is Paris."), "{text}");
        assert!(!text.contains("sk-upstream-secret"));
    }
    let sent = bodies(&upstream).await;
    assert_eq!(sent[0]["messages"][0]["content"], "You are the helper.");
    child.kill().unwrap();
    let _ = child.wait();
}

/// `anymodel serve` logs each call as a run of its own, whole or streamed, under the model
/// name it serves; `--no-log` leaves them out.
#[tokio::test(flavor = "multi_thread")]
async fn serve_logs_each_call() {
    let temp = tempfile::tempdir().unwrap();
    let upstream = MockServer::start().await;
    openai_says(&upstream, "It is Paris.", None).await;
    config(temp.path(), &upstream, None);
    let env = [("TEST_OPENAI_KEY", "sk-upstream-secret")];
    let http = reqwest::Client::new();
    for no_log in [false, true] {
        let mut args = vec!["serve", "--port", "0", "--models", "gpt"];
        if no_log {
            args.push("--no-log");
        }
        let (mut child, base) = serving(temp.path(), &env, &args);
        for stream in [false, true] {
            let body = json!({"model": "gpt", "stream": stream, "messages": [{"role": "user", "content": "Capital? sk-upstream-secret"}]});
            let response =
                http.post(format!("{base}/chat/completions")).json(&body).send().await.unwrap();
            assert_eq!(response.status().as_u16(), 200);
            assert!(response.text().await.unwrap().contains("It is Paris."));
        }
        child.kill().unwrap();
        let _ = child.wait();
    }
    let listed = anymodel(temp.path()).args(["logs", "--json"]).output().unwrap();
    let runs: Value = serde_json::from_str(&stdout(&listed)).unwrap();
    let runs = runs.as_array().unwrap();
    assert_eq!(runs.len(), 2, "two calls logged, none with --no-log: {runs:?}");
    for run in runs {
        assert_eq!(run["model"], "gpt");
        assert_eq!(run["prompt"], "Capital? <redacted>");
        assert_eq!(run["answer"], "It is Paris.");
        assert_eq!(run["outcome"], "answered");
        assert_eq!(run["input_tokens"], 11);
        assert_eq!(run["output_tokens"], 3);
    }
    let shown = anymodel(temp.path()).args(["logs", "show", "2", "--json"]).output().unwrap();
    let detail: Value = serde_json::from_str(&stdout(&shown)).unwrap();
    assert_eq!(detail["calls"].as_array().unwrap().len(), 1, "{detail}");
    assert_eq!(detail["calls"][0]["finish_reason"], "stop");
}

/// `anymodel mcp serve` driven by an MCP client (anymodel's own, on rmcp), over stdio and over
/// streamable HTTP: the index's search_documents, the enabled built-in tools, and a configured
/// agent as `ask_helper`.
#[tokio::test(flavor = "multi_thread")]
async fn mcp_serve_offers_the_index_tools_and_agents_to_mcp_clients() {
    use anymodel::mcp::{McpClient, Outcome, ServerConfig};
    let temp = tempfile::tempdir().unwrap();
    let upstream = MockServer::start().await;
    openai_says(&upstream, "The helper says hello.", None).await;
    let config_file = config(temp.path(), &upstream, None);
    fs::create_dir_all(temp.path().join("docs")).unwrap();
    fs::write(temp.path().join("docs/setup.md"), "# Setup\n\n## Linux\n\nRun make install.\n")
        .unwrap();
    let add = anymodel(temp.path()).args(["index", "add", "docs"]).output().unwrap();
    assert!(add.status.success(), "{}", stderr(&add));

    let serve_args = ["mcp", "serve", "--index", ".anymodel/index", "--agent", "helper"];
    let mut stdio = ServerConfig::stdio(
        assert_cmd::cargo::cargo_bin("anymodel").to_str().unwrap(),
        ["-c", config_file.to_str().unwrap()].into_iter().chain(serve_args),
    );
    stdio.cwd = Some(temp.path().to_path_buf());
    stdio.env = [("TEST_OPENAI_KEY".to_string(), "sk-upstream".to_string())].into();
    let (mut http_server, url) = serving(
        temp.path(),
        &[("TEST_OPENAI_KEY", "sk-upstream")],
        &[&serve_args[..], &["--http", "--port", "0"]].concat(),
    );
    for config in [stdio, ServerConfig::http(url)] {
        let client = McpClient::new("anymodel", config).unwrap();
        let names: Vec<String> =
            client.list_tools().await.unwrap().into_iter().map(|t| t.name).collect();
        assert_eq!(
            names,
            [
                "search_documents",
                "read_file",
                "list_files",
                "calculator",
                "current_time",
                "ask_helper"
            ],
            "http_get is off: [tools.http] is not configured"
        );
        let Outcome::Output(found) =
            client.call("search_documents", json!({"query": "install on linux"})).await.unwrap()
        else {
            panic!()
        };
        let found = anymodel::output_text(&found);
        assert!(found.contains("docs/setup.md") && found.contains("make install"), "{found}");
        let answer = client.call("ask_helper", json!({"question": "Hello?"})).await.unwrap();
        assert_eq!(answer, Outcome::Output(json!("The helper says hello.")));
        let refused = client.call("read_file", json!({"path": "../anymodel.toml"})).await.unwrap();
        assert!(matches!(refused, Outcome::ToolError(_)), "confined to its root: {refused:?}");
        client.stop().await;
    }
    http_server.kill().unwrap();
    http_server.wait().unwrap();
}

/// The PIDs of `pid`'s children.
fn children(pid: u32) -> Vec<u32> {
    let tasks = fs::read_dir(format!("/proc/{pid}/task")).map(|d| d.flatten().collect::<Vec<_>>());
    tasks
        .unwrap_or_default()
        .iter()
        .filter_map(|task| fs::read_to_string(task.path().join("children")).ok())
        .flat_map(|list| list.split_whitespace().filter_map(|p| p.parse().ok()).collect::<Vec<_>>())
        .collect()
}

/// A run with an MCP server (here anymodel's own `mcp serve`) stopped by Ctrl-C exits 130 and
/// leaves neither the server running nor a zombie of it.
#[test]
fn ctrl_c_stops_a_run_and_its_mcp_servers() {
    let model =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("models/SmolLM2-135M-Instruct.Q4_1.gguf");
    let temp = tempfile::tempdir().unwrap();
    let binary = assert_cmd::cargo::cargo_bin("anymodel");
    fs::write(
        temp.path().join("anymodel.toml"),
        format!(
            "[mcp.own]\ncommand = {:?}\nargs = [\"-q\", \"mcp\", \"serve\", \"-T\", \"calculator\"]\n",
            binary.to_str().unwrap()
        ),
    )
    .unwrap();
    let mut run = process(&binary, temp.path())
        .args(["run", "-q", "-M", "own", "-m", model.to_str().unwrap()])
        .args(["-o", "max_tokens=4000", "-o", "temperature=0.9"])
        .arg("Write a very long story about a lighthouse keeper.")
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut server = None;
    for _ in 0..600 {
        server = children(run.id()).into_iter().find(|child| {
            fs::read_to_string(format!("/proc/{child}/cmdline")).is_ok_and(|c| c.contains("mcp"))
        });
        if server.is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let server = server.expect("the MCP server is started for the run");
    std::thread::sleep(std::time::Duration::from_millis(500));
    let kill = std::process::Command::new("kill").args(["-INT", &run.id().to_string()]).status();
    assert!(kill.unwrap().success());
    let status = run.wait().unwrap();
    assert_eq!(status.code(), Some(130), "interrupted");
    assert!(
        !Path::new(&format!("/proc/{server}")).exists(),
        "the MCP server {server} is stopped and reaped, no zombie left"
    );
}

/// A configured remote embedder (`[embedders.NAME]`, here an OpenAI-compatible server) used by
/// name; an entry without its vector size is refused at load, with its line.
#[tokio::test(flavor = "multi_thread")]
async fn a_configured_remote_embedder_is_used_by_name() {
    let temp = tempfile::tempdir().unwrap();
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/embeddings"))
        .and(body_partial_json(json!({"model": "embed-test", "input": ["one", "two"]})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": [{"index": 0, "embedding": [1.0, 0.0]}, {"index": 1, "embedding": [0.0, 1.0]}]
        })))
        .expect(1)
        .mount(&server)
        .await;
    fs::write(
        temp.path().join("anymodel.toml"),
        format!(
            "[embedders.small]\nbackend = \"openai\"\nmodel = \"embed-test\"\ndimensions = 2\nbase_url = \"{}/v1\"\napi_key_env = \"TEST_OPENAI_KEY\"\n",
            server.uri()
        ),
    )
    .unwrap();
    let output = anymodel(temp.path())
        .env("TEST_OPENAI_KEY", "sk-test")
        .args(["-q", "embed", "-e", "small", "one", "two"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output).trim(), "[[1.0,0.0],[0.0,1.0]]");
    fs::write(
        temp.path().join("anymodel.toml"),
        "\n[embedders.small]\nbackend = \"openai\"\nmodel = \"x\"\n",
    )
    .unwrap();
    let refused = anymodel(temp.path()).args(["embed", "-e", "small", "one"]).output().unwrap();
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        stderr(&refused).contains("anymodel.toml:2") && stderr(&refused).contains("dimensions"),
        "{}",
        stderr(&refused)
    );
}

/// The run log: a run is logged (its key never stored) and shown, found by a word of its
/// answer, continued with `-c` (the model gets the earlier turns), left out when the log is off,
/// and `--cid` of a conversation that is not there is a usage error.
#[tokio::test(flavor = "multi_thread")]
async fn runs_are_logged_shown_searched_and_continued() {
    let temp = tempfile::tempdir().unwrap();
    let server = MockServer::start().await;
    openai_says(&server, "Paris is the capital.", None).await;
    let file = config(temp.path(), &server, None);
    let mut text = fs::read_to_string(&file).unwrap();
    text.push_str("\n[prices.\"openai:gpt-test\"]\ninput = 2.0\noutput = 10.0\n");
    fs::write(&file, text).unwrap();
    let run = |args: &[&str]| {
        anymodel(temp.path()).env("TEST_OPENAI_KEY", "sk-test-secret").args(args).output().unwrap()
    };
    let first = run(&["run", "What is the capital of France? My key is sk-test-secret."]);
    assert!(first.status.success(), "{}", stderr(&first));
    assert_eq!(stdout(&first), "Paris is the capital.\n");

    let listed: Value = serde_json::from_str(&stdout(&run(&["logs", "--json"]))).unwrap();
    let runs = listed.as_array().unwrap();
    assert_eq!(runs.len(), 1, "{listed}");
    assert_eq!(runs[0]["model"], "gpt");
    assert_eq!(runs[0]["outcome"], "answered");
    assert_eq!(runs[0]["answer"], "Paris is the capital.");
    assert_eq!(runs[0]["input_tokens"], 11);
    assert_eq!(runs[0]["prompt"], "What is the capital of France? My key is <redacted>.");
    // 11 tokens in at 2.0 and 3 out at 10.0 per million.
    assert!((runs[0]["cost"].as_f64().unwrap() - 0.000052).abs() < 1e-12, "{listed}");
    let costs = stdout(&run(&["logs", "--cost"]));
    assert!(costs.contains("cost 0.000052\n"), "{costs}");
    assert!(costs.contains("total cost 0.000052 over 1 run\n"), "{costs}");
    let database = temp.path().join(".local/share/anymodel/logs.db");
    assert_eq!(stdout(&run(&["logs", "path"])).trim(), database.display().to_string());
    let stored = fs::read(&database).unwrap();
    let wal = fs::read(database.with_extension("db-wal")).unwrap_or_default();
    for bytes in [stored, wal] {
        assert!(!String::from_utf8_lossy(&bytes).contains("sk-test-secret"), "the key is stored");
    }
    let shown = stdout(&run(&["logs", "show", "1"]));
    assert!(shown.contains("What is the capital of France?"), "{shown}");
    assert!(shown.contains("answer:\nParis is the capital."), "{shown}");
    let found = stdout(&run(&["logs", "-q", "capital", "--json"]));
    assert_eq!(serde_json::from_str::<Value>(&found).unwrap().as_array().unwrap().len(), 1);
    let missed = stdout(&run(&["logs", "-q", "Rome", "--json"]));
    assert_eq!(missed.trim(), "[]");

    let second = run(&["run", "-c", "And of Italy?"]);
    assert!(second.status.success(), "{}", stderr(&second));
    let sent = bodies(&server).await;
    let messages = sent.last().unwrap()["messages"].as_array().unwrap().clone();
    let texts: Vec<&str> = messages.iter().map(|m| m["content"].as_str().unwrap()).collect();
    assert_eq!(
        texts,
        [
            "What is the capital of France? My key is <redacted>.",
            "Paris is the capital.",
            "And of Italy?"
        ]
    );
    let listed: Value = serde_json::from_str(&stdout(&run(&["logs", "--json"]))).unwrap();
    let conversations: Vec<&Value> =
        listed.as_array().unwrap().iter().map(|r| &r["conversation"]).collect();
    assert_eq!(conversations, [&json!(1), &json!(1)], "one conversation of two runs");

    assert!(run(&["logs", "off"]).status.success());
    assert!(run(&["run", "Not logged"]).status.success());
    let off = run(&["logs", "--json", "-n", "0"]);
    assert_eq!(serde_json::from_str::<Value>(&stdout(&off)).unwrap().as_array().unwrap().len(), 2);
    assert!(stderr(&off).contains("the run log is off"), "{}", stderr(&off));
    let nothing = run(&["run", "-c", "Go on"]);
    assert_eq!(nothing.status.code(), Some(2));
    assert!(stderr(&nothing).contains("anymodel logs on"), "{}", stderr(&nothing));
    assert!(run(&["logs", "on"]).status.success());
    let missing = run(&["run", "--cid", "99", "Go on"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(stderr(&missing).contains("no conversation 99"), "{}", stderr(&missing));
}

/// Another process holding the log's write lock: the answer still prints, and the run says it
/// was not logged (after the log's few seconds of patience).
#[tokio::test(flavor = "multi_thread")]
async fn a_locked_log_still_prints_the_answer() {
    let temp = tempfile::tempdir().unwrap();
    let server = MockServer::start().await;
    openai_says(&server, "Still here.", None).await;
    config(temp.path(), &server, None);
    let run = || anymodel(temp.path()).env("TEST_OPENAI_KEY", "k").args(["run", "Hi"]).output();
    assert!(run().unwrap().status.success(), "the log is made");
    let database = temp.path().join(".local/share/anymodel/logs.db");
    let holder = rusqlite::Connection::open(&database).unwrap();
    holder.execute_batch("BEGIN IMMEDIATE").unwrap();
    let output = run().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output), "Still here.\n");
    assert!(stderr(&output).contains("this run is not logged"), "{}", stderr(&output));
    assert!(stderr(&output).contains("locked by another process"), "{}", stderr(&output));
    holder.execute_batch("ROLLBACK").unwrap();
}

/// Twenty runs at once, each its own process: every one is logged, none lost.
#[tokio::test(flavor = "multi_thread")]
async fn concurrent_runs_are_all_logged() {
    let temp = tempfile::tempdir().unwrap();
    let server = MockServer::start().await;
    openai_says(&server, "Done.", None).await;
    config(temp.path(), &server, None);
    let children: Vec<_> = (0..20)
        .map(|i| {
            process(assert_cmd::cargo::cargo_bin("anymodel"), temp.path())
                .env("TEST_OPENAI_KEY", "k")
                .args(["run", "--no-stdin", &format!("Question {i}")])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success(), "{}", stderr(&output));
        assert!(!stderr(&output).contains("not logged"), "{}", stderr(&output));
    }
    let output = anymodel(temp.path()).args(["logs", "--json", "-n", "0"]).output().unwrap();
    let runs: Value = serde_json::from_str(&stdout(&output)).unwrap();
    let mut prompts: Vec<String> = runs
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["outcome"] == "answered")
        .map(|r| r["prompt"].as_str().unwrap().to_string())
        .collect();
    prompts.sort();
    let mut expected: Vec<String> = (0..20).map(|i| format!("Question {i}")).collect();
    expected.sort();
    assert_eq!(prompts, expected);
}

/// A page on `server` (`/page`, saying "hello") and a config in `folder` (`top` at its top
/// level) whose `http_get` may fetch it.
async fn serve_a_page(folder: &Path, server: &MockServer, top: &str) {
    Mock::given(method("GET"))
        .and(path("/page"))
        .respond_with(ResponseTemplate::new(200).set_body_string("hello"))
        .mount(server)
        .await;
    let file = config(folder, server, None);
    let text = fs::read_to_string(&file).unwrap();
    let http = "[tools.http]\nallowed_hosts = [\"127.0.0.1\"]\n";
    fs::write(&file, format!("{top}{text}\n{http}")).unwrap();
}

/// `anymodel run PROMPT` with `http_get`, as a process to kill, its output left unread.
fn fetching_run(folder: &Path, prompt: &str) -> std::process::Child {
    process(assert_cmd::cargo::cargo_bin("anymodel"), folder)
        .env("TEST_OPENAI_KEY", "k")
        .args(["run", "--no-stdin", "-T", "http_get", prompt])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

/// How many times the page of [`serve_a_page`] was fetched.
async fn page_fetches(server: &MockServer) -> usize {
    let requests = server.received_requests().await.unwrap();
    requests.iter().filter(|r| r.url.path() == "/page").count()
}

/// A run killed (SIGKILL) while its second model call is under way, after its first step's tool
/// call: `anymodel resume` goes on from the logged checkpoint with the same agent, and the tool
/// is not called again.
#[tokio::test(flavor = "multi_thread")]
async fn a_killed_run_resumes_without_calling_its_tool_again() {
    let temp = tempfile::tempdir().unwrap();
    let server = MockServer::start().await;
    openai_calls(&server, "http_get", json!({"url": format!("{}/page", server.uri())})).await;
    // The second model call never answers in time: the run is killed during it.
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(ResponseTemplate::new(200).set_delay(std::time::Duration::from_secs(120)))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    openai_says(&server, "The page says hello.", None).await;
    serve_a_page(temp.path(), &server, "").await;

    let mut child = fetching_run(temp.path(), "What does the page say?");
    let chat_calls = || async {
        let requests = server.received_requests().await.unwrap();
        requests.iter().filter(|r| r.url.path() == "/v1/chat/completions").count()
    };
    let waited = std::time::Instant::now();
    while chat_calls().await < 2 {
        assert!(waited.elapsed().as_secs() < 60, "the run never made its second model call");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    child.kill().unwrap(); // SIGKILL: nothing of the process runs after it.
    child.wait().unwrap();
    let listed = anymodel(temp.path()).args(["logs", "--json"]).output().unwrap();
    let runs: Value = serde_json::from_str(&stdout(&listed)).unwrap();
    assert_eq!(runs[0]["outcome"], "running", "{runs}");

    let resumed =
        anymodel(temp.path()).env("TEST_OPENAI_KEY", "k").args(["resume", "1"]).output().unwrap();
    assert!(resumed.status.success(), "{}", stderr(&resumed));
    assert_eq!(stdout(&resumed), "The page says hello.\n");
    assert_eq!(page_fetches(&server).await, 1, "the tool was called once, before the kill");
    let requests = server.received_requests().await.unwrap();
    let last: Value = serde_json::from_slice(&requests.last().unwrap().body).unwrap();
    let sent = last["messages"].to_string();
    assert!(sent.contains("hello") && sent.contains("What does the page say?"), "{sent}");
    let listed = anymodel(temp.path()).args(["logs", "--json"]).output().unwrap();
    let runs: Value = serde_json::from_str(&stdout(&listed)).unwrap();
    assert_eq!(runs[0]["outcome"], "answered", "{runs}");
    assert_eq!(runs[0]["answer"], "The page says hello.");
    let again = anymodel(temp.path()).args(["resume", "1"]).output().unwrap();
    assert_eq!(again.status.code(), Some(2));
    assert!(stderr(&again).contains("nothing to resume"), "{}", stderr(&again));
}

/// A run killed (SIGKILL) between two tool calls of one step (the first made, the second under
/// way): `anymodel resume` makes only the second, and does not ask the model again for the step.
#[tokio::test(flavor = "multi_thread")]
async fn a_run_killed_mid_step_resumes_without_repeating_the_call_made() {
    let temp = tempfile::tempdir().unwrap();
    let server = MockServer::start().await;
    let fetch = |id: &str, page: &str| json!({"index": 0, "id": id, "type": "function", "function": {"name": "http_get", "arguments": json!({"url": format!("{}/{page}", server.uri())}).to_string()}});
    let mut second = fetch("call_2", "slow");
    second["index"] = json!(1);
    let chunks = sse(&[
        json!({"id": "c", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"role": "assistant", "tool_calls": [fetch("call_1", "page"), second]}, "finish_reason": null}]}),
        json!({"id": "c", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]}),
    ]);
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(chunks, "text/event-stream"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    openai_says(&server, "Both pages read.", None).await;
    // The second page answers only after the run is killed; then at once.
    Mock::given(method("GET"))
        .and(path("/slow"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_string("late")
                .set_delay(std::time::Duration::from_secs(120)),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/slow"))
        .respond_with(ResponseTemplate::new(200).set_body_string("late"))
        .mount(&server)
        .await;
    serve_a_page(temp.path(), &server, "").await;

    let mut child = fetching_run(temp.path(), "What do the pages say?");
    let fetched = |page: &'static str| {
        let server = &server;
        async move {
            let requests = server.received_requests().await.unwrap();
            requests.iter().filter(|r| r.url.path() == page).count()
        }
    };
    let waited = std::time::Instant::now();
    while fetched("/page").await < 1 || fetched("/slow").await < 1 {
        assert!(waited.elapsed().as_secs() < 60, "the run never made both calls");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // The first call's result is journaled as it ends: give the log that moment.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    child.kill().unwrap(); // SIGKILL: nothing of the process runs after it.
    child.wait().unwrap();

    let resumed =
        anymodel(temp.path()).env("TEST_OPENAI_KEY", "k").args(["resume", "1"]).output().unwrap();
    assert!(resumed.status.success(), "{}", stderr(&resumed));
    assert_eq!(stdout(&resumed), "Both pages read.\n");
    assert_eq!(fetched("/page").await, 1, "the call made before the kill is not made again");
    assert_eq!(fetched("/slow").await, 2, "the call under way is made again");
    assert_eq!(
        fetched("/v1/chat/completions").await,
        2,
        "the model is not asked again for the step"
    );
    let requests = server.received_requests().await.unwrap();
    let last: Value = serde_json::from_slice(&requests.last().unwrap().body).unwrap();
    let sent = last["messages"].to_string();
    assert!(sent.contains("hello") && sent.contains("late"), "{sent}");
}

/// A tool the config's `approve` names pauses a run that has no terminal to ask at: exit 3,
/// naming the command that goes on; resumed with `--approve` the call runs (and the model is
/// not asked again for it), with `--deny` it does not, and the model is told so.
#[tokio::test(flavor = "multi_thread")]
async fn a_run_paused_for_approval_resumes_approved_or_denied() {
    for approve in [true, false] {
        let temp = tempfile::tempdir().unwrap();
        let server = MockServer::start().await;
        openai_calls(&server, "http_get", json!({"url": format!("{}/page", server.uri())})).await;
        openai_says(&server, "Here is what I found.", None).await;
        serve_a_page(temp.path(), &server, "approve = [\"http_get\"]\n").await;
        let run = |args: &[&str]| {
            anymodel(temp.path()).env("TEST_OPENAI_KEY", "k").args(args).output().unwrap()
        };
        let paused = run(&["run", "--no-stdin", "-T", "http_get", "What does the page say?"]);
        assert_eq!(paused.status.code(), Some(3), "{}", stderr(&paused));
        assert!(
            stderr(&paused).contains("run 1 paused: http_get")
                && stderr(&paused).contains("anymodel resume 1 --approve (or --deny)"),
            "{}",
            stderr(&paused)
        );
        assert_eq!(page_fetches(&server).await, 0, "nothing runs before the decision");
        let listed: Value = serde_json::from_str(&stdout(&run(&["logs", "--json"]))).unwrap();
        assert_eq!(listed[0]["outcome"], "paused");

        let decision = if approve { "--approve" } else { "--deny" };
        let resumed = run(&["resume", "1", decision]);
        assert!(resumed.status.success(), "{}", stderr(&resumed));
        assert_eq!(stdout(&resumed), "Here is what I found.\n");
        assert_eq!(page_fetches(&server).await, usize::from(approve));
        let sent: Vec<Value> = server
            .received_requests()
            .await
            .unwrap()
            .iter()
            .filter(|r| r.url.path() == "/v1/chat/completions")
            .map(|r| serde_json::from_slice(&r.body).unwrap())
            .collect();
        assert_eq!(sent.len(), 2, "one model call before the pause, one after");
        let result = sent[1]["messages"].to_string();
        if approve {
            assert!(result.contains("hello"), "{result}");
        } else {
            assert!(result.contains("did not approve"), "{result}");
        }
        let listed: Value = serde_json::from_str(&stdout(&run(&["logs", "--json"]))).unwrap();
        assert_eq!(listed[0]["outcome"], "answered");
    }
}

/// The spans an OTLP/HTTP receiver got: each request's protobuf body decoded as a collector
/// decodes it.
#[cfg(feature = "otel")]
async fn received_spans(receiver: &MockServer) -> Vec<opentelemetry_proto::tonic::trace::v1::Span> {
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use prost::Message;
    let mut spans = Vec::new();
    for request in receiver.received_requests().await.unwrap() {
        assert_eq!(request.url.path(), "/v1/traces");
        assert_eq!(request.headers["content-type"], "application/x-protobuf");
        let export = ExportTraceServiceRequest::decode(request.body.as_slice()).unwrap();
        for resource in export.resource_spans {
            for scope in resource.scope_spans {
                spans.extend(scope.spans);
            }
        }
    }
    spans
}

/// A span's attributes as JSON values (string arrays as arrays).
#[cfg(feature = "otel")]
fn attributes(
    span: &opentelemetry_proto::tonic::trace::v1::Span,
) -> serde_json::Map<String, Value> {
    use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
    let value = |any: &Option<Any>| match any {
        Some(Any::StringValue(text)) => json!(text),
        Some(Any::IntValue(number)) => json!(number),
        Some(Any::DoubleValue(number)) => json!(number),
        Some(Any::BoolValue(flag)) => json!(flag),
        Some(Any::ArrayValue(array)) => Value::Array(
            array
                .values
                .iter()
                .map(|item| match &item.value {
                    Some(Any::StringValue(text)) => json!(text),
                    other => json!(format!("{other:?}")),
                })
                .collect(),
        ),
        other => json!(format!("{other:?}")),
    };
    span.attributes
        .iter()
        .map(|pair| (pair.key.clone(), value(&pair.value.as_ref().and_then(|v| v.value.clone()))))
        .collect()
}

/// An agent run exports its spans over OTLP/HTTP to the collector `OTEL_EXPORTER_OTLP_ENDPOINT`
/// names: `invoke_agent helper` holding two `chat gpt-test` spans and an `execute_tool
/// calculator` span, with the GenAI conventions' attribute names; message content only when
/// `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true`.
#[cfg(feature = "otel")]
#[tokio::test(flavor = "multi_thread")]
async fn agent_spans_reach_an_otlp_receiver_with_the_genai_attributes() {
    use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
    for capture in [false, true] {
        let temp = tempfile::tempdir().unwrap();
        let server = MockServer::start().await;
        openai_calls(&server, "calculator", json!({"expression": "6 * 7"})).await;
        openai_says(&server, "6 × 7 = 42.", None).await;
        config(temp.path(), &server, None);
        let receiver = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/v1/traces"))
            .respond_with(ResponseTemplate::new(200))
            .mount(&receiver)
            .await;
        let output = anymodel(temp.path())
            .env("TEST_OPENAI_KEY", "k")
            .env("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.uri())
            .env("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", capture.to_string())
            .args(["run", "--agent", "helper", "What is 6 * 7?"])
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", stderr(&output));
        assert_eq!(stdout(&output), "6 × 7 = 42.\n");

        let spans = received_spans(&receiver).await;
        let names: Vec<&str> = spans.iter().map(|s| s.name.as_str()).collect();
        let find = |name: &str| spans.iter().filter(|s| s.name == name).collect::<Vec<_>>();
        let [agent] = find("invoke_agent helper")[..] else {
            panic!("one invoke_agent span: {names:?}")
        };
        let chats = find("chat gpt-test");
        let tools = find("execute_tool calculator");
        assert_eq!((chats.len(), tools.len()), (2, 1), "{names:?}");
        let run = attributes(agent);
        assert_eq!(run["gen_ai.operation.name"], "invoke_agent");
        assert_eq!(run["gen_ai.agent.name"], "helper");
        assert_eq!(run["gen_ai.provider.name"], "openai");
        assert_eq!(run["gen_ai.request.model"], "gpt-test");
        assert_eq!(run["gen_ai.usage.input_tokens"], 11, "the answer's call counted 11");
        assert_eq!(agent.kind, SpanKind::Internal as i32);
        for chat in &chats {
            assert_eq!(chat.parent_span_id, agent.span_id, "a chat inside the run");
            assert_eq!(chat.trace_id, agent.trace_id);
            assert_eq!(chat.kind, SpanKind::Client as i32);
            let call = attributes(chat);
            assert_eq!(call["gen_ai.operation.name"], "chat");
            assert_eq!(call["gen_ai.provider.name"], "openai");
            assert_eq!(call["gen_ai.request.model"], "gpt-test");
            assert_eq!(call["gen_ai.response.id"], "c");
            assert_eq!(call.contains_key("gen_ai.input.messages"), capture, "{call:?}");
            assert_eq!(call.contains_key("gen_ai.output.messages"), capture, "{call:?}");
            assert!(call.contains_key("gen_ai.system_instructions") == capture, "{call:?}");
        }
        let reasons: Vec<Value> =
            chats.iter().map(|c| attributes(c)["gen_ai.response.finish_reasons"].clone()).collect();
        assert_eq!(reasons, [json!(["tool_call"]), json!(["stop"])]);
        let answered = attributes(chats[1]);
        assert_eq!(answered["gen_ai.usage.input_tokens"], 11);
        assert_eq!(answered["gen_ai.usage.output_tokens"], 3);
        let tool = attributes(tools[0]);
        assert_eq!(tools[0].parent_span_id, agent.span_id);
        assert_eq!(tool["gen_ai.operation.name"], "execute_tool");
        assert_eq!(tool["gen_ai.tool.name"], "calculator");
        assert_eq!(tool["gen_ai.tool.call.id"], "call_1");
        assert_eq!(tool["gen_ai.tool.type"], "function");
        assert_eq!(tool.contains_key("gen_ai.tool.call.arguments"), capture);
        if capture {
            let input: Value = serde_json::from_str(
                attributes(chats[1])["gen_ai.input.messages"].as_str().unwrap(),
            )
            .unwrap();
            assert_eq!(
                input[0],
                json!({"role": "user", "parts": [{"type": "text", "content": "What is 6 * 7?"}]})
            );
            assert_eq!(input[1]["parts"][0]["type"], "tool_call");
            assert_eq!(input[2]["parts"][0]["type"], "tool_call_response");
            assert_eq!(
                tool["gen_ai.tool.call.arguments"],
                json!({"expression": "6 * 7"}).to_string()
            );
        }
        // The run's spans hold no key.
        let all = format!("{spans:?}");
        assert!(!all.contains("TEST_OPENAI_KEY") && !all.contains("Bearer"), "{all}");
    }

    // A failed call: its class as `error.type` on the call and the run, both marked failed.
    use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
    let temp = tempfile::tempdir().unwrap();
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(401).set_body_json(json!({"error": {"message": "bad key"}})),
        )
        .mount(&server)
        .await;
    config(temp.path(), &server, None);
    let receiver = MockServer::start().await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(200)).mount(&receiver).await;
    let output = anymodel(temp.path())
        .env("TEST_OPENAI_KEY", "k")
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.uri())
        .args(["run", "Hi"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let spans = received_spans(&receiver).await;
    let names: Vec<&str> = spans.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["chat gpt-test", "invoke_agent"], "no agent name without --agent");
    for span in &spans {
        assert_eq!(attributes(span)["error.type"], "authentication", "{}", span.name);
        assert_eq!(span.status.as_ref().map(|s| s.code), Some(StatusCode::Error as i32));
    }
}

/// `anymodel serve` built with `otel` makes a `chat` span for each call it serves, whole or
/// streamed, and sends them when it stops.
#[cfg(feature = "otel")]
#[tokio::test(flavor = "multi_thread")]
async fn serve_exports_a_chat_span_for_each_call() {
    use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
    let temp = tempfile::tempdir().unwrap();
    let upstream = MockServer::start().await;
    openai_says(&upstream, "It is Paris.", None).await;
    config(temp.path(), &upstream, None);
    let receiver = MockServer::start().await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(200)).mount(&receiver).await;
    let endpoint = receiver.uri();
    let env = [("TEST_OPENAI_KEY", "k"), ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str())];
    let (mut child, base) =
        serving(temp.path(), &env, &["serve", "--port", "0", "--models", "gpt", "--no-log"]);
    let http = reqwest::Client::new();
    for stream in [false, true] {
        let body = json!({"model": "gpt", "stream": stream, "messages": [{"role": "user", "content": "Capital?"}]});
        let response = http.post(format!("{base}/chat/completions")).json(&body).send().await;
        assert!(response.unwrap().text().await.unwrap().contains("It is Paris."));
    }
    // Stopped as at Ctrl-C: the spans still pending are sent on the way out.
    let interrupted = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(interrupted.success());
    assert!(child.wait().unwrap().success());

    let spans = received_spans(&receiver).await;
    let names: Vec<&str> = spans.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["chat gpt-test", "chat gpt-test"]);
    for span in &spans {
        let call = attributes(span);
        assert_eq!(span.kind, SpanKind::Client as i32);
        assert_eq!(call["gen_ai.operation.name"], "chat");
        assert_eq!(call["gen_ai.provider.name"], "openai");
        assert_eq!(call["gen_ai.response.finish_reasons"], json!(["stop"]));
        assert_eq!(
            (&call["gen_ai.usage.input_tokens"], &call["gen_ai.usage.output_tokens"]),
            (&json!(11), &json!(3))
        );
    }
}
