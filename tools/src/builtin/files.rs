//! `read_file` and `list_files`, confined to one folder: paths are relative to it, and `..`,
//! absolute paths and links that lead out of it are refused.

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use anymodel_core::schemars::{self, JsonSchema};
use anymodel_core::{ToolError, TypedTool, async_trait};
use serde::Deserialize;

/// The folder file tools may read, resolved once.
#[derive(Debug, Clone)]
pub struct FileRoot {
    root: Arc<PathBuf>,
}

impl FileRoot {
    /// Confines file tools to `folder`, which must exist.
    pub fn new(folder: impl AsRef<Path>) -> std::io::Result<Self> {
        let root = folder.as_ref().canonicalize()?;
        if !root.is_dir() {
            return Err(std::io::Error::other(format!("{} is not a folder", root.display())));
        }
        Ok(FileRoot { root: Arc::new(root) })
    }

    /// The root folder.
    pub fn path(&self) -> &Path {
        &self.root
    }

    /// The real path of `relative` inside the root, or why it may not be used.
    pub fn resolve(&self, relative: &str) -> Result<PathBuf, ToolError> {
        let path = Path::new(relative);
        if path.is_absolute() {
            return Err(ToolError::InvalidArguments(format!(
                "`{relative}` is absolute: give a path relative to the root folder"
            )));
        }
        if path.components().any(|c| matches!(c, Component::ParentDir)) {
            return Err(ToolError::InvalidArguments(format!(
                "`{relative}` goes up with `..`: paths stay inside the root folder"
            )));
        }
        let real = self
            .root
            .join(path)
            .canonicalize()
            .map_err(|e| ToolError::failed(format!("{relative}: {e}")))?;
        if !real.starts_with(self.root.as_path()) {
            return Err(ToolError::InvalidArguments(format!(
                "`{relative}` leads out of the root folder through a link"
            )));
        }
        Ok(real)
    }
}

/// How much of a file `read_file` returns at most.
const MAX_READ_BYTES: usize = 256 * 1024;

/// Reads a text file under the root.
#[derive(Debug, Clone)]
pub struct ReadFile {
    root: FileRoot,
}

impl ReadFile {
    /// Reads files under `root`.
    pub fn new(root: FileRoot) -> Self {
        ReadFile { root }
    }
}

/// The arguments of `read_file`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct ReadFileArgs {
    /// The file, relative to the root folder (as `list_files` shows it).
    pub path: String,
    /// The first line to return, from 1 (default: the first).
    #[serde(default)]
    pub start_line: Option<usize>,
    /// The last line to return (default: the last).
    #[serde(default)]
    pub end_line: Option<usize>,
}

#[async_trait]
impl TypedTool for ReadFile {
    const NAME: &'static str = "read_file";
    const DESCRIPTION: &'static str = "Reads a text file in the user's folder, whole or a range of lines. Paths are relative to that folder.";
    type Args = ReadFileArgs;
    type Output = String;

    async fn run(&self, args: ReadFileArgs) -> Result<String, ToolError> {
        let path = self.root.resolve(&args.path)?;
        let metadata = std::fs::metadata(&path)
            .map_err(|e| ToolError::failed(format!("{}: {e}", args.path)))?;
        if metadata.is_dir() {
            return Err(ToolError::InvalidArguments(format!(
                "`{}` is a folder: use list_files",
                args.path
            )));
        }
        // A fifo, socket or device could block forever or never end: only plain files.
        if !metadata.is_file() {
            return Err(ToolError::InvalidArguments(format!(
                "`{}` is not a regular file",
                args.path
            )));
        }
        let first = args.start_line.unwrap_or(1).max(1);
        let last = args.end_line.unwrap_or(usize::MAX);
        if last < first {
            return Err(ToolError::InvalidArguments(format!(
                "end_line {last} is before start_line {first}"
            )));
        }
        let shown = args.path.clone();
        tokio::task::spawn_blocking(move || read_lines(&path, &shown, first, last))
            .await
            .map_err(|e| ToolError::failed(format!("reading {}: {e}", args.path)))?
    }
}

