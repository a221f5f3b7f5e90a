//! From names to things: what a model name resolves to, models built with the layers their
//! entries ask for, and agents built with their tools.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use anymodel_backends::embedder_spec::EmbedderSpec;
use anymodel_backends::layers::{Retry, RouterPolicy, Spread};
use anymodel_backends::providers::provider;
use anymodel_backends::spec::ModelSpec;
use anymodel_core::{Agent, AgentBuilder, Embedder, Error, Limits, Model, Sampling};
use anymodel_tools::builtin::HttpLimits;
use anymodel_tools::registry::{self, HttpSettings, ToolSettings};
use toml::Spanned;

use super::{AgentEntry, Config};

/// The state of one [`Config::build_model`]: the fallbacks and routers being built (to catch a
/// loop), and the members built so far, each once.
#[derive(Default)]
struct Building {
    path: Vec<String>,
    built: HashMap<String, Result<Arc<dyn Model>, Error>>,
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
    /// The settings that confine the built-in tools, as `[tools]` gives them, with `index` (a
    /// configured index's name, or a folder) as the one `search_documents` searches, and the
    /// embedder of its vectors when it holds some ([`Config::index_embedder`]).
    pub fn tool_settings(&self, index: Option<&str>) -> Result<ToolSettings, Error> {
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
        let index = index.map(|name| self.index_folder(name));
        let embedder = match &index {
            Some(folder) => self.index_embedder(folder)?,
            None => None,
        };
        Ok(ToolSettings { files_root: tools.files.map(|files| files.root), http, index, embedder })
    }

