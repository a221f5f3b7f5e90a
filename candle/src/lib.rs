//! The local backend of anymodel: Llama-family models run in-process by candle.
//! [`LocalModel`] puts them behind the [`anymodel_core::Model`] trait; the modules hold its
//! pieces, all private: the GGUF Llama forward pass (`llama`) with its CPU kernels (`cpu`, the
//! crate's only `unsafe` code), the tokenizer read from GGUF metadata (`tokenizer`), chat
//! templates (`template`), model families and their tool-call rules (`family`, one module per
//! family), tool calls held back from a stream (`tool_calls`),
//! constrained decoding (`constraint`), generation (`generate`, `session`, `loops`), sampling
//! defaults (`defaults`), the model's settings (`config`), reading it from disk (`load`), the
//! loaded model and one generation (`engine`), the model itself (`local`), the speed
//! benchmark (`bench`) and the random-weight Llama files it runs on (`synthetic`); and
//! [`BertEmbedder`], sentence embeddings from a BERT-family model (`embed`).
//!
//! `anymodel-backends` re-exports this crate as `anymodel_backends::candle` behind its `candle`
//! feature; an app depends on either.

mod bench;
mod config;
mod constraint;
mod cpu;
mod defaults;
mod embed;
mod engine;
mod family;
mod generate;
mod llama;
mod load;
mod local;
mod loops;
mod reasoning;
mod session;
mod synthetic;
mod template;
mod tokenizer;
mod tool_calls;

pub use bench::{
    BenchReport, BenchResult, BenchTest, benchmark, mib, next_token_logprobs, peak_memory_of,
};
/// candle's tensor crate as this backend uses it: GGUF files (reading, and writing test
/// models), devices.
pub use candle_core;
pub use config::{DeviceChoice, LocalConfig, MAX_CONTEXT_SIZE};
pub use cpu::cache::CacheKind;
pub use embed::BertEmbedder;
pub use family::{CHATML_TEMPLATE, LLAMA3_TEMPLATE};
pub use generate::GenerationStats;
pub use local::LocalModel;
pub use synthetic::{FileType, LlamaSize, Synthetic, llama3_tokenizer_metadata, write_synthetic};
pub use tokenizer::{Vocabulary, vocabulary_from_gguf};

/// Deterministic values in [-1, 1] for the kernels' tests: `count` of them, a different run
/// for each `seed`.
#[cfg(test)]
fn test_numbers(count: usize, seed: usize) -> Vec<f32> {
    (0..count).map(|i| (((i * 7919 + seed * 104_729) % 2003) as f32 / 1001.0) - 1.0).collect()
}

/// A candle error's message without the backtrace candle attaches to it.
fn candle_message(err: &candle_core::Error) -> String {
    let text = err.to_string();
    match text.find("\n   0: ") {
        Some(at) => text[..at].trim_end().to_string(),
        None => text,
    }
}
