//! `anymodel run`: one agent run on a prompt, streamed to standard output.

use std::io::{IsTerminal, Read};

use anymodel::{AgentEvent, Content, Message, output_text};
use futures::StreamExt;

use super::logged;
use super::output::{out, outln};
use super::setup::{self, AgentFlags};
use super::{Context, Failure, Outcome, output};

/// The arguments of `run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The prompt. Piped standard input comes before it (or is the prompt, when none is given).
    pub prompt: Vec<String>,
    /// An image (PNG, JPEG, GIF, WebP) or PDF to give the model with the prompt, from a file or
    /// an http(s) address (repeatable): for models that read images or documents.
    #[arg(short = 'a', long = "attach", value_name = "FILE|URL")]
    pub attach: Vec<String>,
    /// Leave standard input unread: in scripts and `while read` loops, where it is not meant
    /// for the model.
    #[arg(long)]
    pub no_stdin: bool,
    #[command(flatten)]
    pub agent: AgentFlags,
    /// Print the answer once it is complete instead of streaming it.
    #[arg(long)]
    pub no_stream: bool,
    /// Print one JSON record of the run instead: answer, steps with tool calls and results,
    /// usage, timings, model.
    #[arg(long)]
    pub json: bool,
    /// Answer with a JSON object of this schema instead of text, and print it: a JSON Schema file,
    /// or fields written short, such as 'name, age int, bio: their life' (types str, int, float,
    /// bool). The agent runs with its tools first, then gives its answer in the schema. Local
    /// models follow it by construction (within max_tokens), remote ones natively or by a forced
    /// tool call; a reply that does not validate is asked again (twice, sampling anew), then
    /// the run fails naming each try's problem.
    #[arg(long, value_name = "FILE|FIELDS")]
    pub schema: Option<String>,
    /// Print what the model would receive (the rendered prompt of a local model, the request
    /// body of a remote one; keys are never in it) and stop.
    #[arg(long)]
    pub show_prompt: bool,
    #[command(flatten)]
    pub continuing: logged::ContinueFlags,
    /// Leave this run out of the run log (`anymodel logs off` turns the log off for all).
    #[arg(long)]
    pub no_log: bool,
}

/// The most of standard input taken into a prompt.
const MAX_STDIN_BYTES: u64 = 16 * 1024 * 1024;

/// How long standard input may stay silent before the user is told what is awaited.
const STDIN_NOTICE_AFTER: std::time::Duration = std::time::Duration::from_secs(2);

/// The prompt: piped standard input (unless `no_stdin`), then the words given.
fn prompt(context: &Context, words: &[String], no_stdin: bool) -> Result<String, Failure> {
    let stdin = std::io::stdin();
    let piped = if no_stdin || stdin.is_terminal() { String::new() } else { read_stdin(context)? };
    let words = words.join(" ");
    let prompt = match (piped.trim().is_empty(), words.trim().is_empty()) {
        (true, true) => {
            return Err(Failure::Usage(
                "no prompt: give one as arguments or on standard input".into(),
            ));
        }
        (true, false) => words,
        (false, true) => piped.trim_end().to_string(),
        (false, false) => format!("{}\n\n{words}", piped.trim_end()),
    };
    Ok(prompt)
}

/// Standard input to its end, at most [`MAX_STDIN_BYTES`]. A pipe that stays silent (a slow
/// producer, or input meant for someone else) gets a notice saying what is awaited.
fn read_stdin(context: &Context) -> Result<String, Failure> {
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let read = std::io::stdin().lock().take(MAX_STDIN_BYTES + 1).read_to_end(&mut bytes);
        let _ = sender.send(read.map(|_| bytes));
    });
    let read = match receiver.recv_timeout(STDIN_NOTICE_AFTER) {
        Ok(read) => read,
        Err(_) => {
            if !context.quiet && std::io::stderr().is_terminal() {
                eprintln!("waiting for standard input to end (pass --no-stdin to run without it)");
            }
            receiver.recv().map_err(|_| Failure::Usage("reading standard input failed".into()))?
        }
    };
    let bytes = read.map_err(|e| Failure::Usage(format!("reading standard input: {e}")))?;
    if bytes.len() as u64 > MAX_STDIN_BYTES {
        return Err(Failure::Usage(format!(
            "standard input is longer than {} MiB: give the model a part of it, or index it (anymodel index add FILE) and ask with --index",
            MAX_STDIN_BYTES / (1024 * 1024)
        )));
    }
    String::from_utf8(bytes).map_err(|e| {
        Failure::Usage(format!(
            "standard input is not UTF-8 text (byte {} is not): pipe text in",
            e.utf8_error().valid_up_to()
        ))
    })
}

