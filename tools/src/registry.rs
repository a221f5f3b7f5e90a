//! The built-in tools by name: what each is, its argument schema, and how it is made from the
//! settings that confine it. The CLI, the config's agents, a server and user code all get their
//! tools from here, so a tool's name, description and setup have one home.

use std::path::PathBuf;
use std::sync::Arc;

use anymodel_core::{Embedder, Error, Retriever, Tool, TypedTool, schema_for};
use serde_json::Value;

use crate::SearchDocuments;
use crate::builtin::{Calculator, CurrentTime, FileRoot, HttpGet, HttpLimits, ListFiles, ReadFile};
use crate::index::{IndexRetriever, KnowledgeIndex, SearchMode};

/// Where `http_get` may go, and within what limits.
#[derive(Debug, Clone, Default)]
pub struct HttpSettings {
    /// Host names, exactly (`docs.rs`).
    pub allowed_hosts: Vec<String>,
    /// The size and time limits.
    pub limits: HttpLimits,
}

/// What the tools that touch the system are confined to; each such tool is off (a clear error
/// when asked for) while its setting is `None`.
#[derive(Clone, Default)]
pub struct ToolSettings {
    /// The folder `read_file` and `list_files` may read.
    pub files_root: Option<PathBuf>,
    /// The hosts `http_get` may fetch from.
    pub http: Option<HttpSettings>,
    /// The index folder `search_documents` searches.
    pub index: Option<PathBuf>,
    /// The embedder of the index's vectors, when it holds some: `search_documents` then
    /// searches hybrid (BM25 and vectors fused) rather than BM25 alone.
    pub embedder: Option<Arc<dyn Embedder>>,
}

impl std::fmt::Debug for ToolSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ToolSettings")
            .field("files_root", &self.files_root)
            .field("http", &self.http)
            .field("index", &self.index)
            .field("embedder", &self.embedder.as_ref().map(|e| e.name().to_string()))
            .finish()
    }
}

/// One built-in tool: its name and description as the model sees them, its argument schema,
/// and how it is made.
#[derive(Debug, Clone, Copy)]
pub struct Builtin {
    /// The name the model calls it by (and the config names it by).
    pub name: &'static str,
    /// What it does, written for the model.
    pub description: &'static str,
    parameters: fn() -> Value,
    make: fn(&ToolSettings) -> Result<Arc<dyn Tool>, Error>,
}

impl Builtin {
    const fn of<T: TypedTool>(make: fn(&ToolSettings) -> Result<Arc<dyn Tool>, Error>) -> Self {
        Builtin {
            name: T::NAME,
            description: T::DESCRIPTION,
            parameters: schema_for::<T::Args>,
            make,
        }
    }

    /// The JSON Schema of its arguments (no settings needed).
    pub fn parameters(&self) -> Value {
        (self.parameters)()
    }

    /// The tool, confined by `settings`; a configuration error says which setting it needs
    /// when that is missing.
    pub fn make(&self, settings: &ToolSettings) -> Result<Arc<dyn Tool>, Error> {
        (self.make)(settings)
    }
}

/// Every built-in tool.
pub const BUILTINS: &[Builtin] = &[
    Builtin::of::<SearchDocuments>(search_documents),
    Builtin::of::<ReadFile>(|settings| Ok(Arc::new(ReadFile::new(files(settings, "read_file")?)))),
    Builtin::of::<ListFiles>(|settings| {
        Ok(Arc::new(ListFiles::new(files(settings, "list_files")?)))
    }),
    Builtin::of::<HttpGet>(http_get),
    Builtin::of::<Calculator>(|_| Ok(Arc::new(Calculator))),
    Builtin::of::<CurrentTime>(|_| Ok(Arc::new(CurrentTime))),
];

/// The built-in tool called `name`.
pub fn builtin(name: &str) -> Option<&'static Builtin> {
    BUILTINS.iter().find(|tool| tool.name == name)
}

/// The names of the built-in tools, for errors and help texts.
pub fn names() -> Vec<&'static str> {
    BUILTINS.iter().map(|tool| tool.name).collect()
}

/// The built-in tool `name`, made from `settings`; an unknown name is a configuration error
/// listing the tools.
pub fn make(name: &str, settings: &ToolSettings) -> Result<Arc<dyn Tool>, Error> {
    match builtin(name) {
        Some(tool) => tool.make(settings),
        None => Err(Error::config(format!(
            "unknown tool `{name}`; the tools are {}",
            names().join(", ")
        ))),
    }
}

fn files(settings: &ToolSettings, name: &str) -> Result<FileRoot, Error> {
    let Some(root) = &settings.files_root else {
        return Err(Error::config(format!(
            "{name} reads files only under a folder set as [tools.files] root in the config"
        )));
    };
    FileRoot::new(root)
        .map_err(|e| Error::config(format!("[tools.files] root {}: {e}", root.display())))
}

fn search_documents(settings: &ToolSettings) -> Result<Arc<dyn Tool>, Error> {
    let Some(folder) = &settings.index else {
        return Err(Error::config("search_documents needs an index: pass --index NAME|PATH"));
    };
    let index = Arc::new(KnowledgeIndex::open(folder)?);
    let retriever: Arc<dyn Retriever> = match &settings.embedder {
        Some(embedder) => {
            Arc::new(IndexRetriever::new(index, SearchMode::hybrid(), Some(embedder.clone())))
        }
        None => index,
    };
    Ok(Arc::new(SearchDocuments::new(retriever)))
}

fn http_get(settings: &ToolSettings) -> Result<Arc<dyn Tool>, Error> {
    let Some(http) = &settings.http else {
        return Err(Error::config(
            "http_get needs the hosts it may fetch from as [tools.http] allowed_hosts in the config",
        ));
    };
    let tool = HttpGet::new(http.allowed_hosts.clone(), http.limits.clone())
        .map_err(|e| Error::config(format!("http_get: {e}")))?;
    Ok(Arc::new(tool))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_is_described_without_settings_and_confined_without_them() {
        let off = ToolSettings::default();
        for tool in BUILTINS {
            assert_eq!(tool.parameters()["type"], "object", "{}", tool.name);
            let made = tool.make(&off);
            match tool.name {
                "calculator" | "current_time" => assert!(made.is_ok(), "{}", tool.name),
                _ => assert!(
                    matches!(made, Err(Error::Configuration { .. })),
                    "{} is off until configured",
                    tool.name
                ),
            }
        }
        let error = make("shell", &off).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(error.contains("unknown tool `shell`; the tools are search_documents"), "{error}");
    }
}
