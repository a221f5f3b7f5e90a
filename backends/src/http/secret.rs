//! A secret (an API key, an auth header) that never shows in Debug output, errors or logs.

use std::fmt;

use anymodel_core::{Error, Redactor, Result};

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

/// The scrubber of these secrets (the endpoint's key and header values), applied to every error
/// before it leaves the backend, whatever class it is and wherever it arose.
pub(crate) fn redactor(secrets: &[Secret]) -> Redactor {
    Redactor::new(secrets.iter().map(|secret| secret.0.clone()))
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
    fn a_missing_variable_is_named() {
        let err = Secret::from_env("ANYMODEL_TEST_SURELY_UNSET_KEY").unwrap_err();
        assert_eq!(
            err.to_string(),
            "configuration error: no API key: set the environment variable ANYMODEL_TEST_SURELY_UNSET_KEY"
        );
    }
}
