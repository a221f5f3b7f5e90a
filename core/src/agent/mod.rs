//! The agent: a model, a system prompt, tools and limits, run in a loop in which the model calls
//! tools until it gives an answer.

mod as_model;
mod as_tool;
mod checkpoint;
mod error;
mod event;
mod hook;
mod record;
mod run;
mod typed;

use std::sync::Arc;
use std::time::Duration;

pub use as_model::AgentModel;
pub use as_tool::AgentTool;
pub use checkpoint::RunCheckpoint;
pub use error::{AgentError, AgentErrorKind};
pub use event::AgentEvent;
pub use hook::{AgentHook, ToolDecision};
pub use record::{AgentRun, Step, ToolInvocation};

use crate::error::Result;
use crate::model::Model;
#[cfg(doc)]
use crate::request::CacheTarget;
use crate::request::{CacheBreakpoint, ReasoningOptions, Sampling, ToolChoice};
use crate::tool::Tool;
use crate::toolset::ToolSet;

/// The bounds on one agent run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// The most model calls in a run. Default 10.
    pub max_steps: usize,
    /// The most tool calls in a run, all steps together. Default 50.
    pub max_tool_calls: usize,
    /// How long one tool call may take before it is stopped; `None` for no limit. Default 60 s.
    pub tool_timeout: Option<Duration>,
    /// How many tool calls of one step run at the same time. Default 4.
    pub max_concurrent_tools: usize,
    /// The run stops when the model asks for the same call (same tool, same arguments) this many
    /// times in a row; the last of them does not run. Default 3.
    pub repeated_call_limit: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_steps: 10,
            max_tool_calls: 50,
            tool_timeout: Some(Duration::from_secs(60)),
            max_concurrent_tools: 4,
            repeated_call_limit: 3,
        }
    }
}

/// A model with a system prompt, tools and limits. Build one with [`Agent::builder`], then call
/// [`Agent::run`] or [`Agent::run_stream`] as often as you like; cloning is cheap.
#[derive(Clone)]
pub struct Agent {
    name: Option<String>,
    model: Arc<dyn Model>,
    system: Option<String>,
    tools: ToolSet,
    sampling: Sampling,
    reasoning: Option<ReasoningOptions>,
    cache: Vec<CacheBreakpoint>,
    tool_choice: ToolChoice,
    limits: Limits,
    hooks: Vec<Arc<dyn AgentHook>>,
}

impl std::fmt::Debug for Agent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agent")
            .field("name", &self.name)
            .field("model", &self.model.name())
            .field("system", &self.system)
            .field("tools", &self.tools)
            .field("sampling", &self.sampling)
            .field("reasoning", &self.reasoning)
            .field("cache", &self.cache)
            .field("tool_choice", &self.tool_choice)
            .field("limits", &self.limits)
            .field("hooks", &self.hooks.len())
            .finish()
    }
}

impl Agent {
    /// Starts building an agent around a model (an `Arc<dyn Model>` chosen at run time works).
    pub fn builder(model: impl Model + 'static) -> AgentBuilder {
        AgentBuilder {
            agent: Agent {
                name: None,
                model: Arc::new(model),
                system: None,
                tools: ToolSet::new(),
                sampling: Sampling::default(),
                reasoning: None,
                cache: Vec::new(),
                tool_choice: ToolChoice::Auto,
                limits: Limits::default(),
                hooks: Vec::new(),
            },
            error: None,
        }
    }

    /// The agent's name, if it was given one.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The agent's model.
    pub fn model(&self) -> &dyn Model {
        &*self.model
    }

    /// The agent's tools.
    pub fn tools(&self) -> &ToolSet {
        &self.tools
    }

    /// The agent's limits.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The same agent with one more hook: for what is decided after the agent was built (a
    /// run log for this run, say).
    pub fn with_hook(&self, hook: impl AgentHook + 'static) -> Agent {
        let mut agent = self.clone();
        agent.hooks.push(Arc::new(hook));
        agent
    }
}

/// Builds an [`Agent`]; see [`Agent::builder`].
#[must_use]
pub struct AgentBuilder {
    agent: Agent,
    error: Option<crate::Error>,
}

impl AgentBuilder {
    /// The agent's name: its runs' spans are `invoke_agent {name}` with `gen_ai.agent.name`.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.agent.name = Some(name.into());
        self
    }

    /// The system prompt.
    pub fn system(mut self, prompt: impl Into<String>) -> Self {
        self.agent.system = Some(prompt.into());
        self
    }

    /// Adds a tool. A name clash or a broken schema is reported by [`AgentBuilder::build`].
    pub fn tool(mut self, tool: impl Tool + 'static) -> Self {
        if let Err(err) = self.agent.tools.add(tool) {
            self.error.get_or_insert(err);
        }
        self
    }

    /// Adds a tool shared with other agents.
    pub fn shared_tool(mut self, tool: Arc<dyn Tool>) -> Self {
        if let Err(err) = self.agent.tools.add_shared(tool) {
            self.error.get_or_insert(err);
        }
        self
    }

    /// The names of the tools added so far: what a tool choice may name.
    pub fn tool_names(&self) -> Vec<String> {
        self.agent.tools.names()
    }

    /// Replaces the tools with this set.
    pub fn tools(mut self, tools: ToolSet) -> Self {
        self.agent.tools = tools;
        self
    }

    /// The sampling options of every model call.
    pub fn sampling(mut self, sampling: Sampling) -> Self {
        self.agent.sampling = sampling;
        self
    }

    /// How much a reasoning model thinks at every model call.
    pub fn reasoning(mut self, reasoning: ReasoningOptions) -> Self {
        self.agent.reasoning = Some(reasoning);
        self
    }

    /// Adds a cache breakpoint to every model call: [`CacheTarget::System`] and
    /// [`CacheTarget::Tools`] cache what every call repeats, [`CacheTarget::LastMessage`] the
    /// conversation so far, for the next step to read.
    pub fn cache(mut self, breakpoint: CacheBreakpoint) -> Self {
        self.agent.cache.push(breakpoint);
        self
    }

    /// How the model may use its tools at the first step of a run: `Auto` (the default), `None`,
    /// `Required`, or one named tool. A forced choice holds only until tools have run, then the
    /// model is free again, so that it can answer instead of calling tools until the step limit.
    pub fn tool_choice(mut self, choice: ToolChoice) -> Self {
        self.agent.tool_choice = choice;
        self
    }

    /// The limits of every run.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.agent.limits = limits;
        self
    }

    /// The most model calls in a run.
    pub fn max_steps(mut self, steps: usize) -> Self {
        self.agent.limits.max_steps = steps;
        self
    }

    /// How long one tool call may take; `None` for no limit.
    pub fn tool_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.agent.limits.tool_timeout = timeout;
        self
    }

    /// Adds a hook that watches each step and may refuse tool calls.
    pub fn hook(mut self, hook: impl AgentHook + 'static) -> Self {
        self.agent.hooks.push(Arc::new(hook));
        self
    }

    /// The agent, or the first error met while adding its tools or in its limits
    /// ([`crate::Error::Configuration`]).
    pub fn build(self) -> Result<Agent> {
        if let Some(err) = self.error {
            return Err(err);
        }
        let limits = &self.agent.limits;
        if limits.max_concurrent_tools == 0 {
            return Err(crate::Error::config("limits: max_concurrent_tools must be at least 1"));
        }
        if limits.repeated_call_limit < 2 {
            return Err(crate::Error::config("limits: repeated_call_limit must be at least 2"));
        }
        Ok(self.agent)
    }
}
