//! What logging costs a model call: the time the run log's hook takes around each call and its
//! tool call (the request kept before it; the reply journaled before its tool call runs; the
//! tool call journaled as it ends; the step written after it with the run's checkpoint: one
//! SQLite transaction with the call, its tool calls, the transcript so far and the counters),
//! over a conversation that grows step by step as an agent's does. Printed as percentiles; the
//! goal is under 1 ms at p99.
//!
//! ```text
//! cargo run --release -p anymodel-runlog --example log_overhead -- 1000
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant};

use anymodel_core::{
    AgentHook, ChatRequest, ChatResponse, Message, RunCheckpoint, Step, ToolCall, ToolInvocation,
    ToolSpec, Usage,
};
use anymodel_runlog::{LogHook, RunLog};
use serde_json::json;

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let at = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[at].as_secs_f64() * 1000.0
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let calls: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(1000);
    let folder = std::env::temp_dir().join(format!("anymodel-log-overhead-{}", std::process::id()));
    let log = Arc::new(RunLog::open(folder.join("logs.db"))?);
    let tools: Vec<ToolSpec> = ["read_file", "list_files", "http_get", "calculator"]
        .iter()
        .map(|name| ToolSpec {
            name: name.to_string(),
            description: "A tool the agent has, described for the model in a sentence or two."
                .into(),
            parameters: json!({"type": "object", "properties": {"path": {"type": "string"}}}),
        })
        .collect();
    let paragraph = "A paragraph of a document the agent read, about as long as the ones tools \
        return: a few sentences of text, then some more, to make the transcript realistic. "
        .repeat(4);
    let mut times = Vec::with_capacity(calls);
    // Runs of 10 steps each, as an agent's are: the transcript grows within a run.
    let mut run = log.begin(None, "bench", "Summarise the documents.")?.run;
    let mut hook = LogHook::new(log.clone(), run);
    let mut transcript =
        vec![Message::system("Be brief."), Message::user("Summarise the documents.")];
    for index in 0..calls {
        if index % 10 == 0 && index > 0 {
            run = log.begin(None, "bench", "Summarise the documents.")?.run;
            hook = LogHook::new(log.clone(), run);
            transcript.truncate(2);
        }
        let mut request = ChatRequest::new(transcript.clone());
        request.tools = tools.clone();
        let call = ToolCall::new(format!("c{index}"), "read_file", json!({"path": "notes.md"}));
        let mut response = ChatResponse::tool_calls(vec![call.clone()]);
        response.usage = Usage::new(1200, 40);
        let step = Step {
            index: index % 10 + 1,
            response,
            tool_calls: vec![ToolInvocation { call, result: Ok(json!(paragraph)), elapsed_ms: 2 }],
            elapsed_ms: 300,
        };
        let journaled = RunCheckpoint {
            transcript: transcript.clone(),
            steps: step.index - 1,
            tool_calls: step.index - 1,
            usage: Usage::new(1200 * step.index as u64, 40 * step.index as u64),
            pending: Some(step.response.clone()),
            completed: Vec::new(),
        };
        transcript.push(Message::Assistant(step.response.message.clone()));
        transcript.push(Message::Tool(step.tool_calls[0].to_message()));
        let checkpoint = RunCheckpoint {
            transcript: transcript.clone(),
            steps: step.index,
            tool_calls: step.index,
            usage: Usage::new(1200 * step.index as u64, 40 * step.index as u64),
            pending: None,
            completed: Vec::new(),
        };
        let started = Instant::now();
        hook.before_model_call(step.index, &request).await;
        hook.checkpoint(&journaled).await;
        hook.after_tool_call(step.index, &step.tool_calls[0]).await;
        hook.after_step(&step).await;
        hook.checkpoint(&checkpoint).await;
        times.push(started.elapsed());
    }
    if let Some(failure) = hook.failure() {
        return Err(failure.into());
    }
    times.sort_unstable();
    println!(
        "run log, per model call ({calls} calls, runs of 10 steps): p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
        percentile(&times, 0.50),
        percentile(&times, 0.99),
        percentile(&times, 1.0)
    );
    let _ = std::fs::remove_dir_all(&folder);
    Ok(())
}
