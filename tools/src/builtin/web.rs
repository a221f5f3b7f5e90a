//! `http_get`: fetches a page from an allowed host, within size and time limits.

use std::time::Duration;

use anymodel_core::schemars::{self, JsonSchema};
use anymodel_core::{ToolError, TypedTool, async_trait};
use serde::Deserialize;

/// The width HTML is laid out in as text: a bounded width bounds the padding tables get (an
/// unbounded one turned a 480 KB page of tables into gigabytes).
const RENDER_WIDTH: usize = 100;

/// The limits of `http_get`.
#[derive(Debug, Clone)]
pub struct HttpLimits {
    /// The most bytes of a body read; the rest is cut.
    pub max_bytes: usize,
    /// The longest a request may take.
    pub timeout: Duration,
}

impl Default for HttpLimits {
    /// 512 KiB in 20 seconds.
    fn default() -> Self {
        HttpLimits { max_bytes: 512 * 1024, timeout: Duration::from_secs(20) }
    }
}

/// Fetches URLs whose host is on an allow-list (redirects too).
#[derive(Debug, Clone)]
pub struct HttpGet {
    hosts: Vec<String>,
    limits: HttpLimits,
    client: reqwest::Client,
}

impl HttpGet {
    /// Fetches from `hosts` only (exact names, such as `docs.rs`), within `limits`.
    pub fn new(hosts: Vec<String>, limits: HttpLimits) -> Result<Self, ToolError> {
        let hosts: Vec<String> = hosts.into_iter().map(|h| h.to_ascii_lowercase()).collect();
        let allowed = hosts.clone();
        let policy = reqwest::redirect::Policy::custom(move |attempt| {
            let host = attempt.url().host_str().map(str::to_ascii_lowercase);
            if attempt.previous().len() >= 5 {
                attempt.error("too many redirects")
            } else if host.is_some_and(|h| allowed.contains(&h)) {
                attempt.follow()
            } else {
                attempt.error("a redirect to a host that is not allowed")
            }
        });
        let client = reqwest::Client::builder()
            .timeout(limits.timeout)
            .redirect(policy)
            .build()
            .map_err(|e| ToolError::failed(format!("HTTP client: {e}")))?;
        Ok(HttpGet { hosts, limits, client })
    }
}

/// The arguments of `http_get`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct HttpGetArgs {
    /// The URL, http or https, on an allowed host.
    pub url: String,
}

#[async_trait]
impl TypedTool for HttpGet {
    const NAME: &'static str = "http_get";
    const DESCRIPTION: &'static str = "Fetches a web page or file by URL (only from the hosts the user allowed) and returns its status and text.";
    type Args = HttpGetArgs;
    type Output = String;

    async fn run(&self, args: HttpGetArgs) -> Result<String, ToolError> {
        let url = reqwest::Url::parse(&args.url)
            .map_err(|e| ToolError::InvalidArguments(format!("`{}`: {e}", args.url)))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(ToolError::InvalidArguments(format!(
                "`{}`: only http and https",
                args.url
            )));
        }
        let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
        if !self.hosts.contains(&host) {
            return Err(ToolError::InvalidArguments(format!(
                "`{host}` is not an allowed host (allowed: {})",
                self.hosts.join(", ")
            )));
        }
        let mut response =
            self.client.get(url).send().await.map_err(|e| ToolError::failed(e.without_url()))?;
        let status = response.status();
        let html = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("html"));
        let mut body = Vec::new();
        let mut cut = false;
        while let Some(chunk) =
            response.chunk().await.map_err(|e| ToolError::failed(e.without_url()))?
        {
            let room = self.limits.max_bytes - body.len();
            body.extend_from_slice(&chunk[..chunk.len().min(room)]);
            if chunk.len() > room {
                cut = true;
                break;
            }
        }
        let mut text = if html {
            // Rendering is CPU work: off the runtime's threads, so the tool timeout holds.
            tokio::task::spawn_blocking(move || super::html::page_text(&body, RENDER_WIDTH))
                .await
                .map_err(|e| ToolError::failed(format!("rendering the page failed: {e}")))?
        } else {
            String::from_utf8_lossy(&body).into_owned()
        };
        // The text the model gets is bounded like the body it came from.
        if text.len() > self.limits.max_bytes {
            let end = (0..=self.limits.max_bytes).rev().find(|&i| text.is_char_boundary(i));
            text.truncate(end.unwrap_or(0));
            cut = true;
        }
        let note = if cut {
            format!("\n[… cut at {} bytes]", self.limits.max_bytes)
        } else {
            String::new()
        };
        Ok(format!("HTTP {status}\n\n{text}{note}"))
    }
}
