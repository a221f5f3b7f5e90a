//! Gemini's `batchEmbedContents`, with the task type that tells queries from documents.

use anymodel_core::{Error, InputKind, Result};
use serde_json::{Value, json};

use super::GeminiConfig;
use crate::http::{EmbedWire, vector};

impl EmbedWire for GeminiConfig {
    /// Gemini takes 100 requests in a batch.
    const MAX_BATCH: usize = 100;
    const INPUT_KINDS: bool = true;

    fn embed_path(&self) -> String {
        format!("models/{}:batchEmbedContents", self.model)
    }

    fn embed_body(&self, texts: &[String], kind: InputKind) -> Value {
        let task = match kind {
            InputKind::Query => "RETRIEVAL_QUERY",
            InputKind::Document => "RETRIEVAL_DOCUMENT",
        };
        let model = format!("models/{}", self.model);
        let requests: Vec<Value> = texts
            .iter()
            .map(|text| json!({"model": model, "content": {"parts": [{"text": text}]}, "taskType": task}))
            .collect();
        json!({"requests": requests})
    }

    /// `embeddings[].values`, one per request in order.
    fn embed_reply(&self, reply: Value) -> Result<Vec<Vec<f32>>> {
        reply["embeddings"]
            .as_array()
            .ok_or_else(|| {
                Error::invalid_response("no `embeddings` in the batchEmbedContents reply")
            })?
            .iter()
            .map(|embedding| vector(&embedding["values"]))
            .collect()
    }
}
