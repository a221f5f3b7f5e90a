//! Downloads from the Hugging Face Hub into the models folder, with the `hf-hub` crate: one file
//! at a time, written to `FILE.partial` beside its final place so that a cut download resumes
//! from where it stopped (an HTTP range request), checked against the size and SHA-256 the Hub
//! announces before it takes its name, and reported as progress events.

use std::io::SeekFrom;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anymodel_core::{Error, Result};
use futures::StreamExt;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

use super::HubFile;

/// The tracing target of download progress: an `INFO` event with the fields `file` (the Hub
/// name), `done` and `total` (bytes) when a download starts, about ten times a second while it
/// runs, and when it ends (`done == total`). The CLI draws them as a progress bar.
pub const PROGRESS_TARGET: &str = "anymodel_backends::download";

/// How long a download may go without receiving a byte before it is given up (and can be
/// resumed).
const STALL: Duration = Duration::from_secs(60);

/// Where Hub files come from (the Hub's address) and go to (a models folder).
#[derive(Debug, Clone)]
pub struct Hub {
    endpoint: Option<String>,
    folder: PathBuf,
}

impl Hub {
    /// Downloads into `folder`, from the Hub at `HF_ENDPOINT` (else `https://huggingface.co`),
    /// with the token from `HF_TOKEN` (or the Hugging Face CLI's login) for gated models.
    pub fn new(folder: impl Into<PathBuf>) -> Self {
        Hub { endpoint: None, folder: folder.into() }
    }

    /// Into the models folder ([`crate::store::models_folder`]).
    pub fn from_env() -> Result<Self> {
        crate::store::models_folder().map(Hub::new).ok_or_else(|| {
            Error::config("no folder to download models into: set XDG_DATA_HOME or HOME")
        })
    }

    /// Downloads from the Hub (or a mirror) at `url` instead.
    pub fn endpoint(mut self, url: impl Into<String>) -> Self {
        self.endpoint = Some(url.into());
        self
    }

    /// Where `file` lives once downloaded: `OWNER/REPO/FILE` in the folder
    /// (`OWNER/REPO@REVISION/FILE` for a pinned revision).
    pub fn path_of(&self, file: &HubFile) -> PathBuf {
        self.folder.join(file.local_path())
    }

    /// The local path of `file`: found where an earlier download put it (without asking the
    /// Hub, so it works offline), else downloaded, resuming a cut download.
    pub async fn fetch(&self, file: &HubFile) -> Result<PathBuf> {
        let dest = self.path_of(file);
        if dest.is_file() {
            return Ok(dest);
        }
        let mut client = hf_hub::HFClient::builder();
        if let Some(endpoint) = &self.endpoint {
            client = client.endpoint(endpoint);
        }
        let client = client.build().map_err(|err| hub_error(file, err))?;
        let repo = client.model(&file.owner, &file.repo);
        let metadata = repo
            .get_file_metadata()
            .filepath(&file.file)
            .maybe_revision(file.revision.as_deref())
            .send()
            .await
            .map_err(|err| hub_error(file, err))?;
        let size = metadata.file_size;
        // The Hub names large (LFS) files by their SHA-256; small ones by a git hash that
        // cannot be checked here, so those are checked by size alone.
        let sha256 = Some(metadata.etag.to_ascii_lowercase())
            .filter(|etag| etag.len() == 64 && etag.bytes().all(|b| b.is_ascii_hexdigit()));

        let partial = partial_path(&dest);
        let io = |what: &str, err: std::io::Error| Error::Backend {
            message: format!("{what} {}: {err}", partial.display()),
        };
        if let Some(parent) = partial.parent() {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(|err| io("creating the folder of", err))?;
        }
        let mut out = tokio::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&partial)
            .await
            .map_err(|err| io("opening", err))?;
        let mut done = out.metadata().await.map_err(|err| io("reading", err))?.len();
        if done > size {
            done = 0;
        }
        let mut hasher = Sha256::new();
        if done > 0 {
            hash_prefix(&mut out, done, &mut hasher).await.map_err(|err| io("reading", err))?;
        }
        out.set_len(done).await.map_err(|err| io("writing", err))?;
        out.seek(SeekFrom::Start(done)).await.map_err(|err| io("writing", err))?;

