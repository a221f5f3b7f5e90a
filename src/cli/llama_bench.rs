//! llama.cpp's `llama-bench`, run on the same file, thread count and tests as `anymodel bench`,
//! with its peak memory read from `/proc` while it runs.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anymodel::backends::candle::{BenchTest, peak_memory_of};

use serde_json::Value;

/// A `llama-bench` executable.
pub struct LlamaBench {
    path: PathBuf,
}

/// What `llama-bench` measured for one thread count.
#[derive(Default)]
pub struct Measured {
    results: Vec<(BenchTest, f64)>,
    /// The largest peak resident memory of its runs, where `/proc` tells it.
    pub peak_memory_bytes: Option<u64>,
    /// Seconds a run of a one-token prompt without warm-up took, start to end: loading the
    /// model and its first token.
    pub first_token_seconds: Option<f64>,
}

impl Measured {
    /// Its tokens per second on `test`.
    pub fn speed(&self, test: &BenchTest) -> Option<f64> {
        self.results.iter().find(|(t, _)| t == test).map(|(_, speed)| *speed)
    }
}

impl LlamaBench {
    /// `explicit`, else `$LLAMA_BENCH`, else `llama-bench` on the PATH.
    pub fn find(explicit: Option<&Path>) -> Option<Self> {
        let named = explicit.map(Path::to_path_buf).or_else(|| {
            std::env::var_os("LLAMA_BENCH").filter(|v| !v.is_empty()).map(PathBuf::from)
        });
        let path = named.or_else(|| {
            let paths = std::env::var_os("PATH")?;
            std::env::split_paths(&paths).map(|dir| dir.join("llama-bench")).find(|p| p.is_file())
        })?;
        Some(LlamaBench { path })
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `tests` on `model` with `threads` threads and a `cache_type` cache: the prompts and
    /// the decode on an empty cache in one run, each deeper decode in a run of its own (`-d`
    /// would otherwise repeat every test at every depth).
    pub fn run(
        &self,
        model: &Path,
        threads: usize,
        tests: &[BenchTest],
        repetitions: usize,
        cache_type: &str,
    ) -> Result<Measured, String> {
        let prompts: Vec<usize> = tests
            .iter()
            .filter_map(|t| match t {
                BenchTest::Prompt { tokens } => Some(*tokens),
                BenchTest::Decode { .. } => None,
            })
            .collect();
        let decodes: Vec<(usize, usize)> = tests
            .iter()
            .filter_map(|t| match t {
                BenchTest::Decode { tokens, depth } => Some((*tokens, *depth)),
                BenchTest::Prompt { .. } => None,
            })
            .collect();
        let shallow = decodes.iter().find(|(_, depth)| *depth == 0).map_or(0, |(n, _)| *n);
        let prompts = if prompts.is_empty() { vec![0] } else { prompts };
        let mut runs = vec![(comma_list(&prompts), shallow, 0)];
        runs.extend(decodes.iter().filter(|(_, d)| *d > 0).map(|&(n, d)| ("0".to_string(), n, d)));
        let command = |prompts: &str, decode: usize, depth: usize, repetitions: usize| {
            let mut command = Command::new(&self.path);
            command
                .arg("-m")
                .arg(model)
                .args(["-t", &threads.to_string(), "-p", prompts, "-n", &decode.to_string()])
                .args(["-d", &depth.to_string(), "-r", &repetitions.max(1).to_string()])
                .args(["-o", "json"]);
            if cache_type != "f16" {
                // llama.cpp quantises the value cache only with flash attention.
                command.args(["-ctk", cache_type, "-ctv", cache_type, "-fa", "1"]);
            }
            command
        };
        let mut measured = Measured::default();
        let mut first = command("1", 0, 0, 1);
        first.arg("--no-warmup");
        let started = Instant::now();
        let (_, peak) = run_watching_memory(first)?;
        measured.first_token_seconds = Some(started.elapsed().as_secs_f64());
        measured.peak_memory_bytes = peak;
        for (prompts, decode, depth) in runs {
            let (stdout, peak) =
                run_watching_memory(command(&prompts, decode, depth, repetitions))?;
            measured.results.extend(parse(&stdout)?);
            measured.peak_memory_bytes = measured.peak_memory_bytes.max(peak);
        }
        Ok(measured)
    }
}

/// Runs `command`, reading its peak memory every few milliseconds until it exits; its output
/// on success.
fn run_watching_memory(mut command: Command) -> Result<(String, Option<u64>), String> {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|err| format!("could not start it: {err}"))?;
    let pid = child.id().to_string();
    let mut stdout = child.stdout.take().ok_or("no standard output")?;
    let mut stderr = child.stderr.take().ok_or("no standard error")?;
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        stdout.read_to_string(&mut text).map(|_| text)
    });
    let errors = std::thread::spawn(move || {
        let mut text = String::new();
        stderr.read_to_string(&mut text).map(|_| text)
    });
    let mut peak = None;
    let status = loop {
        peak = peak.max(peak_memory_of(&pid));
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(err) => return Err(format!("waiting for it: {err}")),
        }
    };
    let stdout = reader.join().ok().and_then(Result::ok).unwrap_or_default();
    let stderr = errors.join().ok().and_then(Result::ok).unwrap_or_default();
    if !status.success() {
        let last = stderr.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("");
        return Err(format!("{status}: {last}"));
    }
    Ok((stdout, peak))
}

/// The tests of a `llama-bench -o json` report, with their average speed.
fn parse(json: &str) -> Result<Vec<(BenchTest, f64)>, String> {
    let records: Vec<Value> = serde_json::from_str(json)
        .map_err(|err| format!("its JSON report did not parse: {err}"))?;
    let count = |record: &Value, key: &str| {
        record[key].as_u64().and_then(|n| usize::try_from(n).ok()).unwrap_or(0)
    };
    Ok(records
        .iter()
        .filter_map(|record| {
            let speed = record["avg_ts"].as_f64()?;
            let (prompt, decode) = (count(record, "n_prompt"), count(record, "n_gen"));
            let test = match (prompt, decode) {
                (tokens, 0) if tokens > 0 => BenchTest::Prompt { tokens },
                (0, tokens) if tokens > 0 => {
                    BenchTest::Decode { tokens, depth: count(record, "n_depth") }
                }
                _ => return None,
            };
            Some((test, speed))
        })
        .collect())
}

/// `1,2,3`, as both anymodel's and llama-bench's flags take lists.
pub(super) fn comma_list(values: &[usize]) -> String {
    values.iter().map(usize::to_string).collect::<Vec<_>>().join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_llama_bench_report_gives_its_tests() {
        let report = r#"[
            {"n_prompt": 512, "n_gen": 0, "n_depth": 0, "n_threads": 1, "avg_ts": 175.2},
            {"n_prompt": 0, "n_gen": 128, "n_depth": 0, "n_threads": 1, "avg_ts": 77.8},
            {"n_prompt": 0, "n_gen": 128, "n_depth": 4000, "n_threads": 1, "avg_ts": 28.3}
        ]"#;
        assert_eq!(
            parse(report).unwrap(),
            [
                (BenchTest::Prompt { tokens: 512 }, 175.2),
                (BenchTest::Decode { tokens: 128, depth: 0 }, 77.8),
                (BenchTest::Decode { tokens: 128, depth: 4000 }, 28.3),
            ]
        );
        assert!(parse("not json").is_err());
    }
}
