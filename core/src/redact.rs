//! Secrets (API keys, header values, environment values given to tools) scrubbed out of text
//! that quotes a server or a process: once, after the text has been decoded, before it reaches
//! an error, a log or a record.

use std::fmt;

use crate::error::Error;

/// The secrets of one endpoint or process, and the scrubbing of them. Its `Debug` shows only how
/// many it holds.
#[derive(Clone, Default)]
pub struct Redactor {
    secrets: Vec<String>,
}

impl Redactor {
    /// Scrubs these secrets (empty ones are ignored).
    pub fn new(secrets: impl IntoIterator<Item = String>) -> Self {
        Redactor { secrets: secrets.into_iter().filter(|s| !s.is_empty()).collect() }
    }

    /// `text` with each secret, and each one's JSON-escaped form, replaced by `<redacted>`.
    pub fn scrub(&self, mut text: String) -> String {
        for secret in &self.secrets {
            text = text.replace(secret.as_str(), "<redacted>");
            let escaped = serde_json::to_string(secret).unwrap_or_default();
            let escaped = escaped.trim_matches('"');
            if escaped != secret {
                text = text.replace(escaped, "<redacted>");
            }
        }
        text
    }

    /// Every string in `value` scrubbed, at any depth: for records kept as JSON, whose keys
    /// (the record's own field names) are left as they are, so that a short secret never
    /// mangles the record's shape.
    pub fn scrub_value(&self, value: &mut serde_json::Value) {
        use serde_json::Value;
        if self.secrets.is_empty() {
            return;
        }
        match value {
            Value::String(text) => *text = self.scrub(std::mem::take(text)),
            Value::Array(items) => items.iter_mut().for_each(|item| self.scrub_value(item)),
            Value::Object(fields) => fields.values_mut().for_each(|field| self.scrub_value(field)),
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }

    /// `error` with every message scrubbed.
    pub fn error(&self, error: Error) -> Error {
        if self.secrets.is_empty() { error } else { error.map_messages(|m| self.scrub(m)) }
    }
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Redactor({} secrets)", self.secrets.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_secret_is_scrubbed_however_short_and_in_its_json_escaped_form() {
        let redactor = Redactor::new(["k\"y1".to_string(), "sk-long-0123".to_string()]);
        assert_eq!(
            redactor.scrub("a k\"y1 b k\\\"y1 c sk-long-0123".into()),
            "a <redacted> b <redacted> c <redacted>"
        );
        let error = redactor.error(Error::Authentication { message: "key sk-long-0123".into() });
        assert_eq!(error.to_string(), "authentication failed: key <redacted>");
        assert_eq!(format!("{redactor:?}"), "Redactor(2 secrets)");
        let short = Redactor::new(["k".to_string()]);
        let mut record = serde_json::json!({"tokens": 3, "said": ["ok", {"kind": "k"}]});
        short.scrub_value(&mut record);
        assert_eq!(
            record,
            serde_json::json!({"tokens": 3, "said": ["o<redacted>", {"kind": "<redacted>"}]})
        );
    }
}
