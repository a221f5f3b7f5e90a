//! The loaded model as generations use it: weights behind a lock (calls run one at a time),
//! vocabulary, template, end tokens, defaults, its thread pool; and one generation run, its
//! text passed through the tool-call filter and sent as stream events.

use std::sync::{Mutex, PoisonError};

use anymodel_core::{FinishReason, Result, Sampling, StreamEvent, Usage};
use tokio::sync::mpsc;

use crate::constraint::{Grammars, Guide};
use crate::generate::{Ending, GenerationStats, Params, generate};
use crate::load::Weights;
use crate::reasoning::{Piece, ThinkSplitter};
use crate::template::ChatTemplate;
use crate::tokenizer::Vocabulary;
use crate::tool_calls::ToolCallFilter;

/// What a generation's text passes through before it is sent: the reasoning splitter (models
/// that think in tags), then the tool-call filter (requests with tools).
pub(crate) struct TextFilters {
    pub(crate) splitter: Option<ThinkSplitter>,
    pub(crate) calls: Option<ToolCallFilter>,
}

impl TextFilters {
    /// The events `text` completes: reasoning as it is, the answer through the call filter.
    fn push(&mut self, text: &str) -> Vec<StreamEvent> {
        let pieces = match self.splitter.as_mut() {
            Some(splitter) => splitter.push(text),
            None => vec![Piece::Answer(text.to_string())],
        };
        self.events(pieces)
    }

    /// The events of whatever the splitter still held.
    fn flush(&mut self) -> Vec<StreamEvent> {
        let pieces = self.splitter.take().map(ThinkSplitter::finish).unwrap_or_default();
        self.events(pieces)
    }

    fn events(&mut self, pieces: Vec<Piece>) -> Vec<StreamEvent> {
        pieces
            .into_iter()
            .filter_map(|piece| match piece {
                Piece::Reasoning(text) => Some(StreamEvent::ReasoningDelta { text }),
                Piece::Answer(text) => {
                    let text = match self.calls.as_mut() {
                        Some(filter) => filter.push(&text),
                        None => text,
                    };
                    (!text.is_empty()).then_some(StreamEvent::TextDelta { text })
                }
            })
            .collect()
    }
}

/// Everything a loaded model holds.
pub(crate) struct Engine {
    pub(crate) weights: Mutex<Weights>,
    /// The most tokens of prompt and reply together.
    pub(crate) positions: usize,
    pub(crate) vocabulary: Vocabulary,
    pub(crate) template: ChatTemplate,
    /// The tokens that end a turn.
    pub(crate) end_tokens: Vec<u32>,
    /// The sampling used for what a request leaves unset.
    pub(crate) defaults: Sampling,
    /// What the last generation did.
    pub(crate) last: Mutex<GenerationStats>,
    pub(crate) pool: rayon::ThreadPool,
    /// The vocabulary indexed for constrained decoding, built on first use.
    pub(crate) grammars: std::sync::OnceLock<Result<Grammars>>,
}

impl Engine {
    /// The vocabulary's grammars, indexed on first use.
    pub(crate) fn grammars(&self) -> Result<&Grammars> {
        self.grammars
            .get_or_init(|| Grammars::new(&self.vocabulary.tokenizer, &self.end_tokens))
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Generates a reply to `prompt`, sending its events until it ends or `sender`'s stream is
    /// dropped.
    pub(crate) fn run(
        &self,
        prompt: &[u32],
        params: &Params,
        mut guide: Option<Guide>,
        mut text: TextFilters,
        sender: &mpsc::Sender<Result<StreamEvent>>,
    ) {
        let send = |event| sender.blocking_send(Ok(event)).is_ok();
        let mut weights = self.weights.lock().unwrap_or_else(PoisonError::into_inner);
        let weights: &mut Weights = &mut weights;
        let outcome = self.pool.install(|| {
            let session = &mut *weights.session();
            let tokenizer = &self.vocabulary.tokenizer;
            generate(session, tokenizer, prompt, params, guide.as_mut(), |piece| {
                text.push(piece).into_iter().all(send)
            })
        });
        let (ending, stats) = match outcome {
            Ok(done) => done,
            Err(err) => {
                let _ = sender.blocking_send(Err(err));
                return;
            }
        };
        *self.last.lock().unwrap_or_else(PoisonError::into_inner) = stats;
        // No reason: the stream was dropped, and nobody is listening.
        let Some(Ending { mut reason, stop_sequence }) = ending else { return };
        if !text.flush().into_iter().all(send) {
            return;
        }
        if let Some(filter) = text.calls {
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
        // The prefix the cache still held was read, not computed: the local model's cached input.
        let reused = stats.prompt_tokens - stats.prompt_tokens_processed;
        let usage = Usage::new(stats.prompt_tokens as u64, stats.completion_tokens as u64)
            .with_cached_input(reused as u64);
        let stop = stop_sequence.map(|text| StreamEvent::StopSequence { text });
        let _ = send(StreamEvent::Usage { usage })
            && stop.into_iter().all(send)
            && send(StreamEvent::Finish { reason });
    }
}
