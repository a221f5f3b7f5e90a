//! `anymodel chat`: a conversation at a prompt, with commands to switch model mid-chat.

use std::path::PathBuf;

use anymodel::{Message, Role};
use rustyline::DefaultEditor;
use rustyline::error::ReadlineError;

use super::output::outln;
use super::setup::{self, AgentFlags};
use super::{Context, Failure, Outcome, output, run};

/// The arguments of `chat`.
#[derive(Debug, clap::Args)]
pub struct ChatArgs {
    #[command(flatten)]
    pub agent: AgentFlags,
}

const HELP: &str = "/model NAME  switch model, keeping the conversation
/tools       list the tools the model has
/clear       forget the conversation
/save FILE   save the conversation as JSON
/exit        leave (or Ctrl-D)";

fn history_file() -> Option<PathBuf> {
    dirs::data_dir().map(|folder| folder.join("anymodel").join("history.txt"))
}

/// Runs `chat`.
pub async fn chat(context: &Context, args: ChatArgs) -> Outcome {
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
    let mut conversation: Vec<Message> = Vec::new();
    loop {
        let line = match editor.readline("> ") {
            Ok(line) => line,
            Err(ReadlineError::Interrupted) => continue,
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(Failure::Run(format!("reading input: {e}"))),
        };
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
                    outln!("(conversation cleared)");
                }
                "tools" => {
                    let names = prepared.agent.tools().names();
                    outln!(
                        "{}",
                        if names.is_empty() { "(no tools)".to_string() } else { names.join(", ") }
                    );
                }
                "model" if !argument.is_empty() => match setup::load_model(context, argument).await
                {
                    Ok(model) => {
                        prepared.agent = setup::build_agent(
                            context,
                            &args.agent,
                            argument,
                            model.clone(),
                            prepared.rag.clone(),
                        )?;
                        prepared.model = model;
                        prepared.model_name = argument.to_string();
                        outln!("(now {argument})");
                    }
                    Err(Failure::Usage(why) | Failure::Run(why)) => eprintln!("{why}"),
                },
                "save" if !argument.is_empty() => {
                    let text = serde_json::to_string_pretty(&conversation).unwrap_or_default();
                    match std::fs::write(argument, text) {
                        Ok(()) => outln!("(saved {} messages to {argument})", conversation.len()),
                        Err(e) => eprintln!("{argument}: {e}"),
                    }
                }
                _ => eprintln!("unknown command /{command}\n{HELP}"),
            }
            continue;
        }
        conversation.push(Message::user(line));
        match run::stream(context, &prepared.agent, conversation.clone()).await {
            Ok(run) => {
                conversation =
                    run.transcript.into_iter().filter(|m| m.role() != Role::System).collect();
            }
            Err(Failure::Usage(why) | Failure::Run(why)) => {
                eprintln!("{why}");
                conversation.pop();
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
