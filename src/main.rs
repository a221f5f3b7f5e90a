//! The `anymodel` command line: run agents, chat, index documents, switch model by config.

mod cli;

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use anymodel::config::Config;
use clap::{Parser, Subcommand};

use cli::{Context, Failure};

/// Run AI agents against a model you can swap: a local Llama in-process, or any remote API.
///
/// `anymodel "question"` runs an agent once (the same as `anymodel run "question"`); piped
/// input is added before the prompt. Models are named in a config file (`anymodel config init`
/// writes one) or inline: PROVIDER:MODEL (the providers are listed below) or a .gguf path. Keys
/// come from the environment: the provider's variable, or what the config names.
///
/// Exit codes: 0 success, 1 the run failed, 2 usage or configuration error, 3 a run paused for
/// approval of a tool call (`anymodel resume ID --approve`).
#[derive(Parser)]
#[command(name = "anymodel", version, about, long_about, after_long_help = cli::providers_help())]
struct Cli {
    /// The config file (default: $ANYMODEL_CONFIG, ./anymodel.toml, then the user config folder);
    /// `-c` before the command word (after `run` or `chat`, `-c` continues a conversation).
    #[arg(short, long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// No tool activity or progress on standard error.
    #[arg(short, long, global = true)]
    quiet: bool,
    /// Log what happens (debug level) on standard error; RUST_LOG gives finer control.
    #[arg(short, long, global = true)]
    verbose: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs an agent once on a prompt, streaming the answer (the default command).
    ///
    /// Examples: `anymodel run -m openai:gpt-4o-mini "Summarise this" < notes.txt`,
    /// `anymodel run --index docs "How do I install it?"`, `anymodel run --json -T calculator "17*23?"`.
    Run(cli::run::RunArgs),
    /// Chats at a prompt, keeping the conversation; `/model NAME` switches model mid-chat.
    Chat(cli::chat::ChatArgs),
    /// Lists the configured models: backend, where the weights or server are.
    Models {
        /// Also load each model and show its capabilities.
        #[arg(long)]
        load: bool,
    },
    /// Lists the built-in tools with their JSON Schemas (and why any is off).
    Tools {
        /// As JSON.
        #[arg(long)]
        json: bool,
    },
    /// Shows where the configuration comes from, prints it, or writes a starting one.
    #[command(subcommand)]
    Config(cli::info::ConfigCommand),
    /// Adds documents to a knowledge index, searches it, shows its size, removes documents.
    Index {
        /// The index: a name from the config ([indexes.NAME]) or a folder. Default:
        /// [indexes.default], else .anymodel/index.
        #[arg(long, global = true, value_name = "NAME|PATH")]
        index: Option<String>,
        #[command(subcommand)]
        command: cli::index::IndexCommand,
    },
    /// Embeds texts with an embedding model (local by default) and prints their vectors as JSON.
    ///
    /// Examples: `anymodel embed "first text" "second text"`, `anymodel embed --query < lines.txt`.
    Embed(cli::embed::EmbedArgs),
    /// Benchmarks: retrieval quality and speed on a BEIR dataset.
    #[command(subcommand)]
    Eval(cli::index::EvalCommand),
    /// Measures a local GGUF model: prompt and decode speed, peak memory and load time, beside
    /// llama.cpp.
    ///
    /// Runs the tests `llama-bench` runs (pp512: a 512-token prompt; tg128: 128 tokens decoded one
    /// at a time; tg128 @ d4000: the same after 4,000 tokens), each thread count in a process of
    /// its own, and times loading to the first token (for llama.cpp: a whole run of a one-token
    /// prompt without warm-up). When llama.cpp's `llama-bench` is found (--llama-bench, $LLAMA_BENCH, or on the
    /// PATH; `scripts/llama-bench.sh` builds one), it runs the same tests on the same file and
    /// thread counts, and the table gives the ratios. Build with `--release`.
    #[cfg(feature = "candle")]
    Bench(cli::bench::BenchArgs),
    /// Serves models behind the OpenAI API: `anymodel serve --models local,claude`, then point any
    /// OpenAI client's base URL at http://127.0.0.1:8080/v1.
    #[cfg(feature = "server")]
    Serve(cli::serve::ServeArgs),
    /// MCP: lists the configured MCP servers' tools (`mcp list`), or serves anymodel's tools,
    /// index and agents to MCP clients (`mcp serve`).
    #[cfg(feature = "mcp")]
    #[command(subcommand)]
    Mcp(cli::mcp::McpCommand),
    /// The run log: every run's prompt, answer, model calls, tool calls and tokens, latest first
    /// (`logs -n 20`, `-m MODEL`, `--since 2d`, `-q TEXT`, `--json`); `logs show ID` for one
    /// run in full; `logs off`, `logs on`, `logs path`. `anymodel run -c` continues the latest
    /// conversation.
    Logs(cli::logs::LogsArgs),
    /// Goes on with a logged run that stopped before its end (killed, or its model failed) from
    /// its last step, with the same agent: its tool calls are not made again.
    Resume(cli::resume::ResumeArgs),
    /// Prints the shell's completion script: `anymodel completions bash > /etc/bash_completion.d/anymodel`,
    /// `anymodel completions zsh > ~/.zfunc/_anymodel`, fish, elvish, powershell.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

/// The command words, so that anything else first means `run`.
const COMMANDS: [&str; 15] = [
    "run",
    "chat",
    "logs",
    "resume",
    "models",
    "tools",
    "config",
    "index",
    "embed",
    "eval",
    "bench",
    "serve",
    "mcp",
    "help",
    "completions",
];

/// The arguments, with `run` put in when the first word after the global flags is not a
/// command (`anymodel "hi"`, `anymodel -q -m x "hi"`); a first word that is a command mistyped
/// is an error instead.
fn arguments() -> Result<Vec<OsString>, Failure> {
    let mut args: Vec<OsString> = std::env::args_os().collect();
    let at = first_word(&args);
    let first = args.get(at).and_then(|a| a.to_str()).unwrap_or("");
    let asks_for_help = matches!(first, "-h" | "--help" | "-V" | "--version");
    if args.len() > at && !asks_for_help && !COMMANDS.contains(&first) {
        // A lone word, flags aside: several words are a prompt written without quotes.
        let alone = args[at + 1..].iter().all(|a| a.to_str().is_some_and(|a| a.starts_with('-')));
        if let Some(command) = near_miss(first).filter(|_| alone) {
            return Err(Failure::Usage(format!(
                "`{first}` is not a command; did you mean `{command}`? (To send it to the model as a prompt: anymodel run {first})"
            )));
        }
        args.insert(at, "run".into());
    }
    short_flags_of_commands(&mut args, at);
    Ok(args)
}

/// The short flags that mean one thing after a command word and another before it: `-c` is
/// the config file before the command and continues a conversation after `run` or `chat`;
/// `-q` is quiet before it and the text to search for after `logs`. Rewritten to their long
/// forms, up to a `--`.
fn short_flags_of_commands(args: &mut [OsString], at: usize) {
    let command = args.get(at).and_then(|a| a.to_str()).unwrap_or("").to_string();
    for arg in args.iter_mut().skip(at + 1) {
        match (command.as_str(), arg.to_str()) {
            (_, Some("--")) => break,
            ("run" | "chat", Some("-c")) => *arg = "--continue".into(),
            ("logs", Some("-q")) => *arg = "--query".into(),
            _ => {}
        }
    }
}

/// Where the command word goes: after the program's name and the global flags before it
/// (`-q`, `-v`, `-c FILE`).
fn first_word(args: &[OsString]) -> usize {
    let mut at = 1;
    while let Some(arg) = args.get(at).and_then(|a| a.to_str()) {
        match arg {
            "-q" | "--quiet" | "-v" | "--verbose" | "-qv" | "-vq" => at += 1,
            "-c" | "--config" => at += 2,
            _ if arg.starts_with("--config=") || (arg.starts_with("-c") && arg.len() > 2) => {
                at += 1
            }
            _ => break,
        }
    }
    at.min(args.len())
}

/// The command `word` looks like a typo of: one edit away (two for words of six letters or
/// more). Only a bare word counts: a prompt with a space in it is a prompt.
fn near_miss(word: &str) -> Option<&'static str> {
    if word.starts_with('-') || word.chars().any(char::is_whitespace) {
        return None;
    }
    let word = word.to_lowercase();
    COMMANDS.into_iter().find(|command| {
        let allowed = if command.len() >= 6 { 2 } else { 1 };
        command.len() > 2 && strsim::damerau_levenshtein(&word, command) <= allowed
    })
}