    /// The embedder whose vectors the index at `folder` holds, loaded by the name it was made
    /// with (a configured `[embedders.NAME]`, a model folder); `None` when the index holds no
    /// vectors, or cannot be opened (its search then says why).
    pub fn index_embedder(&self, folder: &Path) -> Result<Option<Arc<dyn Embedder>>, Error> {
        let Ok(index) = anymodel_tools::index::KnowledgeIndex::open(folder) else {
            return Ok(None);
        };
        let Some(space) = index.searcher().vectors()? else { return Ok(None) };
        let name = space.named.unwrap_or(space.embedder);
        self.build_embedder(Some(&name)).map(Some)
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
    /// `[tools]`, `search_documents` over its index, MCP servers' tools for `mcp:` names) and
    /// its limits. A builder, so that the caller can add what it decides itself (sampling,
    /// tool choice, hooks). The MCP servers it names are started to list their tools.
    pub async fn agent_builder(
        &self,
        entry: &AgentEntry,
        model: Arc<dyn Model>,
    ) -> Result<AgentBuilder, Error> {
        Ok(self.agent_builder_approving(entry, model).await?.0)
    }

    /// [`Config::agent_builder`], with the model's names of the agent's tools that need a
    /// person's approval before each call, as the config's `approve` list says (names, an MCP
    /// server's tools as `mcp:SERVER/TOOL`, or prefixes ending in `*`).
    pub async fn agent_builder_approving(
        &self,
        entry: &AgentEntry,
        model: Arc<dyn Model>,
    ) -> Result<(AgentBuilder, Vec<String>), Error> {
        let settings = self.tool_settings(entry.index.as_deref())?;
        let mut builder = Agent::builder(model);
        let mut approving = Vec::new();
        for name in entry.tool_names() {
            if let Some(selector) = name.strip_prefix("mcp:") {
                let server = selector.split('/').next().unwrap_or(selector);
                for tool in self.mcp_tools(selector).await? {
                    if self.needs_approval(&format!("mcp:{server}/{}", tool.name())) {
                        approving.push(tool.name().to_string());
                    }
                    builder = builder.shared_tool(tool);
                }
                continue;
            }
            if self.needs_approval(&name) {
                approving.push(name.clone());
            }
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
        Ok((builder.limits(limits), approving))
    }

    /// Whether the tool `name` (an MCP server's as `mcp:SERVER/TOOL`) matches the `approve`
    /// list: a name exactly, or a prefix ending in `*`.
    pub(super) fn needs_approval(&self, name: &str) -> bool {
        self.file.approve.iter().any(|pattern| match pattern.strip_suffix('*') {
            Some(prefix) => name.starts_with(prefix),
            None => pattern == name,
        })
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
        self.agent_builder(entry, model).await?.build()
    }

    /// The tools of `mcp:SELECTOR`: `NAME` (the server's permitted tools) or `NAME/TOOL`.
    #[cfg(feature = "mcp")]
    async fn mcp_tools(&self, selector: &str) -> Result<Vec<Arc<dyn anymodel_core::Tool>>, Error> {
        Ok(self.mcp_servers().tools(selector).await?)
    }

    #[cfg(not(feature = "mcp"))]
    async fn mcp_tools(&self, selector: &str) -> Result<Vec<Arc<dyn anymodel_core::Tool>>, Error> {
        Err(Error::config(format!(
            "tool `mcp:{selector}`: this build of anymodel has no MCP; build it with the `mcp` feature"
        )))
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
                let mut spec = ModelSpec::remote(
                    provider,
                    &model,
                    entry.base_url.clone(),
                    entry.api_key_env.clone(),
                    headers,
                );
                if let ModelSpec::Remote { timeout, deadline, reasoning_model, extra, .. } =
                    &mut spec
                {
                    *timeout = entry.timeout_secs.map(std::time::Duration::from_secs);
                    *deadline = entry.deadline_secs.map(std::time::Duration::from_secs);
                    *reasoning_model = entry.reasoning_model;
                    *extra = entry.extra.clone().unwrap_or_default();
                }
                spec
            }
        }))
    }

    /// What the embedder `name` is: a configured one (`[embedders.NAME]`), else a local model
    /// folder (a path, or a name in the models folder), else a provider's model inline
    /// (`openai:text-embedding-3-small`, `ollama:nomic-embed-text`).
    pub fn embedder_spec(&self, name: &str) -> Result<EmbedderSpec, Error> {
        let Some(entry) = self.file.embedders.get(name).map(Spanned::get_ref) else {
            if let Some(folder) = anymodel_backends::store::find(Path::new(name))
                && folder.is_dir()
            {
                return Ok(EmbedderSpec::Local { folder, threads: None });
            }
            if let Some(spec) = EmbedderSpec::inline(name) {
                return spec;
            }
            let known: Vec<&str> = self.file.embedders.keys().map(String::as_str).collect();
            return Err(Error::config(format!(
                "unknown embedder `{name}`: not a model folder, here or in the models folder, nor ID:MODEL of a provider, nor configured as [embedders.NAME] (configured: {})",
                if known.is_empty() { "none".to_string() } else { known.join(", ") }
            )));
        };
        if entry.backend == "local" {
            let Some(path) = &entry.path else {
                return Err(Error::config("a local embedder needs `path`, its model folder"));
            };
            return Ok(EmbedderSpec::Local {
                folder: self.relative(Path::new(path)),
                threads: entry.threads,
            });
        }
        let provider = provider(&entry.backend).ok_or_else(|| {
            Error::config(format!(
                "unknown backend `{}`: `local` or a provider's id",
                entry.backend
            ))
        })?;
        let (Some(model), Some(dimensions)) = (&entry.model, entry.dimensions) else {
            return Err(Error::config(
                "a provider's embedder needs `model` and `dimensions` (the size of its vectors)",
            ));
        };
        Ok(EmbedderSpec::remote(
            provider,
            model,
            entry.base_url.clone(),
            entry.api_key_env.clone(),
            dimensions,
        ))
    }

    /// Builds the embedder `name` ([`Config::embedder_spec`]), or the default local one
    /// (all-MiniLM-L6-v2 from the models folder) when none is named.
    pub fn build_embedder(&self, name: Option<&str>) -> Result<Arc<dyn Embedder>, Error> {
        let spec = match name {
            Some(name) => self.embedder_spec(name)?,
            None => EmbedderSpec::Local {
                folder: anymodel_backends::store::default_embedder().ok_or_else(|| {
                    Error::config(anymodel_backends::store::missing_default_embedder())
                })?,
                threads: None,
            },
        };
        spec.build()
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
        self.build_within(name, &mut Building::default()).await
    }

    fn build_within<'a>(
        &'a self,
        name: &'a str,
        building: &'a mut Building,
    ) -> futures::future::BoxFuture<'a, Result<Arc<dyn Model>, Error>> {
        Box::pin(async move {
            if building.path.iter().any(|b| b == name) {
                return Err(Error::config(format!(
                    "fallback or router models name each other in a loop: {} → {name}",
                    building.path.join(" → ")
                )));
            }
            // A model named by several fallbacks or routers is built once, and shared.
            if let Some(built) = building.built.get(name) {
                return built.clone();
            }
            let built = self.build_one(name, building).await;
            if !building.path.is_empty() {
                building.built.insert(name.to_string(), built.clone());
            }
            built
        })
    }

    async fn build_one(
        &self,
        name: &str,
        building: &mut Building,
    ) -> Result<Arc<dyn Model>, Error> {
        {
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
                None if building.path.is_empty() => {
                    Some(self.file.retry.unwrap_or_default().policy())
                }
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
        }
    }

    /// Builds the members of the fallback or router `name`. A member that cannot be built for
    /// want of configuration (a key not set, a model file not there) is left out with a warning,
    /// so that the others serve; when none can be built, the error names each one's reason.
    async fn build_members(
        &self,
        name: &str,
        names: &[String],
        building: &mut Building,
    ) -> Result<Vec<Arc<dyn Model>>, Error> {
        building.path.push(name.to_string());
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
        building.path.pop();
        if models.is_empty() {
            return Err(Error::config(format!(
                "no model of `{name}` could be built: {}",
                left_out.join("; ")
            )));
        }
        Ok(models)
    }
}
