//! The configuration file: named models, agents, indexes and tool settings, so that switching
//! model is a line of config.
//!
//! ```toml
//! default_model = "local"
//!
//! [models.local]
//! backend = "candle"
//! path = "models/SmolLM2-135M-Instruct.Q4_1.gguf"
//! temperature = 0.2
//!
//! [models.gpt]
//! backend = "openai"
//! model = "gpt-4o-mini"              # key from OPENAI_API_KEY unless api_key_env says otherwise
//!
//! [models.robust]
//! backend = "fallback"
//! models = ["gpt", "local"]
//!
//! [models.pool]                       # requests spread over several servers
//! backend = "router"
//! models = ["gpt", "robust"]
//! spread = "least_in_flight"
//! max_in_flight = 8
//!
//! [agents.docs]
//! model = "local"
//! system = "Answer from the documents and cite them."
//! tools = ["search_documents"]
//! index = "docs"
//!
//! [indexes.docs]
//! folder = ".anymodel/docs-index"
//!
//! [tools.files]
//! root = "."
//!
//! [tools.http]
//! allowed_hosts = ["docs.rs"]
//! ```
//!
//! It is found at `--config`, `$ANYMODEL_CONFIG`, `./anymodel.toml`, then the user's config
//! folder (`anymodel/config.toml`). Errors name the file, line and key; unknown keys and
//! backends are errors, not ignored.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anymodel_backends::layers::{Retry, RetryPolicy, RouterPolicy, Spread};
use anymodel_backends::providers::{PROVIDERS, provider};
use anymodel_backends::spec::ModelSpec;
use anymodel_core::{Agent, AgentBuilder, Error, Limits, Model, Sampling};
use anymodel_tools::builtin::HttpLimits;
use anymodel_tools::registry::{self, HttpSettings, ToolSettings};
use serde::{Deserialize, Serialize};
use toml::Spanned;

/// A configuration error, at a place in a file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{}: {message}", file.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct ConfigError {
    /// The file.
    pub file: PathBuf,
    /// The line, from 1, when known.
    pub line: Option<usize>,
    /// What is wrong, and what was expected.
    pub message: String,
}

/// The backends a model entry may name: `candle`, each provider of the table, `fallback` and
/// `router`.
pub fn backends() -> Vec<&'static str> {
    let providers = PROVIDERS.iter().map(|provider| provider.id);
    std::iter::once("candle").chain(providers).chain(["fallback", "router"]).collect()
}

/// `[models.NAME]`: every option any backend has; which apply is checked per backend.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ModelEntry {
    /// `candle`, a provider's id (`openai`, `anthropic`, `gemini`, `cohere`, `ollama`, `groq`,
    /// ...: the [`PROVIDERS`] table), `fallback` or `router`.
    pub backend: String,
    /// candle: the GGUF file (relative to the config file's folder), or `hf:OWNER/REPO/FILE`.
    pub path: Option<String>,
    /// candle: `cpu`, `cuda`, `cuda:N` or `metal`.
    pub device: Option<String>,
    /// candle: threads of the model's own pool.
    pub threads: Option<usize>,
    /// candle: the most tokens of prompt and reply together.
    pub context_size: Option<usize>,
    /// candle: the key-value cache type, `f16` (default) or `q8_0` (half the memory, CPU only).
    pub kv_cache: Option<String>,
    /// Remote: the model's name on the server.
    pub model: Option<String>,
    /// Remote: the API root.
    pub base_url: Option<String>,
    /// Remote: the environment variable holding the key.
    pub api_key_env: Option<String>,
    /// Remote: extra headers.
    pub headers: Option<BTreeMap<String, String>>,
    /// fallback: the models to try in order; router: the models to spread requests over.
    pub models: Option<Vec<String>>,
    /// router: `round_robin` (the default) or `least_in_flight`.
    pub spread: Option<String>,
    /// router: how long a model that failed is skipped, in seconds (default 30).
    pub cool_down_secs: Option<u64>,
    /// router: the most requests each model serves at once (default: no limit).
    pub max_in_flight: Option<usize>,
    /// Sampling default.
    pub temperature: Option<f64>,
    /// Sampling default.
    pub top_p: Option<f64>,
    /// Sampling default.
    pub top_k: Option<u32>,
    /// Sampling default.
    pub max_tokens: Option<u32>,
    /// Sampling default.
    pub seed: Option<u64>,
    /// Sampling default.
    pub stop: Option<Vec<String>>,
    /// Sampling default (local models): drop tokens below this share of the likeliest.
    pub min_p: Option<f64>,
    /// Sampling default (local models): the penalty on recently generated tokens (1 is none).
    pub repetition_penalty: Option<f64>,
    /// Sampling default (local models): how many recent tokens the penalty looks at.
    pub repeat_last_n: Option<u32>,
    /// Retries of this model's failed calls, wherever it is built (alone, or as a member of a
    /// fallback or router); `max_retries = 0` for none.
    pub retry: Option<RetryEntry>,
}

