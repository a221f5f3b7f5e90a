//! `anymodel chat`: a conversation at a prompt, with commands to switch model mid-chat.

use std::path::PathBuf;

use anymodel::{Message, Role};
use rustyline::DefaultEditor;
use rustyline::error::ReadlineError;

use super::logged;
use super::output::outln;
use super::setup::{self, AgentFlags};
use super::{Context, Failure, Outcome, output, run};

/// The arguments of `chat`.
#[derive(Debug, clap::Args)]
pub struct ChatArgs {
    #[command(flatten)]
    pub agent: AgentFlags,
    #[command(flatten)]
    pub continuing: logged::ContinueFlags,
    /// Leave this chat out of the run log.
    #[arg(long)]
    pub no_log: bool,
}

const HELP: &str = "/model NAME  switch model, keeping the conversation (/model alone: which one)
/tools       list the tools the model has
/clear       forget the conversation
/save FILE   save the conversation (and the model's name) as JSON
/load FILE   continue a conversation /save wrote
/exit        leave (or Ctrl-D, or Ctrl-C twice at the prompt)
Ctrl-C while the model answers stops the answer and keeps the conversation.";

/// What `/save` writes and `/load` reads.
#[derive(serde::Serialize, serde::Deserialize)]
struct Saved {
    /// The model the conversation was with, as it was named.
    model: String,
    /// The conversation, without the system prompt.
    messages: Vec<Message>,
}

fn history_file() -> Option<PathBuf> {
    dirs::data_dir().map(|folder| folder.join("anymodel").join("history.txt"))
}

/// Runs `chat`.
pub async fn chat(context: &Context, args: ChatArgs) -> Outcome {
    // Each answer is a run of one conversation in the run log; `-c` goes on with an earlier one.
    let (mut logged_as, mut conversation) = logged::continued(context, args.continuing)?;
    let mut prepared = setup::prepare(context, &args.agent).await?;
    let mut editor =
        DefaultEditor::new().map_err(|e| Failure::Run(format!("the line editor: {e}")))?;
    let history = history_file();
    if let Some(file) = &history {
        let _ = editor.load_history(file);
    }
    output::activity(
        context.quiet,
        format!("chatting with {}; /help lists the commands", prepared.model_name),
    );
    if !conversation.is_empty() {
        output::activity(
            context.quiet,
            format!("(continuing with {} earlier messages)", conversation.len()),
        );
    }
    let mut interrupted = false;
    loop {
        let line = match editor.readline("> ") {
            Ok(line) => line,
            Err(ReadlineError::Interrupted) if interrupted => break,
            Err(ReadlineError::Interrupted) => {
                interrupted = true;
                output::activity(false, "(Ctrl-C again, or Ctrl-D, to leave)");
                continue;
            }
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(Failure::Run(format!("reading input: {e}"))),
        };
        interrupted = false;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let _ = editor.add_history_entry(line);
        if let Some(command) = line.strip_prefix('/') {
            let (name, argument) =
                command.split_once(' ').map_or((command, ""), |(n, a)| (n, a.trim()));
            match name {
                "exit" | "quit" => break,
                "help" => outln!("{HELP}"),
                "clear" => {
                    conversation.clear();
                    logged_as = None;
                    outln!("(conversation cleared)");
                }
                "tools" => {
                    let names = prepared.agent.tools().names();
                    outln!(
                        "{}",
                        if names.is_empty() { "(no tools)".to_string() } else { names.join(", ") }
                    );
                }
                "model" if argument.is_empty() => {
                    outln!("({} — {})", prepared.model_name, prepared.model.name());
                }
                "model" => {
                    if let Err(why) = switch(context, &args, &mut prepared, argument).await {
                        eprintln!("{why}");
                    }
                }
                "save" if !argument.is_empty() => {
                    let saved = Saved {
                        model: prepared.model_name.clone(),
                        messages: conversation.clone(),
                    };
                    let text = serde_json::to_string_pretty(&saved).unwrap_or_default();
                    match std::fs::write(argument, text) {
                        Ok(()) => outln!("(saved {} messages to {argument})", conversation.len()),
                        Err(e) => eprintln!("{argument}: {e}"),
                    }
                }
                "load" if !argument.is_empty() => match load(argument) {
                    Ok(saved) => {
                        if !saved.model.is_empty()
                            && saved.model != prepared.model_name
                            && let Err(why) =
                                switch(context, &args, &mut prepared, &saved.model).await
                        {
                            eprintln!("{why} (staying with {})", prepared.model_name);
                        }
                        conversation = saved.messages;
                        outln!("(loaded {} messages from {argument})", conversation.len());
                    }
                    Err(why) => eprintln!("{why}"),
                },
                _ => eprintln!("unknown command /{command}\n{HELP}"),
            }
            continue;
        }
        let (agent, logged) = logged::agent_for(
            context,
            &prepared.agent,
            logged_as,
            &prepared.model_name,
            line,
            !args.no_log,
        );
        if let Some(logged) = &logged {
            logged_as = Some(logged.conversation);
        }
        conversation.push(Message::user(line));
        let mut shown = String::new();
        let show_reasoning = args.agent.show_reasoning;
        let reply = run::stream(context, &agent, conversation.clone(), &mut shown, show_reasoning);
        let outcome = tokio::select! {
            outcome = reply => Some(outcome),
            _ = tokio::signal::ctrl_c() => None,
        };
        if let Some(logged) = &logged {
            logged.report();
        }
        match outcome {
            Some(Ok(run)) => {
                conversation =
                    run.transcript.into_iter().filter(|m| m.role() != Role::System).collect();
            }
            Some(Err(failure)) => {
                let why = failure.to_string();
                eprintln!("{why}");
                conversation.pop();
            }
            None => {
                // The run is dropped, which stops the model; what it said so far stays.
                if !shown.is_empty() && !shown.ends_with('\n') {
                    outln!();
                }
                output::activity(false, "(stopped)");
                if !shown.is_empty() {
                    conversation.push(Message::assistant(shown));
                }
            }
        }
    }
    if let Some(file) = &history {
        if let Some(folder) = file.parent() {
            let _ = std::fs::create_dir_all(folder);
        }
        let _ = editor.save_history(file);
    }
    Ok(())
}

/// Switches the chat to the model `name`, keeping its agent's settings.
async fn switch(
    context: &Context,
    args: &ChatArgs,
    prepared: &mut setup::Prepared,
    name: &str,
) -> Result<(), String> {
    let model = setup::load_model(context, name).await.map_err(|failure| failure.to_string())?;
    (prepared.agent, prepared.approvals) =
        setup::build_agent(context, &args.agent, model.clone(), prepared.rag.clone())
            .await
            .map_err(|failure| failure.to_string())?;
    prepared.model = model;
    prepared.model_name = name.to_string();
    outln!("(now {name})");
    Ok(())
}

/// A conversation `/save` wrote (or a bare list of messages, as earlier versions wrote).
fn load(file: &str) -> Result<Saved, String> {
    let size = std::fs::metadata(file).map_err(|e| format!("{file}: {e}"))?.len();
    if size > 64 * 1024 * 1024 {
        return Err(format!("{file}: over 64 MiB, not a saved conversation"));
    }
    let text = std::fs::read_to_string(file).map_err(|e| format!("{file}: {e}"))?;
    serde_json::from_str::<Saved>(&text)
        .or_else(|_| {
            serde_json::from_str::<Vec<Message>>(&text)
                .map(|messages| Saved { model: String::new(), messages })
        })
        .map_err(|e| format!("{file}: not a conversation /save wrote: {e}"))
}
