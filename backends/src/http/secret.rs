//! A secret (an API key, an auth header) that never shows in Debug output, errors or logs.

use std::fmt;

use anymodel_core::{Error, Result};

/// A secret value such as an API key. Its `Debug` prints `Secret(<redacted>)` and it has no
/// `Display`, so it cannot leak into logs or error messages by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// Reads a secret from an environment variable; a missing or empty variable is a
    /// configuration error that names the variable to set.
    pub fn from_env(variable: &str) -> Result<Self> {
        match std::env::var(variable) {
            Ok(value) if !value.trim().is_empty() => Ok(Secret(value.trim().to_string())),
            Ok(_) => Err(Error::config(format!("the environment variable {variable} is empty"))),
            Err(_) => {
                Err(Error::config(format!("no API key: set the environment variable {variable}")))
            }
        }
    }

    /// The secret itself, for the one place that sends it.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

/// The secrets of one endpoint (its key, its extra headers' values), scrubbed out of every error
/// before it leaves the backend: once, after the server's text has been decoded, whatever class
/// the error is and wherever it arose (a status, a body that is not JSON, an event inside a
/// stream).
#[derive(Clone, Default)]
pub(crate) struct Redactor {
    secrets: Vec<Secret>,
}

impl Redactor {
    /// Scrubs `secrets` (empty ones are ignored).
    pub(crate) fn new(secrets: Vec<Secret>) -> Self {
        Redactor { secrets: secrets.into_iter().filter(|s| !s.0.is_empty()).collect() }
    }

    /// `text` with each secret, and each one's JSON-escaped form, replaced by `<redacted>`.
    pub(crate) fn scrub(&self, mut text: String) -> String {
        for secret in &self.secrets {
            text = text.replace(secret.expose(), "<redacted>");
            let escaped = serde_json::to_string(secret.expose()).unwrap_or_default();
            let escaped = escaped.trim_matches('"');
            if escaped != secret.expose() {
                text = text.replace(escaped, "<redacted>");
            }
        }
        text
    }

    /// `error` with every message scrubbed.
    pub(crate) fn error(&self, error: Error) -> Error {
        if self.secrets.is_empty() { error } else { error.map_messages(|m| self.scrub(m)) }
    }
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Redactor({} secrets)", self.secrets.len())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_hides_the_value() {
        let secret = Secret::new("sk-live-1234");
        assert_eq!(format!("{secret:?}"), "Secret(<redacted>)");
        assert_eq!(secret.expose(), "sk-live-1234");
    }

    #[test]
    fn every_secret_is_scrubbed_however_short_and_in_its_json_escaped_form() {
        let redactor = Redactor::new(vec![Secret::new("k\"y1"), Secret::new("sk-long-0123")]);
        assert_eq!(
            redactor.scrub("a k\"y1 b k\\\"y1 c sk-long-0123".into()),
            "a <redacted> b <redacted> c <redacted>"
        );
        let error = redactor.error(Error::Authentication { message: "key sk-long-0123".into() });
        assert_eq!(error.to_string(), "authentication failed: key <redacted>");
    }

    #[test]
    fn a_missing_variable_is_named() {
        let err = Secret::from_env("ANYMODEL_TEST_SURELY_UNSET_KEY").unwrap_err();
        assert_eq!(
            err.to_string(),
            "configuration error: no API key: set the environment variable ANYMODEL_TEST_SURELY_UNSET_KEY"
        );
    }
}