/// `retry = { ... }`: when and how long to wait before trying a failed call again. The
/// top-level one is the default of the model a command or app asks for; a fallback's or
/// router's members are not retried unless their own entries say so, so that the fallback
/// moves on, and the router cools a member down, at once.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RetryEntry {
    /// Retries after the first try (default 3).
    pub max_retries: Option<u32>,
    /// The wait before the first retry, in milliseconds; it doubles each time (default 500).
    pub base_delay_ms: Option<u64>,
    /// The longest wait, in milliseconds (default 30,000).
    pub max_delay_ms: Option<u64>,
    /// The longest server-requested wait (`retry-after`) honoured, in seconds (default 60).
    pub max_retry_after_secs: Option<u64>,
}

impl RetryEntry {
    /// The policy it describes, the rest as [`RetryPolicy::default`].
    pub fn policy(&self) -> RetryPolicy {
        use std::time::Duration;
        let defaults = RetryPolicy::default();
        RetryPolicy {
            max_retries: self.max_retries.unwrap_or(defaults.max_retries),
            base_delay: self.base_delay_ms.map_or(defaults.base_delay, Duration::from_millis),
            max_delay: self.max_delay_ms.map_or(defaults.max_delay, Duration::from_millis),
            max_retry_after: self
                .max_retry_after_secs
                .map_or(defaults.max_retry_after, Duration::from_secs),
        }
    }
}

impl ModelEntry {
    /// The backend-specific options that are set, by name.
    fn set_options(&self) -> Vec<&'static str> {
        let options = [
            ("path", self.path.is_some()),
            ("device", self.device.is_some()),
            ("threads", self.threads.is_some()),
            ("context_size", self.context_size.is_some()),
            ("kv_cache", self.kv_cache.is_some()),
            ("model", self.model.is_some()),
            ("base_url", self.base_url.is_some()),
            ("api_key_env", self.api_key_env.is_some()),
            ("headers", self.headers.is_some()),
            ("models", self.models.is_some()),
            ("spread", self.spread.is_some()),
            ("cool_down_secs", self.cool_down_secs.is_some()),
            ("max_in_flight", self.max_in_flight.is_some()),
        ];
        options.into_iter().filter(|(_, set)| *set).map(|(name, _)| name).collect()
    }

    /// The sampling defaults it sets.
    pub fn sampling(&self) -> Sampling {
        Sampling {
            temperature: self.temperature,
            top_p: self.top_p,
            top_k: self.top_k,
            max_tokens: self.max_tokens,
            stop: self.stop.clone().unwrap_or_default(),
            seed: self.seed,
            min_p: self.min_p,
            repetition_penalty: self.repetition_penalty,
            repeat_last_n: self.repeat_last_n,
        }
    }
}

