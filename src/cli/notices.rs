//! What the layers around a model report as they work (a retry, a fallback moving on, a router
//! cooling a member down): one dim line each on standard error, hidden by `-q`, instead of raw
//! log records. `-v` shows the records as well.

use std::fmt::Write;

use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, Layer};

/// Where the layers log from, and the configuration building them.
pub const TARGETS: [&str; 2] = ["anymodel_backends::layers", "anymodel::config"];

/// Prints the layers' warnings as activity lines.
pub struct Notices {
    /// `-q`: print nothing.
    pub quiet: bool,
}

impl<S: tracing::Subscriber> Layer<S> for Notices {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        let metadata = event.metadata();
        if self.quiet
            || *metadata.level() != tracing::Level::WARN
            || !TARGETS.iter().any(|target| metadata.target().starts_with(target))
        {
            return;
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        super::output::activity(false, super::output::short(&fields.line(), 240));
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
