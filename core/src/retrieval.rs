//! Retrieval: passages from the user's own documents, behind one trait, so apps and agents can
//! swap retrieval backends as they swap models.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::error::Result;

/// What to look for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetrievalQuery {
    /// The words of the query.
    pub text: String,
    /// How many passages at most.
    pub k: usize,
    /// Conditions every passage must meet.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<Filter>,
}

impl RetrievalQuery {
    /// The `k` best passages for `text`, unfiltered.
    pub fn new(text: impl Into<String>, k: usize) -> Self {
        RetrievalQuery { text: text.into(), k, filters: Vec::new() }
    }

    /// The same query, keeping only passages that meet `filter` too.
    pub fn with_filter(mut self, filter: Filter) -> Self {
        self.filters.push(filter);
        self
    }
}

/// A condition on a passage's source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Filter {
    /// The source's path starts with this prefix.
    PathPrefix {
        /// The prefix, `/`-separated.
        prefix: String,
    },
    /// The source carries this metadata value.
    Metadata {
        /// The metadata key.
        key: String,
        /// The value it must have.
        value: String,
    },
}

/// Where a passage comes from: enough to cite it and to open it at the right place.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    /// The document's path (or id, for records without a file).
    pub path: String,
    /// The document's title or the heading path of the passage, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// First and last line of the passage, from 1, when it comes from a text file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lines: Option<(u32, u32)>,
}

impl std::fmt::Display for Source {
    /// `path:first-last`, the citation form.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.path)?;
        match self.lines {
            Some((first, last)) if first == last => write!(f, ":{first}"),
            Some((first, last)) => write!(f, ":{first}-{last}"),
            None => Ok(()),
        }
    }
}

/// A retrieved piece of a document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Passage {
    /// Its text.
    pub text: String,
    /// Its relevance score; higher is better, comparable only within one query.
    pub score: f32,
    /// Where it comes from.
    pub source: Source,
}

/// Anything that finds passages for a query: a full-text index, a vector store, a web search.
#[async_trait]
pub trait Retriever: Send + Sync {
    /// The best passages for `query`, best first, at most `query.k`.
    async fn retrieve(&self, query: &RetrievalQuery) -> Result<Vec<Passage>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_cite_as_path_and_lines() {
        let source = Source { path: "docs/setup.md".into(), title: None, lines: Some((12, 30)) };
        assert_eq!(source.to_string(), "docs/setup.md:12-30");
        assert_eq!(Source { lines: Some((4, 4)), ..source.clone() }.to_string(), "docs/setup.md:4");
        assert_eq!(Source { lines: None, ..source }.to_string(), "docs/setup.md");
    }

    #[test]
    fn queries_round_trip_through_json() {
        let query = RetrievalQuery::new("install on linux", 5)
            .with_filter(Filter::PathPrefix { prefix: "docs/".into() })
            .with_filter(Filter::Metadata { key: "lang".into(), value: "en".into() });
        let text = serde_json::to_string(&query).unwrap();
        assert_eq!(serde_json::from_str::<RetrievalQuery>(&text).unwrap(), query);
    }
}
