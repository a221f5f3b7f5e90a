//! Built-in tools for anymodel agents, and retrieval over the user's documents.
//!
//! - [`builtin`]: the built-in tools (`read_file`, `list_files`, `http_get`, `calculator`,
//!   `current_time`), confined and off until configured.
//! - [`index`]: the knowledge index (tantivy): ingest files and folders, search them with BM25;
//!   it implements [`anymodel_core::Retriever`].
//! - [`search_tool`]: `search_documents`, the tool that lets an agent search any retriever.
//! - [`rag`]: retrieval-augmented replies for models that cannot call tools.
//! - [`registry`]: the built-in tools by name, made from the settings that confine them.
//! - [`context`]: passages laid out under their citations within a budget, as both give them.
//! - [`eval`]: retrieval evaluation in the BEIR format, and the benchmark of the index.

pub mod builtin;
pub mod context;
pub mod eval;
pub mod index;
pub mod rag;
pub mod registry;
pub mod search_tool;
pub mod vectors;

pub use rag::RetrievalAugmented;
pub use search_tool::SearchDocuments;
