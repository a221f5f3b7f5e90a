//! [`LocalModel`]: a Llama-family model (a GGUF file, or a Hugging Face checkpoint) run
//! in-process by candle, behind the same [`Model`] trait as the hosted APIs.

use std::fs::File;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use anymodel_core::{
    Capabilities, ChatRequest, Error, EventStream, FinishReason, Model, ResponseFormat, Result,
    Sampling, StreamEvent, ToolChoice, ToolSpec, Usage,
};
use async_trait::async_trait;
use candle_core::Device;
use candle_core::quantized::gguf_file;
use futures::stream;
use tokio::sync::mpsc;

use super::constraint::{Grammars, Guide};
use super::family;
use super::generate::{GenerationStats, Params, budget, generate};
use super::llama::{Cache, Llama};
use super::session::{
    Checkpoint, CheckpointSession, CheckpointState, GgufSession, Session as SessionMut,
};
use super::template::ChatTemplate;
use super::tokenizer::{Vocabulary, vocabulary_from_gguf};
use super::tool_calls::ToolCallFilter;
use super::{candle_message, defaults};
use crate::cpu::cache::CacheKind;
use candle_transformers::models::llama as hf;

/// Where a local model runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceChoice {
    /// The CPU (the default).
    Cpu,
    /// The CUDA GPU of this ordinal (build with the `cuda` feature).
    Cuda(usize),
    /// Apple's GPU (build with the `metal` feature).
    Metal,
}

impl std::str::FromStr for DeviceChoice {
    type Err = Error;

    /// `cpu`, `cuda`, `cuda:N` or `metal`.
    fn from_str(text: &str) -> Result<Self> {
        match text.trim() {
            "cpu" => Ok(DeviceChoice::Cpu),
            "metal" => Ok(DeviceChoice::Metal),
            "cuda" => Ok(DeviceChoice::Cuda(0)),
            other => other
                .strip_prefix("cuda:")
                .and_then(|n| n.parse().ok())
                .map(DeviceChoice::Cuda)
                .ok_or_else(|| {
                    Error::config(format!("device `{other}`: expected cpu, cuda, cuda:N or metal"))
                }),
        }
    }
}

impl DeviceChoice {
    fn open(&self) -> Result<Device> {
        let device = match self {
            DeviceChoice::Cpu => return Ok(Device::Cpu),
            DeviceChoice::Cuda(ordinal) => Device::new_cuda(*ordinal),
            DeviceChoice::Metal => Device::new_metal(0),
        };
        device.map_err(|err| Error::config(format!("device {self:?} is not available: {err}")))
    }
}

/// How to load a local model.
#[derive(Debug, Clone)]
pub struct LocalConfig {
    /// The GGUF file.
    pub path: PathBuf,
    /// Where to run it. Default: the CPU.
    pub device: DeviceChoice,
    /// CPU threads of this model's own pool; `None` for one per core. The Q4_1 matrix products
    /// and attention run on it; candle's kernels for other quantisation types use a
    /// process-wide pool instead, sized once from the `CANDLE_NUM_THREADS` environment variable
    /// (default: the physical cores).
    pub threads: Option<usize>,
    /// The most tokens of prompt and reply together; default the model's own context length,
    /// capped at 8,192 so that the rotary tables stay small.
    pub context_size: Option<usize>,
    /// A Hugging Face `tokenizer.json` to use instead of the tokenizer in the GGUF metadata
    /// (the special tokens and chat template still come from the GGUF file).
    pub tokenizer_json: Option<PathBuf>,
    /// How the key-value cache holds keys and values (GGUF models). Default: half precision.
    pub kv_cache: CacheKind,
}

impl LocalConfig {
    /// A model from this GGUF file, on the CPU.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        LocalConfig {
            path: path.into(),
            device: DeviceChoice::Cpu,
            threads: None,
            context_size: None,
            tokenizer_json: None,
            kv_cache: CacheKind::Half,
        }
    }
}

/// The weights and the conversation state of a model, of either kind.
enum Weights {
    Gguf { model: Llama, cache: Cache },
    Checkpoint { checkpoint: Checkpoint, state: CheckpointState },
}

impl Weights {
    fn session(&mut self) -> Box<dyn SessionMut + '_> {
        match self {
            Weights::Gguf { model, cache } => Box::new(GgufSession { model, cache }),
            Weights::Checkpoint { checkpoint, state } => {
                Box::new(CheckpointSession { checkpoint, state })
            }
        }
    }
}

