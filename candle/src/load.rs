//! Reading a model from disk: a GGUF file, or a Hugging Face checkpoint folder, into its
//! weights, vocabulary, context length and sampling defaults.

use std::fs::File;
use std::io::BufReader;

use anymodel_core::{Error, Result, Sampling};
use candle_core::Device;
use candle_core::quantized::gguf_file;
use candle_transformers::models::llama as hf;

use crate::config::LocalConfig;
use crate::llama::{Cache, Llama, tensor_bytes};
use crate::session::{Checkpoint, CheckpointSession, CheckpointState, GgufSession, Session};
use crate::tokenizer::{Vocabulary, vocabulary_from_gguf};
use crate::{candle_message, defaults};

/// The context length used when the configuration sets none: the model's own, capped so that
/// the rotary tables stay small.
const DEFAULT_CONTEXT_CAP: usize = 8192;

/// The weights and the conversation state of a model, of either kind.
pub(crate) enum Weights {
    Gguf { model: Llama, cache: Cache },
    Checkpoint { checkpoint: Checkpoint, state: CheckpointState },
}

impl Weights {
    /// The model and its state, as one generation uses them.
    pub(crate) fn session(&mut self) -> Box<dyn Session + '_> {
        match self {
            Weights::Gguf { model, cache } => Box::new(GgufSession { model, cache }),
            Weights::Checkpoint { checkpoint, state } => {
                Box::new(CheckpointSession { checkpoint, state })
            }
        }
    }
}

/// What a loader reads: the weights, the vocabulary, the context length, the sampling defaults.
pub(crate) type Loaded = (Weights, Vocabulary, usize, Sampling);

/// Loads a GGUF file.
pub(crate) fn load_gguf(config: &LocalConfig, device: &Device) -> Result<Loaded> {
    let shown = config.path.display().to_string();
    let file = File::open(&config.path).map_err(|err| Error::config(format!("{shown}: {err}")))?;
    let content = read_header(&file, &shown)?;
    let metadata = &content.metadata;
    let architecture = metadata
        .get("general.architecture")
        .and_then(|v| v.to_string().ok())
        .cloned()
        .unwrap_or_default();
    if architecture != "llama" {
        return Err(Error::config(format!(
            "{shown}: architecture `{architecture}` is not supported (this backend runs `llama`)"
        )));
    }
    let vocabulary = vocabulary_from_gguf(metadata, &shown)?;
    let trained = metadata
        .get("llama.context_length")
        .and_then(|v| v.to_u32().ok())
        .map_or(4096, |n| n as usize);
    let positions = config.context_size.unwrap_or(trained.min(DEFAULT_CONTEXT_CAP));
    let model = Llama::from_gguf(&content, &file, device, positions).map_err(|err| {
        Error::config(format!(
            "{shown}: the weights cannot be loaded (is the file truncated?): {}",
            candle_message(&err)
        ))
    })?;
    let cache = model
        .new_cache_of(config.kv_cache)
        .map_err(|err| Error::config(format!("{shown}: {}", candle_message(&err))))?;
    let defaults = defaults::from_gguf(&content.metadata);
    Ok((Weights::Gguf { model, cache }, vocabulary, positions, defaults))
}

/// Reads the header of the GGUF `file` (shown as `shown` in errors) and checks that its
/// tensors lie inside the file and apart.
pub(crate) fn read_header(file: &File, shown: &str) -> Result<gguf_file::Content> {
    // Buffered: the header is read a string at a time, and a Llama 3 vocabulary holds 400,000.
    let mut reader = BufReader::with_capacity(1 << 20, file);
    // candle's reader divides by the header's alignment and sizes vectors from its counts: a
    // crafted header can make it panic, which is caught here and reported as the damage it is.
    let read = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        gguf_file::Content::read(&mut reader)
    }));
    let content = match read {
        Ok(content) => content.map_err(|err| {
            Error::config(format!("{shown} is not a readable GGUF file: {}", candle_message(&err)))
        })?,
        Err(_) => {
            return Err(Error::config(format!(
                "{shown} is not a readable GGUF file: its header is damaged"
            )));
        }
    };
    check_tensor_ranges(&content, file, shown)?;
    Ok(content)
}