        let cut = |done: u64, why: String| Error::Transient {
            message: format!(
                "downloading {file} stopped at {done} of {size} bytes ({why}); run the same command again to resume"
            ),
            retry_after: None,
        };
        let mut progress = Progress { file, total: size, last: None };
        if done < size {
            let (length, mut stream) = repo
                .download_file_stream()
                .filename(&file.file)
                .maybe_revision(file.revision.clone())
                .maybe_range((done > 0).then_some(done..size))
                .send()
                .await
                .map_err(|err| hub_error(file, err))?;
            if done > 0 && length == Some(size) {
                // The server ignored the range and sends the whole file: start over.
                done = 0;
                hasher = Sha256::new();
                out.set_len(0).await.map_err(|err| io("writing", err))?;
                out.seek(SeekFrom::Start(0)).await.map_err(|err| io("writing", err))?;
            }
            progress.report(done, false);
            loop {
                let chunk = match tokio::time::timeout(STALL, stream.next()).await {
                    Err(_) => return Err(cut(done, format!("no data for {} s", STALL.as_secs()))),
                    Ok(None) => break,
                    Ok(Some(Err(err))) => return Err(cut(done, err.to_string())),
                    Ok(Some(Ok(chunk))) => chunk,
                };
                if done + chunk.len() as u64 > size {
                    let _ = tokio::fs::remove_file(&partial).await;
                    return Err(Error::InvalidResponse {
                        message: format!(
                            "the Hub sent more of {file} than the {size} bytes it announced"
                        ),
                    });
                }
                hasher.update(&chunk);
                out.write_all(&chunk).await.map_err(|err| io("writing", err))?;
                done += chunk.len() as u64;
                progress.report(done, false);
            }
            out.flush().await.map_err(|err| io("writing", err))?;
            out.sync_all().await.map_err(|err| io("writing", err))?;
        }
        if done != size {
            return Err(cut(done, "the connection closed early".into()));
        }
        drop(out);
        if let Some(expected) = sha256 {
            let got: String = hasher.finalize().iter().map(|b| format!("{b:02x}")).collect();
            if got != expected {
                let _ = tokio::fs::remove_file(&partial).await;
                return Err(Error::InvalidResponse {
                    message: format!(
                        "{file} is damaged: its SHA-256 is {got}, the Hub announced {expected}; the download was deleted, run the same command again"
                    ),
                });
            }
        }
        tokio::fs::rename(&partial, &dest).await.map_err(|err| io("renaming", err))?;
        progress.report(done, true);
        Ok(dest)
    }
}

/// The file a download is written to until it is complete and checked.
fn partial_path(dest: &Path) -> PathBuf {
    let mut name = dest.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    dest.with_file_name(name)
}

/// Feeds the first `length` bytes of `file` (what an earlier try downloaded) to `hasher`.
async fn hash_prefix(
    file: &mut tokio::fs::File,
    length: u64,
    hasher: &mut Sha256,
) -> std::io::Result<()> {
    file.seek(SeekFrom::Start(0)).await?;
    let mut buffer = vec![0; 1 << 20];
    let mut left = length;
    while left > 0 {
        let want = buffer.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let read = file.read(&mut buffer[..want]).await?;
        if read == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        hasher.update(&buffer[..read]);
        left -= read as u64;
    }
    Ok(())
}

/// Progress events for one download, at most about ten a second.
struct Progress<'a> {
    file: &'a HubFile,
    total: u64,
    last: Option<Instant>,
}

impl Progress<'_> {
    fn report(&mut self, done: u64, last: bool) {
        // Only the last event says the whole file, once it is checked and in place.
        let soon = self.last.is_some_and(|at| at.elapsed() < Duration::from_millis(100));
        if !last && (done >= self.total || soon) {
            return;
        }
        self.last = Some(Instant::now());
        tracing::info!(target: PROGRESS_TARGET, file = %self.file, done, total = self.total);
    }
}

/// A Hub failure as anymodel's error: what the Hub said, classed.
fn hub_error(file: &HubFile, err: hf_hub::HFError) -> Error {
    use hf_hub::HFError;
    let message = format!("fetching {file}: {err}");
    match err {
        HFError::AuthRequired { .. } | HFError::Forbidden { .. } => Error::Authentication {
            message: format!(
                "{message} (a gated or private model: set HF_TOKEN to a token that may read it)"
            ),
        },
        HFError::RepoNotFound { .. }
        | HFError::RevisionNotFound { .. }
        | HFError::EntryNotFound { .. } => Error::NotFound { message },
        HFError::RateLimited { retry_after, .. } => Error::RateLimited { message, retry_after },
        HFError::Http { context } if context.status.is_client_error() => {
            Error::InvalidRequest { status: Some(context.status.as_u16()), message }
        }
        HFError::Http { .. } | HFError::Request { .. } => Error::transient(message),
        _ => Error::Backend { message },
    }
}
