//! Models named in configuration: a backend and its options, and the model built from them.
//! Also the inline names a command line accepts without any configuration: `ID:MODEL` for each
//! provider of the [`providers`](crate::providers) table (`openai:gpt-4o-mini`,
//! `ollama:llama3.2`), or a path to a `.gguf` file.

use std::path::PathBuf;
use std::sync::Arc;

use anymodel_core::{Error, Model, Result};

pub use crate::providers::Api;
use crate::providers::{Provider, provider};

/// One model: which backend runs it and how to reach or load it.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelSpec {
    /// A local GGUF file run in-process by candle.
    Local {
        /// The file (or `hf:OWNER/REPO/FILE`).
        path: PathBuf,
        /// `cpu`, `cuda`, `cuda:N` or `metal`.
        device: Option<String>,
        /// Threads of the model's own pool.
        threads: Option<usize>,
        /// The most tokens of prompt and reply together.
        context_size: Option<usize>,
        /// The key-value cache type: `f16` (default) or `q8_0`.
        kv_cache: Option<String>,
    },
    /// A model behind an API.
    Remote {
        /// The wire format.
        api: Api,
        /// The model's name on the server.
        model: String,
        /// The API root; the provider's own when `None`.
        base_url: Option<String>,
        /// The environment variable holding the key; `None` for none (a local server). The
        /// provider's usual variable is filled in for the provider's own URL.
        api_key_env: Option<String>,
        /// Extra headers.
        headers: Vec<(String, String)>,
        /// The longest the server may stay silent; the client's default (120 s) when `None`.
        timeout: Option<std::time::Duration>,
        /// The longest one call may take, however steadily the server sends; the client's
        /// default (30 minutes) when `None`.
        deadline: Option<std::time::Duration>,
        /// OpenAI's wire: whether it is a reasoning model; from the provider table's names
        /// when `None`.
        reasoning_model: Option<bool>,
        /// Provider options merged into every request's body.
        extra: serde_json::Map<String, serde_json::Value>,
    },
}

impl ModelSpec {
    /// The model an inline name gives, if it is one: `ID:MODEL` for a provider of the table
    /// (its key from the provider's variable, as `OPENAI_API_KEY`; none for a server on one's
    /// own machine, as `ollama:`), or a path ending in `.gguf` (or `hf:OWNER/REPO/FILE.gguf`).
    pub fn inline(name: &str) -> Option<ModelSpec> {
        match name.split_once(':') {
            Some((id, model)) if !model.is_empty() && provider(id).is_some() => {
                let provider = provider(id)?;
                Some(ModelSpec::remote(provider, model, None, None, Vec::new()))
            }
            _ if name.to_ascii_lowercase().ends_with(".gguf") => Some(ModelSpec::Local {
                path: PathBuf::from(name),
                device: None,
                threads: None,
                context_size: None,
                kv_cache: None,
            }),
            _ => None,
        }
    }

    /// `model` on `provider`'s server, or on another at `base_url` that speaks its wire. The
    /// key is read from `api_key_env`; without one, from the provider's usual variable when the
    /// server is the provider's own (another server needs only the key it names).
    pub fn remote(
        provider: &Provider,
        model: &str,
        base_url: Option<String>,
        api_key_env: Option<String>,
        headers: Vec<(String, String)>,
    ) -> ModelSpec {
        let (base_url, api_key_env) = endpoint_of(provider, base_url, api_key_env);
        ModelSpec::Remote {
            api: provider.api,
            model: model.to_string(),
            base_url: Some(base_url),
            api_key_env,
            headers,
            timeout: None,
            deadline: None,
            reasoning_model: None,
            extra: serde_json::Map::new(),
        }
    }

    /// The backend's name: `candle`, or the wire a remote model speaks (`openai`, `anthropic`,
    /// `gemini`, `cohere`).
    pub fn backend(&self) -> &'static str {
        match self {
            ModelSpec::Local { .. } => "candle",
            ModelSpec::Remote { api, .. } => api.feature(),
        }
    }

    /// Where the model is: its file, or its server.
    pub fn location(&self) -> String {
        match self {
            ModelSpec::Local { path, .. } => path.display().to_string(),
            ModelSpec::Remote { api, base_url, .. } => {
                base_url.clone().unwrap_or_else(|| api.home().base_url.to_string())
            }
        }
    }

    /// Loads or connects the model, bare: retries, fallbacks and routers are layers its caller
    /// puts around it in the order it chooses (the config does, per entry). A key that is
    /// needed but not set is a configuration error naming the variable to set.
    /// Loading a local model reads its file on the calling thread.
    pub async fn build(&self) -> Result<Arc<dyn Model>> {
        match self {
            ModelSpec::Local { path, device, threads, context_size, kv_cache } => {
                local(path, device.as_deref(), *threads, *context_size, kv_cache.as_deref()).await
            }
            ModelSpec::Remote {
                api,
                model,
                base_url,
                api_key_env,
                headers,
                timeout,
                deadline,
                reasoning_model,
                extra,
            } => {
                let endpoint = Endpoint {
                    base_url: base_url.as_deref(),
                    key: api_key_env.as_deref(),
                    headers,
                    timeout: *timeout,
                    deadline: *deadline,
                    reasoning_model: *reasoning_model,
                    extra,
                };
                remote(*api, model, endpoint)
            }
        }
    }
}