/// Lines `first..=last` of the file, streamed: memory stays within [`MAX_READ_BYTES`] (plus
/// one line's worth, itself cut at that size) whatever the file's size.
fn read_lines(path: &Path, shown: &str, first: usize, last: usize) -> Result<String, ToolError> {
    use std::io::{BufRead, Read};
    let failed = |e: std::io::Error| ToolError::failed(format!("{shown}: {e}"));
    let mut reader = std::io::BufReader::new(std::fs::File::open(path).map_err(failed)?);
    if reader.fill_buf().map_err(failed)?.iter().take(8192).any(|&b| b == 0) {
        return Err(ToolError::failed(format!("{shown} is a binary file")));
    }
    let mut out = String::new();
    let mut line = Vec::new();
    let mut number = 0;
    let mut cut = false;
    while number < last {
        line.clear();
        // Each line is read at most MAX_READ_BYTES long; the rest of it is skipped.
        let read = (&mut reader).take(MAX_READ_BYTES as u64).read_until(b'\n', &mut line);
        if read.map_err(failed)? == 0 {
            break;
        }
        if line.last() != Some(&b'\n') && line.len() >= MAX_READ_BYTES {
            reader.skip_until(b'\n').map_err(failed)?;
        }
        number += 1;
        if number < first {
            continue;
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\n', '\r']);
        if out.len() + text.len() + 1 > MAX_READ_BYTES {
            let room = MAX_READ_BYTES.saturating_sub(out.len() + 1);
            let end = (0..=room.min(text.len())).rev().find(|&i| text.is_char_boundary(i));
            if !out.is_empty() {
                out.push('\n');
            }
            out.push_str(&text[..end.unwrap_or(0)]);
            cut = true;
            break;
        }
        if number > first {
            out.push('\n');
        }
        out.push_str(text);
    }
    if cut {
        out.push_str("\n[… cut: the file is longer; read it by line ranges]");
    }
    Ok(out)
}

/// How many entries `list_files` returns at most.
const MAX_ENTRIES: usize = 500;

/// Lists a folder under the root.
#[derive(Debug, Clone)]
pub struct ListFiles {
    root: FileRoot,
}

impl ListFiles {
    /// Lists folders under `root`.
    pub fn new(root: FileRoot) -> Self {
        ListFiles { root }
    }
}

/// The arguments of `list_files`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct ListFilesArgs {
    /// The folder, relative to the root folder (default: the root itself).
    #[serde(default)]
    pub path: Option<String>,
}

#[async_trait]
impl TypedTool for ListFiles {
    const NAME: &'static str = "list_files";
    const DESCRIPTION: &'static str =
        "Lists the files and folders (with a trailing /) in a folder of the user's folder.";
    type Args = ListFilesArgs;
    type Output = String;

    async fn run(&self, args: ListFilesArgs) -> Result<String, ToolError> {
        let relative = args.path.unwrap_or_else(|| ".".into());
        let folder = self.root.resolve(&relative)?;
        let mut entries = Vec::new();
        let mut reader = tokio::fs::read_dir(&folder)
            .await
            .map_err(|e| ToolError::failed(format!("{relative}: {e}")))?;
        while let Some(entry) =
            reader.next_entry().await.map_err(|e| ToolError::failed(format!("{relative}: {e}")))?
        {
            // A name with a newline or another control character would read as two entries, or
            // hide one: such names are shown escaped, as Rust writes them.
            let name = entry.file_name().to_string_lossy().into_owned();
            let name = if name.chars().any(char::is_control) {
                name.escape_debug().to_string()
            } else {
                name
            };
            let folder = entry.file_type().await.is_ok_and(|t| t.is_dir());
            entries.push(if folder { format!("{name}/") } else { name });
        }
        entries.sort();
        let total = entries.len();
        entries.truncate(MAX_ENTRIES);
        let mut out = entries.join("\n");
        if total > MAX_ENTRIES {
            out.push_str(&format!("\n[… and {} more]", total - MAX_ENTRIES));
        }
        if out.is_empty() {
            out = "(empty folder)".into();
        }
        Ok(out)
    }
}
