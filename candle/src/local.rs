//! [`LocalModel`]: a Llama-family model (a GGUF file, or a Hugging Face checkpoint) run
//! in-process by candle, behind the same [`Model`] trait as the hosted APIs.

use std::sync::{Arc, Mutex, PoisonError};

use anymodel_core::{
    Capabilities, ChatRequest, Error, EventStream, Model, ResponseFormat, Result, Sampling,
    StreamEvent, ToolChoice, ToolSpec,
};
use async_trait::async_trait;
use futures::stream;
use tokio::sync::mpsc;

use crate::config::LocalConfig;
use crate::constraint::Guide;
use crate::engine::Engine;
use crate::engine::TextFilters;
use crate::family;
use crate::generate::{GenerationStats, Params, budget};
use crate::load::{load_checkpoint, load_gguf};
use crate::reasoning::ThinkSplitter;
use crate::template::ChatTemplate;
use crate::tool_calls::ToolCallFilter;

/// More bytes than any token of any vocabulary stands for.
const MAX_TOKEN_BYTES: usize = 256;

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

impl LocalModel {
    /// Loads a GGUF file, or a full-precision Llama checkpoint in the Hugging Face layout when
    /// `path` is a folder (`config.json`, `tokenizer.json`, `*.safetensors`). Errors name the
    /// file and what is wrong with it: missing, not GGUF, truncated, an architecture other than
    /// Llama's, a tokenizer that cannot be built.
    pub fn load(config: LocalConfig) -> Result<Self> {
        config.check()?;
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
                _ => {}
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
    /// else llama.cpp's and Ollama's defaults (temperature 0.8, top-k 40, top-p 0.95, min-p 0.05,
    /// a repetition penalty of 1.1 over the last 64 tokens).
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
        let mut capabilities = Capabilities::all();
        // Constrained decoding makes the reply a call (no grammar for pythonic calls yet).
        capabilities.forced_tool_choice = self.engine.template.family().call_syntax().is_some();
        capabilities.context_window = u32::try_from(self.context_size()).ok();
        // Text in and out: no image or document reader, no reasoning knob, no server options.
        capabilities.vision = false;
        capabilities.documents = false;
        capabilities.reasoning = false;
        capabilities.provider_options = false;
        capabilities
    }

    async fn preview(&self, request: &ChatRequest) -> Result<Option<String>> {
        self.render_prompt(request).map(Some)
    }

    async fn count_tokens(&self, request: &ChatRequest) -> Result<Option<u64>> {
        let prompt = self.render_prompt(request)?;
        Ok(Some(self.tokens(&prompt)?.len() as u64))
    }

    async fn stream(&self, request: ChatRequest) -> Result<EventStream> {
        self.capabilities().check(&self.name, &request)?;
        let tools = offered_tools(&request);
        let rendered = self.render_prompt(&request)?;
        // No token is this long: a prompt with more bytes than the context has room for at this
        // rate cannot fit, and is refused before it is tokenised (which takes time and memory).
        let most = self.engine.positions.saturating_mul(MAX_TOKEN_BYTES);
        if rendered.len() > most {
            return Err(Error::ContextLengthExceeded {
                message: format!(
                    "the prompt is {} bytes; the context holds {} tokens, {most} bytes at most",
                    rendered.len(),
                    self.engine.positions
                ),
            });
        }
        let prompt = self.tokens(&rendered)?;
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
        // A constraint from the first token leaves no room for reasoning tags.
        let free_start = guide.as_ref().is_none_or(|guide| guide.trigger.is_some());
        let splitter = (self.engine.template.thinks() && free_start)
            .then(|| ThinkSplitter::for_prompt(&rendered));
        let (sender, receiver) = mpsc::channel(64);
        let engine = self.engine.clone();
        // Inference is blocking work: it runs off the async runtime, and stops when the
        // receiver (the stream) is dropped.
        let text = TextFilters { splitter, calls: filter };
        tokio::task::spawn_blocking(move || engine.run(&prompt, &params, guide, text, &sender));
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

/// The tools the model sees: none with `tool_choice: none`, whose replies are not parsed either.
fn offered_tools(request: &ChatRequest) -> &[ToolSpec] {
    if request.tool_choice == ToolChoice::None { &[] } else { &request.tools }
}