/// Checks that every tensor's bytes lie inside the file and apart from every other's: a crafted
/// header could point two tensors at the same bytes, or past the end, and load garbage.
fn check_tensor_ranges(content: &gguf_file::Content, file: &File, shown: &str) -> Result<()> {
    let file_len = file.metadata().map_err(|err| Error::config(format!("{shown}: {err}")))?.len();
    let mut ranges = Vec::with_capacity(content.tensor_infos.len());
    for (name, info) in &content.tensor_infos {
        let dtype = info.ggml_dtype;
        let range =
            tensor_bytes(content, info).and_then(|(start, n)| Some((start, start.checked_add(n)?)));
        match range {
            Some((start, end)) if end <= file_len => ranges.push((start, end, name)),
            _ => {
                return Err(Error::config(format!(
                    "{shown}: the tensor `{name}` ({:?} {dtype:?}, at offset {}) does not fit in the file of {file_len} bytes (is it truncated?)",
                    info.shape.dims(),
                    info.offset
                )));
            }
        }
    }
    ranges.sort();
    for pair in ranges.windows(2) {
        let ((_, end, first), (start, _, second)) = (pair[0], pair[1]);
        if start < end {
            return Err(Error::config(format!(
                "{shown}: the tensors `{first}` and `{second}` overlap in the file: its header is damaged"
            )));
        }
    }
    Ok(())
}

/// A token given in `tokenizer_config.json`, as text or as `{"content": …}`.
fn configured_token(config: &serde_json::Value, key: &str) -> Option<String> {
    let value = config.get(key)?;
    value.as_str().or_else(|| value.get("content").and_then(|c| c.as_str())).map(str::to_string)
}

/// Loads a Hugging Face checkpoint folder.
pub(crate) fn load_checkpoint(config: &LocalConfig, device: &Device) -> Result<Loaded> {
    let folder = &config.path;
    let tokenizer_path = folder.join("tokenizer.json");
    let tokenizer = tokenizers::Tokenizer::from_file(&tokenizer_path)
        .map_err(|err| Error::config(format!("{}: {err}", tokenizer_path.display())))?;
    let settings: serde_json::Value =
        match std::fs::read_to_string(folder.join("tokenizer_config.json")) {
            Ok(text) => serde_json::from_str(&text).map_err(|err| {
                Error::config(format!("{}: {err}", folder.join("tokenizer_config.json").display()))
            })?,
            Err(_) => serde_json::Value::Null,
        };
    let (checkpoint, raw) = Checkpoint::load(folder, device)?;
    let token =
        |text: Option<String>| text.and_then(|t| tokenizer.token_to_id(&t).map(|id| (id, t)));
    let bos = token(configured_token(&settings, "bos_token"))
        .or_else(|| raw.bos_token_id.and_then(|id| tokenizer.id_to_token(id).map(|t| (id, t))));
    let eos_from_config = match &raw.eos_token_id {
        Some(hf::LlamaEosToks::Single(id)) => Some(*id),
        Some(hf::LlamaEosToks::Multiple(ids)) => ids.first().copied(),
        None => None,
    };
    let eos = token(configured_token(&settings, "eos_token"))
        .or_else(|| eos_from_config.and_then(|id| tokenizer.id_to_token(id).map(|t| (id, t))));
    let chat_template = settings.get("chat_template").and_then(|t| t.as_str()).map(str::to_string);
    let positions =
        config.context_size.unwrap_or(checkpoint.positions()).min(checkpoint.positions());
    let state = checkpoint.new_state()?;
    let vocabulary = Vocabulary { tokenizer, bos, eos, add_bos: false, chat_template };
    let generation = std::fs::read_to_string(folder.join("generation_config.json"))
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or(serde_json::Value::Null);
    let defaults = defaults::from_generation_config(&generation);
    Ok((Weights::Checkpoint { checkpoint, state }, vocabulary, positions, defaults))
}
