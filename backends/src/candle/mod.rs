//! The local backend: Llama-family models run in-process by candle. [`LocalModel`] puts them
//! behind the [`anymodel_core::Model`] trait; the modules hold its pieces: the GGUF Llama forward
//! pass ([`llama`]) with its CPU kernels (Q4_1 matrix products in `q4_1`, attention in `attention`
//! over the cache laid out in `cpu_cache`), the tokenizer read from GGUF metadata ([`tokenizer`]), chat templates
//! ([`template`]), tool calls parsed from the model's text ([`tool_calls`]), Hub names ([`hub`]),
//! and the benchmark ([`benchmark`]).

mod attention;
mod bench;
mod constraint;
mod cpu_cache;
pub mod defaults;
mod generate;
pub mod hub;
pub mod llama;
mod local;
mod loops;
mod pythonic;
mod q4_1;
mod q8;
mod session;
pub mod template;
pub mod tokenizer;
pub mod tool_calls;

pub use bench::{BenchReport, BenchResult, BenchTest, benchmark, mib, peak_memory_of};
pub use cpu_cache::CacheKind;
pub use generate::GenerationStats;
#[cfg(feature = "hf-hub")]
pub use hub::{Hub, PROGRESS_TARGET};
pub use hub::{HubFile, resolve_model};
pub use local::{DeviceChoice, LocalConfig, LocalModel};
pub use template::{CHATML_TEMPLATE, ChatTemplate, LLAMA3_TEMPLATE};
pub use tokenizer::{Vocabulary, vocabulary_from_gguf};
pub use tool_calls::{ParsedReply, ToolCallFilter, ToolCallFormat};

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