#[cfg(feature = "candle")]
async fn local(
    path: &std::path::Path,
    device: Option<&str>,
    threads: Option<usize>,
    context_size: Option<usize>,
    kv_cache: Option<&str>,
) -> Result<Arc<dyn Model>> {
    use crate::candle::{LocalConfig, LocalModel};
    use crate::hub::resolve_model;
    let resolved = resolve_model(&path.to_string_lossy()).await?;
    let mut config = LocalConfig::new(resolved);
    if let Some(device) = device {
        config.device = device.parse()?;
    }
    config.threads = threads;
    config.context_size = context_size;
    if let Some(kind) = kv_cache {
        config.kv_cache = kind.parse().map_err(Error::config)?;
    }
    Ok(Arc::new(LocalModel::load(config)?))
}

#[cfg(not(feature = "candle"))]
async fn local(
    path: &std::path::Path,
    _: Option<&str>,
    _: Option<usize>,
    _: Option<usize>,
    _: Option<&str>,
) -> Result<Arc<dyn Model>> {
    Err(Error::config(format!(
        "{} is a local model, and this build has no `candle` feature",
        path.display()
    )))
}

/// Where a remote model is and how to reach it, as a spec gives it.
#[cfg_attr(not(feature = "http"), allow(dead_code))]
struct Endpoint<'a> {
    base_url: Option<&'a str>,
    key: Option<&'a str>,
    headers: &'a [(String, String)],
    timeout: Option<std::time::Duration>,
    deadline: Option<std::time::Duration>,
    /// Read by OpenAI's wire alone.
    #[cfg_attr(not(feature = "openai"), allow(dead_code))]
    reasoning_model: Option<bool>,
    extra: &'a serde_json::Map<String, serde_json::Value>,
}

#[cfg(feature = "http")]
fn remote(api: Api, model: &str, endpoint: Endpoint<'_>) -> Result<Arc<dyn Model>> {
    use crate::http::{RemoteModel, Wire};

    fn build<W: Wire>(mut wire: W, endpoint: Endpoint<'_>) -> Result<Arc<dyn Model>> {
        if let Some(url) = endpoint.base_url {
            wire = wire.base_url(url);
        }
        if let Some(variable) = endpoint.key {
            wire = wire.api_key_env(variable)?;
        }
        for (name, value) in endpoint.headers {
            wire = wire.header(name, value);
        }
        if let Some(timeout) = endpoint.timeout {
            wire = wire.timeout(timeout);
        }
        if let Some(deadline) = endpoint.deadline {
            wire = wire.deadline(deadline);
        }
        for (key, value) in endpoint.extra {
            wire = wire.extra(key, value.clone());
        }
        Ok(Arc::new(RemoteModel::new(wire)?))
    }
    match api {
        #[cfg(feature = "openai")]
        Api::OpenAi => {
            let mut wire = crate::openai::OpenAiConfig::new(model);
            if let Some(reasoning) = endpoint.reasoning_model {
                wire = wire.reasoning_model(reasoning);
            }
            build(wire, endpoint)
        }
        #[cfg(feature = "anthropic")]
        Api::Anthropic => build(crate::anthropic::AnthropicConfig::new(model), endpoint),
        #[cfg(feature = "gemini")]
        Api::Gemini => build(crate::gemini::GeminiConfig::new(model), endpoint),
        #[cfg(feature = "cohere")]
        Api::Cohere => build(crate::cohere::CohereConfig::new(model), endpoint),
        #[allow(unreachable_patterns)]
        other => Err(missing_feature(other, model)),
    }
}

#[cfg(not(feature = "http"))]
fn remote(api: Api, model: &str, _: Endpoint<'_>) -> Result<Arc<dyn Model>> {
    Err(missing_feature(api, model))
}

/// The API root and key variable of an endpoint of `provider`: those given, else the
/// provider's root, with its usual key variable only when the endpoint is the provider's own.
pub(crate) fn endpoint_of(
    provider: &Provider,
    base_url: Option<String>,
    api_key_env: Option<String>,
) -> (String, Option<String>) {
    let api_key_env =
        api_key_env.or_else(|| base_url.is_none().then(|| provider.key_env.map(str::to_string))?);
    (base_url.unwrap_or_else(|| provider.base_url.to_string()), api_key_env)
}

/// The error for `model` of a wire this build left out.
pub(crate) fn missing_feature(api: Api, model: &str) -> Error {
    let feature = api.feature();
    Error::config(format!(
        "{model} needs the `{feature}` backend, and this build has no `{feature}` feature"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_names_give_their_backend() {
        let spec = ModelSpec::inline("ollama:llama3.2").unwrap();
        assert_eq!(
            (spec.backend(), spec.location()),
            ("openai", "http://localhost:11434/v1".to_string())
        );
        let Some(ModelSpec::Remote { api_key_env, base_url, .. }) = ModelSpec::inline("groq:x")
        else {
            panic!()
        };
        assert_eq!(api_key_env.as_deref(), Some("GROQ_API_KEY"));
        assert_eq!(base_url.as_deref(), Some("https://api.groq.com/openai/v1"));
        assert_eq!(ModelSpec::inline("anthropic:claude-x").unwrap().backend(), "anthropic");
        assert_eq!(ModelSpec::inline("models/x.Q4_1.gguf").unwrap().backend(), "candle");
        assert_eq!(ModelSpec::inline("openai:"), None);
        assert_eq!(ModelSpec::inline("fast"), None);
        assert_eq!(ModelSpec::inline("bard:x"), None);
    }
}
