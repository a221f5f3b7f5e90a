//! How the CLI logs its runs: where the log is, whether it is on, a run's logging begun (or
//! skipped with a notice: a run never fails for its log), and the conversation `-c` continues.

use std::path::PathBuf;
use std::sync::Arc;

use anymodel::runlog::{LogHook, RunIds, RunLog};
use anymodel::{Agent, Message};

use super::setup::AgentFlags;
use super::{Context, Failure, output};

/// The variable that moves the log (a file path).
const PATH_VARIABLE: &str = "ANYMODEL_LOG";

/// The log's file: `$ANYMODEL_LOG`, else `$XDG_DATA_HOME/anymodel/logs.db`.
pub fn path() -> Result<PathBuf, Failure> {
    std::env::var_os(PATH_VARIABLE).map(PathBuf::from).or_else(RunLog::default_path).ok_or_else(
        || Failure::Usage(format!("no folder for the run log: set {PATH_VARIABLE} to a file path")),
    )
}

/// The file whose presence turns logging off (`anymodel logs off`): beside the log.
pub fn off_marker(path: &std::path::Path) -> PathBuf {
    let mut name = path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".off");
    path.with_file_name(name)
}

/// Whether runs are logged.
pub fn is_on() -> bool {
    path().is_ok_and(|path| !off_marker(&path).exists())
}

/// Opens the log for reading or continuing.
pub fn open(context: &Context) -> Result<RunLog, Failure> {
    let log = RunLog::open(path()?).map_err(|e| Failure::Run(e.to_string()))?;
    Ok(log.with_redactor(context.config.secrets()))
}

/// The log a server writes each call into: `None` when the log is off, or cannot be opened
/// (said on standard error: the server serves all the same).
#[cfg(feature = "server")]
pub fn for_server(context: &Context) -> Option<Arc<RunLog>> {
    if !is_on() {
        return None;
    }
    match open(context) {
        Ok(log) => Some(Arc::new(log)),
        Err(failure) => {
            output::warning(format!("calls are not logged: {failure}"));
            None
        }
    }
}

/// Which conversation a run continues: the latest (`-c`) or one by id (`--cid`).
#[derive(Debug, Clone, Copy, Default, clap::Args)]
pub struct ContinueFlags {
    /// Continue the latest conversation: the model gets its earlier turns (`-c` after the
    /// command word).
    #[arg(long = "continue")]
    pub latest: bool,
    /// Continue this conversation (its id, as `anymodel logs` shows).
    #[arg(long = "cid", value_name = "ID", conflicts_with = "latest")]
    pub conversation: Option<i64>,
}

/// The conversation `flags` continue and its earlier turns; none when they ask for none.
pub fn continued(
    context: &Context,
    flags: ContinueFlags,
) -> Result<(Option<i64>, Vec<Message>), Failure> {
    if !flags.latest && flags.conversation.is_none() {
        return Ok((None, Vec::new()));
    }
    if !is_on() {
        return Err(Failure::Usage(
            "nothing to continue: the run log is off (anymodel logs on)".into(),
        ));
    }
    let log = open(context)?;
    let conversation = match flags.conversation {
        Some(id) => id,
        None => log.latest_conversation().map_err(|e| Failure::Run(e.to_string()))?.ok_or_else(
            || Failure::Usage("no earlier conversation to continue: the run log is empty".into()),
        )?,
    };
    let messages = log.conversation(conversation).map_err(|e| Failure::Usage(e.to_string()))?;
    Ok((Some(conversation), messages))
}

/// One run's logging.
pub struct Logged {
    log: Arc<RunLog>,
    hook: Arc<LogHook>,
    /// The run's id.
    pub run: i64,
    /// Its conversation's id.
    pub conversation: i64,
}

impl Logged {
    /// Begins logging a run of `model` on `prompt` in `conversation` (a new one when `None`);
    /// `None` when the log is off, or cannot be written (said on standard error: the run goes
    /// on).
    pub fn begin(
        context: &Context,
        conversation: Option<i64>,
        model: &str,
        prompt: &str,
    ) -> Option<Logged> {
        if !is_on() {
            return None;
        }
        let begun = open(context).and_then(|log| {
            let log = Arc::new(log);
            let ids =
                log.begin(conversation, model, prompt).map_err(|e| Failure::Run(e.to_string()))?;
            Ok(Logged::attach(log, ids))
        });
        match begun {
            Ok(logged) => Some(logged),
            Err(failure) => {
                output::warning(format!("this run is not logged: {failure}"));
                None
            }
        }
    }

    /// Logs into the run `ids` of `log` (one begun earlier: a run resumed).
    pub fn attach(log: Arc<RunLog>, ids: RunIds) -> Logged {
        let hook = Arc::new(LogHook::new(log.clone(), ids.run));
        Logged { log, hook, run: ids.run, conversation: ids.conversation }
    }

    /// Keeps the flags the run's agent was made from, for `anymodel resume`.
    pub fn record_agent(&self, flags: &AgentFlags) {
        let recorded = serde_json::to_value(flags)
            .map_err(|e| e.to_string())
            .and_then(|value| self.log.record_agent(self.run, &value).map_err(|e| e.to_string()));
        if let Err(why) = recorded {
            output::warning(format!("run {} cannot be resumed: {why}", self.run));
        }
    }

    /// `agent` logging into this run.
    pub fn agent(&self, agent: &Agent) -> Agent {
        agent.with_hook(self.hook.clone())
    }

    /// Says on standard error if part of the run could not be logged.
    pub fn report(&self) {
        if let Some(failure) = self.hook.failure() {
            output::warning(format!("the run log is missing part of run {}: {failure}", self.run));
        }
    }
}

/// [`Logged::begin`] for an optional run log: the agent to run, and the logging to report on.
pub fn agent_for(
    context: &Context,
    agent: &Agent,
    conversation: Option<i64>,
    model: &str,
    prompt: &str,
    enabled: bool,
) -> (Agent, Option<Logged>) {
    let logged = enabled.then(|| Logged::begin(context, conversation, model, prompt)).flatten();
    let agent = logged.as_ref().map_or_else(|| agent.clone(), |l| l.agent(agent));
    (agent, logged)
}
