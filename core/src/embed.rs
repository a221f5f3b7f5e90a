//! Embedding models behind one trait, as chat models are behind [`crate::Model`]: an app
//! switches between a local embedder and a remote one by configuration.

use std::sync::Arc;

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

#[cfg(test)]
mod tests {
    #[test]
    fn cosine_of_parallel_and_orthogonal_vectors() {
        assert!((super::cosine(&[1.0, 2.0], &[2.0, 4.0]) - 1.0).abs() < 1e-6);
        assert_eq!(super::cosine(&[1.0, 0.0], &[0.0, 3.0]), 0.0);
        assert_eq!(super::cosine(&[0.0, 0.0], &[1.0, 1.0]), 0.0);
    }
}
