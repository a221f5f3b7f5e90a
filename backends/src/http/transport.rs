//! The HTTP client the remote backends share, with one rule for timeouts: the server may stay
//! silent for at most the configured time, before its headers or between stream chunks, and a
//! whole body must arrive within it. Long generations that keep streaming are cut only by the
//! call's deadline (`Remote::deadline`).

use std::future::Future;
use std::time::Duration;

use anymodel_core::{Error, Result};
use futures::Stream;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::MAX_REPLY_BYTES;
use super::errors;
use super::remote::Remote;
use super::secret::Secret;
use super::sse::{SseEvent, sse_events};

/// The most of a refusal's body read: enough for any server's message.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// A client for one endpoint: the reqwest client, the endpoint's URL, the silence limit and the
/// headers every request carries (authentication among them, marked sensitive).
#[derive(Debug, Clone)]
pub(crate) struct HttpClient {
    client: reqwest::Client,
    url: reqwest::Url,
    headers: HeaderMap,
    timeout: Duration,
}

impl HttpClient {
    /// A client for `remote`'s endpoint at `path`, sending the backend's `own` headers (its
    /// authentication) then the configured extra headers with every request, waiting at most
    /// the configured timeout for the server to say something; no secret appears in its errors.
    pub(crate) fn new(
        remote: &Remote,
        path: &str,
        own: impl IntoIterator<Item = (&'static str, Secret)>,
    ) -> Result<Self> {
        let url = endpoint_url(&remote.base_url, path)?;
        let headers = header_map(own, &remote.headers)?;
        let timeout = remote.timeout;
        let client = reqwest::Client::builder()
            .connect_timeout(timeout.min(Duration::from_secs(30)))
            .build()
            .map_err(|err| Error::config(format!("the HTTP client could not start: {err}")))?;
        Ok(HttpClient { client, url, headers, timeout })
    }

    /// The same client (its connections, headers and timeout shared) for another endpoint at
    /// `path` below `base_url`.
    pub(crate) fn at(&self, base_url: &str, path: &str) -> Result<Self> {
        Ok(HttpClient { url: endpoint_url(base_url, path)?, ..self.clone() })
    }

    /// POSTs a JSON body and returns the response once its status says success.
    pub(crate) async fn post(&self, body: &Value) -> Result<reqwest::Response> {
        let request =
            self.client.post(self.url.clone()).headers(self.headers.clone()).json(body).send();
        let response = self.within("waiting for the response", request).await?;
        let response = response.map_err(|err| errors::from_transport_at(err, &self.url))?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let headers = response.headers().clone();
        // Secrets a server echoes back are scrubbed from the error by the model (`Redactor`).
        let body =
            match self.within("reading the error body", bounded(response, MAX_ERROR_BODY)).await {
                Ok(Ok((body, _))) => String::from_utf8_lossy(&body).into_owned(),
                Ok(Err(_)) | Err(_) => String::new(),
            };
        Err(errors::from_status(status, &headers, &body))
    }

    /// Reads a whole JSON body; a body that is not the JSON expected is an invalid response that
    /// quotes the start of what came.
    pub(crate) async fn json<T: DeserializeOwned>(&self, response: reqwest::Response) -> Result<T> {
        // The whole body within the limit, however it trickles: it comes after the generation.
        let body = tokio::time::timeout(self.timeout, bounded(response, MAX_REPLY_BYTES))
            .await
            .map_err(|_| {
                Error::transient(format!(
                    "reading the response: not whole after {} s",
                    self.timeout.as_secs_f64()
                ))
            })?;
        let (body, cut) = body.map_err(errors::from_transport)?;
        if cut {
            return Err(Error::invalid_response(format!(
                "the reply is larger than {} MiB",
                MAX_REPLY_BYTES / (1024 * 1024)
            )));
        }
        serde_json::from_slice(&body).map_err(|err| {
            let (start, _) = errors::server_message(&String::from_utf8_lossy(&body));
            Error::invalid_response(format!("the body is not the JSON expected ({err}): {start}"))
        })
    }

    /// The server-sent events of a streaming response.
    pub(crate) fn events(
        &self,
        response: reqwest::Response,
    ) -> impl Stream<Item = Result<SseEvent>> + Send + 'static {
        sse_events(response.bytes_stream())
    }

    /// The silence limit.
    pub(crate) fn timeout(&self) -> Duration {
        self.timeout
    }

    async fn within<F: Future>(&self, what: &str, future: F) -> Result<F::Output> {
        tokio::time::timeout(self.timeout, future)
            .await
            .map_err(|_| errors::timed_out(what, self.timeout))
    }
}

/// The URL of the endpoint at `path` below `base_url`, which must be http(s).
fn endpoint_url(base_url: &str, path: &str) -> Result<reqwest::Url> {
    let joined = format!("{}/{path}", base_url.trim_end_matches('/'));
    let url = reqwest::Url::parse(&joined)
        .map_err(|err| Error::config(format!("base_url `{base_url}` is not a URL: {err}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Error::config(format!(
            "base_url `{base_url}`: expected an http:// or https:// URL"
        )));
    }
    Ok(url)
}

/// At most `limit` bytes of a body, and whether there was more.
async fn bounded(
    mut response: reqwest::Response,
    limit: usize,
) -> reqwest::Result<(Vec<u8>, bool)> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        let room = limit - body.len();
        if chunk.len() > room {
            body.extend_from_slice(&chunk[..room]);
            return Ok((body, true));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((body, false))
}

/// The header map of a backend: its own headers then the user's extra headers, each checked
/// with a clear error and marked sensitive, so that no Debug output shows them.
fn header_map(
    own: impl IntoIterator<Item = (&'static str, Secret)>,
    extra: &[(String, Secret)],
) -> Result<HeaderMap> {
    let mut map = HeaderMap::new();
    let own = own.into_iter().map(|(name, value)| (name.to_string(), value));
    let extra = extra.iter().cloned();
    for (name, value) in own.chain(extra) {
        let header = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| Error::config(format!("`{name}` is not a valid HTTP header name")))?;
        let mut value = HeaderValue::from_str(value.expose()).map_err(|_| {
            Error::config(format!("the value of header `{name}` is not a valid header value"))
        })?;
        value.set_sensitive(true);
        map.insert(header, value);
    }
    Ok(map)
}
