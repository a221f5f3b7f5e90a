//! How one MCP server is reached and what of it is used: `[mcp.NAME]` in anymodel's config.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use anymodel_core::Redactor;
use serde::{Deserialize, Serialize};

use crate::error::McpError;

/// One MCP server: a command to start (stdio) or an address (streamable HTTP), the tools of it
/// to use, and the limits its calls run under.
///
/// ```toml
/// [mcp.files]
/// command = "npx"
/// args = ["-y", "@modelcontextprotocol/server-filesystem", "./docs"]
/// deny = ["write_file", "edit_file"]
///
/// [mcp.github]
/// url = "https://api.githubcopilot.com/mcp/"
/// bearer_env = "GITHUB_TOKEN"
/// allow = ["create_issue", "search_issues"]
/// timeout_secs = 30
/// ```
#[derive(Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// The program of a stdio server, found on the `PATH` like a shell would.
    pub command: Option<String>,
    /// Its arguments.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    /// Environment variables set for it, beside those anymodel runs with.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// The folder it starts in (default: the current one).
    pub cwd: Option<PathBuf>,
    /// The address of a streamable HTTP server.
    pub url: Option<String>,
    /// HTTP headers sent with every request to it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// The environment variable holding a bearer key for it (sent as `Authorization: Bearer`).
    pub bearer_env: Option<String>,
    /// Only these of its tools are used (default: all).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow: Vec<String>,
    /// These of its tools are never used.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deny: Vec<String>,
    /// How long one call may run, in seconds (default 60).
    pub timeout_secs: Option<f64>,
    /// How long starting and greeting the server may take, in seconds (default 60: `npx`
    /// may fetch a package first).
    pub startup_timeout_secs: Option<f64>,
    /// The most calls to it at once (default 4); more wait their turn.
    pub max_concurrent: Option<usize>,
    /// The most bytes of text one result gives the model (default 256 KiB); the rest is cut
    /// with a note saying how much was left out.
    pub max_result_bytes: Option<usize>,
}

/// Values of `env` and `headers` are left out: they hold keys.
impl std::fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerConfig")
            .field("command", &self.command)
            .field("args", &self.args)
            .field("env", &self.env.keys().collect::<Vec<_>>())
            .field("cwd", &self.cwd)
            .field("url", &self.url)
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field("bearer_env", &self.bearer_env)
            .field("allow", &self.allow)
            .field("deny", &self.deny)
            .finish_non_exhaustive()
    }
}

/// How a server is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportKind {
    /// A child process spoken to over its standard input and output.
    Stdio,
    /// Streamable HTTP.
    Http,
}

impl ServerConfig {
    /// A stdio server started as `command args…`.
    pub fn stdio(
        command: impl Into<String>,
        args: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        ServerConfig {
            command: Some(command.into()),
            args: args.into_iter().map(Into::into).collect(),
            ..ServerConfig::default()
        }
    }

    /// A streamable HTTP server at `url`.
    pub fn http(url: impl Into<String>) -> Self {
        ServerConfig { url: Some(url.into()), ..ServerConfig::default() }
    }

    /// Checks the entry for the server `name`: one of `command` and `url`, the options of that
    /// transport only, positive limits.
    pub fn check(&self, name: &str) -> Result<TransportKind, McpError> {
        let wrong = |message: String| Err(McpError::Config { server: name.to_string(), message });
        let kind = match (&self.command, &self.url) {
            (Some(_), None) => TransportKind::Stdio,
            (None, Some(url)) if url.starts_with("http://") || url.starts_with("https://") => {
                TransportKind::Http
            }
            (None, Some(url)) => return wrong(format!("url `{url}` is not an http(s) address")),
            (Some(_), Some(_)) => {
                return wrong("give either `command` (stdio) or `url` (HTTP), not both".into());
            }
            (None, None) => {
                return wrong("give `command` (a stdio server) or `url` (an HTTP server)".into());
            }
        };
        if kind == TransportKind::Stdio && (!self.headers.is_empty() || self.bearer_env.is_some()) {
            return wrong("`headers` and `bearer_env` are for HTTP servers (`url`)".into());
        }
        if kind == TransportKind::Http
            && (!self.args.is_empty() || !self.env.is_empty() || self.cwd.is_some())
        {
            return wrong("`args`, `env` and `cwd` are for stdio servers (`command`)".into());
        }
        for (key, value) in [
            ("timeout_secs", self.timeout_secs),
            ("startup_timeout_secs", self.startup_timeout_secs),
        ] {
            if let Some(secs) = value
                && !(secs > 0.0 && secs <= 86_400.0)
            {
                return wrong(format!("`{key}` must be above 0 and at most a day, not {secs}"));
            }
        }
        if self.max_concurrent == Some(0) {
            return wrong("`max_concurrent` must be at least 1".into());
        }
        Ok(kind)
    }

