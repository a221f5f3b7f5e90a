//! Where and how to reach a remote API: the part of the configuration every remote backend shares.

use std::time::Duration;

use anymodel_core::{Capabilities, Result};

use super::secret::Secret;

/// The endpoint, credentials, extra headers, silence limit and capabilities of a remote model.
/// Its `Debug` shows no secret.
#[derive(Debug, Clone)]
pub struct Remote {
    /// The API root, before the endpoint's own path.
    pub base_url: String,
    /// The API key; `None` for servers that need none (a local Ollama, say).
    pub api_key: Option<Secret>,
    /// Headers sent with every request after the backend's own (values are kept secret).
    pub headers: Vec<(String, Secret)>,
    /// The longest the server may stay silent (before replying, or between stream chunks)
    /// before the call fails as transient. Default 120 s.
    pub timeout: Duration,
    /// The longest one call may take, from sending the request to the reply's last byte,
    /// however steadily the server sends (a trickle that never stops): past it the call fails,
    /// and is not retried. Default 30 minutes, room for the longest reasoning replies.
    pub deadline: Duration,
    /// What the model supports, when it is not what its provider's wire assumes (a server that
    /// has no JSON Schema output, say); `None` keeps the wire's.
    pub capabilities: Option<Capabilities>,
    /// Provider options merged into every request's body, beneath each request's own
    /// [`ChatRequest::extra`](anymodel_core::ChatRequest::extra) (which wins over these).
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl Remote {
    /// An endpoint at `base_url` without key or extra headers.
    pub fn new(base_url: impl Into<String>) -> Self {
        Remote {
            base_url: base_url.into(),
            api_key: None,
            headers: Vec::new(),
            timeout: Duration::from_secs(120),
            deadline: Duration::from_secs(30 * 60),
            capabilities: None,
            extra: serde_json::Map::new(),
        }
    }

    /// The key as an `Authorization: Bearer` header, for the APIs that take it so (OpenAI and
    /// the servers that speak its format, Cohere).
    #[cfg(any(feature = "openai", feature = "cohere"))]
    pub(crate) fn bearer(&self) -> Option<(&'static str, Secret)> {
        let key = self.api_key.as_ref()?;
        Some(("authorization", Secret::new(format!("Bearer {}", key.expose()))))
    }

    /// The values no error or log may show: the key and the extra headers' values.
    pub(crate) fn secrets(&self) -> Vec<Secret> {
        self.api_key.iter().chain(self.headers.iter().map(|(_, value)| value)).cloned().collect()
    }
}

/// The builder methods every remote backend's configuration has, written once: implement
/// [`RemoteConfig::remote`] and the rest comes with it.
pub trait RemoteConfig: Sized {
    /// The shared part of the configuration.
    fn remote(&mut self) -> &mut Remote;

    /// The same model behind another URL (another server, a proxy, a test server).
    fn base_url(mut self, url: impl Into<String>) -> Self {
        self.remote().base_url = url.into();
        self
    }

    /// Uses this API key.
    fn api_key(mut self, key: Secret) -> Self {
        self.remote().api_key = Some(key);
        self
    }

    /// Reads the API key from an environment variable (a clear error names it when unset).
    fn api_key_env(self, variable: &str) -> Result<Self> {
        Ok(self.api_key(Secret::from_env(variable)?))
    }

    /// Adds a header to every request.
    fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.remote().headers.push((name.into(), Secret::new(value)));
        self
    }

    /// Sets the silence limit.
    fn timeout(mut self, timeout: Duration) -> Self {
        self.remote().timeout = timeout;
        self
    }

    /// Sets the deadline of each call.
    fn deadline(mut self, deadline: Duration) -> Self {
        self.remote().deadline = deadline;
        self
    }

    /// Adds a provider option to every request's body (a request's own options win over it).
    fn extra(mut self, key: impl Into<String>, value: impl Into<serde_json::Value>) -> Self {
        self.remote().extra.insert(key.into(), value.into());
        self
    }

    /// Declares what the model supports, in place of what its provider's wire assumes: servers
    /// that speak one format differ in what they implement.
    fn capabilities(mut self, capabilities: Capabilities) -> Self {
        self.remote().capabilities = Some(capabilities);
        self
    }
}
