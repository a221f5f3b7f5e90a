//! Downloads from the Hugging Face Hub, against a stand-in for the Hub's API (wiremock) reached
//! through the endpoint setting, as no hub is reachable from the tests: the file lands in
//! `OWNER/REPO/FILE`, a cut download resumes with a range request, a damaged one is deleted,
//! and a downloaded file is found again with the Hub gone.

#![allow(clippy::unwrap_used)] // Tests fail loudly by design.

use std::sync::{Arc, Mutex, OnceLock};

use anymodel_backends::hub::{Hub, HubFile, PROGRESS_TARGET};
use anymodel_core::Error;
use sha2::{Digest, Sha256};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use wiremock::matchers::{header, header_exists, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const RESOLVE: &str = "/owner/repo/resolve/main/model.gguf";

/// A file's contents: 300 KiB of varied bytes, so a shifted or repeated part changes the hash.
fn contents() -> Vec<u8> {
    sized(300 * 1024)
}

/// `size` varied bytes.
fn sized(size: u32) -> Vec<u8> {
    (0..size).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect()
}

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// The Hub's answer to HEAD on a file: its size and SHA-256 as the Hub sends them for LFS files.
async fn announce(server: &MockServer, size: usize, sha: &str) {
    Mock::given(method("HEAD"))
        .and(path(RESOLVE))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("x-linked-size", size.to_string())
                .insert_header("x-linked-etag", format!("\"{sha}\""))
                .insert_header("etag", "\"0123456789abcdef0123456789abcdef01234567\"")
                .insert_header("x-repo-commit", "a".repeat(40)),
        )
        .mount(server)
        .await;
}

fn file() -> HubFile {
    "hf:owner/repo/model.gguf".parse().unwrap()
}

/// Progress events seen, as (done, total), by every test of this file: the subscriber is the
/// process's global one, as a scoped one can miss events whose callsite another test's thread
/// registered first.
#[derive(Clone, Default)]
struct Seen(Arc<Mutex<Vec<(u64, u64)>>>);

/// The events seen so far, once the subscriber is installed.
fn seen() -> &'static Seen {
    static SEEN: OnceLock<Seen> = OnceLock::new();
    SEEN.get_or_init(|| {
        let seen = Seen::default();
        tracing::subscriber::set_global_default(tracing_subscriber::registry().with(seen.clone()))
            .unwrap();
        seen
    })
}

impl<S: tracing::Subscriber> Layer<S> for Seen {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        struct Fields(u64, u64);
        impl tracing::field::Visit for Fields {
            fn record_u64(&mut self, field: &tracing::field::Field, value: u64) {
                match field.name() {
                    "done" => self.0 = value,
                    "total" => self.1 = value,
                    _ => {}
                }
            }
            fn record_debug(&mut self, _: &tracing::field::Field, _: &dyn std::fmt::Debug) {}
        }
        if event.metadata().target() == PROGRESS_TARGET {
            let mut fields = Fields(0, 0);
            event.record(&mut fields);
            self.0.lock().unwrap().push((fields.0, fields.1));
        }
    }
}

#[tokio::test]
async fn a_download_lands_in_the_models_folder_reports_progress_and_is_found_offline() {
    let seen = seen();
    let server = MockServer::start().await;
    // A size of its own, to tell its events from the other tests'.
    let body = sized(200 * 1024 + 7);
    announce(&server, body.len(), &sha256(&body)).await;
    Mock::given(method("GET"))
        .and(path(RESOLVE))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(body.clone()))
        .expect(1)
        .mount(&server)
        .await;
    let folder = tempfile::tempdir().unwrap();
    let hub = Hub::new(folder.path()).endpoint(server.uri());

    let local = hub.fetch(&file()).await.unwrap();
    assert_eq!(local, folder.path().join("owner/repo/model.gguf"));
    assert_eq!(std::fs::read(&local).unwrap(), body);
    assert!(!folder.path().join("owner/repo/model.gguf.partial").exists());
    let total = body.len() as u64;
    let events: Vec<(u64, u64)> =
        seen.0.lock().unwrap().iter().copied().filter(|&(_, t)| t == total).collect();
    assert_eq!(events.first(), Some(&(0, total)), "{events:?}");
    assert_eq!(events.last(), Some(&(total, total)), "{events:?}");

    // Found again with the Hub gone.
    drop(server);
    let offline = Hub::new(folder.path()).endpoint("http://127.0.0.1:9");
    assert_eq!(offline.fetch(&file()).await.unwrap(), local);
}

