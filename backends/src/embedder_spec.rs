//! An embedding model as configuration describes it (`[embedders.NAME]`): a local model folder,
//! or a provider's model with its vector size; and the embedder built from it.

use std::path::PathBuf;
use std::sync::Arc;

use anymodel_core::{Embedder, Result};

use crate::providers::{Api, Provider};
use crate::spec::{endpoint_of, missing_feature};

/// What to build for one embedder.
#[derive(Debug, Clone, PartialEq)]
pub enum EmbedderSpec {
    /// A BERT-family model folder in the sentence-transformers layout, run by candle.
    Local {
        /// The folder, or its name in the models folder.
        folder: PathBuf,
        /// Threads (default: one per core).
        threads: Option<usize>,
    },
    /// A provider's embeddings API.
    Remote {
        /// The wire it speaks.
        api: Api,
        /// The model's name there.
        model: String,
        /// The API root.
        base_url: String,
        /// The variable holding its key, if it needs one.
        api_key_env: Option<String>,
        /// The size of its vectors.
        dimensions: usize,
    },
}

impl EmbedderSpec {
    /// `model` of `provider`, with vectors of `dimensions`; the key from `api_key_env`, else
    /// from the provider's usual variable when the endpoint is the provider's own.
    pub fn remote(
        provider: &Provider,
        model: &str,
        base_url: Option<String>,
        api_key_env: Option<String>,
        dimensions: usize,
    ) -> EmbedderSpec {
        let (base_url, api_key_env) = endpoint_of(provider, base_url, api_key_env);
        EmbedderSpec::Remote {
            api: provider.api,
            model: model.to_string(),
            base_url,
            api_key_env,
            dimensions,
        }
    }

    /// The embedder an inline name gives, if it is one: `ID:MODEL` for a provider of the table
    /// whose model's vector size the table knows (an error naming the fix for one it does
    /// not: a configured `[embedders.NAME]` with its `dimensions`).
    pub fn inline(name: &str) -> Option<Result<EmbedderSpec>> {
        let (id, model) = name.split_once(':')?;
        let provider = crate::providers::provider(id).filter(|_| !model.is_empty())?;
        Some(match provider.embedding_dimensions(model) {
            Some(dimensions) => Ok(EmbedderSpec::remote(provider, model, None, None, dimensions)),
            None => Err(anymodel_core::Error::config(format!(
                "{name}: the size of this model's vectors is not known here; configure it as \
                 [embedders.NAME] with backend = \"{id}\", model = \"{model}\" and dimensions = N"
            ))),
        })
    }

    /// Builds the embedder: loads a local model, or checks a remote one's endpoint and key.
    pub fn build(&self) -> Result<Arc<dyn Embedder>> {
        match self {
            EmbedderSpec::Local { folder, threads } => local(folder, *threads),
            EmbedderSpec::Remote { api, model, base_url, api_key_env, dimensions } => {
                remote(*api, model, base_url, api_key_env.as_deref(), *dimensions)
            }
        }
    }
}

#[cfg(feature = "candle")]
fn local(folder: &std::path::Path, threads: Option<usize>) -> Result<Arc<dyn Embedder>> {
    let found = crate::store::find(folder).unwrap_or_else(|| folder.to_path_buf());
    Ok(Arc::new(crate::candle::BertEmbedder::load(&found, threads)?))
}

#[cfg(not(feature = "candle"))]
fn local(folder: &std::path::Path, _: Option<usize>) -> Result<Arc<dyn Embedder>> {
    Err(anymodel_core::Error::config(format!(
        "{} is a local embedding model, and this build has no `candle` feature",
        folder.display()
    )))
}

#[cfg(feature = "http")]
fn remote(
    api: Api,
    model: &str,
    base_url: &str,
    key: Option<&str>,
    dimensions: usize,
) -> Result<Arc<dyn Embedder>> {
    #[allow(unused_imports)]
    use crate::http::{EmbedWire, RemoteConfig, RemoteEmbedder};

    #[allow(dead_code)]
    fn build<W: EmbedWire>(
        mut wire: W,
        base_url: &str,
        key: Option<&str>,
        dimensions: usize,
    ) -> Result<Arc<dyn Embedder>> {
        wire = wire.base_url(base_url);
        if let Some(variable) = key {
            wire = wire.api_key_env(variable)?;
        }
        let embedder = RemoteEmbedder::new(wire, dimensions)?;
        Ok(Arc::new(crate::layers::Retry::new(embedder, crate::layers::RetryPolicy::default())))
    }
    // A build with no embeddings wire (Anthropic's alone) uses none of them.
    #[cfg(not(any(feature = "openai", feature = "gemini", feature = "cohere")))]
    let _ = (base_url, key, dimensions);
    match api {
        #[cfg(feature = "openai")]
        Api::OpenAi => build(crate::openai::OpenAiConfig::new(model), base_url, key, dimensions),
        #[cfg(feature = "gemini")]
        Api::Gemini => build(crate::gemini::GeminiConfig::new(model), base_url, key, dimensions),
        #[cfg(feature = "cohere")]
        Api::Cohere => build(crate::cohere::CohereConfig::new(model), base_url, key, dimensions),
        Api::Anthropic => Err(anymodel_core::Error::config(format!(
            "{model}: Anthropic has no embeddings API (its documentation points to Voyage AI)"
        ))),
        #[allow(unreachable_patterns)]
        other => Err(missing_feature(other, model)),
    }
}

#[cfg(not(feature = "http"))]
fn remote(api: Api, model: &str, _: &str, _: Option<&str>, _: usize) -> Result<Arc<dyn Embedder>> {
    Err(missing_feature(api, model))
}