fn main() -> ExitCode {
    let cli = match arguments() {
        Ok(args) => Cli::parse_from(args),
        Err(failure) => return failure.exit(),
    };
    // Kept to the end of `main`: dropping it sends the spans still pending.
    let _telemetry = init_tracing(cli.verbose, cli.quiet);
    if let Command::Completions { shell } = cli.command {
        let mut command = <Cli as clap::CommandFactory>::command();
        clap_complete::generate(shell, &mut command, "anymodel", &mut std::io::stdout());
        return ExitCode::SUCCESS;
    }
    let config = match Config::load(cli.config.as_deref()) {
        Ok(config) => config,
        Err(error) => return Failure::from(error).exit(),
    };
    let context = Context { config, quiet: cli.quiet, verbose: cli.verbose };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => return Failure::Run(format!("starting the runtime: {error}")).exit(),
    };
    // Chat and serve take Ctrl-C themselves (it interrupts a reply, or stops the server);
    // elsewhere it stops the command. Either way the MCP servers started are stopped.
    let takes_interrupt = matches!(&cli.command, Command::Chat(_)) || is_http_server(&cli.command);
    let outcome = runtime.block_on(async {
        let work = dispatch(&context, cli.command);
        let outcome = if takes_interrupt {
            work.await
        } else {
            tokio::select! {
                outcome = work => outcome,
                _ = tokio::signal::ctrl_c() => Err(Failure::Interrupted),
            }
        };
        context.config.stop_mcp_servers().await;
        outcome
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => failure.exit(),
    }
}

