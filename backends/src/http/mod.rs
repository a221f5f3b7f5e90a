//! Plumbing shared by the remote backends: secrets that never print, the HTTP client and its
//! timeouts, HTTP failures classed as core errors, and server-sent event streams decoded into
//! core stream events.

mod errors;
mod secret;
mod sse;
mod transport;

pub(crate) use errors::server_message;
pub use secret::Secret;
pub(crate) use sse::{SseEvent, WireDecoder, decode_stream};
pub(crate) use transport::{HttpClient, extra_headers};