/// `[agents.NAME]`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AgentEntry {
    /// The model it runs on (a configured name or an inline one).
    pub model: Option<String>,
    /// Its system prompt.
    pub system: Option<String>,
    /// Its tools, by name.
    #[serde(default)]
    pub tools: Vec<String>,
    /// The index its `search_documents` tool searches (a configured name or a folder).
    pub index: Option<String>,
    /// The most model calls a run may make.
    pub max_steps: Option<usize>,
    /// The most tool calls a run may make.
    pub max_tool_calls: Option<usize>,
}

impl AgentEntry {
    /// Its tools by name, in order and once each: those it lists, and `search_documents` when it
    /// names an index.
    pub fn tool_names(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        let search = self.index.is_some().then(|| "search_documents".to_string());
        for name in self.tools.iter().cloned().chain(search) {
            if !names.contains(&name) {
                names.push(name);
            }
        }
        names
    }
}

/// `[indexes.NAME]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct IndexEntry {
    /// The index's folder (relative to the config file's folder).
    pub folder: PathBuf,
}

/// `[tools.files]`: the folder `read_file` and `list_files` may read.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FilesEntry {
    /// The root folder (relative to the config file's folder).
    pub root: PathBuf,
}

/// `[tools.http]`: where `http_get` may go.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HttpEntry {
    /// Host names, exactly.
    pub allowed_hosts: Vec<String>,
    /// The most bytes of a body (default 512 KiB).
    pub max_bytes: Option<usize>,
    /// The longest a request may take, in seconds (default 20).
    pub timeout_secs: Option<u64>,
}

/// `[tools]`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ToolsEntry {
    /// The file tools' settings; they are off without it.
    pub files: Option<FilesEntry>,
    /// `http_get`'s settings; it is off without it.
    pub http: Option<HttpEntry>,
}

/// The file as written.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct File {
    default_model: Option<String>,
    retry: Option<RetryEntry>,
    #[serde(default)]
    models: BTreeMap<String, Spanned<ModelEntry>>,
    #[serde(default)]
    agents: BTreeMap<String, Spanned<AgentEntry>>,
    #[serde(default)]
    indexes: BTreeMap<String, IndexEntry>,
    #[serde(default)]
    tools: ToolsEntry,
}

/// A loaded configuration (empty when there is no file).
#[derive(Debug, Clone, Default)]
pub struct Config {
    path: Option<PathBuf>,
    file: File,
}

/// A model as configuration resolves a name: one backend's model, or a fallback over others.
#[derive(Debug, Clone, PartialEq)]
pub enum Resolved {
    /// One model.
    Single(ModelSpec),
    /// The first of these that can serve.
    Fallback(Vec<String>),
    /// These, with requests spread over them.
    Router(Vec<String>, anymodel_backends::layers::RouterPolicy),
}

impl Config {
    /// The configuration at `explicit` (which must exist), else at `$ANYMODEL_CONFIG`, else
    /// `./anymodel.toml`, else the user's config folder; an empty one when none exists.
    pub fn load(explicit: Option<&Path>) -> Result<Config, ConfigError> {
        let chosen = match explicit {
            Some(path) => Some(path.to_path_buf()),
            None => match std::env::var_os("ANYMODEL_CONFIG") {
                Some(path) => Some(PathBuf::from(path)),
                None => Self::search_path().into_iter().find(|p| p.is_file()),
            },
        };
        let Some(path) = chosen else { return Ok(Config::default()) };
        let text = std::fs::read_to_string(&path).map_err(|e| ConfigError {
            file: path.clone(),
            line: None,
            message: e.to_string(),
        })?;
        Config::parse(&path, &text)
    }

    /// Where a configuration is looked for when none is named: `./anymodel.toml`, then the
    /// user's config folder.
    pub fn search_path() -> Vec<PathBuf> {
        let mut paths = vec![PathBuf::from("anymodel.toml")];
        paths.extend(Self::user_path());
        paths
    }

    /// The user's configuration file: `anymodel/config.toml` in the config folder
    /// (`$XDG_CONFIG_HOME`, else `~/.config` on Linux).
    pub fn user_path() -> Option<PathBuf> {
        dirs::config_dir().map(|folder| folder.join("anymodel").join("config.toml"))
    }

