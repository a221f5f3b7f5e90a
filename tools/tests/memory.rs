//! Peak memory of the tools that read what others wrote (`read_file`, `http_get`) over their
//! worst inputs: resident memory grows by less than a stated bound whatever the input's size or
//! shape. Each case runs in a process of its own (this test binary, run again), and is measured
//! as Linux reports it: the peak resident size, reset just before the call through
//! `/proc/self/clear_refs`, less the resident size then.

#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used)] // Tests fail loudly by design.

use std::path::Path;

use anymodel_core::Tool;
use anymodel_tools::builtin::{FileRoot, HttpGet, HttpLimits, ReadFile};
use serde_json::{Value, json};

const MIB: usize = 1024 * 1024;

/// The most memory one call of `read_file` may take: the 256 KiB it returns, one line of at
/// most that, and their copies.
const READ_FILE_BOUND: usize = 2 * MIB;
/// The most memory one call of `http_get` may take: its 512 KiB body, the document tree
/// html2text builds from it (at most 20,000 elements) and the text.
const HTTP_GET_BOUND: usize = 64 * MIB;

/// The variable that tells a child process which case to run.
const CASE: &str = "ANYMODEL_MEMORY_CASE";

/// A field of `/proc/self/status`, in bytes.
fn status(field: &str) -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|line| line.starts_with(field)).unwrap();
    let kib: usize = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}

/// How far `call` raises the peak resident memory above what was resident when it started.
fn peak_of<T>(call: impl FnOnce() -> T) -> usize {
    // "5" resets the peak resident size (VmHWM) to the current one.
    std::fs::write("/proc/self/clear_refs", "5").unwrap();
    let before = status("VmRSS:");
    let _kept = call();
    status("VmHWM:").saturating_sub(before)
}

/// The files `read_file` is tried on: a 2 GiB file (sparse, so binary), a 64 MiB line, 400,000
/// short lines; and the arguments of each case.
fn read_file_cases(root: &Path) -> Vec<Value> {
    std::fs::File::create(root.join("huge.bin")).unwrap().set_len(2 << 30).unwrap();
    std::fs::write(root.join("line.txt"), "y".repeat(64 * MIB)).unwrap();
    let lines: String = (0..400_000).map(|i| format!("line {i}\n")).collect();
    std::fs::write(root.join("lines.txt"), lines).unwrap();
    vec![
        json!({"path": "huge.bin"}),
        json!({"path": "line.txt"}),
        json!({"path": "lines.txt"}),
        json!({"path": "lines.txt", "start_line": 399_990}),
    ]
}

/// The pages `http_get` is tried on, each under its 512 KiB limit: tables a long cell pads,
/// 100,000 nested elements, nested lists, 55,000 small elements, 19,900 (laid out), plain words.
fn pages() -> Vec<(&'static str, String)> {
    let rows: String = (0..6000).map(|i| format!("<tr><td>{i}</td><td>b</td></tr>")).collect();
    vec![
        (
            "tables",
            format!("<table><tr><td>{}</td><td>a</td></tr>{rows}</table>", "w".repeat(250_000)),
        ),
        ("nested", "<div>".repeat(100_000)),
        ("lists", "<ul><li>".repeat(60_000)),
        ("tags", "<b>x</b> ".repeat(55_000)),
        ("elements", "<span>x</span>".repeat(19_900)),
        ("text", "word ".repeat(100_000)),
    ]
}

/// Runs case `index` of `tool` here and prints its peak.
fn run_case(tool: &str, index: usize) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let temp = tempfile::tempdir().unwrap();
    let peak = if tool == "read_file" {
        let arguments = read_file_cases(temp.path()).swap_remove(index);
        let read = ReadFile::new(FileRoot::new(temp.path()).unwrap());
        peak_of(|| runtime.block_on(read.call(arguments)))
    } else {
        let (name, page) = pages().swap_remove(index);
        assert!(page.len() < 512 * 1024, "{name}: {} bytes", page.len());
        let server = runtime.block_on(wiremock::MockServer::start());
        runtime.block_on(
            wiremock::Mock::given(wiremock::matchers::path("/page"))
                .respond_with(wiremock::ResponseTemplate::new(200).set_body_raw(page, "text/html"))
                .mount(&server),
        );
        let get = HttpGet::new(vec!["127.0.0.1".into()], HttpLimits::default()).unwrap();
        let arguments = json!({"url": format!("{}/page", server.uri())});
        peak_of(|| {
            let text = runtime.block_on(get.call(arguments)).unwrap();
            assert!(text.as_str().unwrap().starts_with("HTTP 200"), "{name}");
        })
    };
    println!("\npeak={peak}");
}

/// Runs case `index` of `tool` in a child process; its peak.
fn peak_in_child(tool: &str, index: usize) -> usize {
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "tools_stay_under_their_memory_bounds_on_the_worst_inputs"])
        .args(["--nocapture", "--test-threads=1"])
        .env(CASE, format!("{tool}/{index}"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let peak = stdout.lines().find_map(|line| line.strip_prefix("peak="));
    peak.and_then(|n| n.parse().ok()).unwrap_or_else(|| {
        panic!("{tool} case {index} failed: {stdout}{}", String::from_utf8_lossy(&output.stderr))
    })
}

#[test]
fn tools_stay_under_their_memory_bounds_on_the_worst_inputs() {
    if let Ok(case) = std::env::var(CASE) {
        let (tool, index) = case.split_once('/').unwrap();
        return run_case(tool, index.parse().unwrap());
    }
    let files = tempfile::tempdir().unwrap();
    let cases = [
        ("read_file", read_file_cases(files.path()).len(), READ_FILE_BOUND),
        ("http_get", pages().len(), HTTP_GET_BOUND),
    ];
    for (tool, count, bound) in cases {
        for index in 0..count {
            let peak = peak_in_child(tool, index);
            eprintln!("{tool} case {index}: peak {:.2} MiB", peak as f64 / MIB as f64);
            assert!(peak < bound, "{tool} case {index}: {peak} bytes, over {bound}");
        }
    }
}
