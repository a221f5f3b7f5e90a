//! What the layers around a model report as they work (a retry, a fallback moving on, a router
//! cooling a member down): one dim line each on standard error, hidden by `-q`, instead of raw
//! log records; and a Hub download's progress, as a bar. `-v` shows the records as well.

use std::fmt::Write;
use std::sync::Mutex;

use indicatif::ProgressBar;

use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, Layer};

/// Where the layers log from, and the configuration building them.
pub const TARGETS: [&str; 2] = ["anymodel_backends::layers", "anymodel::config"];

/// Whether events of `target` are a Hub download's progress.
fn is_download(target: &str) -> bool {
    #[cfg(feature = "hf-hub")]
    return target == anymodel::backends::hub::PROGRESS_TARGET;
    #[cfg(not(feature = "hf-hub"))]
    {
        let _ = target;
        false
    }
}

/// Prints the layers' warnings as activity lines, and downloads as a bar.
pub struct Notices {
    /// `-q`: print nothing.
    pub quiet: bool,
    /// The bar of the download under way.
    download: Mutex<Option<ProgressBar>>,
}

impl Notices {
    /// Notices, or none with `quiet`.
    pub fn new(quiet: bool) -> Self {
        Notices { quiet, download: Mutex::new(None) }
    }

    /// A download's progress: a bar from its first event (with a line saying what comes), a
    /// line when it is complete.
    fn download(&self, fields: &Fields) {
        let number = |name| fields.get(name).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        let (file, done, total) =
            (fields.get("file").unwrap_or("a model"), number("done"), number("total"));
        let Ok(mut bar) = self.download.lock() else { return };
        let current = bar.get_or_insert_with(|| {
            let resumed =
                if done > 0 { format!(", resuming at {}", mib(done)) } else { String::new() };
            super::output::activity(
                false,
                format!("↓ downloading {file} ({}{resumed})", mib(total)),
            );
            super::output::byte_bar("↓", total)
        });
        current.set_position(done);
        if done >= total {
            current.finish_and_clear();
            *bar = None;
            super::output::activity(false, format!("↓ downloaded {file}"));
        }
    }
}

/// Bytes as MiB, for people.
fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

impl<S: tracing::Subscriber> Layer<S> for Notices {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        let metadata = event.metadata();
        let download = is_download(metadata.target());
        let layers = *metadata.level() == tracing::Level::WARN
            && TARGETS.iter().any(|target| metadata.target().starts_with(target));
        if self.quiet || !(download || layers) {
            return;
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        if download {
            self.download(&fields);
        } else {
            super::output::activity(false, super::output::short(&fields.line(), 240));
        }
    }
}

/// An event's fields, gathered.
#[derive(Default)]
struct Fields {
    message: String,
    rest: Vec<(String, String)>,
}

impl Fields {
    fn get(&self, name: &str) -> Option<&str> {
        self.rest.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// `↻ MODEL: retrying (retry 2, wait 1.2s): ERROR` for a retry, `→ MODEL: MESSAGE: ERROR`
    /// for the rest.
    fn line(&self) -> String {
        let mark = if self.message.starts_with("retrying") { "↻" } else { "→" };
        let model = self.get("model").unwrap_or("model");
        let mut line = format!("{mark} {model}: {}", self.message);
        let details: Vec<String> = self
            .rest
            .iter()
            .filter(|(name, _)| name != "model" && name != "error")
            .map(|(name, value)| format!("{} {value}", name.replace('_', " ")))
            .collect();
        if !details.is_empty() {
            let _ = write!(line, " ({})", details.join(", "));
        }
        if let Some(error) = self.get("error") {
            let _ = write!(line, ": {error}");
        }
        line
    }
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let text = format!("{value:?}");
        match field.name() {
            "message" => self.message = text,
            name => self.rest.push((name.to_string(), text)),
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "message" => self.message = value.to_string(),
            name => self.rest.push((name.to_string(), value.to_string())),
        }
    }
}
