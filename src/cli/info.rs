//! `anymodel models`, `anymodel tools` and `anymodel config`: what is configured.

use std::path::PathBuf;

use anymodel::config::{Config, Resolved, TEMPLATE};
use anymodel::tools::registry::BUILTINS;

use super::output::{out, outln};
use super::{Context, Failure, Outcome, setup};

/// Lists the configured models: name, backend, where the weights or the server are, and what
/// each can do (the capabilities of local models are known once loaded: `--load`).
pub async fn models(context: &Context, load: bool) -> Outcome {
    let config = &context.config;
    let default = config.default_model();
    list_downloaded();
    if config.models().next().is_none() {
        outln!(
            "no models configured ({}); name one inline: {}",
            where_from(config),
            anymodel::backends::providers::inline_forms()
        );
        return Ok(());
    }
    for (name, entry) in config.models() {
        let marker = if default.as_deref() == Some(name) { "*" } else { " " };
        let place = match config.resolve(name)? {
            Resolved::Single(spec) => spec.location(),
            Resolved::Fallback(names) => names.join(" → "),
            Resolved::Router(names, _) => names.join(" | "),
        };
        outln!("{marker} {name:<16} {:<10} {place}", entry.backend);
        if load
            && let Resolved::Single(spec) = config.resolve(name)?
            && spec.backend() != "candle"
            && let Err(why) = reachable(&spec.location()).await
        {
            outln!("    unreachable: {why}");
            continue;
        }
        if load {
            match setup::load_model(context, name).await {
                Ok(model) => {
                    let c = model.capabilities();
                    let context_window =
                        c.context_window.map_or("unknown".into(), |n| n.to_string());
                    outln!(
                        "    tools {}  forced tool choice {}  json {}  json schema {}  streaming {}  context {}",
                        c.tools,
                        c.forced_tool_choice,
                        c.json_output,
                        c.json_schema_output,
                        c.streaming,
                        context_window
                    );
                }
                Err(failure) => {
                    let why = failure.to_string();
                    outln!("    not available: {why}")
                }
            }
        }
    }
    Ok(())
}

/// Lists the models in the models folder, with their sizes.
fn list_downloaded() {
    let Some(folder) = anymodel::backends::store::models_folder() else { return };
    let files = anymodel::backends::store::downloaded();
    if files.is_empty() {
        outln!("no models downloaded in {}", folder.display());
        return;
    }
    outln!("downloaded, in {}:", folder.display());
    for (path, bytes) in files {
        let shown = path.strip_prefix(&folder).unwrap_or(&path);
        outln!("  {:<60} {:>8.1} MiB", shown.display(), bytes as f64 / (1024.0 * 1024.0));
    }
    outln!();
}

/// Whether the server at `url` takes a connection (within 3 s); why not, when it does not.
async fn reachable(url: &str) -> Result<(), String> {
    let (scheme, rest) = url.split_once("://").unwrap_or(("https", url));
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    let address = match authority.rsplit_once(':') {
        Some((_, port)) if port.parse::<u16>().is_ok() => authority.to_string(),
        _ => format!("{authority}:{}", if scheme == "http" { 80 } else { 443 }),
    };
    let connect = tokio::net::TcpStream::connect(&address);
    match tokio::time::timeout(std::time::Duration::from_secs(3), connect).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(error)) => Err(format!("{address}: {error}")),
        Err(_) => Err(format!("{address}: no answer within 3 s")),
    }
}

/// Lists the built-in tools with their JSON Schemas, noting those the configuration leaves off.
pub fn tools(context: &Context, json: bool) -> Outcome {
    let settings = context.config.tool_settings(None)?;
    let listed: Vec<_> = BUILTINS
        .iter()
        .map(|tool| {
            // search_documents is on wherever an index is named; the others as `[tools]` says.
            let off = match tool.name {
                "search_documents" => None,
                _ => tool.make(&settings).err().map(|why| why.to_string()),
            };
            (tool, off)
        })
        .collect();
    if json {
        let tools: Vec<_> = listed
            .iter()
            .map(|(tool, off)| {
                serde_json::json!({"name": tool.name, "description": tool.description, "parameters": tool.parameters(), "off": off})
            })
            .collect();
        outln!("{}", serde_json::to_string_pretty(&tools).unwrap_or_default());
        return Ok(());
    }
    for (tool, off) in listed {
        match off {
            None => {
                outln!("{}: {}", tool.name, tool.description);
                outln!("  {}", serde_json::to_string(&tool.parameters()).unwrap_or_default());
            }
            Some(why) => outln!("{}: off: {why}", tool.name),
        }
    }
    Ok(())
}

fn where_from(config: &Config) -> String {
    match config.path() {
        Some(path) => format!("config {}", path.display()),
        None => "no config file".into(),
    }
}

/// The `config` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum ConfigCommand {
    /// Prints which file the configuration comes from (or where it is looked for).
    Path,
    /// Prints the configuration as read.
    Show,
    /// Writes a starting configuration to the user's config folder (or FILE), never over an
    /// existing one, and says what to do next.
    Init {
        /// Where to write it (default: the config folder's anymodel/config.toml).
        file: Option<PathBuf>,
    },
}

/// Runs a `config` subcommand.
pub fn config(context: &Context, command: ConfigCommand) -> Outcome {
    match command {
        ConfigCommand::Path => {
            match context.config.path() {
                Some(path) => outln!("{}", path.display()),
                None => {
                    let looked: Vec<String> =
                        Config::search_path().iter().map(|p| p.display().to_string()).collect();
                    outln!("no config file (looked at $ANYMODEL_CONFIG, {})", looked.join(", "));
                }
            }
            Ok(())
        }
        ConfigCommand::Show => {
            out!("{}", context.config.to_toml());
            Ok(())
        }
        ConfigCommand::Init { file } => {
            let file = match file.or_else(Config::user_path) {
                Some(file) => file,
                None => {
                    return Err(Failure::Usage(
                        "this system has no config folder: name the file, `anymodel config init FILE`"
                            .into(),
                    ));
                }
            };
            if file.exists() {
                return Err(Failure::Usage(format!(
                    "{} exists already; not overwriting it",
                    file.display()
                )));
            }
            let write = || {
                if let Some(folder) = file.parent().filter(|f| !f.as_os_str().is_empty()) {
                    std::fs::create_dir_all(folder)?;
                }
                std::fs::write(&file, TEMPLATE)
            };
            write().map_err(|e| Failure::Run(format!("{}: {e}", file.display())))?;
            outln!("wrote {}", file.display());
            outln!("next:");
            if anymodel::backends::store::default_model().is_none() {
                outln!("  {}", anymodel::backends::store::missing_default_model());
            }
            outln!("  anymodel \"Hello\"            runs the default model (`local`)");
            outln!(
                "  anymodel -m gpt \"Hello\"     runs another (keys from OPENAI_API_KEY, ANTHROPIC_API_KEY, ...)"
            );
            outln!("  anymodel models              lists what the file configures");
            Ok(())
        }
    }
}
