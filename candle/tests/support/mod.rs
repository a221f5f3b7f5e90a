//! Helpers shared by the local backend's tests (and, through a path, by the backend
//! conformance tests): GGUF files made on the spot.
#![allow(dead_code)] // Each test crate uses its own part.
#![allow(clippy::unwrap_used)] // Tests fail loudly by design.

pub mod llama3;
