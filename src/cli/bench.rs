//! `anymodel bench`: the local backend's speed benchmark, beside llama.cpp's `llama-bench`.

use std::path::{Path, PathBuf};
use std::process::Command;

use anymodel::backends::candle::{
    BenchReport, BenchTest, CacheKind, DeviceChoice, Synthetic, benchmark, mib, write_synthetic,
};
use anymodel::backends::hub::resolve_model;
use anymodel::backends::spec::ModelSpec;
use anymodel::config::Resolved;

use super::llama_bench::{LlamaBench, Measured, comma_list};
use super::output::outln;
use super::{Context, Failure, Outcome};

/// What `anymodel bench` takes; the short flags are `llama-bench`'s.
#[derive(clap::Args)]
pub struct BenchArgs {
    /// The model: a GGUF file, `hf:OWNER/REPO/FILE.gguf`, a configured local model's name, or
    /// `synthetic:SIZE:TYPE` (SIZE 1b, 3b or 8b; TYPE q4_k_m, q5_k_m, q6_k or q8_0): a Llama 3
    /// of that shape with random weights, made once in the models folder (speed does not depend
    /// on the weights).
    model: String,
    /// The Llama 3 `tokenizer.json` a synthetic model is made with (scripts/fetch-model.sh
    /// puts one in models/llama3.2/).
    #[arg(long, value_name = "FILE", default_value = "models/llama3.2/tokenizer.json")]
    tokenizer: PathBuf,
    /// Thread counts, each measured in a process of its own.
    #[arg(short, long, value_delimiter = ',', default_value = "1")]
    threads: Vec<usize>,
    /// Prompt sizes to process, one test each (pp512).
    #[arg(short, long, value_delimiter = ',', default_value = "512")]
    prompt: Vec<usize>,
    /// Tokens to decode one at a time (tg128).
    #[arg(short = 'n', long, default_value_t = 128)]
    decode: usize,
    /// Tokens in the cache to decode after, besides an empty cache (tg128 @ d4000).
    #[arg(short, long, value_delimiter = ',')]
    depth: Vec<usize>,
    /// Runs of each test; the median is reported.
    #[arg(short, long, default_value_t = 3)]
    repetitions: usize,
    /// The key-value cache type, for both: f16, or q8_0 (8 bits; llama.cpp then runs with
    /// flash attention, which its quantised cache needs).
    #[arg(long, default_value = "f16", value_name = "TYPE")]
    cache_type: String,
    /// Where anymodel runs the model: cpu, or cuda:N (a build with the `cuda` feature).
    /// llama.cpp runs where its build puts it.
    #[arg(long, default_value = "cpu", value_name = "DEVICE")]
    device: String,
    /// llama.cpp's llama-bench (default: $LLAMA_BENCH, then the PATH).
    #[arg(long, value_name = "PATH")]
    llama_bench: Option<PathBuf>,
    /// Do not run llama.cpp even where it is found.
    #[arg(long)]
    no_llama: bool,
    /// Measure in this process (one thread count) and print the report as JSON.
    #[arg(long, hide = true)]
    child: bool,
}

impl BenchArgs {
    fn tests(&self) -> Vec<BenchTest> {
        let prompts =
            self.prompt.iter().filter(|&&n| n > 0).map(|&tokens| BenchTest::Prompt { tokens });
        let depths = std::iter::once(0).chain(self.depth.iter().copied().filter(|&d| d > 0));
        let decodes = depths
            .filter(|_| self.decode > 0)
            .map(|depth| BenchTest::Decode { tokens: self.decode, depth });
        prompts.chain(decodes).collect()
    }
}

/// The file the model `name` names: a path, a Hub name (downloaded when missing), a synthetic
/// model (made when missing), or a configured model of the local backend.
async fn model_file(context: &Context, args: &BenchArgs) -> Result<PathBuf, Failure> {
    let name = args.model.as_str();
    if let Some(synthetic) = name.strip_prefix("synthetic:") {
        let model: Synthetic = synthetic.parse().map_err(Failure::Usage)?;
        return synthetic_file(context, model, &args.tokenizer);
    }
    match context.config.resolve(name)? {
        Resolved::Single(ModelSpec::Local { path, .. }) => {
            Ok(resolve_model(&path.to_string_lossy()).await?)
        }
        _ => Err(Failure::Usage(format!(
            "`{name}` is not a local model: bench measures models run in-process (a .gguf file, hf:OWNER/REPO/FILE.gguf, or a configured model with backend = \"candle\")"
        ))),
    }
}

