//! `anymodel resume ID`: goes on with a logged run that stopped before its end (its process was
//! killed, its model failed, or it paused for approval of a tool call: `--approve`, `--deny`)
//! from where its last step left it, with the same agent; the steps done are not taken again,
//! nor their tool calls made again.

use std::sync::Arc;

use anymodel::{Message, RunCheckpoint};

use super::logged::{self, Logged};
use super::setup::{self, AgentFlags};
use super::{Context, Failure, Outcome, run};

/// The arguments of `resume`.
#[derive(Debug, clap::Args)]
pub struct ResumeArgs {
    /// The run's id, as `anymodel logs` lists it.
    pub id: i64,
    /// Approve the tool calls the run paused for.
    #[arg(long, conflicts_with = "deny")]
    pub approve: bool,
    /// Deny the tool calls the run paused for: the model is told they were not approved.
    #[arg(long)]
    pub deny: bool,
    /// Show a reasoning model's thinking on standard error as it streams.
    #[arg(long)]
    pub show_reasoning: bool,
}

/// Runs `resume`.
pub async fn resume(context: &Context, args: ResumeArgs) -> Outcome {
    let log = Arc::new(logged::open(context)?);
    let resumable = log.resumable(args.id).map_err(|e| Failure::Usage(e.to_string()))?;
    if resumable.outcome == "answered" {
        return Err(Failure::Usage(format!(
            "run {} was answered: nothing to resume (anymodel logs show {} shows it; anymodel run -c goes on with its conversation)",
            args.id, args.id
        )));
    }
    let mut flags: AgentFlags = match resumable.agent {
        Some(value) => serde_json::from_value(value).map_err(|e| {
            Failure::Usage(format!(
                "run {} records an agent this anymodel cannot read: {e}",
                args.id
            ))
        })?,
        None => AgentFlags::default(),
    };
    flags.model.get_or_insert(resumable.model.clone());
    flags.show_reasoning |= args.show_reasoning;
    let prepared = setup::prepare(context, &flags).await?;
    let waiting: Vec<String> = resumable
        .checkpoint
        .pending
        .iter()
        .flat_map(|reply| reply.message.tool_calls.iter().map(|call| call.id.clone()))
        .collect();
    if let Some(approvals) = &prepared.approvals
        && (args.approve || args.deny)
    {
        approvals.decide(waiting, args.approve);
    }
    let checkpoint = if resumable.checkpoint.transcript.is_empty() {
        // Stopped before its first step was logged: it starts again from its prompt.
        let prompt = log.run(args.id).map_err(|e| Failure::Run(e.to_string()))?.summary.prompt;
        prepared.agent.checkpoint_for(vec![Message::user(prompt)])
    } else {
        resumable.checkpoint
    };
    let logged = Logged::attach(log, resumable.ids);
    let agent = logged.agent(&prepared.agent);
    let outcome = go_on(context, &agent, checkpoint, flags.show_reasoning).await;
    logged.report();
    outcome.map_err(|failure| failure.resumable(Some(args.id)))
}

async fn go_on(
    context: &Context,
    agent: &anymodel::Agent,
    checkpoint: RunCheckpoint,
    show_reasoning: bool,
) -> Outcome {
    let events = agent.resume_stream(checkpoint);
    run::show(context, events, &mut String::new(), show_reasoning).await.map(drop)
}
