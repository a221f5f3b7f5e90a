//! Turning flags and configuration into a model, its tools and an agent: shared by `run` and
//! `chat`.

use std::sync::Arc;

use anymodel::config::AgentEntry;
use anymodel::tools::RetrievalAugmented;
use anymodel::tools::index::{IndexRetriever, KnowledgeIndex, SearchMode};
use anymodel::{Agent, Model, Sampling, ToolChoice};

use super::approval::Approvals;
use super::{Context, Failure, output};

/// What the flags of `run` and `chat` say about the agent (kept with a logged run, so that
/// `anymodel resume` makes the same agent).
#[derive(Debug, Clone, Default, clap::Args, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct AgentFlags {
    /// The model: a name from the config, or inline as PROVIDER:MODEL (`openai:gpt-4o-mini`,
    /// `ollama:llama3.2`; `anymodel --help` lists the providers) or a path to a .gguf file (or its
    /// name in the models folder). Default: $ANYMODEL_MODEL, then the agent's model, then default_model, then
    /// the default local model (SmolLM2-135M-Instruct, fetched by scripts/fetch-model.sh).
    #[arg(short, long, value_name = "MODEL")]
    pub model: Option<String>,
    /// The system prompt (instead of the agent's).
    #[arg(short, long, value_name = "TEXT")]
    pub system: Option<String>,
    /// An agent from the config: its model, system prompt, tools, index and limits.
    #[arg(long, value_name = "NAME")]
    pub agent: Option<String>,
    /// A tool to give the model (repeatable): search_documents, read_file, list_files,
    /// http_get, calculator, current_time, or an MCP server's as mcp:NAME/TOOL.
    #[arg(short = 'T', long = "tool", value_name = "TOOL")]
    pub tools: Vec<String>,
    /// The tools of the MCP server [mcp.NAME] in the config (repeatable): those its allow and
    /// deny lists permit. The server starts for the run and stops after it.
    #[arg(short = 'M', long = "mcp", value_name = "NAME")]
    pub mcp: Vec<String>,
    /// An index (a name from the config, or a folder) to search: adds search_documents.
    #[arg(long, value_name = "NAME|PATH")]
    pub index: Option<String>,
    /// Put the best passages of the index into the prompt (retrieval-augmented) instead of
    /// giving the model the search tool: for models that cannot call tools. Needs --index.
    #[arg(long)]
    pub rag: bool,
    /// The most model calls in one run.
    #[arg(long, value_name = "N")]
    pub max_steps: Option<usize>,
    /// How the model uses its tools at the first step: auto (the default), none, required (it
    /// must call one), or a tool's name (it must call that one). Local models are held to it by
    /// their grammar, so the call is always valid. After tools have run, the model is free to
    /// answer.
    #[arg(long, value_name = "auto|required|none|TOOL")]
    pub tool_choice: Option<String>,
    /// A sampling option, as key=value (repeatable): temperature, top_p, top_k, max_tokens,
    /// seed, stop, and for local models min_p, repetition_penalty, repeat_last_n. Local models
    /// default to the file's recommended settings, else llama.cpp's and Ollama's (temperature
    /// 0.8, top_k 40, top_p 0.95, min_p 0.05, repetition_penalty 1.1 over 64 tokens); greedy is
    /// -o temperature=0.
    #[arg(short = 'o', long = "option", value_name = "KEY=VALUE")]
    pub options: Vec<String>,
    /// How hard a reasoning model thinks: none, minimal, low, medium or high (OpenAI's
    /// reasoning effort; a thinking budget for Anthropic and Gemini).
    #[arg(long, value_name = "EFFORT")]
    pub reasoning_effort: Option<anymodel::ReasoningEffort>,
    /// Show a reasoning model's thinking, dimmed on standard error, as it arrives (hidden by
    /// default; `--json` records it either way).
    #[arg(long)]
    pub show_reasoning: bool,
}

