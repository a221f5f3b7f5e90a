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
//!
//! [embedders.small]                   # an embedding model: `-e small`
//! backend = "openai"
//! model = "text-embedding-3-small"
//! dimensions = 1536
//!
//! [mcp.files]                         # an MCP server's tools: `mcp:files` in an agent's tools
//! command = "npx"
//! args = ["-y", "@modelcontextprotocol/server-filesystem", "./docs"]
//! deny = ["write_file"]
//! ```
//!
//! It is found at `--config`, `$ANYMODEL_CONFIG`, `./anymodel.toml`, then the user's config
//! folder (`anymodel/config.toml`). Errors name the file, line and key; unknown keys and
//! backends are errors, not ignored.

mod build;
mod check;
mod entries;

use std::path::{Path, PathBuf};

use anymodel_tools::registry;
use toml::Spanned;

pub use build::Resolved;
pub use check::backends;
use entries::File;
pub use entries::{
    AgentEntry, EmbedderEntry, FilesEntry, HttpEntry, IndexEntry, McpEntry, ModelEntry, RetryEntry,
    ToolsEntry,
};

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

/// A loaded configuration (empty when there is no file).
///
/// Clones share its MCP servers: each starts once, on first use, and stops when the last clone
/// (and every tool made from it) is dropped, or at [`Config::stop_mcp_servers`].
#[derive(Debug, Clone, Default)]
pub struct Config {
    path: Option<PathBuf>,
    file: File,
    #[cfg(feature = "mcp")]
    mcp: anymodel_mcp::McpServers,
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
        #[cfg(feature = "mcp")]
        let mcp = {
            let mut entries = Vec::new();
            for (name, entry) in &file.mcp {
                let mut server = entry.get_ref().clone();
                server
                    .check(name)
                    .map_err(|error| at(entry.span(), format!("[mcp.{name}]: {error}")))?;
                // Paths in the file are relative to its folder, as the other entries' are.
                server.cwd = server.cwd.map(|cwd| relative_to(path, &cwd));
                entries.push((name.clone(), server));
            }
            anymodel_mcp::McpServers::new(entries).map_err(|error| at(0..0, error.to_string()))?
        };
        let config = Config {
            path: Some(path.to_path_buf()),
            file,
            #[cfg(feature = "mcp")]
            mcp,
        };
        for (name, entry) in &config.file.models {
            config
                .check_model(name, entry.get_ref())
                .map_err(|message| at(entry.span(), format!("[models.{name}]: {message}")))?;
        }
        for (name, entry) in &config.file.embedders {
            config
                .embedder_spec(name)
                .map_err(|error| at(entry.span(), format!("[embedders.{name}]: {error}")))?;
        }
        for (name, entry) in &config.file.prices {
            let price = entry.get_ref();
            let rates = [price.input, price.output, price.cached_input.unwrap_or(0.0)];
            if rates.iter().any(|rate| !rate.is_finite() || *rate < 0.0) {
                return Err(at(
                    entry.span(),
                    format!("[prices.\"{name}\"]: prices are numbers of zero or more"),
                ));
            }
        }
        for (name, entry) in &config.file.agents {
            let agent = entry.get_ref();
            if let Some(selector) = agent.tools.iter().find_map(|t| t.strip_prefix("mcp:")) {
                let server = selector.split('/').next().unwrap_or_default();
                if !config.file.mcp.contains_key(server) {
                    return Err(at(
                        entry.span(),
                        format!(
                            "[agents.{name}]: tool `mcp:{selector}` names no [mcp.{server}] entry"
                        ),
                    ));
                }
            }
            let unknown = agent
                .tools
                .iter()
                .find(|t| !t.starts_with("mcp:") && registry::builtin(t).is_none());
            if let Some(unknown) = unknown {
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

    /// The file it was read from, if any.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// A path written in the file, taken relative to the file's folder.
    fn relative(&self, path: &Path) -> PathBuf {
        match &self.path {
            Some(file) => relative_to(file, path),
            None => path.to_path_buf(),
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

    /// What the model runs name `model` costs: its entry in `[prices]`, else, for a configured
    /// remote model, the entry of its `PROVIDER:MODEL` (`openai:gpt-4o-mini`).
    pub fn price(&self, model: &str) -> Option<anymodel_core::Price> {
        let price = |name: &str| self.file.prices.get(name).map(|entry| *entry.get_ref());
        price(model).or_else(|| {
            let entry = self.file.models.get(model)?.get_ref();
            price(&format!("{}:{}", entry.backend, entry.model.as_deref()?))
        })
    }

    /// The secrets a record of a run must never hold: the values of every API key variable
    /// the provider table and this configuration name (and the server's key), as set now.
    pub fn secrets(&self) -> anymodel_core::Redactor {
        let providers = anymodel_backends::providers::PROVIDERS.iter().filter_map(|p| p.key_env);
        let models = self.file.models.values().filter_map(|e| e.get_ref().api_key_env.as_deref());
        let embedders =
            self.file.embedders.values().filter_map(|e| e.get_ref().api_key_env.as_deref());
        let variables = providers.chain(models).chain(embedders).chain(["ANYMODEL_SERVER_KEY"]);
        anymodel_core::Redactor::new(variables.filter_map(|name| std::env::var(name).ok()))
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

    /// The configured MCP servers (`[mcp.NAME]`), none started until used.
    #[cfg(feature = "mcp")]
    pub fn mcp_servers(&self) -> &anymodel_mcp::McpServers {
        &self.mcp
    }

    /// Stops the MCP servers that were started, their whole process groups, and reaps them:
    /// before exiting, and at Ctrl-C.
    pub async fn stop_mcp_servers(&self) {
        #[cfg(feature = "mcp")]
        self.mcp.stop().await;
    }

    /// The configuration as TOML.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(&self.file).unwrap_or_default()
    }
}

/// `path`, written in the configuration file `file`, taken relative to the file's folder.
fn relative_to(file: &Path, path: &Path) -> PathBuf {
    match file.parent() {
        Some(folder) if path.is_relative() && !folder.as_os_str().is_empty() => folder.join(path),
        _ => path.to_path_buf(),
    }
}

/// A starting configuration, as `anymodel config init` writes it.
pub const TEMPLATE: &str = include_str!("template.toml");

#[cfg(test)]
mod tests {
    use anymodel_backends::layers::{RouterPolicy, Spread};
    use anymodel_backends::spec::ModelSpec;

    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(Path::new("anymodel.toml"), text)
    }

    #[test]
    fn prices_are_found_by_a_runs_model_name_or_its_provider_and_model() {
        let config = parse(
            "[models.gpt]\nbackend = \"openai\"\nmodel = \"gpt-4o-mini\"\n\
             [prices.\"openai:gpt-4o-mini\"]\ninput = 0.15\noutput = 0.6\ncached_input = 0.075\n\
             [prices.local]\ninput = 0\noutput = 0\n",
        )
        .unwrap();
        let mini = anymodel_core::Price { input: 0.15, output: 0.6, cached_input: Some(0.075) };
        assert_eq!(config.price("gpt"), Some(mini));
        assert_eq!(config.price("openai:gpt-4o-mini"), Some(mini));
        assert_eq!(config.price("local").map(|p| p.output), Some(0.0));
        assert_eq!(config.price("claude"), None);
        let error = parse("\n[prices.gpt]\ninput = -1\noutput = 2\n").unwrap_err();
        assert_eq!(error.line, Some(2));
        assert!(error.to_string().contains("prices"), "{error}");
        let error = parse("[prices.gpt]\ninput = 1\n").unwrap_err();
        assert!(error.to_string().contains("output"), "{error}");
    }

    #[test]
    fn approve_names_tools_exactly_or_by_prefix() {
        let config = parse("approve = [\"http_get\", \"mcp:github/*\"]\n").unwrap();
        assert!(config.needs_approval("http_get"));
        assert!(config.needs_approval("mcp:github/create_issue"));
        assert!(!config.needs_approval("http_get_all"));
        assert!(!config.needs_approval("mcp:time/now"));
    }

    #[test]
    fn the_template_parses() {
        let config = parse(TEMPLATE).unwrap();
        assert!(config.models().count() >= 4);
        assert!(config.default_model().is_some());
    }

    #[test]
    fn the_readme_example_parses() {
        let readme = include_str!("../../README.md");
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

        let error = parse("[models.a]\nbackend = \"openai\"\nmodel = \"x\"\napi_key_env = \"\"\n")
            .unwrap_err();
        assert!(error.message.contains("`api_key_env` is empty"), "{error}");

        let error =
            parse("[models.a]\nbackend = \"openai\"\nmodel = \"x\"\ntop_p = -3.0\n").unwrap_err();
        assert!(error.message.contains("top_p -3: expected more than 0"), "{error}");
        let error =
            parse("[models.a]\nbackend = \"candle\"\npath = \"m.gguf\"\ntemperature = inf\n")
                .unwrap_err();
        assert!(error.message.contains("temperature inf"), "{error}");

        let error = parse("[models.a]\nbackend = \"openai\"\nmodel = 3\n").unwrap_err();
        assert_eq!(error.line, Some(3), "{error}");
    }

    #[test]
    fn provider_options_and_reasoning_models_are_configured_per_model() {
        let config = parse(
            "[models.r]\nbackend = \"openai\"\nmodel = \"my-reasoner\"\nreasoning_model = true\n\
             extra = { service_tier = \"flex\", metadata = { team = \"a\" } }\n",
        )
        .unwrap();
        let Resolved::Single(ModelSpec::Remote { reasoning_model, extra, .. }) =
            config.resolve("r").unwrap()
        else {
            panic!()
        };
        assert_eq!(reasoning_model, Some(true));
        assert_eq!(
            serde_json::Value::Object(extra),
            serde_json::json!({"service_tier": "flex", "metadata": {"team": "a"}})
        );
        let error =
            parse("[models.c]\nbackend = \"anthropic\"\nmodel = \"c\"\nreasoning_model = true\n")
                .unwrap_err();
        assert!(error.message.contains("no option `reasoning_model`"), "{error}");
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

    /// Fallbacks that each name the next level twice, 40 levels deep: 2^40 builds without
    /// sharing; each is built once.
    #[tokio::test]
    async fn a_model_named_many_times_is_built_once() {
        let mut text = String::from("[models.m0]\nbackend = \"ollama\"\nmodel = \"x\"\n");
        for level in 1..=40 {
            let below = level - 1;
            text.push_str(&format!(
                "[models.m{level}]\nbackend = \"fallback\"\nmodels = [\"m{below}\", \"m{below}\"]\n"
            ));
        }
        let config = parse(&text).unwrap();
        let started = std::time::Instant::now();
        let model =
            tokio::time::timeout(std::time::Duration::from_secs(20), config.build_model("m40"))
                .await
                .expect("built in time")
                .unwrap();
        assert!(model.name().starts_with("fallback("), "{}", model.name());
        assert!(started.elapsed() < std::time::Duration::from_secs(20));
    }

    #[tokio::test]
    async fn a_base_url_that_is_not_http_is_a_configuration_error() {
        let config = parse(
            "[models.a]\nbackend = \"openai\"\nmodel = \"x\"\nbase_url = \"ftp://host/v1\"\n",
        )
        .unwrap();
        let error = config.build_model("a").await.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(error.contains("expected an http:// or https:// URL"), "{error}");
    }

    #[cfg(feature = "mcp")]
    #[test]
    fn mcp_entries_are_checked_where_they_are_written() {
        let config = Config::parse(
            Path::new("conf/anymodel.toml"),
            "[mcp.files]\ncommand = \"srv\"\ncwd = \"docs\"\n\n[agents.a]\ntools = [\"mcp:files/read\", \"calculator\"]\n",
        )
        .unwrap();
        let files = config.mcp_servers().get("files").unwrap();
        assert_eq!(files.config().cwd.as_deref(), Some(Path::new("conf/docs")));
        let both = parse("\n[mcp.x]\ncommand = \"a\"\nurl = \"http://b\"\n").unwrap_err();
        assert_eq!(both.line, Some(2));
        assert!(both.message.contains("[mcp.x]") && both.message.contains("not both"), "{both}");
        let unknown = parse("[agents.a]\ntools = [\"mcp:nope\"]\n").unwrap_err();
        assert!(unknown.message.contains("names no [mcp.nope] entry"), "{unknown}");
        let typo = parse("[mcp.x]\ncommand = \"a\"\ntimeout = 3\n").unwrap_err();
        assert!(typo.message.contains("unknown field `timeout`"), "{typo}");
    }

    #[test]
    fn providers_embedding_models_are_named_inline_when_their_size_is_known() {
        use anymodel_backends::embedder_spec::EmbedderSpec;
        let config = parse("").unwrap();
        match config.embedder_spec("openai:text-embedding-3-small").unwrap() {
            EmbedderSpec::Remote { model, dimensions, api_key_env, .. } => {
                assert_eq!((model.as_str(), dimensions), ("text-embedding-3-small", 1536));
                assert_eq!(api_key_env.as_deref(), Some("OPENAI_API_KEY"));
            }
            other => panic!("{other:?}"),
        }
        let unknown = config.embedder_spec("vllm:BAAI/bge-small-en-v1.5").unwrap_err();
        assert!(unknown.to_string().contains("dimensions = N"), "{unknown}");
        let neither = config.embedder_spec("nothing-here").unwrap_err();
        assert!(neither.to_string().contains("nor ID:MODEL of a provider"), "{neither}");
    }
}
