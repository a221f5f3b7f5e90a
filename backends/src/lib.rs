//! Model backends for anymodel, each behind its own cargo feature: candle for local Llama models,
//! OpenAI-compatible servers and Anthropic for remote ones; the middleware that wraps any model
//! (retry, fallback); and building a model from configuration.
//!
//! Every backend implements [`anymodel_core::Model`], so apps never depend on which one runs.
//! No backend has landed yet: until one does, this crate is empty and apps bring their own
//! [`anymodel_core::Model`] (or use [`anymodel_core::ScriptedModel`] in tests).
