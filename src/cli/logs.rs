//! `anymodel logs`: the runs the run log holds (latest first, by model, time or text), one run
//! in full, and the log turned on or off or located.

use anymodel::runlog::{RunDetail, RunQuery, RunSummary};

use super::logged;
use super::output::outln;
use super::{Context, Failure, Outcome, output};

/// The arguments of `logs`.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct LogsArgs {
    #[command(subcommand)]
    pub command: Option<LogsCommand>,
    /// How many runs, latest first (0: all).
    #[arg(short = 'n', long = "count", default_value_t = 10)]
    pub count: usize,
    /// Only runs of this model (as it was named, or part of that name).
    #[arg(short = 'm', long)]
    pub model: Option<String>,
    /// Only runs since a time: back by a duration (30m, 12h, 7d) or from a date (2026-12-01,
    /// or RFC 3339).
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,
    /// Only runs whose prompt or answer has these words (`-q TEXT` after `logs`).
    #[arg(long = "query", value_name = "TEXT")]
    pub query: Option<String>,
    /// Only runs of this conversation.
    #[arg(long = "cid", value_name = "ID")]
    pub conversation: Option<i64>,
    /// As JSON (one array of runs).
    #[arg(long)]
    pub json: bool,
}

/// The `logs` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum LogsCommand {
    /// Everything logged of one run: each model call (the request as sent, the reply, usage,
    /// timing) and each tool call with its result.
    Show {
        /// The run's id, as `anymodel logs` lists it.
        id: i64,
        /// As JSON.
        #[arg(long)]
        json: bool,
    },
    /// Logs runs from now on (the default).
    On,
    /// Stops logging runs (what is logged stays).
    Off,
    /// Prints where the log is.
    Path,
}

/// Runs `logs`.
pub fn logs(context: &Context, args: LogsArgs) -> Outcome {
    let path = logged::path()?;
    let marker = logged::off_marker(&path);
    match args.command {
        Some(LogsCommand::Path) => {
            outln!("{}", path.display());
            Ok(())
        }
        Some(LogsCommand::Off) => {
            if let Some(folder) = marker.parent() {
                std::fs::create_dir_all(folder)
                    .map_err(|e| Failure::Run(format!("{}: {e}", folder.display())))?;
            }
            std::fs::write(&marker, "")
                .map_err(|e| Failure::Run(format!("{}: {e}", marker.display())))?;
            outln!("runs are no longer logged (anymodel logs on to log them again)");
            Ok(())
        }
        Some(LogsCommand::On) => {
            match std::fs::remove_file(&marker) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Failure::Run(format!("{}: {e}", marker.display()))),
            }
            outln!("runs are logged in {}", path.display());
            Ok(())
        }
        Some(LogsCommand::Show { id, json }) => {
            let log = logged::open(context)?;
            let detail = log.run(id).map_err(|e| Failure::Usage(e.to_string()))?;
            if json {
                outln!("{}", serde_json::to_string_pretty(&detail).unwrap_or_default());
            } else {
                show(&detail);
            }
            Ok(())
        }
        None => {
            let query = RunQuery {
                limit: (args.count > 0).then_some(args.count),
                model: args.model,
                since: args.since.as_deref().map(since).transpose()?,
                text: args.query,
                conversation: args.conversation,
            };
            // No run logged yet: nothing to open (and nothing made by looking).
            let runs = if path.exists() {
                logged::open(context)?.runs(&query).map_err(|e| Failure::Run(e.to_string()))?
            } else {
                Vec::new()
            };
            if marker.exists() {
                output::activity(context.quiet, "(the run log is off: anymodel logs on)");
            }
            list(&runs, args.json)
        }
    }
}

/// The time `--since` names, as the log writes times.
fn since(text: &str) -> Result<String, Failure> {
    let now = chrono::Utc::now();
    let text = text.trim();
    let (number, unit) = text.split_at(text.len().saturating_sub(1));
    let back = number.parse::<i64>().ok().and_then(|n| match unit {
        "m" => Some(chrono::Duration::minutes(n)),
        "h" => Some(chrono::Duration::hours(n)),
        "d" => Some(chrono::Duration::days(n)),
        "w" => Some(chrono::Duration::weeks(n)),
        _ => None,
    });
    let when = if let Some(back) = back {
        now - back
    } else if let Ok(date) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        date.and_hms_opt(0, 0, 0).map(|t| t.and_utc()).unwrap_or(now)
    } else if let Ok(time) = chrono::DateTime::parse_from_rfc3339(text) {
        time.with_timezone(&chrono::Utc)
    } else {
        return Err(Failure::Usage(format!(
            "--since {text}: give a duration back (30m, 12h, 7d, 2w) or a date (2026-12-01)"
        )));
    };
    Ok(when.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

fn list(runs: &[RunSummary], json: bool) -> Outcome {
    if json {
        outln!("{}", serde_json::to_string_pretty(runs).unwrap_or_default());
        return Ok(());
    }
    for run in runs {
        let answer = match (&run.answer, &run.error) {
            (_, Some(error)) => format!("failed: {error}"),
            (Some(answer), None) => output::short(answer, 100),
            (None, None) => format!("({})", run.outcome),
        };
        outln!(
            "#{} (conversation {}) {} {} · {} in, {} out",
            run.id,
            run.conversation,
            run.started_at,
            run.model,
            run.input_tokens,
            run.output_tokens
        );
        outln!("  > {}", output::short(&run.prompt, 100));
        outln!("  {answer}");
    }
    Ok(())
}

fn show(detail: &RunDetail) {
    let run = &detail.summary;
    outln!("run {} · conversation {} · {} · {}", run.id, run.conversation, run.model, run.outcome);
    outln!(
        "started {}{}",
        run.started_at,
        run.ended_at.as_deref().map(|e| format!(", ended {e}")).unwrap_or_default()
    );
    outln!(
        "tokens: {} in ({} cached), {} out{}",
        run.input_tokens,
        run.cached_input_tokens,
        run.output_tokens,
        run.elapsed_ms.map(|ms| format!(" · {ms} ms")).unwrap_or_default()
    );
    outln!("\nprompt:\n{}", run.prompt);
    for call in &detail.calls {
        outln!(
            "\nstep {} · {} · {} in, {} out{}",
            call.step,
            call.finish_reason.as_deref().unwrap_or("?"),
            call.input_tokens,
            call.output_tokens,
            call.elapsed_ms.map(|ms| format!(" · {ms} ms")).unwrap_or_default()
        );
        for tool in &call.tool_calls {
            let result = match (&tool.result, &tool.error) {
                (_, Some(error)) => format!("error: {error}"),
                (Some(result), None) => output::short(&result.to_string(), 160),
                (None, None) => String::new(),
            };
            outln!("  → {}({})", tool.name, tool.arguments);
            outln!("  ← {result}");
        }
    }
    match (&run.answer, &run.error) {
        (_, Some(error)) => {
            outln!("\nfailed ({}): {error}", run.error_class.as_deref().unwrap_or("?"))
        }
        (Some(answer), None) => outln!("\nanswer:\n{answer}"),
        (None, None) => {}
    }
}