/// An agent ready to run, and the model under it.
pub struct Prepared {
    /// The agent.
    pub agent: Agent,
    /// Its model.
    pub model: Arc<dyn Model>,
    /// The name the model was chosen by.
    pub model_name: String,
    /// The index whose passages go into the prompt, with `--rag`.
    pub rag: Option<Arc<KnowledgeIndex>>,
    /// The approval of the tools the config's `approve` names, when the agent has any.
    pub approvals: Option<Arc<Approvals>>,
}

/// The name of the model the flags and configuration choose: `-m`, else as
/// [`anymodel::config::Config::model_name`] says.
pub fn model_name(context: &Context, flags: &AgentFlags) -> Result<String, Failure> {
    match &flags.model {
        Some(name) => Ok(name.clone()),
        None => Ok(context.config.model_name(agent_entry(context, flags)?)?),
    }
}

fn agent_entry<'a>(
    context: &'a Context,
    flags: &AgentFlags,
) -> Result<Option<&'a AgentEntry>, Failure> {
    match &flags.agent {
        None => Ok(None),
        Some(name) => context.config.agent(name).map(Some).ok_or_else(|| {
            Failure::Usage(format!(
                "unknown agent `{name}`: agents are defined as [agents.NAME] in the config"
            ))
        }),
    }
}

/// Loads the model `name` names, with a spinner for local ones.
pub async fn load_model(context: &Context, name: &str) -> Result<Arc<dyn Model>, Failure> {
    let spinner = output::spinner(context.quiet, format!("loading {name}"));
    let model = context.config.build_model(name).await;
    spinner.finish_and_clear();
    Ok(model?)
}

/// The model, tools and agent the flags and configuration describe.
pub async fn prepare(context: &Context, flags: &AgentFlags) -> Result<Prepared, Failure> {
    let model_name = model_name(context, flags)?;
    let model = load_model(context, &model_name).await?;
    let rag = rag_index(context, flags)?;
    let (agent, approvals) = build_agent(context, flags, model.clone(), rag.clone()).await?;
    Ok(Prepared { agent, model, model_name, rag, approvals })
}

/// The index `--rag` puts into prompts, when asked for.
pub fn rag_index(
    context: &Context,
    flags: &AgentFlags,
) -> Result<Option<Arc<KnowledgeIndex>>, Failure> {
    if !flags.rag {
        return Ok(None);
    }
    let entry = agent_entry(context, flags)?;
    let Some(index) = flags.index.clone().or_else(|| entry.and_then(|a| a.index.clone())) else {
        return Err(Failure::Usage("--rag needs an index: pass --index NAME|PATH".into()));
    };
    Ok(Some(Arc::new(KnowledgeIndex::open(context.config.index_folder(&index))?)))
}

/// An agent over `model` with the tools, prompt, limits and sampling the flags and
/// configuration give: the flags laid over the configured agent, then built as the library
/// builds configured agents. With `rag`, the model gets that index's passages in its prompt in
/// place of the search tool. The tools the config's `approve` names get an approval hook.
pub async fn build_agent(
    context: &Context,
    flags: &AgentFlags,
    model: Arc<dyn Model>,
    rag: Option<Arc<KnowledgeIndex>>,
) -> Result<(Agent, Option<Arc<Approvals>>), Failure> {
    let mut entry = agent_entry(context, flags)?.cloned().unwrap_or_default();
    entry.tools.extend(flags.tools.iter().cloned());
    entry.tools.extend(flags.mcp.iter().map(|name| format!("mcp:{name}")));
    entry.index = flags.index.clone().or(entry.index);
    entry.system = flags.system.clone().or(entry.system);
    entry.max_steps = flags.max_steps.or(entry.max_steps);
    let model: Arc<dyn Model> = match rag {
        Some(index) => {
            // The passages come in the prompt instead of through the tool.
            entry.index = None;
            entry.tools.retain(|t| t != "search_documents");
            let retriever: Arc<dyn anymodel::Retriever> =
                match context.config.index_embedder(index.folder())? {
                    Some(embedder) => {
                        Arc::new(IndexRetriever::new(index, SearchMode::hybrid(), Some(embedder)))
                    }
                    None => index,
                };
            Arc::new(RetrievalAugmented::new(model, retriever))
        }
        None => model,
    };
    let (builder, approving) = context.config.agent_builder_approving(&entry, model).await?;
    let approvals = (!approving.is_empty()).then(|| Arc::new(Approvals::new(approving)));
    let builder = match &approvals {
        Some(approvals) => builder.hook(approvals.clone()),
        None => builder,
    };
    // The names the model calls the tools by (an MCP server's, as listed).
    let tool_names = builder.tool_names();
    // The configured model's own settings travel with it (Config::build_model); these override.
    let sampling = sampling(&flags.options)?;
    let choice = tool_choice(flags.tool_choice.as_deref(), &tool_names)?;
    let builder = match flags.reasoning_effort {
        Some(effort) => builder.reasoning(anymodel::ReasoningOptions::effort(effort)),
        None => builder,
    };
    // A configured agent's name is its runs' (`invoke_agent NAME` spans).
    let builder = match &flags.agent {
        Some(name) => builder.name(name),
        None => builder,
    };
    Ok((builder.sampling(sampling).tool_choice(choice).build()?, approvals))
}

