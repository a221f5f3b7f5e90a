//! Tools that need a person's approval (`approve = ["http_get", "mcp:github/*"]` in the config):
//! at a terminal the CLI asks; elsewhere the run pauses, is kept in the run log, and the command
//! exits naming `anymodel resume ID --approve` (or `--deny`).

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::Mutex;

use anymodel::{AgentHook, ToolCall, ToolDecision, async_trait};

use super::output;

/// The approval hook of a run: which tools need approval, and how to get it.
#[derive(Debug)]
pub struct Approvals {
    /// The model's names of the tools that need approval.
    tools: Vec<String>,
    /// Whether a person is at a terminal to ask.
    ask: bool,
    /// Decisions already made, by call id (a paused run resumed with `--approve` or `--deny`).
    decided: Mutex<HashMap<String, bool>>,
}

/// The reason a denied call gets, which the model reads.
const DENIED: &str = "the user did not approve this call";

impl Approvals {
    /// Approval for `tools`, asked at the terminal when standard input and error are one.
    pub fn new(tools: Vec<String>) -> Self {
        let ask = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
        Approvals { tools, ask, decided: Mutex::new(HashMap::new()) }
    }

    /// Decides the calls `ids` (those a paused run waits on): approved, or denied.
    pub fn decide(&self, ids: impl IntoIterator<Item = String>, approve: bool) {
        let mut decided = self.decided.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        decided.extend(ids.into_iter().map(|id| (id, approve)));
    }
}

#[async_trait]
impl AgentHook for Approvals {
    async fn before_tool_call(&self, call: &ToolCall) -> ToolDecision {
        if !self.tools.contains(&call.name) {
            return ToolDecision::Allow;
        }
        let decided = self
            .decided
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&call.id)
            .copied();
        let approved = match decided {
            Some(approved) => approved,
            None if self.ask => ask(call).await,
            None => {
                return ToolDecision::Pause {
                    reason: format!("{}({}) needs approval", call.name, call.arguments),
                };
            }
        };
        if approved { ToolDecision::Allow } else { ToolDecision::Deny { reason: DENIED.into() } }
    }
}

/// Asks at the terminal whether `call` may run (anything but `y` or `yes` denies it).
async fn ask(call: &ToolCall) -> bool {
    let question =
        format!("allow {}({})? [y/N] ", call.name, output::short(&call.arguments.to_string(), 200));
    let answer = tokio::task::spawn_blocking(move || {
        output::prompt(&question);
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).map(|_| line)
    })
    .await;
    matches!(answer, Ok(Ok(line)) if matches!(line.trim().to_lowercase().as_str(), "y" | "yes"))
}