    /// Parses the configuration text of the file at `path`.
    pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
        let at = |span: std::ops::Range<usize>, message: String| ConfigError {
            file: path.to_path_buf(),
            line: Some(text[..span.start.min(text.len())].matches('\n').count() + 1),
            message,
        };
        let file: File = toml::from_str(text).map_err(|e| match e.span() {
            Some(span) => at(span, e.message().to_string()),
            None => ConfigError {
                file: path.to_path_buf(),
                line: None,
                message: e.message().to_string(),
            },
        })?;
        let config = Config { path: Some(path.to_path_buf()), file };
        for (name, entry) in &config.file.models {
            config
                .check_model(name, entry.get_ref())
                .map_err(|message| at(entry.span(), format!("[models.{name}]: {message}")))?;
        }
        for (name, entry) in &config.file.agents {
            let agent = entry.get_ref();
            if let Some(unknown) = agent.tools.iter().find(|t| registry::builtin(t).is_none()) {
                return Err(at(
                    entry.span(),
                    format!(
                        "[agents.{name}]: unknown tool `{unknown}`; the tools are {}",
                        registry::names().join(", ")
                    ),
                ));
            }
        }
        Ok(config)
    }

    fn check_model(&self, name: &str, entry: &ModelEntry) -> Result<(), String> {
        let allowed: &[&str] = match entry.backend.as_str() {
            "candle" => &["path", "device", "threads", "context_size", "kv_cache"],
            "fallback" => &["models"],
            "router" => &["models", "spread", "cool_down_secs", "max_in_flight"],
            id if provider(id).is_some() => &["model", "base_url", "api_key_env", "headers"],
            other => {
                return Err(format!(
                    "unknown backend `{other}`; expected one of {}",
                    backends().join(", ")
                ));
            }
        };
        if let Some(option) = entry.set_options().into_iter().find(|o| !allowed.contains(o)) {
            return Err(format!(
                "the {} backend has no option `{option}` (its options: {})",
                entry.backend,
                allowed.join(", ")
            ));
        }
        let penalties = entry.sampling().penalties_set();
        if let Some(option) = penalties.first()
            && !["candle", "fallback", "router"].contains(&entry.backend.as_str())
        {
            return Err(format!(
                "`{option}` is a sampling option of local models (backend candle); the {} backend does not take it",
                entry.backend
            ));
        }
        let required = match entry.backend.as_str() {
            "candle" => ("path", entry.path.is_some()),
            "fallback" | "router" => {
                ("models", entry.models.as_ref().is_some_and(|m| !m.is_empty()))
            }
            _ => ("model", entry.model.is_some()),
        };
        if !required.1 {
            return Err(format!("the {} backend needs `{}`", entry.backend, required.0));
        }
        if let Some(spread) =
            entry.spread.as_deref().filter(|s| !["round_robin", "least_in_flight"].contains(s))
        {
            return Err(format!(
                "unknown spread `{spread}`; expected round_robin or least_in_flight"
            ));
        }
        if entry.max_in_flight == Some(0) {
            return Err("max_in_flight must be at least 1".into());
        }
        if let Some(models) = &entry.models {
            for other in models {
                if other == name {
                    return Err(format!("a {} cannot name itself", entry.backend));
                }
                if !self.file.models.contains_key(other) && ModelSpec::inline(other).is_none() {
                    return Err(format!("unknown model `{other}` in `models`"));
                }
            }
        }
        Ok(())
    }

    /// The file it was read from, if any.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// A path written in the file, taken relative to the file's folder.
    fn relative(&self, path: &Path) -> PathBuf {
        match self.path.as_deref().and_then(Path::parent) {
            Some(folder) if path.is_relative() && !folder.as_os_str().is_empty() => {
                folder.join(path)
            }
            _ => path.to_path_buf(),
        }
    }

    /// The model to use when none is named: `$ANYMODEL_MODEL`, else `default_model`.
    pub fn default_model(&self) -> Option<String> {
        std::env::var("ANYMODEL_MODEL")
            .ok()
            .filter(|m| !m.is_empty())
            .or_else(|| self.file.default_model.clone())
    }

    /// The configured models, by name.
    pub fn models(&self) -> impl Iterator<Item = (&str, &ModelEntry)> {
        self.file.models.iter().map(|(name, entry)| (name.as_str(), entry.get_ref()))
    }

    /// The configured agent `name`.
    pub fn agent(&self, name: &str) -> Option<&AgentEntry> {
        self.file.agents.get(name).map(Spanned::get_ref)
    }

    /// The folder of the configured index `name`.
    pub fn index(&self, name: &str) -> Option<PathBuf> {
        self.file.indexes.get(name).map(|entry| self.relative(&entry.folder))
    }

    /// The folder of index `name`: a configured index, or else `name` itself as a folder.
    pub fn index_folder(&self, name: &str) -> PathBuf {
        self.index(name).unwrap_or_else(|| PathBuf::from(name))
    }

    /// The tool settings.
    pub fn tools(&self) -> ToolsEntry {
        let mut tools = self.file.tools.clone();
        if let Some(files) = &mut tools.files {
            files.root = self.relative(&files.root);
        }
        tools
    }

    /// The settings that confine the built-in tools, as `[tools]` gives them, with `index` (a
    /// configured index's name, or a folder) as the one `search_documents` searches.
    pub fn tool_settings(&self, index: Option<&str>) -> ToolSettings {
        let tools = self.tools();
        let http = tools.http.map(|http| {
            let defaults = HttpLimits::default();
            HttpSettings {
                allowed_hosts: http.allowed_hosts,
                limits: HttpLimits {
                    max_bytes: http.max_bytes.unwrap_or(defaults.max_bytes),
                    timeout: http
                        .timeout_secs
                        .map_or(defaults.timeout, std::time::Duration::from_secs),
                },
            }
        });
        ToolSettings {
            files_root: tools.files.map(|files| files.root),
            http,
            index: index.map(|name| self.index_folder(name)),
        }
    }

    /// The model an agent runs on when no one names another: `$ANYMODEL_MODEL`, else the
    /// agent's `model`, else `default_model`, else the default local model from the models
    /// folder (an error saying how to fetch it when it is not there).
    pub fn model_name(&self, agent: Option<&AgentEntry>) -> Result<String, Error> {
        std::env::var("ANYMODEL_MODEL")
            .ok()
            .filter(|m| !m.is_empty())
            .or_else(|| agent.and_then(|a| a.model.clone()))
            .or_else(|| self.default_model())
            .or_else(|| anymodel_backends::store::default_model().map(|p| p.display().to_string()))
            .ok_or_else(|| Error::config(anymodel_backends::store::missing_default_model()))
    }

    /// An agent over `model` as `entry` describes it: its system prompt, its tools (made from
    /// `[tools]`, `search_documents` over its index) and its limits. A builder, so that the
    /// caller can add what it decides itself (sampling, tool choice, hooks).
    pub fn agent_builder(
        &self,
        entry: &AgentEntry,
        model: Arc<dyn Model>,
    ) -> Result<AgentBuilder, Error> {
        let settings = self.tool_settings(entry.index.as_deref());
        let mut builder = Agent::builder(model);
        for name in entry.tool_names() {
            builder = builder.shared_tool(registry::make(&name, &settings)?);
        }
        if let Some(system) = &entry.system {
            builder = builder.system(system.clone());
        }
        let mut limits = Limits::default();
        if let Some(steps) = entry.max_steps {
            limits.max_steps = steps;
        }
        if let Some(calls) = entry.max_tool_calls {
            limits.max_tool_calls = calls;
        }
        Ok(builder.limits(limits))
    }

    /// Builds the agent `[agents.NAME]`: its model (as [`Config::build_model`] builds it, chosen
    /// as [`Config::model_name`] says), system prompt, tools, index and limits; the same agent
    /// the CLI runs with `--agent NAME`.
    pub async fn build_agent(&self, name: &str) -> Result<Agent, Error> {
        let entry = self.agent(name).ok_or_else(|| {
            Error::config(format!(
                "unknown agent `{name}`: agents are defined as [agents.NAME] in the config"
            ))
        })?;
        let model = self.build_model(&self.model_name(Some(entry))?).await?;
        self.agent_builder(entry, model)?.build()
    }

    /// What `name` stands for: a configured model, or an inline name (`openai:MODEL`,
    /// `ollama:MODEL`, any provider's `ID:MODEL`, a `.gguf` path).
    pub fn resolve(&self, name: &str) -> Result<Resolved, Error> {
        let Some(entry) = self.file.models.get(name).map(Spanned::get_ref) else {
            return ModelSpec::inline(name).map(Resolved::Single).ok_or_else(|| {
                let known: Vec<&str> = self.file.models.keys().map(String::as_str).collect();
                let known = if known.is_empty() { "none".to_string() } else { known.join(", ") };
                Error::config(format!(
                    "unknown model `{name}`: the configured models are {known}; or name one inline as {}",
                    anymodel_backends::providers::inline_forms()
                ))
            });
        };
        let headers = entry.headers.clone().unwrap_or_default().into_iter().collect();
        let model = entry.model.clone().unwrap_or_default();
        Ok(Resolved::Single(match entry.backend.as_str() {
            "fallback" => return Ok(Resolved::Fallback(entry.models.clone().unwrap_or_default())),
            "router" => {
                let defaults = RouterPolicy::default();
                let policy = RouterPolicy {
                    spread: match entry.spread.as_deref() {
                        Some("least_in_flight") => Spread::LeastInFlight,
                        _ => Spread::RoundRobin,
                    },
                    cool_down: entry
                        .cool_down_secs
                        .map_or(defaults.cool_down, std::time::Duration::from_secs),
                    max_in_flight: entry.max_in_flight,
                };
                return Ok(Resolved::Router(entry.models.clone().unwrap_or_default(), policy));
            }
            "candle" => ModelSpec::Local {
                path: match entry.path.as_deref().unwrap_or_default() {
                    hub if anymodel_backends::store::is_hub_name(hub) => hub.into(),
                    path => self.relative(Path::new(path)),
                },
                device: entry.device.clone(),
                threads: entry.threads,
                context_size: entry.context_size,
                kv_cache: entry.kv_cache.clone(),
            },
            id => {
                let provider = provider(id).ok_or_else(|| {
                    Error::config(format!("[models.{name}]: unknown backend `{id}`"))
                })?;
                ModelSpec::remote(
                    provider,
                    &model,
                    entry.base_url.clone(),
                    entry.api_key_env.clone(),
                    headers,
                )
            }
        }))
    }

    /// The sampling defaults of model `name` (none for inline names).
    pub fn sampling(&self, name: &str) -> Sampling {
        self.file.models.get(name).map(|e| e.get_ref().sampling()).unwrap_or_default()
    }

    /// Builds the model `name` stands for (fallbacks built from their members), with the
    /// sampling settings its entry sets (`temperature`, `max_tokens`, ...) as defaults that a
    /// request's own options override, retried as its entry's `retry` says, else as the
    /// top-level `retry` (on by default). Members are retried only where their entries say.
    pub async fn build_model(&self, name: &str) -> Result<Arc<dyn Model>, Error> {
        self.build_within(name, &mut Vec::new()).await
    }

    fn build_within<'a>(
        &'a self,
        name: &'a str,
        building: &'a mut Vec<String>,
    ) -> futures::future::BoxFuture<'a, Result<Arc<dyn Model>, Error>> {
        Box::pin(async move {
            if building.iter().any(|b| b == name) {
                return Err(Error::config(format!(
                    "fallback or router models name each other in a loop: {} → {name}",
                    building.join(" → ")
                )));
            }
            let model = match self.resolve(name)? {
                Resolved::Single(spec) => spec.build().await?,
                Resolved::Fallback(names) => {
                    let models = self.build_members(name, &names, building).await?;
                    Arc::new(anymodel_backends::layers::Fallback::new(models)?) as Arc<dyn Model>
                }
                Resolved::Router(names, policy) => {
                    let models = self.build_members(name, &names, building).await?;
                    Arc::new(anymodel_backends::layers::Router::new(models, policy)?)
                        as Arc<dyn Model>
                }
            };
            let retry = match self.file.models.get(name).and_then(|e| e.get_ref().retry) {
                Some(own) => Some(own.policy()),
                None if building.is_empty() => Some(self.file.retry.unwrap_or_default().policy()),
                None => None,
            };
            let model = match retry.filter(|policy| policy.max_retries > 0) {
                Some(policy) => Arc::new(Retry::new(model, policy)) as Arc<dyn Model>,
                None => model,
            };
            let defaults = self.sampling(name);
            Ok(if defaults == Sampling::default() {
                model
            } else {
                Arc::new(anymodel_backends::layers::SamplingDefaults::new(model, defaults))
            })
        })
    }

    /// Builds the members of the fallback or router `name`. A member that cannot be built for
    /// want of configuration (a key not set, a model file not there) is left out with a warning,
    /// so that the others serve; when none can be built, the error names each one's reason.
    async fn build_members(
        &self,
        name: &str,
        names: &[String],
        building: &mut Vec<String>,
    ) -> Result<Vec<Arc<dyn Model>>, Error> {
        building.push(name.to_string());
        let mut models = Vec::new();
        let mut left_out = Vec::new();
        for member in names {
            match self.build_within(member, building).await {
                Ok(model) => models.push(model),
                Err(Error::Configuration { message }) if !message.contains("in a loop") => {
                    tracing::warn!(model = %member, error = %message, "left out of `{name}`");
                    left_out.push(format!("{member}: {message}"));
                }
                Err(error) => return Err(error),
            }
        }
        building.pop();
        if models.is_empty() {
            return Err(Error::config(format!(
                "no model of `{name}` could be built: {}",
                left_out.join("; ")
            )));
        }
        Ok(models)
    }

    /// The configuration as TOML.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(&self.file).unwrap_or_default()
    }
}

