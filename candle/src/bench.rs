//! A speed and memory benchmark of the local backend, with the tests llama.cpp's `llama-bench`
//! runs, so that the two can be set side by side: prompt processing of N tokens (`pp512`) and
//! decode of N tokens one at a time (`tg128`), the latter optionally after a prompt already in
//! the cache (`tg128 @ d4000`). Each test starts from an empty cache and is repeated; the
//! median speed is reported.

use std::fmt;
use std::fs::File;
use std::path::Path;
use std::time::Instant;

use anymodel_core::{Error, Result};
use candle_core::Device;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::candle_message;
use super::llama::{Cache, Llama};
use crate::config::DeviceChoice;
use crate::cpu::cache::CacheKind;
use crate::cpu::mapped::FileBytes;
use crate::load::read_header;

/// One test, named as `llama-bench` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BenchTest {
    /// Process a prompt of this many tokens at once.
    Prompt {
        /// Prompt tokens.
        tokens: usize,
    },
    /// Decode this many tokens one at a time after `depth` tokens already in the cache.
    Decode {
        /// Tokens decoded.
        tokens: usize,
        /// Tokens in the cache before the first.
        depth: usize,
    },
}

impl fmt::Display for BenchTest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BenchTest::Prompt { tokens } => write!(f, "pp{tokens}"),
            BenchTest::Decode { tokens, depth: 0 } => write!(f, "tg{tokens}"),
            BenchTest::Decode { tokens, depth } => write!(f, "tg{tokens} @ d{depth}"),
        }
    }
}

/// What one test measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchResult {
    /// The test.
    pub test: BenchTest,
    /// Median tokens per second over the repetitions.
    pub tokens_per_second: f64,
}

/// What [`benchmark`] measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchReport {
    /// CPU threads used.
    pub threads: usize,
    /// Seconds from opening the file to the logits of a first one-token prompt: what a user
    /// waits before the first token.
    pub first_token_seconds: f64,
    /// Each test's speed, in the order asked.
    pub results: Vec<BenchResult>,
    /// The process's peak resident memory, in bytes, where the system reports it (Linux).
    pub peak_memory_bytes: Option<u64>,
    /// The model file's size, in bytes.
    pub file_bytes: u64,
    /// The bytes of weights each decoded token reads.
    pub decode_bytes: u64,
    /// Bytes per second these threads read from memory (the best of a few passes over the
    /// mapped file, which is larger than the caches): the roofline decoding is bound by.
    pub read_bytes_per_second: f64,
}

impl BenchReport {
    /// The share of the read roofline a decoding speed of `tokens_per_second` reaches.
    pub fn roofline_share(&self, tokens_per_second: f64) -> f64 {
        tokens_per_second * self.decode_bytes as f64 / self.read_bytes_per_second
    }
}

impl fmt::Display for BenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "threads  {}", self.threads)?;
        writeln!(f, "load and first token {:.2} s", self.first_token_seconds)?;
        for result in &self.results {
            writeln!(
                f,
                "{:<16} {:.1} tokens/s",
                result.test.to_string(),
                result.tokens_per_second
            )?;
        }
        match self.peak_memory_bytes {
            Some(peak) => write!(
                f,
                "peak memory      {:.0} MiB ({:.2}x the {:.0} MiB file)",
                mib(peak),
                peak as f64 / self.file_bytes as f64,
                mib(self.file_bytes)
            ),
            None => write!(f, "peak memory      not reported on this system"),
        }
    }
}

/// Bytes in MiB.
pub fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// Loads `path` on `device` (CPU threads: a pool of `threads`) and runs each test
/// `repetitions` times (at least once), each time on an empty cache of `kv_cache`.
pub fn benchmark(
    path: &Path,
    threads: usize,
    device: &DeviceChoice,
    tests: &[BenchTest],
    repetitions: usize,
    kv_cache: CacheKind,
) -> Result<BenchReport> {
    let shown = path.display().to_string();
    let fail = failure(&shown);
    let file_bytes =
        std::fs::metadata(path).map_err(|err| Error::config(format!("{shown}: {err}")))?.len();
    let device = device.open()?;
    pool(threads)?.install(|| {
        let started = Instant::now();
        let positions = tests.iter().map(positions).max().unwrap_or(0) + 1;
        let (model, file) = load(path, &device, positions)?;
        run(&model, BenchTest::Prompt { tokens: 1 }, kv_cache).map_err(fail)?;
        let first_token_seconds = started.elapsed().as_secs_f64();
        let mut results = Vec::with_capacity(tests.len());
        for test in tests {
            let mut speeds = Vec::with_capacity(repetitions.max(1));
            for _ in 0..repetitions.max(1) {
                speeds.push(run(&model, *test, kv_cache).map_err(fail)?);
            }
            speeds.sort_by(f64::total_cmp);
            results.push(BenchResult { test: *test, tokens_per_second: speeds[speeds.len() / 2] });
        }
        let peak_memory_bytes = peak_memory_of("self");
        Ok(BenchReport {
            threads,
            first_token_seconds,
            results,
            peak_memory_bytes,
            file_bytes,
            decode_bytes: model.decode_bytes(),
            read_bytes_per_second: read_bandwidth(&file, file_bytes).map_err(|err| {
                Error::Backend { message: format!("{shown}: measuring the read bandwidth: {err}") }
            })?,
        })
    })
}

