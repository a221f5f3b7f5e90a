//! Built-in tools for anymodel agents, and the tantivy knowledge index with its search tool.
//!
//! Every tool implements [`anymodel_core::Tool`]. No built-in tool has landed yet: until one
//! does, this crate is empty and apps write their own with [`anymodel_core::TypedTool`].