/// A starting configuration, as `anymodel config init` writes it.
pub const TEMPLATE: &str = include_str!("config_template.toml");

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(Path::new("anymodel.toml"), text)
    }

    #[test]
    fn the_template_parses() {
        let config = parse(TEMPLATE).unwrap();
        assert!(config.models().count() >= 4);
        assert!(config.default_model().is_some());
    }

    #[test]
    fn the_readme_example_parses() {
        let readme = include_str!("../README.md");
        let start = readme.find("```toml\n").unwrap() + "```toml\n".len();
        let end = start + readme[start..].find("```").unwrap();
        let config = parse(&readme[start..end]).unwrap();
        assert_eq!(
            config.resolve("robust").unwrap(),
            Resolved::Fallback(vec!["claude".into(), "vllm".into(), "local".into()])
        );
        assert_eq!(config.agent("docs").unwrap().tools, ["search_documents", "calculator"]);
    }

    #[test]
    fn routers_resolve_with_their_policy() {
        let config = parse(
            "[models.a]\nbackend = \"ollama\"\nmodel = \"x\"\n\
             [models.pool]\nbackend = \"router\"\nmodels = [\"a\", \"ollama:y\"]\nspread = \"least_in_flight\"\ncool_down_secs = 5\nmax_in_flight = 2\n",
        )
        .unwrap();
        let Resolved::Router(names, policy) = config.resolve("pool").unwrap() else { panic!() };
        assert_eq!(names, ["a", "ollama:y"]);
        assert_eq!(
            policy,
            RouterPolicy {
                spread: Spread::LeastInFlight,
                cool_down: std::time::Duration::from_secs(5),
                max_in_flight: Some(2)
            }
        );
        let error = parse(
            "[models.p]\nbackend = \"router\"\nmodels = [\"ollama:y\"]\nspread = \"random\"\n",
        )
        .unwrap_err();
        assert!(error.message.contains("unknown spread `random`"), "{error}");
        let error = parse("[models.p]\nbackend = \"fallback\"\nmodels = [\"ollama:y\"]\nspread = \"round_robin\"\n").unwrap_err();
        assert!(error.message.contains("the fallback backend has no option `spread`"), "{error}");
    }

    #[test]
    fn errors_name_file_line_and_key() {
        let error =
            parse("default_model = \"a\"\n\n[models.a]\nbackend = \"openai\"\nmodle = \"x\"\n")
                .unwrap_err();
        assert_eq!(error.line, Some(5), "{error}");
        assert!(error.to_string().starts_with("anymodel.toml:5: unknown field `modle`"), "{error}");

        let error = parse("[models.a]\nbackend = \"bard\"\nmodel = \"x\"\n").unwrap_err();
        assert_eq!(error.line, Some(1), "{error}");
        assert!(
            error.message.contains("unknown backend `bard`; expected one of candle"),
            "{error}"
        );

        let error = parse("[models.a]\nbackend = \"openai\"\nmodel = \"x\"\npath = \"y.gguf\"\n")
            .unwrap_err();
        assert!(error.message.contains("the openai backend has no option `path`"), "{error}");

        let error = parse("[models.a]\nbackend = \"candle\"\n").unwrap_err();
        assert!(error.message.contains("needs `path`"), "{error}");

        let error =
            parse("\n[models.f]\nbackend = \"fallback\"\nmodels = [\"nope\"]\n").unwrap_err();
        assert_eq!(
            (error.line, error.message.as_str()),
            (Some(2), "[models.f]: unknown model `nope` in `models`")
        );

        let error = parse("[agents.x]\ntools = [\"shell\"]\n").unwrap_err();
        assert!(error.message.contains("unknown tool `shell`"), "{error}");

        let error = parse("[models.a]\nbackend = \"openai\"\nmodel = 3\n").unwrap_err();
        assert_eq!(error.line, Some(3), "{error}");
    }

    #[test]
    fn names_resolve_to_configured_or_inline_models() {
        let config = parse(
            "[models.gpt]\nbackend = \"openai\"\nmodel = \"gpt-4o-mini\"\ntemperature = 0.5\n\
             [models.local]\nbackend = \"openai\"\nmodel = \"m\"\nbase_url = \"http://127.0.0.1:1/v1\"\n\
             [models.both]\nbackend = \"fallback\"\nmodels = [\"gpt\", \"ollama:llama3.2\"]\n",
        )
        .unwrap();
        let Resolved::Single(ModelSpec::Remote { api_key_env, .. }) =
            config.resolve("gpt").unwrap()
        else {
            panic!()
        };
        assert_eq!(api_key_env.as_deref(), Some("OPENAI_API_KEY"));
        let Resolved::Single(ModelSpec::Remote { api_key_env, .. }) =
            config.resolve("local").unwrap()
        else {
            panic!()
        };
        assert_eq!(api_key_env, None, "a server of one's own needs no OpenAI key");
        assert_eq!(
            config.resolve("both").unwrap(),
            Resolved::Fallback(vec!["gpt".into(), "ollama:llama3.2".into()])
        );
        assert_eq!(config.sampling("gpt").temperature, Some(0.5));
        let groq = parse("[models.g]\nbackend = \"groq\"\nmodel = \"llama-3.3-70b\"\n").unwrap();
        let Resolved::Single(ModelSpec::Remote { api_key_env, base_url, .. }) =
            groq.resolve("g").unwrap()
        else {
            panic!()
        };
        assert_eq!(api_key_env.as_deref(), Some("GROQ_API_KEY"), "a provider of the table");
        assert_eq!(base_url.as_deref(), Some("https://api.groq.com/openai/v1"));
        let error = config.resolve("nope").unwrap_err().to_string();
        assert!(
            error.contains("unknown model `nope`: the configured models are both, gpt, local"),
            "{error}"
        );
    }
}
