//! `search_documents`: the tool that lets an agent search the user's documents through any
//! [`Retriever`] (the knowledge index, or one an app brings).

use std::sync::Arc;

use anymodel_core::schemars::{self, JsonSchema};
use anymodel_core::{Filter, RetrievalQuery, Retriever, ToolError, TypedTool, async_trait};
use serde::Deserialize;

use crate::context::format_passages;

/// Searches documents for an agent, returning passages under their citations, within a budget
/// so that results never crowd out the rest of the conversation.
pub struct SearchDocuments {
    retriever: Arc<dyn Retriever>,
    default_k: usize,
    max_k: usize,
    budget: usize,
    filters: Vec<Filter>,
}

impl std::fmt::Debug for SearchDocuments {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SearchDocuments")
            .field("default_k", &self.default_k)
            .field("max_k", &self.max_k)
            .field("budget", &self.budget)
            .field("filters", &self.filters)
            .finish()
    }
}

impl SearchDocuments {
    /// The tool over `retriever`: 5 passages by default, at most 20, in at most 6,000 characters
    /// (about 1,500 tokens).
    pub fn new(retriever: Arc<dyn Retriever>) -> Self {
        SearchDocuments { retriever, default_k: 5, max_k: 20, budget: 6000, filters: Vec::new() }
    }

    /// How many passages a search returns when the model does not say.
    pub fn with_default_k(mut self, k: usize) -> Self {
        self.default_k = k.max(1);
        self
    }

    /// The most passages a search may return, whatever the model asks.
    pub fn with_max_k(mut self, k: usize) -> Self {
        self.max_k = k.max(1);
        self
    }

    /// The most characters of passages (citations included) one search returns.
    pub fn with_budget(mut self, characters: usize) -> Self {
        self.budget = characters;
        self
    }

    /// Keeps every search within `filter` (a folder, a kind of file), whatever the model asks.
    pub fn with_filter(mut self, filter: Filter) -> Self {
        self.filters.push(filter);
        self
    }
}

/// The arguments of `search_documents`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct SearchArgs {
    /// What to look for: keywords or a question. Put words that must appear together in double
    /// quotes.
    pub query: String,
    /// How many passages to return (default 5).
    #[serde(default)]
    pub k: Option<usize>,
}

#[async_trait]
impl TypedTool for SearchDocuments {
    const NAME: &'static str = "search_documents";
    const DESCRIPTION: &'static str = "Searches the user's documents and returns the best matching passages, each under \
        its citation in square brackets (file path and lines). Use it to answer from the documents, and cite the \
        passages you use by their citation.";
    type Args = SearchArgs;
    type Output = String;

    async fn run(&self, args: SearchArgs) -> Result<String, ToolError> {
        if args.query.trim().is_empty() {
            return Err(ToolError::InvalidArguments("the query is empty".into()));
        }
        let k = args.k.unwrap_or(self.default_k).clamp(1, self.max_k);
        let query = RetrievalQuery { text: args.query, k, filters: self.filters.clone() };
        let passages = self.retriever.retrieve(&query).await.map_err(ToolError::failed)?;
        if passages.is_empty() {
            return Ok(format!("No passages match \"{}\". Try other words.", query.text));
        }
        Ok(format_passages(&passages, self.budget))
    }
}
