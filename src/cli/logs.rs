//! `anymodel logs`: the runs the run log holds (latest first, by model, time or text), one run
//! in full, and the log turned on or off or located.

use anymodel::Usage;
use anymodel::config::Config;
use anymodel::runlog::{RunDetail, RunQuery, RunSummary};
use serde_json::Value;

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
    /// What each run cost, at the prices of the config's `[prices]` table, and the total.
    #[arg(long)]
    pub cost: bool,
    /// As JSON (one array of runs, each with its `cost`: null without a price).
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
            let cost = cost(&context.config, &detail.summary);
            if json {
                outln!("{}", pretty(with_cost(&detail, cost)));
            } else {
                show(&detail, cost);
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
            list(&context.config, &runs, args.json, args.cost)
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

/// What `run` cost at the configured price of its model; `None` when it has none.
fn cost(config: &Config, run: &RunSummary) -> Option<f64> {
    let usage =
        Usage::new(run.input_tokens, run.output_tokens).with_cached_input(run.cached_input_tokens);
    config.price(&run.model).map(|price| price.cost(&usage))
}

/// `value` as JSON with its `cost` beside its other fields.
fn with_cost(value: &impl serde::Serialize, cost: Option<f64>) -> Value {
    let mut value = serde_json::to_value(value).unwrap_or_default();
    if let Value::Object(fields) = &mut value {
        fields.insert("cost".into(), cost.map_or(Value::Null, Value::from));
    }
    value
}

fn pretty(value: Value) -> String {
    serde_json::to_string_pretty(&value).unwrap_or_default()
}

/// A cost as it is printed: enough digits for a cheap call to show.
fn money(cost: f64) -> String {
    format!("{cost:.6}").trim_end_matches('0').trim_end_matches('.').to_string()
}

fn list(config: &Config, runs: &[RunSummary], json: bool, with_costs: bool) -> Outcome {
    let costs: Vec<Option<f64>> = runs.iter().map(|run| cost(config, run)).collect();
    if json {
        let runs = runs.iter().zip(&costs).map(|(run, cost)| with_cost(run, *cost)).collect();
        outln!("{}", pretty(Value::Array(runs)));
        return Ok(());
    }
    for (run, cost) in runs.iter().zip(&costs) {
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
        if with_costs {
            outln!("  cost {}", cost.map_or_else(|| "unknown (no price)".into(), money));
        }
        outln!("  > {}", output::short(&run.prompt, 100));
        outln!("  {answer}");
    }
    if with_costs {
        let total: f64 = costs.iter().flatten().sum();
        let mut unpriced: Vec<&str> =
            runs.iter().zip(&costs).filter(|(_, c)| c.is_none()).map(|(r, _)| &*r.model).collect();
        unpriced.sort_unstable();
        unpriced.dedup();
        let plural = if runs.len() == 1 { "" } else { "s" };
        outln!("total cost {} over {} run{plural}", money(total), runs.len());
        if !unpriced.is_empty() {
            outln!(
                "no price for {} (add [prices.\"NAME\"] input = ..., output = ... to the config)",
                unpriced.join(", ")
            );
        }
    }
    Ok(())
}

fn show(detail: &RunDetail, cost: Option<f64>) {
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
    if let Some(cost) = cost {
        outln!("cost: {}", money(cost));
    }
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