/// Runs the command.
async fn dispatch(context: &Context, command: Command) -> cli::Outcome {
    match command {
        Command::Run(args) => cli::run::run(context, args).await,
        Command::Chat(args) => cli::chat::chat(context, args).await,
        Command::Logs(args) => cli::logs::logs(context, args),
        Command::Resume(args) => cli::resume::resume(context, args).await,
        Command::Models { load } => cli::info::models(context, load).await,
        Command::Tools { json } => cli::info::tools(context, json),
        Command::Config(command) => cli::info::config(context, command),
        Command::Index { index, command } => {
            cli::index::index(context, index.as_deref(), command).await
        }
        Command::Embed(args) => cli::embed::embed(context, args).await,
        Command::Eval(command) => cli::index::eval(context, command).await,
        #[cfg(feature = "candle")]
        Command::Bench(args) => cli::bench::bench(context, &args).await,
        #[cfg(feature = "server")]
        Command::Serve(args) => cli::serve::serve(context, args).await,
        #[cfg(feature = "mcp")]
        Command::Mcp(command) => cli::mcp::mcp(context, command).await,
        Command::Completions { .. } => Ok(()),
    }
}

/// Whether the command is `anymodel serve`, which stops at Ctrl-C by itself.
fn is_http_server(command: &Command) -> bool {
    #[cfg(feature = "server")]
    if matches!(command, Command::Serve(_)) {
        return true;
    }
    let _ = command;
    false
}

/// The span exporter `main` keeps to its end (none without the `otel` feature).
#[cfg(feature = "otel")]
type Exporter = anymodel::otel::Telemetry;
#[cfg(not(feature = "otel"))]
type Exporter = std::convert::Infallible;

/// Logs to standard error: debug level with `-v`, else what RUST_LOG says (warnings by default),
/// except the model layers' warnings, which are activity lines ([`cli::notices`]). With the
/// `otel` feature, and a collector named by `OTEL_EXPORTER_OTLP_ENDPOINT`, the agent loop's
/// GenAI spans are exported too: the exporter is returned, to be kept until the end.
fn init_tracing(verbose: bool, quiet: bool) -> Option<Exporter> {
    use tracing_subscriber::Layer;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter = if verbose {
        tracing_subscriber::EnvFilter::new("debug")
    } else {
        let layers_off = cli::notices::TARGETS.map(|target| format!("{target}=off")).join(",");
        let base = std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into());
        tracing_subscriber::EnvFilter::try_new(format!("{base},{layers_off}"))
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("warn,{layers_off}")))
    };
    let log = tracing_subscriber::fmt::layer().with_writer(std::io::stderr).with_filter(filter);
    let notices = cli::notices::Notices::new(quiet || verbose);
    let registry = tracing_subscriber::registry().with(log).with(notices);
    #[cfg(feature = "otel")]
    if anymodel::otel::Telemetry::configured() {
        match anymodel::otel::Telemetry::start("anymodel") {
            Ok(telemetry) => {
                registry.with(telemetry.layer()).init();
                return Some(telemetry);
            }
            Err(error) => cli::output::warning(format!("{error}: spans are not exported")),
        }
    }
    registry.init();
    None
}