struct Engine {
    weights: Mutex<Weights>,
    positions: usize,
    vocabulary: Vocabulary,
    template: ChatTemplate,
    end_tokens: Vec<u32>,
    /// The sampling used for what a request leaves unset.
    defaults: Sampling,
    last: Mutex<GenerationStats>,
    pool: rayon::ThreadPool,
    /// The vocabulary indexed for constrained decoding, built on first use.
    grammars: std::sync::OnceLock<Result<Grammars>>,
}

/// A local model. Cloning shares the weights and the key-value cache; calls run one at a time.
#[derive(Clone)]
pub struct LocalModel {
    name: String,
    engine: Arc<Engine>,
}

impl std::fmt::Debug for LocalModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalModel").field("name", &self.name).finish()
    }
}

const DEFAULT_CONTEXT_CAP: usize = 8192;

impl LocalModel {
    /// Loads a GGUF file, or a full-precision Llama checkpoint in the Hugging Face layout when
    /// `path` is a folder (`config.json`, `tokenizer.json`, `*.safetensors`). Errors name the
    /// file and what is wrong with it: missing, not GGUF, truncated, an architecture other than
    /// Llama's, a tokenizer that cannot be built.
    pub fn load(config: LocalConfig) -> Result<Self> {
        let device = config.device.open()?;
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(config.threads.unwrap_or(0))
            .build()
            .map_err(|err| Error::config(format!("threads: {err}")))?;
        let (weights, mut vocabulary, positions, defaults) = if config.path.is_dir() {
            pool.install(|| load_checkpoint(&config, &device))?
        } else {
            pool.install(|| load_gguf(&config, &device))?
        };
        if let Some(json) = &config.tokenizer_json {
            vocabulary.tokenizer = tokenizers::Tokenizer::from_file(json).map_err(|err| {
                Error::config(format!("{}: not a usable tokenizer.json: {err}", json.display()))
            })?;
        }
        let bos = vocabulary.bos.as_ref().map(|(_, t)| t.as_str()).unwrap_or_default();
        let eos = vocabulary.eos.as_ref().map(|(_, t)| t.as_str()).unwrap_or_default();
        let template = match &vocabulary.chat_template {
            Some(source) => ChatTemplate::new(source, bos, eos)?,
            None => {
                let has = |token: &str| vocabulary.tokenizer.token_to_id(token).is_some();
                ChatTemplate::new(family::builtin_template(has), bos, eos)?
            }
        };
        // The end of a turn: the EOS token and the family's end-of-turn markers.
        let mut end_tokens: Vec<u32> = vocabulary.eos.iter().map(|(id, _)| *id).collect();
        for marker in template.family().end_markers() {
            end_tokens.extend(vocabulary.tokenizer.token_to_id(marker));
        }
        let stem = config.path.file_stem().map(|s| s.to_string_lossy().into_owned());
        Ok(LocalModel {
            name: format!("local:{}", stem.unwrap_or_default()),
            engine: Arc::new(Engine {
                weights: Mutex::new(weights),
                positions,
                vocabulary,
                template,
                end_tokens,
                defaults,
                last: Mutex::new(GenerationStats::default()),
                pool,
                grammars: std::sync::OnceLock::new(),
            }),
        })
    }

    /// The exact prompt the model receives for `request`, as its chat template renders it.
    pub fn render_prompt(&self, request: &ChatRequest) -> Result<String> {
        self.engine.template.render(&request.messages, offered_tools(request), true)
    }

    /// The constraint a request puts on the reply, for a reply of `budget` tokens: a call of a
    /// declared tool when the request forces one; with `tool_choice: auto`, the rest of a call
    /// once the model starts one (its family's trigger); JSON (of its schema) when it asks for
    /// JSON; none otherwise.
    fn guide(
        &self,
        request: &ChatRequest,
        tools: &[ToolSpec],
        budget: usize,
    ) -> Result<Option<Guide>> {
        let family = self.engine.template.family();
        if !tools.is_empty() {
            let grammars = self.engine.grammars()?;
            let call = |only, trigger| grammars.tool_call(family, tools, only, trigger, budget);
            match &request.tool_choice {
                ToolChoice::Required => return call(None, None).map(Some),
                ToolChoice::Tool { name } => return call(Some(name), None).map(Some),
                ToolChoice::Auto if request.response_format == ResponseFormat::Text => {
                    if let Some(trigger) = family.trigger() {
                        return call(None, Some(trigger)).map(Some);
                    }
                }
                ToolChoice::Auto | ToolChoice::None => {}
            }
        }
        let schema = match &request.response_format {
            ResponseFormat::Text => return Ok(None),
            ResponseFormat::Json => &serde_json::json!({"type": "object"}),
            ResponseFormat::JsonSchema { schema, .. } => schema,
        };
        self.engine.grammars()?.json(schema, budget).map(Some)
    }

