//! `anymodel run`: one agent run on a prompt, streamed to standard output.

use std::io::{IsTerminal, Read};

use anymodel::{AgentEvent, Message, output_text};
use futures::StreamExt;

use super::output::{out, outln};
use super::setup::{self, AgentFlags};
use super::{Context, Failure, Outcome, output};

/// The arguments of `run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The prompt. Piped standard input comes before it (or is the prompt, when none is given).
    pub prompt: Vec<String>,
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
}

/// The prompt: piped standard input, then the words given.
fn prompt(words: &[String]) -> Result<String, Failure> {
    let mut piped = String::new();
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        stdin
            .lock()
            .read_to_string(&mut piped)
            .map_err(|e| Failure::Usage(format!("reading standard input: {e}")))?;
    }
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

/// Runs `run`.
pub async fn run(context: &Context, args: RunArgs) -> Outcome {
    let prompt = prompt(&args.prompt)?;
    let prepared = setup::prepare(context, &args.agent).await?;
    let agent = &prepared.agent;
    let input = vec![Message::user(prompt)];
    if args.show_prompt {
        // The agent's model: with `--rag`, its preview has the passages in it.
        let request = agent.first_request(input);
        return match agent.model().preview(&request).await? {
            Some(text) => {
                outln!("{text}");
                Ok(())
            }
            None => Err(Failure::Usage(format!("{} cannot show its prompt", prepared.model_name))),
        };
    }
    if let Some(spec) = &args.schema {
        // The agent runs with its tools, then gives its answer as the schema's JSON.
        let schema = super::schema::parse(spec)?;
        let (value, run) =
            agent.run_json(input, &schema).await.map_err(|e| Failure::Run(e.kind.to_string()))?;
        show_tool_calls(context, &run);
        outln!("{}", serde_json::to_string_pretty(&value).unwrap_or_default());
        return Ok(());
    }
    if args.json {
        let run = agent.run_messages(input).await;
        let (record, error) = match run {
            Ok(run) => (serde_json::to_value(&run), None),
            Err(error) => (serde_json::to_value(&*error.partial), Some(error.kind.to_string())),
        };
        let mut record = record.map_err(|e| Failure::Run(format!("encoding the run: {e}")))?;
        // The model as it was named, beside the provider's name for it; how the reply ended.
        record["provider_model"] = record["model"].take();
        record["model"] = serde_json::Value::String(prepared.model_name.clone());
        let last = record["steps"].as_array().and_then(|steps| steps.last());
        record["finish_reason"] =
            last.map(|step| step["response"]["finish_reason"].clone()).unwrap_or_default();
        if let Some(error) = &error {
            record["error"] = serde_json::Value::String(error.clone());
        }
        outln!("{}", serde_json::to_string_pretty(&record).unwrap_or_default());
        return error.map_or(Ok(()), |e| Err(Failure::Run(e)));
    }
    if args.no_stream {
        let run = agent.run_messages(input).await.map_err(|e| Failure::Run(e.kind.to_string()))?;
        show_tool_calls(context, &run);
        outln!("{}", run.answer);
        notice_ending(context, &run);
        return Ok(());
    }
    let question = match input.last() {
        Some(Message::User { content }) => content.clone(),
        _ => String::new(),
    };
    stream(context, agent, input, &mut String::new()).await?;
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
) -> Result<anymodel::AgentRun, Failure> {
    let mut events = agent.run_messages_stream(input);
    let mut at_line_start = true;
    while let Some(event) = events.next().await {
        match event.map_err(|e| Failure::Run(e.kind.to_string()))? {
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
            AgentEvent::StepDone { .. } => {}
            AgentEvent::Finished { run } => {
                if !at_line_start {
                    outln!();
                }
                notice_ending(context, &run);
                return Ok(run);
            }
        }
    }
    Err(Failure::Run("the run ended without finishing".into()))
}
