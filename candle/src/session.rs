//! The two kinds of local model behind one interface: a [`Session`] is a model's weights with the
//! state of the conversation it is in, which [`super::generate`] drives token by token.

use std::collections::HashMap;
use std::path::Path;

use anymodel_core::{Error, Result};
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::llama as hf;

use super::candle_message;
use super::llama::{Cache, Llama};

/// A model with the key-value state of one conversation.
pub(crate) trait Session {
    /// The most positions it can hold.
    fn positions(&self) -> usize;
    /// The tokens whose state it holds.
    fn held(&self) -> &[u32];
    /// Keeps the state of the first `len` held tokens, or less when it cannot cut its state at
    /// any point; returns how many it kept.
    fn keep(&mut self, len: usize) -> Result<usize>;
    /// Makes room for `total` positions, if that helps it.
    fn reserve(&mut self, total: usize) -> Result<()>;
    /// Runs `tokens` after what it holds; the logits of the last one.
    fn forward(&mut self, tokens: &[u32]) -> Result<Tensor>;
}

pub(crate) fn backend(err: candle_core::Error) -> Error {
    Error::Backend { message: format!("local model: {}", candle_message(&err)) }
}

/// A GGUF model with its cache: any prefix can be kept.
pub(crate) struct GgufSession<'a> {
    pub(crate) model: &'a Llama,
    pub(crate) cache: &'a mut Cache,
}

impl Session for GgufSession<'_> {
    fn positions(&self) -> usize {
        self.model.positions()
    }

    fn held(&self) -> &[u32] {
        self.cache.tokens()
    }

    fn keep(&mut self, len: usize) -> Result<usize> {
        self.cache.truncate(len);
        Ok(self.cache.tokens().len())
    }

    fn reserve(&mut self, total: usize) -> Result<()> {
        self.cache.reserve(self.model, total).map_err(backend)
    }

    fn forward(&mut self, tokens: &[u32]) -> Result<Tensor> {
        self.model.forward(tokens, self.cache).map_err(backend)
    }
}

/// A full-precision Llama checkpoint in the Hugging Face layout, run by candle-transformers.
pub(crate) struct Checkpoint {
    model: hf::Llama,
    config: hf::Config,
    dtype: DType,
    device: Device,
}

/// A checkpoint's conversation state. candle-transformers' cache can only grow, so a prompt
/// that does not extend what it holds starts it afresh.
pub(crate) struct CheckpointState {
    cache: hf::Cache,
    tokens: Vec<u32>,
}

impl Checkpoint {
    /// Loads `config.json` and every `*.safetensors` file of `folder`.
    pub(crate) fn load(folder: &Path, device: &Device) -> Result<(Self, hf::LlamaConfig)> {
        let shown = folder.display();
        let config_path = folder.join("config.json");
        let text = std::fs::read_to_string(&config_path)
            .map_err(|err| Error::config(format!("{}: {err}", config_path.display())))?;
        let raw: hf::LlamaConfig = serde_json::from_str(&text)
            .map_err(|err| Error::config(format!("{}: {err}", config_path.display())))?;
        let config = raw.clone().into_config(false);
        let dtype = if device.is_cpu() { DType::F32 } else { DType::F16 };
        let mut shards: Vec<_> = std::fs::read_dir(folder)
            .map_err(|err| Error::config(format!("{shown}: {err}")))?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|path| path.extension().is_some_and(|ext| ext == "safetensors"))
            .collect();
        shards.sort();
        if shards.is_empty() {
            return Err(Error::config(format!("{shown}: no *.safetensors file")));
        }
        let mut tensors = HashMap::new();
        for shard in &shards {
            let bytes = std::fs::read(shard)
                .map_err(|err| Error::config(format!("{}: {err}", shard.display())))?;
            let loaded = candle_core::safetensors::load_buffer(&bytes, device).map_err(|err| {
                Error::config(format!("{}: {}", shard.display(), candle_message(&err)))
            })?;
            tensors.extend(loaded);
        }
        let weights = VarBuilder::from_tensors(tensors, dtype, device);
        let model = hf::Llama::load(weights, &config).map_err(|err| {
            Error::config(format!(
                "{shown}: the weights do not fit config.json: {}",
                candle_message(&err)
            ))
        })?;
        Ok((Checkpoint { model, config, dtype, device: device.clone() }, raw))
    }

    /// The most positions the checkpoint handles.
    pub(crate) fn positions(&self) -> usize {
        self.config.max_position_embeddings
    }

    /// A fresh conversation state.
    pub(crate) fn new_state(&self) -> Result<CheckpointState> {
        let cache =
            hf::Cache::new(true, self.dtype, &self.config, &self.device).map_err(backend)?;
        Ok(CheckpointState { cache, tokens: Vec::new() })
    }
}

/// A checkpoint with its state.
pub(crate) struct CheckpointSession<'a> {
    pub(crate) checkpoint: &'a Checkpoint,
    pub(crate) state: &'a mut CheckpointState,
}

impl Session for CheckpointSession<'_> {
    fn positions(&self) -> usize {
        self.checkpoint.positions()
    }

    fn held(&self) -> &[u32] {
        &self.state.tokens
    }

    fn keep(&mut self, len: usize) -> Result<usize> {
        if len < self.state.tokens.len() {
            *self.state = self.checkpoint.new_state()?;
        }
        Ok(self.state.tokens.len())
    }

    fn reserve(&mut self, _total: usize) -> Result<()> {
        Ok(())
    }

    fn forward(&mut self, tokens: &[u32]) -> Result<Tensor> {
        let input = Tensor::new(tokens, &self.checkpoint.device)
            .and_then(|t| t.unsqueeze(0))
            .map_err(backend)?;
        let start = self.state.tokens.len();
        let logits =
            self.checkpoint.model.forward(&input, start, &mut self.state.cache).map_err(backend)?;
        self.state.tokens.extend_from_slice(tokens);
        logits.squeeze(0).map_err(backend)
    }
}
