//! Cohere's Embed API v2 (`POST /v2/embed`), which tells queries from documents.

use anymodel_core::{Error, InputKind, Result};
use serde_json::{Value, json};

use super::CohereConfig;
use crate::http::{EmbedWire, vector};

impl EmbedWire for CohereConfig {
    /// Cohere takes 96 texts a request.
    const MAX_BATCH: usize = 96;
    const INPUT_KINDS: bool = true;

    fn embed_path(&self) -> String {
        "embed".into()
    }

    fn embed_body(&self, texts: &[String], kind: InputKind) -> Value {
        let input_type = match kind {
            InputKind::Query => "search_query",
            InputKind::Document => "search_document",
        };
        json!({"model": self.model, "texts": texts, "input_type": input_type, "embedding_types": ["float"]})
    }

    /// `embeddings.float`, one per text in order.
    fn embed_reply(&self, reply: Value) -> Result<Vec<Vec<f32>>> {
        reply["embeddings"]["float"]
            .as_array()
            .ok_or_else(|| Error::invalid_response("no `embeddings.float` in the embed reply"))?
            .iter()
            .map(vector)
            .collect()
    }
}