#[tokio::test]
async fn a_cut_download_says_so_keeps_what_came_and_resumes_from_there() {
    let server = MockServer::start().await;
    let body = contents();
    let half = body.len() / 2;
    announce(&server, body.len(), &sha256(&body)).await;
    // First try: the connection ends after half the file.
    Mock::given(method("GET"))
        .and(path(RESOLVE))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(body[..half].to_vec()))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    let folder = tempfile::tempdir().unwrap();
    let hub = Hub::new(folder.path()).endpoint(server.uri());
    let err = hub.fetch(&file()).await.unwrap_err();
    assert!(matches!(err, Error::Transient { .. }), "{err}");
    let message = err.to_string();
    assert!(
        message.contains(&format!("stopped at {half} of {} bytes", body.len()))
            && message.contains("run the same command again to resume"),
        "{message}"
    );
    let partial = folder.path().join("owner/repo/model.gguf.partial");
    assert_eq!(std::fs::read(&partial).unwrap(), &body[..half]);

    // Second try: only the rest is asked for, and the whole file checks out.
    Mock::given(method("GET"))
        .and(path(RESOLVE))
        .and(header("range", format!("bytes={half}-{}", body.len() - 1).as_str()))
        .respond_with(
            ResponseTemplate::new(206)
                .insert_header(
                    "content-range",
                    format!("bytes {half}-{}/{}", body.len() - 1, body.len()).as_str(),
                )
                .set_body_bytes(body[half..].to_vec()),
        )
        .expect(1)
        .mount(&server)
        .await;
    let local = hub.fetch(&file()).await.unwrap();
    assert_eq!(std::fs::read(local).unwrap(), body);
    assert!(!partial.exists());
}

#[tokio::test]
async fn a_server_that_ignores_the_range_gives_the_whole_file_again() {
    let server = MockServer::start().await;
    let body = contents();
    announce(&server, body.len(), &sha256(&body)).await;
    Mock::given(method("GET"))
        .and(path(RESOLVE))
        .and(header_exists("range"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(body.clone()))
        .expect(1)
        .mount(&server)
        .await;
    let folder = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(folder.path().join("owner/repo")).unwrap();
    std::fs::write(folder.path().join("owner/repo/model.gguf.partial"), &body[..1000]).unwrap();
    let local = Hub::new(folder.path()).endpoint(server.uri()).fetch(&file()).await.unwrap();
    assert_eq!(std::fs::read(local).unwrap(), body);
}

#[tokio::test]
async fn a_damaged_download_is_deleted_and_never_used() {
    let server = MockServer::start().await;
    let body = contents();
    let mut damaged = body.clone();
    damaged[12_345] ^= 1;
    announce(&server, body.len(), &sha256(&body)).await;
    Mock::given(method("GET"))
        .and(path(RESOLVE))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(damaged))
        .mount(&server)
        .await;
    let folder = tempfile::tempdir().unwrap();
    let err = Hub::new(folder.path()).endpoint(server.uri()).fetch(&file()).await.unwrap_err();
    let message = err.to_string();
    assert!(message.contains("is damaged") && message.contains(&sha256(&body)), "{message}");
    assert!(!folder.path().join("owner/repo/model.gguf").exists());
    assert!(!folder.path().join("owner/repo/model.gguf.partial").exists());
}

#[tokio::test]
async fn a_missing_file_or_a_gated_one_says_which() {
    let server = MockServer::start().await;
    Mock::given(method("HEAD"))
        .and(path("/owner/repo/resolve/main/missing.gguf"))
        .respond_with(ResponseTemplate::new(404).insert_header("x-error-code", "EntryNotFound"))
        .mount(&server)
        .await;
    Mock::given(method("HEAD"))
        .and(path("/owner/gated/resolve/main/model.gguf"))
        .respond_with(ResponseTemplate::new(401))
        .mount(&server)
        .await;
    let folder = tempfile::tempdir().unwrap();
    let hub = Hub::new(folder.path()).endpoint(server.uri());
    let missing = hub.fetch(&"hf:owner/repo/missing.gguf".parse().unwrap()).await.unwrap_err();
    assert!(matches!(missing, Error::NotFound { .. }), "{missing}");
    assert!(missing.to_string().contains("hf:owner/repo/missing.gguf"), "{missing}");
    let gated = hub.fetch(&"hf:owner/gated/model.gguf".parse().unwrap()).await.unwrap_err();
    assert!(matches!(gated, Error::Authentication { .. }), "{gated}");
    assert!(gated.to_string().contains("HF_TOKEN"), "{gated}");
}