    /// Whether the tool `name` of this server is used: on the allow list (when there is one)
    /// and not on the deny list.
    pub fn permits(&self, tool: &str) -> bool {
        (self.allow.is_empty() || self.allow.iter().any(|t| t == tool))
            && !self.deny.iter().any(|t| t == tool)
    }

    /// What is scrubbed from the server's text (its standard error, its errors, its results):
    /// header values, the bearer key, and `env` values of 8 characters or more (shorter ones,
    /// such as `1` or `info`, are settings, not keys, and scrubbing them would garble the text).
    pub(crate) fn redactor(&self) -> Redactor {
        let bearer = self.bearer_env.as_ref().and_then(|variable| std::env::var(variable).ok());
        let env = self.env.values().filter(|value| value.chars().count() >= 8);
        Redactor::new(self.headers.values().chain(env).cloned().chain(bearer))
    }

    pub(crate) fn timeout(&self) -> Duration {
        Duration::from_secs_f64(self.timeout_secs.unwrap_or(60.0))
    }

    pub(crate) fn startup_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.startup_timeout_secs.unwrap_or(60.0))
    }

    pub(crate) fn max_concurrent(&self) -> usize {
        self.max_concurrent.unwrap_or(4)
    }

    pub(crate) fn max_result_bytes(&self) -> usize {
        self.max_result_bytes.unwrap_or(256 * 1024)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_names_one_transport_and_its_options() {
        assert_eq!(ServerConfig::stdio("srv", ["a"]).check("s").unwrap(), TransportKind::Stdio);
        assert_eq!(ServerConfig::http("http://x/mcp").check("s").unwrap(), TransportKind::Http);
        let both =
            ServerConfig { url: Some("http://x".into()), ..ServerConfig::stdio("a", [""; 0]) };
        assert!(both.check("s").unwrap_err().to_string().contains("not both"));
        assert!(ServerConfig::default().check("s").is_err());
        let mixed =
            ServerConfig { bearer_env: Some("K".into()), ..ServerConfig::stdio("a", [""; 0]) };
        assert!(mixed.check("s").unwrap_err().to_string().contains("HTTP servers"));
        let slow = ServerConfig { timeout_secs: Some(0.0), ..ServerConfig::http("http://x") };
        assert!(slow.check("s").unwrap_err().to_string().contains("timeout_secs"));
    }

    #[test]
    fn allow_and_deny_choose_the_tools() {
        let config = ServerConfig {
            allow: vec!["a".into(), "b".into()],
            deny: vec!["b".into()],
            ..ServerConfig::default()
        };
        assert!(config.permits("a"));
        assert!(!config.permits("b"));
        assert!(!config.permits("c"));
    }

    #[test]
    fn keys_are_scrubbed_and_short_settings_are_not() {
        let config = ServerConfig {
            env: [
                ("TOKEN".to_string(), "ghp_0123456789".to_string()),
                ("DEBUG".to_string(), "1".to_string()),
            ]
            .into(),
            ..ServerConfig::stdio("srv", [""; 0])
        };
        assert_eq!(
            config.redactor().scrub("token ghp_0123456789, 1 file".into()),
            "token <redacted>, 1 file"
        );
    }

    #[test]
    fn debug_output_leaves_secrets_out() {
        let config = ServerConfig {
            env: [("TOKEN".to_string(), "sk-secret".to_string())].into(),
            headers: [("X-Key".to_string(), "sk-other".to_string())].into(),
            ..ServerConfig::stdio("srv", [""; 0])
        };
        let debug = format!("{config:?}");
        assert!(
            debug.contains("TOKEN") && !debug.contains("sk-secret") && !debug.contains("sk-other")
        );
    }
}
