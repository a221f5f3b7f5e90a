//! OpenAI's embeddings API (`POST /embeddings`), which vLLM, Ollama (`/v1`) and llama-server
//! serve too.

use anymodel_core::{Error, InputKind, Result};
use serde_json::{Value, json};

use super::OpenAiConfig;
use crate::http::{EmbedWire, vector};

impl EmbedWire for OpenAiConfig {
    /// OpenAI takes 2,048 inputs a request.
    const MAX_BATCH: usize = 2048;
    const INPUT_KINDS: bool = false;

    fn embed_path(&self) -> String {
        "embeddings".into()
    }

    /// Floats, not base64, so that every compatible server answers alike; OpenAI's models do
    /// not tell queries from documents.
    fn embed_body(&self, texts: &[String], _kind: InputKind) -> Value {
        json!({"model": self.model, "input": texts, "encoding_format": "float"})
    }

    /// `data[].embedding`, put in `index` order.
    fn embed_reply(&self, reply: Value) -> Result<Vec<Vec<f32>>> {
        let data = reply["data"]
            .as_array()
            .ok_or_else(|| Error::invalid_response("no `data` in the embeddings reply"))?;
        let mut indexed = data
            .iter()
            .enumerate()
            .map(|(at, item)| {
                Ok((item["index"].as_u64().map_or(at, |i| i as usize), vector(&item["embedding"])?))
            })
            .collect::<Result<Vec<_>>>()?;
        indexed.sort_by_key(|(index, _)| *index);
        Ok(indexed.into_iter().map(|(_, v)| v).collect())
    }
}