/// The file of a synthetic model, in the models folder's `synthetic/`; made first when missing.
fn synthetic_file(
    context: &Context,
    model: Synthetic,
    tokenizer: &Path,
) -> Result<PathBuf, Failure> {
    let folder = anymodel::backends::store::models_folder()
        .ok_or_else(|| Failure::Usage("no models folder: set HOME or XDG_DATA_HOME".into()))?;
    let path = folder
        .join("synthetic")
        .join(format!("llama-{}.gguf", model.to_string().replace(':', "-")));
    if path.exists() {
        return Ok(path);
    }
    if !tokenizer.exists() {
        return Err(Failure::Usage(format!(
            "{} is missing: a synthetic model needs Llama 3's tokenizer.json (scripts/fetch-model.sh fetches it; or pass --tokenizer FILE)",
            tokenizer.display()
        )));
    }
    let spinner = super::output::spinner(
        context.quiet,
        format!("making {} with random weights", path.display()),
    );
    let made = write_synthetic(model, tokenizer, &path, &|name| {
        spinner.set_message(format!("making {name}"))
    });
    spinner.finish_and_clear();
    made?;
    Ok(path)
}

/// Runs the benchmark: the file read once into the page cache, then a process per thread count
/// (candle sizes its own kernels' pool once per process, from `CANDLE_NUM_THREADS`), then
/// llama.cpp, then the table.
pub async fn bench(context: &Context, args: &BenchArgs) -> Outcome {
    let model = &model_file(context, args).await?;
    if args.child {
        return child(args, model);
    }
    if let Err(message) = args.cache_type.parse::<CacheKind>() {
        return Err(Failure::Usage(format!("bench --cache-type: {message}")));
    }
    // Both programs start with the file in the page cache, whichever runs first.
    let mut file = std::fs::File::open(model)
        .map_err(|err| Failure::Usage(format!("{}: {err}", model.display())))?;
    std::io::copy(&mut file, &mut std::io::sink())
        .map_err(|err| Failure::Run(format!("reading {}: {err}", model.display())))?;
    let tests = args.tests();
    let llama = (!args.no_llama).then(|| LlamaBench::find(args.llama_bench.as_deref())).flatten();
    let mut rows = Vec::new();
    for &threads in &args.threads {
        let ours = measure_in_child(args, model, threads)?;
        let theirs = llama.as_ref().map(|llama| {
            let run = llama.run(model, threads, &tests, args.repetitions, &args.cache_type);
            run.unwrap_or_else(|message| {
                eprintln!("anymodel bench: llama-bench: {message}");
                Measured::default()
            })
        });
        rows.push((ours, theirs));
    }
    print_table(args, model, &tests, &rows, llama.as_ref());
    Ok(())
}

/// This command again, as a child measuring `model` with `threads` threads. Its failure is
/// relayed as it said it (a configuration error stays one, named once).
fn measure_in_child(
    args: &BenchArgs,
    model: &Path,
    threads: usize,
) -> Result<BenchReport, Failure> {
    let exe = std::env::current_exe()
        .map_err(|err| Failure::Run(format!("cannot find itself: {err}")))?;
    let threads_text = threads.to_string();
    let mut command = Command::new(exe);
    command
        .arg("bench")
        .arg(model)
        .args(["--threads", &threads_text, "--prompt", &comma_list(&args.prompt)])
        .args([
            "--decode",
            &args.decode.to_string(),
            "--repetitions",
            &args.repetitions.to_string(),
        ])
        .args(["--cache-type", &args.cache_type, "--device", &args.device])
        .arg("--child")
        .env("CANDLE_NUM_THREADS", &threads_text)
        .env("RAYON_NUM_THREADS", &threads_text);
    if !args.depth.is_empty() {
        command.args(["--depth", &comma_list(&args.depth)]);
    }
    let output = command.output().map_err(|err| {
        Failure::Run(format!("could not start itself with {threads} threads: {err}"))
    })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let message = stderr.trim();
        let message = message.strip_prefix("anymodel: ").unwrap_or(message).to_string();
        return Err(match output.status.code() {
            Some(2) => Failure::Usage(message),
            _ => Failure::Run(message),
        });
    }
    serde_json::from_slice(&output.stdout)
        .map_err(|err| Failure::Run(format!("the measuring process's report did not parse: {err}")))
}

fn child(args: &BenchArgs, model: &Path) -> Outcome {
    let threads = args.threads.first().copied().unwrap_or(1);
    let kv_cache: CacheKind = args.cache_type.parse().map_err(Failure::Usage)?;
    let device: DeviceChoice = args.device.parse()?;
    let report = benchmark(model, threads, &device, &args.tests(), args.repetitions, kv_cache)?;
    outln!("{}", serde_json::to_string(&report).unwrap_or_default());
    Ok(())
}

