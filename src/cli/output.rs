//! Output conventions: answers on standard output, activity dim on standard error (off with
//! `-q`), progress bars that only draw on a terminal.

use std::sync::OnceLock;
use std::time::Duration;

use console::style;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

/// The bars drawn on standard error, together, so that a download's bar and the spinner of
/// the model it is for stack instead of drawing over each other.
fn bars() -> &'static MultiProgress {
    static BARS: OnceLock<MultiProgress> = OnceLock::new();
    BARS.get_or_init(MultiProgress::new)
}

/// Writes to standard output; when the reader has gone (`anymodel … | head`), exits quietly
/// as command-line tools do, instead of failing on every later line.
pub fn write_stdout(text: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    let written = stdout.write_fmt(text).and_then(|()| stdout.flush());
    if let Err(error) = written {
        if error.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("anymodel: writing the output: {error}");
        std::process::exit(1);
    }
}

/// `println!` through [`write_stdout`].
macro_rules! outln {
    () => { $crate::cli::output::write_stdout(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::cli::output::write_stdout(format_args!("{}\n", format_args!($($arg)*))) };
}

/// `print!` through [`write_stdout`].
macro_rules! out {
    ($($arg:tt)*) => { $crate::cli::output::write_stdout(format_args!($($arg)*)) };
}

pub(crate) use {out, outln};

/// Prints a line of activity (a tool call, a loaded model) dim on standard error, unless quiet.
pub fn activity(quiet: bool, line: impl std::fmt::Display) {
    if !quiet {
        bars().suspend(|| eprintln!("{}", style(line).dim()));
    }
}

/// Writes a question on standard error, the answer to follow on the same line.
pub fn prompt(question: &str) {
    use std::io::Write;
    bars().suspend(|| {
        eprint!("{question}");
        let _ = std::io::stderr().flush();
    });
}

/// Writes a warning on standard error, even when quiet: something the user should know went
/// wrong beside the work (which went on).
pub fn warning(line: impl std::fmt::Display) {
    bars().suspend(|| eprintln!("anymodel: warning: {line}"));
}

/// Writes a piece of a model's reasoning dim on standard error, as it streams, unless quiet.
pub fn reasoning(quiet: bool, text: &str) {
    if !quiet {
        bars().suspend(|| eprint!("{}", style(text).dim()));
    }
}

/// A spinner on standard error while something slow happens (drawn only on a terminal).
pub fn spinner(quiet: bool, message: impl Into<String>) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let bar = bars().add(ProgressBar::new_spinner());
    if let Ok(template) = ProgressStyle::with_template("{spinner} {msg} {elapsed}") {
        bar.set_style(template);
    }
    bar.set_message(message.into());
    bar.enable_steady_tick(Duration::from_millis(100));
    bar
}

/// A bar on standard error for `total` bytes (drawn only on a terminal).
pub fn byte_bar(message: impl Into<String>, total: u64) -> ProgressBar {
    let bar = bars().add(ProgressBar::new(total));
    if let Ok(template) =
        ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}")
    {
        bar.set_style(template.progress_chars("=> "));
    }
    bar.set_message(message.into());
    bar
}

/// `text` cut to `chars` characters on one line, for activity lines.
pub fn short(text: &str, chars: usize) -> String {
    let line = text.replace('\n', " ");
    match line.char_indices().nth(chars) {
        Some((at, _)) => format!("{}…", &line[..at]),
        None => line,
    }
}
