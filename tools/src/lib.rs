//! Built-in tools for anymodel agents, and retrieval over the user's documents.
//!
//! So far: [`eval`], retrieval evaluation in the BEIR format (the dataset and the metrics that
//! published figures use). The tantivy knowledge index, its search tool and the built-in tools
//! come next; every tool implements [`anymodel_core::Tool`], and the index
//! [`anymodel_core::Retriever`].

pub mod eval;