    /// What the last generation did (prompt tokens processed, tokens generated), including one
    /// stopped because its stream was dropped.
    pub fn last_stats(&self) -> GenerationStats {
        *self.engine.last.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether a generation is running (calls run one at a time).
    pub fn is_busy(&self) -> bool {
        self.engine.weights.try_lock().is_err()
    }

    /// The sampling used for what a request leaves unset: the file's recommended settings,
    /// else [`defaults::builtin`] (llama.cpp's and Ollama's defaults).
    pub fn sampling_defaults(&self) -> &Sampling {
        &self.engine.defaults
    }

    /// The most tokens of prompt and reply together.
    pub fn context_size(&self) -> usize {
        self.engine.positions
    }

    fn tokens(&self, prompt: &str) -> Result<Vec<u32>> {
        let vocabulary = &self.engine.vocabulary;
        let mut ids = vocabulary
            .tokenizer
            .encode(prompt, false)
            .map_err(|err| Error::Backend {
                message: format!("local model: tokenising the prompt: {err}"),
            })?
            .get_ids()
            .to_vec();
        // Templates usually write the BOS token themselves; add it only when asked and missing.
        if let (true, Some((bos, _))) = (vocabulary.add_bos, &vocabulary.bos)
            && ids.first() != Some(bos)
        {
            ids.insert(0, *bos);
        }
        Ok(ids)
    }
}

#[async_trait]
impl Model for LocalModel {
    fn name(&self) -> &str {
        &self.name
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            tools: true,
            // Constrained decoding makes the reply a call (no grammar for pythonic calls yet).
            forced_tool_choice: self.engine.template.family().call_syntax().is_some(),
            parallel_tool_calls: true,
            json_output: true,
            json_schema_output: true,
            streaming: true,
            context_window: u32::try_from(self.context_size()).ok(),
            penalties: true,
        }
    }

    async fn preview(&self, request: &ChatRequest) -> Result<Option<String>> {
        self.render_prompt(request).map(Some)
    }

    async fn stream(&self, request: ChatRequest) -> Result<EventStream> {
        self.capabilities().check(&self.name, &request)?;
        let tools = offered_tools(&request);
        let prompt = self.tokens(&self.render_prompt(&request)?)?;
        let sampling = request.sampling.clone().or(&self.engine.defaults);
        let params = Params::new(&sampling, self.engine.end_tokens.clone());
        let names: Vec<String> = tools.iter().map(|t| t.name.clone()).collect();
        let filter =
            (!names.is_empty()).then(|| ToolCallFilter::new(self.engine.template.family(), names));
        let budget = budget(params.max_tokens, prompt.len(), self.engine.positions);
        let mut guide = self.guide(&request, tools, budget)?;
        if let Some(guide) = guide.as_mut().filter(|g| g.trigger.is_none())
            && let Some(needed) = guide.needed()
            && needed > budget
        {
            let message = match params.max_tokens {
                Some(max) if max <= budget => format!(
                    "max_tokens is {max}, and the shortest reply the constraint allows takes {needed} tokens: raise max_tokens to at least {needed}"
                ),
                _ => format!(
                    "the context has room for {budget} tokens after the prompt, and the shortest reply the constraint allows takes {needed}: shorten the prompt or raise context_size"
                ),
            };
            return Err(Error::InvalidRequest { status: None, message });
        }
        let (sender, receiver) = mpsc::channel(64);
        let engine = self.engine.clone();
        // Inference is blocking work: it runs off the async runtime, and stops when the
        // receiver (the stream) is dropped.
        tokio::task::spawn_blocking(move || engine.run(&prompt, &params, guide, filter, &sender));
        // A generation that ends without its Finish event (a panic in the blocking task) is
        // an error, never a silently short reply.
        Ok(Box::pin(stream::unfold((receiver, false), |(mut receiver, done)| async move {
            match receiver.recv().await {
                Some(event) => {
                    let finished = matches!(event, Ok(StreamEvent::Finish { .. }) | Err(_));
                    Some((event, (receiver, finished)))
                }
                None if done => None,
                None => Some((
                    Err(Error::Backend {
                        message: "the local model stopped before finishing its reply".into(),
                    }),
                    (receiver, true),
                )),
            }
        })))
    }
}

