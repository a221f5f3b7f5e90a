//! Models named in configuration: a backend and its options, and the model built from them.
//! Also the inline names a command line accepts without any configuration:
//! `openai:MODEL`, `anthropic:MODEL`, `ollama:MODEL`, or a path to a `.gguf` file.

use std::path::PathBuf;
use std::sync::Arc;

use anymodel_core::{Error, Model, Result};

/// Ollama's OpenAI-compatible API at its default address.
pub const OLLAMA_BASE_URL: &str = "http://localhost:11434/v1";

/// Which wire format a remote model speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// OpenAI's Chat Completions (OpenAI, Ollama, vLLM, llama-server, ...).
    OpenAi,
    /// Anthropic's Messages API.
    Anthropic,
    /// Google's Gemini API.
    Gemini,
    /// Cohere's Chat API v2.
    Cohere,
}

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
    },
}

impl ModelSpec {
    /// The model an inline name gives, if it is one: `openai:MODEL` (key from
    /// `OPENAI_API_KEY`), `anthropic:MODEL` (`ANTHROPIC_API_KEY`), `ollama:MODEL` (no key, at
    /// [`OLLAMA_BASE_URL`]), or a path ending in `.gguf` (or `hf:OWNER/REPO/FILE.gguf`).
    pub fn inline(name: &str) -> Option<ModelSpec> {
        let remote =
            |api, model: &str, base_url: Option<&str>, key: Option<&str>| ModelSpec::Remote {
                api,
                model: model.to_string(),
                base_url: base_url.map(str::to_string),
                api_key_env: key.map(str::to_string),
                headers: Vec::new(),
            };
        match name.split_once(':') {
            Some(("openai", model)) if !model.is_empty() => {
                Some(remote(Api::OpenAi, model, None, Some("OPENAI_API_KEY")))
            }
            Some(("anthropic", model)) if !model.is_empty() => {
                Some(remote(Api::Anthropic, model, None, Some("ANTHROPIC_API_KEY")))
            }
            Some(("gemini", model)) if !model.is_empty() => {
                Some(remote(Api::Gemini, model, None, Some("GEMINI_API_KEY")))
            }
            Some(("cohere", model)) if !model.is_empty() => {
                Some(remote(Api::Cohere, model, None, Some("COHERE_API_KEY")))
            }
            Some(("ollama", model)) if !model.is_empty() => {
                Some(remote(Api::OpenAi, model, Some(OLLAMA_BASE_URL), None))
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

    /// The backend's name: `candle`, `openai` or `anthropic`.
    pub fn backend(&self) -> &'static str {
        match self {
            ModelSpec::Local { .. } => "candle",
            ModelSpec::Remote { api: Api::OpenAi, .. } => "openai",
            ModelSpec::Remote { api: Api::Anthropic, .. } => "anthropic",
            ModelSpec::Remote { api: Api::Gemini, .. } => "gemini",
            ModelSpec::Remote { api: Api::Cohere, .. } => "cohere",
        }
    }

    /// Where the model is: its file, or its server.
    pub fn location(&self) -> String {
        match self {
            ModelSpec::Local { path, .. } => path.display().to_string(),
            ModelSpec::Remote { api, base_url, .. } => {
                base_url.clone().unwrap_or_else(|| default_base_url(*api).to_string())
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
            ModelSpec::Remote { api, model, base_url, api_key_env, headers } => {
                remote(*api, model, base_url.as_deref(), api_key_env.as_deref(), headers)
            }
        }
    }
}

fn default_base_url(api: Api) -> &'static str {
    match api {
        Api::OpenAi => "https://api.openai.com/v1",
        Api::Anthropic => "https://api.anthropic.com",
        Api::Gemini => "https://generativelanguage.googleapis.com/v1beta",
        Api::Cohere => "https://api.cohere.com/v2",
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
    use crate::candle::{LocalConfig, LocalModel, resolve_model};
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

#[cfg(feature = "http")]
fn remote(
    api: Api,
    model: &str,
    base_url: Option<&str>,
    api_key_env: Option<&str>,
    headers: &[(String, String)],
) -> Result<Arc<dyn Model>> {
    use crate::http::RemoteConfig;

    fn configure<C: RemoteConfig>(
        mut config: C,
        base_url: Option<&str>,
        key: Option<&str>,
        headers: &[(String, String)],
    ) -> Result<C> {
        if let Some(url) = base_url {
            config = config.base_url(url);
        }
        if let Some(variable) = key {
            config = config.api_key_env(variable)?;
        }
        for (name, value) in headers {
            config = config.header(name, value);
        }
        Ok(config)
    }
    match api {
        #[cfg(feature = "openai")]
        Api::OpenAi => {
            let config =
                configure(crate::openai::OpenAiConfig::new(model), base_url, api_key_env, headers)?;
            Ok(Arc::new(crate::openai::OpenAi::new(config)?))
        }
        #[cfg(feature = "anthropic")]
        Api::Anthropic => {
            let config = configure(
                crate::anthropic::AnthropicConfig::new(model),
                base_url,
                api_key_env,
                headers,
            )?;
            Ok(Arc::new(crate::anthropic::Anthropic::new(config)?))
        }
        #[cfg(feature = "gemini")]
        Api::Gemini => {
            let config =
                configure(crate::gemini::GeminiConfig::new(model), base_url, api_key_env, headers)?;
            Ok(Arc::new(crate::gemini::Gemini::new(config)?))
        }
        #[cfg(feature = "cohere")]
        Api::Cohere => {
            let config =
                configure(crate::cohere::CohereConfig::new(model), base_url, api_key_env, headers)?;
            Ok(Arc::new(crate::cohere::Cohere::new(config)?))
        }
        #[allow(unreachable_patterns)]
        other => Err(missing_feature(other, model)),
    }
}

#[cfg(not(feature = "http"))]
fn remote(
    api: Api,
    model: &str,
    _: Option<&str>,
    _: Option<&str>,
    _: &[(String, String)],
) -> Result<Arc<dyn Model>> {
    Err(missing_feature(api, model))
}

fn missing_feature(api: Api, model: &str) -> Error {
    let feature = match api {
        Api::OpenAi => "openai",
        Api::Anthropic => "anthropic",
        Api::Gemini => "gemini",
        Api::Cohere => "cohere",
    };
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
        assert_eq!((spec.backend(), spec.location()), ("openai", OLLAMA_BASE_URL.to_string()));
        assert_eq!(ModelSpec::inline("anthropic:claude-x").unwrap().backend(), "anthropic");
        assert_eq!(ModelSpec::inline("models/x.Q4_1.gguf").unwrap().backend(), "candle");
        assert_eq!(ModelSpec::inline("openai:"), None);
        assert_eq!(ModelSpec::inline("fast"), None);
    }
}
