//! Remote embedding models: one [`RemoteEmbedder`] over each provider's [`EmbedWire`] (the
//! path, body and reply of its embeddings API), sharing the chat backends' HTTP client,
//! timeouts, error classes and scrubbing of keys.

use anymodel_core::{Embedder, EmbedderCapabilities, Error, InputKind, Redactor, Result};
use async_trait::async_trait;
use serde_json::Value;

use super::model::Wire;
use super::secret::redactor;
use super::transport::HttpClient;

/// A provider's embeddings API, beside its chat API (the same endpoint, key and model name).
pub trait EmbedWire: Wire {
    /// The most texts one request may carry (the provider's documented limit).
    const MAX_BATCH: usize;

    /// Whether the provider embeds queries and documents differently (it takes the input kind).
    const INPUT_KINDS: bool;

    /// The path of the embeddings endpoint below the API root.
    fn embed_path(&self) -> String;

    /// The body embedding `texts` as `kind`.
    fn embed_body(&self, texts: &[String], kind: InputKind) -> Value;

    /// The vectors in a reply, in the order of the texts sent.
    fn embed_reply(&self, reply: Value) -> Result<Vec<Vec<f32>>>;
}

/// An embedding model behind a remote API: requests split into the provider's batches, each
/// vector checked for the size given at construction.
#[derive(Debug)]
pub struct RemoteEmbedder<W: EmbedWire> {
    name: String,
    dimensions: usize,
    wire: W,
    client: HttpClient,
    redactor: Redactor,
}

impl<W: EmbedWire> RemoteEmbedder<W> {
    /// The model `wire` names, whose vectors have `dimensions` numbers. Connects nothing yet.
    pub fn new(wire: W, dimensions: usize) -> Result<Self> {
        let remote = wire.endpoint();
        let client = HttpClient::new(remote, &wire.embed_path(), wire.auth())?;
        Ok(RemoteEmbedder {
            name: format!("{}:{}", W::PROVIDER.id, wire.model()),
            redactor: redactor(&remote.secrets()),
            dimensions,
            wire,
            client,
        })
    }

    async fn batch(&self, texts: &[String], kind: InputKind) -> Result<Vec<Vec<f32>>> {
        let response = self.client.post(&self.wire.embed_body(texts, kind)).await?;
        let vectors = self.wire.embed_reply(self.client.json(response).await?)?;
        if vectors.len() != texts.len() {
            return Err(Error::invalid_response(format!(
                "{} vectors for {} texts",
                vectors.len(),
                texts.len()
            )));
        }
        if let Some(wrong) = vectors.iter().find(|v| v.len() != self.dimensions) {
            return Err(Error::invalid_response(format!(
                "a vector of {} numbers, where {} were expected (set the embedder's dimensions to the model's)",
                wrong.len(),
                self.dimensions
            )));
        }
        Ok(vectors)
    }
}

#[async_trait]
impl<W: EmbedWire> Embedder for RemoteEmbedder<W> {
    fn name(&self) -> &str {
        &self.name
    }

    fn dimensions(&self) -> usize {
        self.dimensions
    }

    fn capabilities(&self) -> EmbedderCapabilities {
        EmbedderCapabilities::default().input_kinds(W::INPUT_KINDS).max_batch(W::MAX_BATCH)
    }

    async fn embed(&self, texts: &[String], kind: InputKind) -> Result<Vec<Vec<f32>>> {
        let mut vectors = Vec::with_capacity(texts.len());
        for batch in texts.chunks(W::MAX_BATCH) {
            let embedded = self.batch(batch, kind).await.map_err(|e| self.redactor.error(e))?;
            vectors.extend(embedded);
        }
        Ok(vectors)
    }
}

/// The numbers of a JSON array as a vector; anything else is an invalid response.
#[cfg(any(feature = "openai", feature = "cohere", feature = "gemini"))]
pub(crate) fn vector(value: &Value) -> Result<Vec<f32>> {
    value
        .as_array()
        .and_then(|numbers| numbers.iter().map(|n| n.as_f64().map(|n| n as f32)).collect())
        .ok_or_else(|| Error::invalid_response("an embedding is not an array of numbers"))
}