/// The natural-log probabilities of every token following `tokens`, from the GGUF model at
/// `path` run on the CPU in a pool of `threads` threads with a half-precision cache: what the
/// comparison with llama.cpp (`scripts/check-logprobs.sh`) reads.
pub fn next_token_logprobs(path: &Path, tokens: &[u32], threads: usize) -> Result<Vec<f32>> {
    let shown = path.display().to_string();
    let fail = failure(&shown);
    pool(threads)?.install(|| {
        let (model, _) = load(path, &Device::Cpu, tokens.len() + 1)?;
        let mut cache = model.new_cache_of(CacheKind::Half).map_err(fail)?;
        let logits = model.forward(tokens, &mut cache).map_err(fail)?;
        let logits = logits.to_dtype(candle_core::DType::F32).and_then(|l| l.to_vec1::<f32>());
        let logits = logits.map_err(fail)?;
        let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let total: f64 = logits.iter().map(|&l| f64::from(l - max).exp()).sum();
        let norm = max + total.ln() as f32;
        Ok(logits.iter().map(|&l| l - norm).collect())
    })
}

/// A pool of `threads` threads to measure in.
fn pool(threads: usize) -> Result<rayon::ThreadPool> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|err| Error::config(format!("threads: {err}")))
}

/// candle's errors on the file `shown`, as this crate's.
fn failure(shown: &str) -> impl Fn(candle_core::Error) -> Error + Copy + '_ {
    move |err| Error::Backend { message: format!("{shown}: {}", candle_message(&err)) }
}

/// The GGUF model at `path` on `device` with rotary tables for `positions`, and its file.
fn load(path: &Path, device: &Device, positions: usize) -> Result<(Llama, File)> {
    let shown = path.display().to_string();
    let file = File::open(path).map_err(|err| Error::config(format!("{shown}: {err}")))?;
    let content = read_header(&file, &shown)?;
    let model = Llama::from_gguf(&content, &file, device, positions).map_err(failure(&shown))?;
    Ok((model, file))
}

/// Bytes per second the current pool's threads read from memory: the best of three passes
/// summing the mapped `file` of `len` bytes (in the page cache after the tests), split over the
/// pool.
fn read_bandwidth(file: &File, len: u64) -> std::io::Result<f64> {
    let bytes = FileBytes::open(file)?;
    let all = bytes.region(0, len).ok_or_else(|| std::io::Error::other("the file shrank"))?;
    let mut best = 0f64;
    for _ in 0..3 {
        let started = Instant::now();
        let sum = all
            .par_chunks(1 << 20)
            .map(|chunk| {
                let words = chunk.chunks_exact(8);
                words
                    .map(|w| u64::from_le_bytes(w.try_into().unwrap_or_default()))
                    .fold(0, u64::wrapping_add)
            })
            .reduce(|| 0, u64::wrapping_add);
        std::hint::black_box(sum);
        best = best.max(len as f64 / started.elapsed().as_secs_f64());
    }
    Ok(best)
}

/// The positions a test fills.
fn positions(test: &BenchTest) -> usize {
    match test {
        BenchTest::Prompt { tokens } => *tokens,
        BenchTest::Decode { tokens, depth } => depth + tokens,
    }
}

/// Ordinary token ids; their meaning does not change the arithmetic.
fn tokens(count: usize) -> Vec<u32> {
    (0..count as u32).map(|i| 1000 + (i * 7919) % 20_000).collect()
}

/// One run of `test` on a fresh cache, in tokens per second.
fn run(model: &Llama, test: BenchTest, kv_cache: CacheKind) -> candle_core::Result<f64> {
    let mut cache: Cache = model.new_cache_of(kv_cache)?;
    cache.reserve(model, positions(&test))?;
    match test {
        BenchTest::Prompt { tokens: count } => {
            let started = Instant::now();
            model.forward(&tokens(count), &mut cache)?;
            Ok(count as f64 / started.elapsed().as_secs_f64())
        }
        BenchTest::Decode { tokens: count, depth } => {
            if depth > 0 {
                model.forward(&tokens(depth), &mut cache)?;
            }
            let mut next = tokens(1)[0];
            let started = Instant::now();
            for _ in 0..count {
                let logits = model.forward(&[next], &mut cache)?;
                next = logits.argmax(0)?.to_scalar::<u32>()?;
            }
            Ok(count as f64 / started.elapsed().as_secs_f64())
        }
    }
}

/// The peak resident set size (`VmHWM`) of a process (`self` or a pid), on Linux.
pub fn peak_memory_of(process: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{process}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}