/// The side-by-side table, then the long-context ratios.
fn print_table(
    args: &BenchArgs,
    model: &Path,
    tests: &[BenchTest],
    rows: &[(BenchReport, Option<Measured>)],
    llama: Option<&LlamaBench>,
) {
    let file = rows.first().map_or(0, |(ours, _)| ours.file_bytes);
    outln!(
        "{} ({:.0} MiB), {} key-value cache, median of {} runs",
        model.display(),
        mib(file),
        args.cache_type,
        args.repetitions.max(1)
    );
    match llama {
        Some(llama) => outln!("llama.cpp: {}", llama.path().display()),
        None => outln!(
            "llama.cpp: not run (no llama-bench found: --llama-bench PATH, $LLAMA_BENCH, the PATH; scripts/llama-bench.sh builds one)"
        ),
    }
    outln!();
    outln!("| test | threads | anymodel tokens/s | llama.cpp tokens/s | ratio |");
    outln!("| --- | ---: | ---: | ---: | ---: |");
    for (ours, theirs) in rows {
        for test in tests {
            let mine = speed(ours, test);
            let other = theirs.as_ref().and_then(|t| t.speed(test));
            row(&test.to_string(), ours.threads, mine, other, |v| format!("{v:.1}"));
        }
        // Against the weights' bytes alone: decode after a depth reads the cache as well.
        for test in tests.iter().filter(|t| matches!(t, BenchTest::Decode { depth: 0, .. })) {
            let label =
                format!("{test}, share of {:.1} GB/s read", ours.read_bytes_per_second / 1e9);
            let mine = speed(ours, test).map(|s| ours.roofline_share(s));
            let other = theirs.as_ref().and_then(|t| t.speed(test)).map(|s| ours.roofline_share(s));
            row(&label, ours.threads, mine, other, |s| format!("{:.0}%", s * 100.0));
        }
        let mine = ours.peak_memory_bytes.map(mib);
        let other = theirs.as_ref().and_then(|t| t.peak_memory_bytes).map(mib);
        row("peak memory, MiB", ours.threads, mine, other, |m| format!("{m:.0}"));
        let mine = Some(ours.first_token_seconds);
        let other = theirs.as_ref().and_then(|t| t.first_token_seconds);
        row("load and first token, s", ours.threads, mine, other, |s| format!("{s:.2}"));
    }
    print_long_context_ratios(args, rows);
}

/// How speed holds up with length: the longest prompt's speed over the shortest's, and decode
/// after each depth over decode on an empty cache, for anymodel and llama.cpp.
fn print_long_context_ratios(args: &BenchArgs, rows: &[(BenchReport, Option<Measured>)]) {
    let mut pairs = Vec::new();
    let (shortest, longest) = (args.prompt.iter().min(), args.prompt.iter().max());
    if let (Some(&short), Some(&long)) = (shortest, longest)
        && short < long
    {
        pairs.push((BenchTest::Prompt { tokens: long }, BenchTest::Prompt { tokens: short }));
    }
    for &depth in args.depth.iter().filter(|&&d| d > 0) {
        pairs.push((
            BenchTest::Decode { tokens: args.decode, depth },
            BenchTest::Decode { tokens: args.decode, depth: 0 },
        ));
    }
    if pairs.is_empty() {
        return;
    }
    outln!();
    outln!("| long context | threads | anymodel | llama.cpp |");
    outln!("| --- | ---: | ---: | ---: |");
    for (ours, theirs) in rows {
        for (long, short) in &pairs {
            let mine = ratio(speed(ours, long), speed(ours, short));
            let other =
                theirs.as_ref().map_or("-".into(), |t| ratio(t.speed(long), t.speed(short)));
            outln!("| {long} / {short} | {} | {mine} | {other} |", ours.threads);
        }
    }
}

fn speed(report: &BenchReport, test: &BenchTest) -> Option<f64> {
    report.results.iter().find(|r| r.test == *test).map(|r| r.tokens_per_second)
}

/// One row of the table: anymodel's figure, llama.cpp's (each as `shown`, `-` where missing),
/// and their ratio.
fn row(
    label: &str,
    threads: usize,
    mine: Option<f64>,
    other: Option<f64>,
    shown: fn(f64) -> String,
) {
    let cell = |value: Option<f64>| value.map_or("-".into(), shown);
    outln!("| {label} | {threads} | {} | {} | {} |", cell(mine), cell(other), ratio(mine, other));
}

fn ratio(ours: Option<f64>, theirs: Option<f64>) -> String {
    match (ours, theirs) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}", a / b),
        _ => "-".into(),
    }
}
