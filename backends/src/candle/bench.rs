//! A speed and memory benchmark of the local backend: load time, prompt processing and decode
//! in tokens per second, and peak memory, for one model file and thread count.

use std::fmt;
use std::fs::File;
use std::path::Path;
use std::time::Instant;

use anymodel_core::{Error, Result};
use candle_core::Device;
use candle_core::quantized::gguf_file;

use super::candle_message;
use super::llama::Llama;

/// What [`benchmark`] measured.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchReport {
    /// CPU threads used.
    pub threads: usize,
    /// Seconds to read the file and build the model.
    pub load_seconds: f64,
    /// Prompt tokens processed.
    pub prompt_tokens: usize,
    /// Prompt processing speed.
    pub prompt_tokens_per_second: f64,
    /// Tokens decoded one by one.
    pub decode_tokens: usize,
    /// Decode speed.
    pub decode_tokens_per_second: f64,
    /// The process's peak resident memory, in bytes, where the system reports it (Linux).
    pub peak_memory_bytes: Option<u64>,
    /// The model file's size, in bytes.
    pub file_bytes: u64,
}

impl fmt::Display for BenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mib = |bytes: u64| bytes as f64 / (1024.0 * 1024.0);
        writeln!(f, "threads            {}", self.threads)?;
        writeln!(f, "load               {:.2} s", self.load_seconds)?;
        writeln!(
            f,
            "prompt processing  {:.1} tokens/s ({} tokens)",
            self.prompt_tokens_per_second, self.prompt_tokens
        )?;
        writeln!(
            f,
            "decode             {:.1} tokens/s ({} tokens)",
            self.decode_tokens_per_second, self.decode_tokens
        )?;
        match self.peak_memory_bytes {
            Some(peak) => write!(
                f,
                "peak memory        {:.0} MiB ({:.2}x the {:.0} MiB file)",
                mib(peak),
                peak as f64 / self.file_bytes as f64,
                mib(self.file_bytes)
            ),
            None => write!(f, "peak memory        not reported on this system"),
        }
    }
}

/// Loads `path` on the CPU with `threads` threads, processes a prompt of `prompt_tokens`
/// tokens, then decodes `decode_tokens` tokens one at a time (greedily), timing each part.
pub fn benchmark(
    path: &Path,
    threads: usize,
    prompt_tokens: usize,
    decode_tokens: usize,
) -> Result<BenchReport> {
    let shown = path.display().to_string();
    let fail = |err: candle_core::Error| Error::Backend {
        message: format!("{shown}: {}", candle_message(&err)),
    };
    let file_bytes =
        std::fs::metadata(path).map_err(|err| Error::config(format!("{shown}: {err}")))?.len();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|err| Error::config(format!("threads: {err}")))?;
    pool.install(|| {
        let started = Instant::now();
        let mut file = File::open(path).map_err(|err| Error::config(format!("{shown}: {err}")))?;
        let content = gguf_file::Content::read(&mut file).map_err(fail)?;
        let positions = prompt_tokens + decode_tokens + 1;
        let model = Llama::from_gguf(&content, &mut file, &Device::Cpu, positions).map_err(fail)?;
        let load_seconds = started.elapsed().as_secs_f64();

        // A prompt of ordinary token ids; their meaning does not change the arithmetic.
        let prompt: Vec<u32> =
            (0..prompt_tokens as u32).map(|i| 1000 + (i * 7919) % 20_000).collect();
        let mut cache = model.new_cache();
        cache.reserve(&model, positions).map_err(fail)?;
        let started = Instant::now();
        let mut logits = model.forward(&prompt, &mut cache).map_err(fail)?;
        let prompt_seconds = started.elapsed().as_secs_f64();

        let started = Instant::now();
        for _ in 0..decode_tokens {
            let next = logits.argmax(0).and_then(|t| t.to_scalar::<u32>()).map_err(fail)?;
            logits = model.forward(&[next], &mut cache).map_err(fail)?;
        }
        let decode_seconds = started.elapsed().as_secs_f64();
        Ok(BenchReport {
            threads,
            load_seconds,
            prompt_tokens,
            prompt_tokens_per_second: prompt_tokens as f64 / prompt_seconds,
            decode_tokens,
            decode_tokens_per_second: decode_tokens as f64 / decode_seconds,
            peak_memory_bytes: peak_memory(),
            file_bytes,
        })
    })
}

/// The peak resident set size (`VmHWM`), on Linux.
fn peak_memory() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}