/// What `--tool-choice` says, checked against the tools the agent has.
fn tool_choice(flag: Option<&str>, tools: &[String]) -> Result<ToolChoice, Failure> {
    let choice = match flag {
        None | Some("auto") => return Ok(ToolChoice::Auto),
        Some("none") => return Ok(ToolChoice::None),
        Some("required") => ToolChoice::Required,
        Some(name) if tools.iter().any(|t| t == name) => {
            ToolChoice::Tool { name: name.to_string() }
        }
        Some(name) => {
            return Err(Failure::Usage(format!(
                "--tool-choice {name}: expected auto, required, none or one of the agent's tools ({})",
                if tools.is_empty() {
                    "it has none: add one with -T".into()
                } else {
                    tools.join(", ")
                }
            )));
        }
    };
    if tools.is_empty() {
        return Err(Failure::Usage(
            "--tool-choice required needs a tool to call: add one with -T TOOL".into(),
        ));
    }
    Ok(choice)
}

/// The options `-o` sets.
pub const SAMPLING_OPTIONS: [&str; 9] = [
    "temperature",
    "top_p",
    "top_k",
    "max_tokens",
    "seed",
    "stop",
    "min_p",
    "repetition_penalty",
    "repeat_last_n",
];

/// The sampling options `-o key=value` set (the model's own defaults fill the rest).
pub fn sampling(options: &[String]) -> Result<Sampling, Failure> {
    let mut sampling = Sampling::default();
    for option in options {
        let Some((key, value)) = option.split_once('=') else {
            return Err(Failure::Usage(format!("-o {option}: expected KEY=VALUE")));
        };
        let bad = |e: &dyn std::fmt::Display| Failure::Usage(format!("-o {key}={value}: {e}"));
        match key.trim() {
            "temperature" => sampling.temperature = Some(value.parse().map_err(|e| bad(&e))?),
            "top_p" => sampling.top_p = Some(value.parse().map_err(|e| bad(&e))?),
            "top_k" => sampling.top_k = Some(value.parse().map_err(|e| bad(&e))?),
            "max_tokens" => sampling.max_tokens = Some(value.parse().map_err(|e| bad(&e))?),
            "seed" => sampling.seed = Some(value.parse().map_err(|e| bad(&e))?),
            "stop" => sampling.stop.push(value.to_string()),
            "min_p" => sampling.min_p = Some(value.parse().map_err(|e| bad(&e))?),
            "repetition_penalty" => {
                sampling.repetition_penalty = Some(value.parse().map_err(|e| bad(&e))?);
            }
            "repeat_last_n" => sampling.repeat_last_n = Some(value.parse().map_err(|e| bad(&e))?),
            other => {
                return Err(Failure::Usage(format!(
                    "-o {other}: unknown option; the options are {}",
                    SAMPLING_OPTIONS.join(", ")
                )));
            }
        }
    }
    sampling.validate().map_err(|error| match error {
        anymodel::Error::InvalidRequest { message, .. } => Failure::Usage(format!("-o {message}")),
        other => Failure::Usage(other.to_string()),
    })?;
    Ok(sampling)
}