/// Runs `run`.
pub async fn run(context: &Context, args: RunArgs) -> Outcome {
    let prompt = prompt(context, &args.prompt, args.no_stdin)?;
    // Read before the model loads: a missing file, or a conversation that is not there, is
    // told at once.
    let attachments = super::attach::parts(&args.attach)?;
    let (conversation, mut input) = logged::continued(context, args.continuing)?;
    let prepared = setup::prepare(context, &args.agent).await?;
    input.push(Message::user(Content::from(prompt.clone()).with_all(attachments)));
    if args.show_prompt {
        // The agent's model: with `--rag`, its preview has the passages in it.
        let request = prepared.agent.first_request(input);
        return match prepared.agent.model().preview(&request).await? {
            Some(text) => {
                outln!("{text}");
                Ok(())
            }
            None => Err(Failure::Usage(format!("{} cannot show its prompt", prepared.model_name))),
        };
    }
    let (agent, logged) = logged::agent_for(
        context,
        &prepared.agent,
        conversation,
        &prepared.model_name,
        &prompt,
        !args.no_log,
    );
    if let Some(logged) = &logged {
        logged.record_agent(&args.agent);
    }
    let outcome = answer(context, &args, &prepared, &agent, input).await;
    if let Some(logged) = &logged {
        logged.report();
    }
    outcome.map_err(|failure| failure.resumable(logged.as_ref().map(|l| l.run)))
}

/// Runs `agent` on `input` and prints its answer as `args` ask.
async fn answer(
    context: &Context,
    args: &RunArgs,
    prepared: &setup::Prepared,
    agent: &anymodel::Agent,
    input: Vec<Message>,
) -> Outcome {
    if let Some(spec) = &args.schema {
        // The agent runs with its tools, then gives its answer as the schema's JSON.
        let schema = super::schema::parse(spec)?;
        let (value, run) = agent.run_json(input, &schema).await.map_err(Failure::from)?;
        show_tool_calls(context, &run);
        outln!("{}", serde_json::to_string_pretty(&value).unwrap_or_default());
        return Ok(());
    }
    if args.json {
        let run = agent.run_messages(input).await;
        let (record, error) = match run {
            Ok(run) => (serde_json::to_value(&run), None),
            Err(error) => (serde_json::to_value(&*error.partial), Some(Failure::from(error))),
        };
        let mut record = record.map_err(|e| Failure::Run(format!("encoding the run: {e}")))?;
        // The model as it was named, beside the provider's name for it; how the reply ended.
        record["provider_model"] = record["model"].take();
        record["model"] = serde_json::Value::String(prepared.model_name.clone());
        let last = record["steps"].as_array().and_then(|steps| steps.last());
        record["finish_reason"] =
            last.map(|step| step["response"]["finish_reason"].clone()).unwrap_or_default();
        if let Some(error) = &error {
            record["error"] = serde_json::Value::String(error.to_string());
        }
        outln!("{}", serde_json::to_string_pretty(&record).unwrap_or_default());
        return error.map_or(Ok(()), Err);
    }
    if args.no_stream {
        let run = agent.run_messages(input).await.map_err(Failure::from)?;
        show_tool_calls(context, &run);
        outln!("{}", run.answer);
        notice_ending(context, &run);
        return Ok(());
    }
    let question = match input.last() {
        Some(Message::User { content }) => content.text(),
        _ => String::new(),
    };
    stream(context, agent, input, &mut String::new(), args.agent.show_reasoning).await?;
    if let Some(index) = &prepared.rag {
        print_sources(index, &question)?;
    }
    Ok(())
}

