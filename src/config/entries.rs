//! The file format: what each table of the configuration holds, as serde reads and writes it.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anymodel_backends::layers::RetryPolicy;
use anymodel_core::Sampling;
use serde::{Deserialize, Serialize};
use toml::Spanned;

/// `[models.NAME]`: every option any backend has; which apply is checked per backend.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ModelEntry {
    /// `candle`, a provider's id (`openai`, `anthropic`, `gemini`, `cohere`, `ollama`, `groq`,
    /// ...: the [`PROVIDERS`](anymodel_backends::providers::PROVIDERS) table), `fallback` or
    /// `router`.
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
    /// Remote: the longest the server may stay silent, in seconds (default 120).
    pub timeout_secs: Option<u64>,
    /// Remote: the longest one call may take, in seconds, however steadily the server sends
    /// (default 1800).
    pub deadline_secs: Option<u64>,
    /// Remote, OpenAI's wire: whether the model is a reasoning model (`max_completion_tokens`,
    /// no temperature), when its name does not say so to the provider table.
    pub reasoning_model: Option<bool>,
    /// Remote: provider options merged into every request's body (`service_tier = "flex"`,
    /// vLLM's `top_k`, ...); a request's own win over these.
    pub extra: Option<serde_json::Map<String, serde_json::Value>>,
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
    pub(super) fn set_options(&self) -> Vec<&'static str> {
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
            ("timeout_secs", self.timeout_secs.is_some()),
            ("deadline_secs", self.deadline_secs.is_some()),
            ("reasoning_model", self.reasoning_model.is_some()),
            ("extra", self.extra.is_some()),
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
    /// Its tools, by name: built-in tools, and MCP servers' as `mcp:NAME` (every tool of the
    /// server `[mcp.NAME]` that its `allow` and `deny` permit) or `mcp:NAME/TOOL` (one).
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

/// `[embedders.NAME]`: an embedding model, local (`backend = "local"`, `path` of a
/// sentence-transformers folder) or a provider's (`backend` a provider id, `model`,
/// `dimensions`).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EmbedderEntry {
    /// `local`, or a provider's id (`openai`, `cohere`, `gemini`, `ollama`, ...).
    pub backend: String,
    /// The model folder of a local embedder (or its name in the models folder).
    pub path: Option<String>,
    /// Threads of a local embedder.
    pub threads: Option<usize>,
    /// The provider's model name.
    pub model: Option<String>,
    /// The API root, for a server of one's own.
    pub base_url: Option<String>,
    /// The environment variable holding the key.
    pub api_key_env: Option<String>,
    /// The size of the provider model's vectors.
    pub dimensions: Option<usize>,
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
pub(super) struct File {
    pub(super) default_model: Option<String>,
    /// The tools that need a person's approval before each call: names (`http_get`), an MCP
    /// server's as `mcp:SERVER/TOOL`, or prefixes ending in `*` (`mcp:github/*`).
    #[serde(default)]
    pub(super) approve: Vec<String>,
    pub(super) retry: Option<RetryEntry>,
    #[serde(default)]
    pub(super) models: BTreeMap<String, Spanned<ModelEntry>>,
    #[serde(default)]
    pub(super) agents: BTreeMap<String, Spanned<AgentEntry>>,
    #[serde(default)]
    pub(super) indexes: BTreeMap<String, IndexEntry>,
    #[serde(default)]
    pub(super) tools: ToolsEntry,
    #[serde(default)]
    pub(super) mcp: BTreeMap<String, Spanned<McpEntry>>,
    #[serde(default)]
    pub(super) embedders: BTreeMap<String, Spanned<EmbedderEntry>>,
    /// What models cost per million tokens, by the name runs give them (`gpt`) or as
    /// `PROVIDER:MODEL` (`openai:gpt-4o-mini`).
    #[serde(default)]
    pub(super) prices: BTreeMap<String, Spanned<anymodel_core::Price>>,
}

/// `[mcp.NAME]`: an MCP server whose tools agents name as `mcp:NAME` or `mcp:NAME/TOOL`.
#[cfg(feature = "mcp")]
pub type McpEntry = anymodel_mcp::ServerConfig;

/// `[mcp.NAME]`, kept as written in a build without the `mcp` feature (naming its tools is an
/// error saying so).
#[cfg(not(feature = "mcp"))]
pub type McpEntry = toml::Table;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_agents_tools_are_named_once_with_search_when_it_has_an_index() {
        let entry = AgentEntry {
            tools: vec!["calculator".into(), "read_file".into(), "calculator".into()],
            index: Some("docs".into()),
            ..Default::default()
        };
        assert_eq!(entry.tool_names(), ["calculator", "read_file", "search_documents"]);
    }
}