impl Engine {
    /// The vocabulary's grammars, indexed on first use.
    fn grammars(&self) -> Result<&Grammars> {
        self.grammars
            .get_or_init(|| Grammars::new(&self.vocabulary.tokenizer, &self.end_tokens))
            .as_ref()
            .map_err(Clone::clone)
    }

    fn run(
        &self,
        prompt: &[u32],
        params: &Params,
        mut guide: Option<Guide>,
        mut filter: Option<ToolCallFilter>,
        sender: &mpsc::Sender<Result<StreamEvent>>,
    ) {
        let send = |event| sender.blocking_send(Ok(event)).is_ok();
        let mut weights = self.weights.lock().unwrap_or_else(PoisonError::into_inner);
        let weights: &mut Weights = &mut weights;
        let outcome = self.pool.install(|| {
            let session = &mut *weights.session();
            let tokenizer = &self.vocabulary.tokenizer;
            generate(session, tokenizer, prompt, params, guide.as_mut(), |text| {
                let text = match filter.as_mut() {
                    Some(filter) => filter.push(text),
                    None => text.to_string(),
                };
                text.is_empty() || send(StreamEvent::TextDelta { text })
            })
        });
        let (reason, stats) = match outcome {
            Ok(done) => done,
            Err(err) => {
                let _ = sender.blocking_send(Err(err));
                return;
            }
        };
        *self.last.lock().unwrap_or_else(PoisonError::into_inner) = stats;
        // No reason: the stream was dropped, and nobody is listening.
        let Some(mut reason) = reason else { return };
        if let Some(filter) = filter {
            let parsed = filter.finish();
            if !parsed.content.is_empty() && !send(StreamEvent::TextDelta { text: parsed.content })
            {
                return;
            }
            if !parsed.calls.is_empty() {
                reason = FinishReason::ToolCalls;
            }
            let events = parsed.calls.into_iter().enumerate();
            for event in events.flat_map(|(index, call)| StreamEvent::for_tool_call(index, call)) {
                if !send(event) {
                    return;
                }
            }
        }
        let usage = Usage::new(stats.prompt_tokens as u64, stats.completion_tokens as u64);
        let _ = send(StreamEvent::Usage { usage }) && send(StreamEvent::Finish { reason });
    }
}

/// The tools the model sees: none with `tool_choice: none`, whose replies are not parsed either.
fn offered_tools(request: &ChatRequest) -> &[ToolSpec] {
    if request.tool_choice == ToolChoice::None { &[] } else { &request.tools }
}

/// What a loader reads: the weights, the vocabulary, the context length, the sampling defaults.
type Loaded = (Weights, Vocabulary, usize, Sampling);

fn load_gguf(config: &LocalConfig, device: &Device) -> Result<Loaded> {
    let shown = config.path.display().to_string();
    let mut file =
        File::open(&config.path).map_err(|err| Error::config(format!("{shown}: {err}")))?;
    let content = gguf_file::Content::read(&mut file).map_err(|err| {
        Error::config(format!("{shown} is not a readable GGUF file: {}", candle_message(&err)))
    })?;
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
    let model = Llama::from_gguf(&content, &mut file, device, positions).map_err(|err| {
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

/// A token given in `tokenizer_config.json`, as text or as `{"content": …}`.
fn configured_token(config: &serde_json::Value, key: &str) -> Option<String> {
    let value = config.get(key)?;
    value.as_str().or_else(|| value.get("content").and_then(|c| c.as_str())).map(str::to_string)
}

fn load_checkpoint(config: &LocalConfig, device: &Device) -> Result<Loaded> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_are_named_as_in_config() {
        assert_eq!("cpu".parse::<DeviceChoice>().unwrap(), DeviceChoice::Cpu);
        assert_eq!("cuda".parse::<DeviceChoice>().unwrap(), DeviceChoice::Cuda(0));
        assert_eq!("cuda:1".parse::<DeviceChoice>().unwrap(), DeviceChoice::Cuda(1));
        assert_eq!("metal".parse::<DeviceChoice>().unwrap(), DeviceChoice::Metal);
        let err = "gpu".parse::<DeviceChoice>().unwrap_err();
        assert!(err.to_string().contains("expected cpu, cuda, cuda:N or metal"), "{err}");
    }

    #[test]
    fn a_missing_gpu_is_a_configuration_error() {
        // This build has neither CUDA nor Metal, or this machine no such GPU.
        if let Err(err) = DeviceChoice::Cuda(7).open() {
            assert!(matches!(err, Error::Configuration { .. }), "{err}");
        }
    }
}
