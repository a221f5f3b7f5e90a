//! Embedding models behind one trait, as chat models are behind [`crate::Model`]: an app
//! switches between a local embedder and a remote one by configuration.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::error::Result;

/// What the texts of a request are, for models that embed queries and documents differently
/// (Cohere's `input_type`, Gemini's `task_type`, prompt prefixes of E5 and BGE models); others
/// ignore it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InputKind {
    /// What is searched for.
    Query,
    /// What is searched.
    #[default]
    Document,
}

/// What an embedder does beyond turning texts into vectors, so that callers need not guess.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct EmbedderCapabilities {
    /// Whether it embeds queries and documents differently ([`InputKind`] changes its
    /// vectors): a search must then embed its queries as queries.
    pub input_kinds: bool,
    /// The most texts one request to it carries; [`Embedder::embed`] splits larger calls
    /// itself. `None` when it has no such limit.
    pub max_batch: Option<usize>,
}

impl EmbedderCapabilities {
    /// These capabilities with `input_kinds` as given.
    pub fn input_kinds(mut self, distinguishes: bool) -> Self {
        self.input_kinds = distinguishes;
        self
    }

    /// These capabilities with `max_batch` as given.
    pub fn max_batch(mut self, texts: usize) -> Self {
        self.max_batch = Some(texts);
        self
    }
}

/// A model that turns texts into vectors of a fixed size, for similarity search.
#[async_trait]
pub trait Embedder: Send + Sync {
    /// Its name, as recorded beside the vectors it made (a vector store refuses queries embedded
    /// by another).
    fn name(&self) -> &str;

    /// The size of its vectors.
    fn dimensions(&self) -> usize;

    /// The most tokens of one text it reads; longer texts are cut there (local models) or
    /// refused by the provider. `None` when unknown.
    fn max_input_tokens(&self) -> Option<usize> {
        None
    }

    /// What it does beyond embedding (by default: queries and documents alike, no batch limit).
    fn capabilities(&self) -> EmbedderCapabilities {
        EmbedderCapabilities::default()
    }

    /// The vectors of `texts`, in order, one per text. Implementations batch as their model or
    /// provider allows; callers may pass any number of texts.
    async fn embed(&self, texts: &[String], kind: InputKind) -> Result<Vec<Vec<f32>>>;
}

#[async_trait]
impl<E: Embedder + ?Sized> Embedder for Arc<E> {
    fn name(&self) -> &str {
        (**self).name()
    }

    fn dimensions(&self) -> usize {
        (**self).dimensions()
    }

    fn max_input_tokens(&self) -> Option<usize> {
        (**self).max_input_tokens()
    }

    fn capabilities(&self) -> EmbedderCapabilities {
        (**self).capabilities()
    }

    async fn embed(&self, texts: &[String], kind: InputKind) -> Result<Vec<Vec<f32>>> {
        (**self).embed(texts, kind).await
    }
}

/// The cosine similarity of two vectors of the same size (0 when either is all zeros).
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let (mut dot, mut aa, mut bb) = (0.0f32, 0.0f32, 0.0f32);
    for (x, y) in a.iter().zip(b) {
        dot += x * y;
        aa += x * x;
        bb += y * y;
    }
    if aa == 0.0 || bb == 0.0 { 0.0 } else { dot / (aa.sqrt() * bb.sqrt()) }
}

/// An embedder without a model: each word of a text (lowercased, split at what is not a letter
/// or digit) hashed into one of `dimensions` buckets, the counts normalised. Texts that share
/// words are near. For tests and examples that need vectors without a model file or a
/// provider; it counts the texts it has embedded, to check what a cache spared.
#[derive(Debug)]
pub struct WordHashEmbedder {
    name: String,
    dimensions: usize,
    embedded: AtomicUsize,
}

impl WordHashEmbedder {
    /// An embedder named `name`, of vectors of `dimensions` (at least 1).
    pub fn new(name: impl Into<String>, dimensions: usize) -> Self {
        WordHashEmbedder { name: name.into(), dimensions: dimensions.max(1), embedded: 0.into() }
    }

    /// How many texts it has embedded.
    pub fn embedded(&self) -> usize {
        self.embedded.load(Ordering::SeqCst)
    }

    fn vector(&self, text: &str) -> Vec<f32> {
        let mut vector = vec![0f32; self.dimensions];
        for word in text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()) {
            // FNV-1a: stable across runs and platforms, unlike std's hasher.
            let hash = word.to_lowercase().bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
            });
            vector[(hash % self.dimensions as u64) as usize] += 1.0;
        }
        let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
        if norm > 0.0 {
            vector.iter_mut().for_each(|x| *x /= norm);
        }
        vector
    }
}

#[async_trait]
impl Embedder for WordHashEmbedder {
    fn name(&self) -> &str {
        &self.name
    }

    fn dimensions(&self) -> usize {
        self.dimensions
    }

    async fn embed(&self, texts: &[String], _kind: InputKind) -> Result<Vec<Vec<f32>>> {
        self.embedded.fetch_add(texts.len(), Ordering::SeqCst);
        Ok(texts.iter().map(|text| self.vector(text)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_hashes_put_texts_that_share_words_near() {
        let embedder = WordHashEmbedder::new("words", 64);
        let texts =
            ["Descale the kettle", "the KETTLE descale", "warranty terms", ""].map(String::from);
        let vectors =
            futures::executor::block_on(embedder.embed(&texts, InputKind::Document)).unwrap();
        assert!((cosine(&vectors[0], &vectors[1]) - 1.0).abs() < 1e-6);
        assert!(cosine(&vectors[0], &vectors[2]) < 0.5);
        assert!(vectors[3].iter().all(|x| *x == 0.0));
        assert_eq!(embedder.embedded(), 4);
    }

    #[test]
    fn cosine_of_parallel_and_orthogonal_vectors() {
        assert!((super::cosine(&[1.0, 2.0], &[2.0, 4.0]) - 1.0).abs() < 1e-6);
        assert_eq!(super::cosine(&[1.0, 0.0], &[0.0, 3.0]), 0.0);
        assert_eq!(super::cosine(&[0.0, 0.0], &[1.0, 1.0]), 0.0);
    }
}