/// A notice on standard error when the answer did not end as the model meant it to: cut by the
/// token limit, or stopped because it repeated itself.
pub fn notice_ending(context: &Context, run: &anymodel::AgentRun) {
    let Some(last) = run.steps.last() else { return };
    let notice = match last.response.finish_reason {
        anymodel::FinishReason::Length => {
            let tokens = last.response.usage.output_tokens;
            let after = if tokens > 0 { format!(" after {tokens} tokens") } else { String::new() };
            format!("(the reply was cut at the token limit{after}: raise it with -o max_tokens=N)")
        }
        anymodel::FinishReason::Repetition => {
            "(the reply was stopped: the model kept repeating itself)".to_string()
        }
        _ => return,
    };
    output::activity(context.quiet, notice);
}

/// The tool calls a finished run made, on standard error.
fn show_tool_calls(context: &Context, run: &anymodel::AgentRun) {
    for invocation in run.steps.iter().flat_map(|s| &s.tool_calls) {
        output::activity(
            context.quiet,
            format!("→ {}({})", invocation.call.name, invocation.call.arguments),
        );
    }
}

/// The citations of the passages `--rag` put into the prompt for `question`.
fn print_sources(index: &anymodel::tools::index::KnowledgeIndex, question: &str) -> Outcome {
    let searcher = index.searcher();
    let hits = searcher
        .search(&anymodel::RetrievalQuery::new(question, anymodel::tools::rag::DEFAULT_K))?;
    outln!("\nSources:");
    for hit in &hits {
        let source = searcher.passage(hit)?.source;
        let title = source.title.as_deref().map(|t| format!(" {t}")).unwrap_or_default();
        outln!("  [{source}]{title}");
    }
    Ok(())
}

/// Runs the agent on `input`, the answer's text to standard output as it comes (and into
/// `shown`, so a caller that stops the run keeps what was said), tool activity to standard
/// error, and a notice there when the reply was cut or stopped.
pub async fn stream(
    context: &Context,
    agent: &anymodel::Agent,
    input: Vec<Message>,
    shown: &mut String,
    show_reasoning: bool,
) -> Result<anymodel::AgentRun, Failure> {
    show(context, agent.run_messages_stream(input), shown, show_reasoning).await
}

/// [`stream`]'s printing of a run's events, for a run however it was started.
pub async fn show(
    context: &Context,
    mut events: futures::stream::BoxStream<'_, Result<AgentEvent, anymodel::AgentError>>,
    shown: &mut String,
    show_reasoning: bool,
) -> Result<anymodel::AgentRun, Failure> {
    let mut at_line_start = true;
    // Whether the last reasoning shown ended its line, so the answer starts on a fresh one.
    let mut reasoning_open = false;
    while let Some(event) = events.next().await {
        let event = event.map_err(Failure::from)?;
        if reasoning_open && !matches!(event, AgentEvent::ReasoningDelta { .. }) {
            output::reasoning(context.quiet, "\n");
            reasoning_open = false;
        }
        match event {
            AgentEvent::ReasoningDelta { text, .. } if show_reasoning => {
                output::reasoning(context.quiet, &text);
                reasoning_open = !text.ends_with('\n');
            }
            AgentEvent::TextDelta { text, .. } => {
                out!("{text}");
                shown.push_str(&text);
                at_line_start = text.ends_with('\n');
            }
            AgentEvent::ToolCallRequested { call, .. } => {
                if !at_line_start {
                    outln!();
                    at_line_start = true;
                }
                output::activity(context.quiet, format!("→ {}({})", call.name, call.arguments));
            }
            AgentEvent::ToolResult { invocation, .. } => {
                let text = match &invocation.result {
                    Ok(value) => output_text(value),
                    Err(error) => format!("error: {error}"),
                };
                output::activity(context.quiet, format!("← {}", output::short(&text, 160)));
            }
            AgentEvent::Finished { run } => {
                if !at_line_start {
                    outln!();
                }
                notice_ending(context, &run);
                return Ok(run);
            }
            _ => {} // the end of a step
        }
    }
    Err(Failure::Run("the run ended without finishing".into()))
}
