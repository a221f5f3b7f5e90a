//! Where downloaded models live: `anymodel/models/` in the user's data folder
//! (`$XDG_DATA_HOME`, else `~/.local/share` on Linux), where `scripts/fetch-model.sh` puts the
//! default model and Hub downloads go. A local model named by a file name alone is looked for
//! there too.

use std::path::{Path, PathBuf};

/// The default local model's file: SmolLM2-135M-Instruct in Q4_1 (about 94 MiB), the model a
/// command with no configuration runs.
pub const DEFAULT_MODEL_FILE: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";

/// The default embedding model's folder: all-MiniLM-L6-v2 in the sentence-transformers layout
/// (about 87 MiB), what dense search embeds with when no embedder is named.
pub const DEFAULT_EMBEDDER_FOLDER: &str = "all-MiniLM-L6-v2";

/// The command that fetches the default model into the models folder.
pub const FETCH_COMMAND: &str = "scripts/fetch-model.sh";

/// Whether the model `name` is meant as a file on the Hugging Face Hub (`hf:OWNER/REPO/FILE`
/// or `hf.co/OWNER/REPO/FILE`) rather than a local path.
pub fn is_hub_name(name: &str) -> bool {
    name.starts_with("hf:") || name.starts_with("hf.co/")
}

/// The models folder; `None` where the system has no data folder (no home).
pub fn models_folder() -> Option<PathBuf> {
    dirs::data_dir().map(|data| data.join("anymodel").join("models"))
}

/// The default model's path, when it has been fetched.
pub fn default_model() -> Option<PathBuf> {
    find(Path::new(DEFAULT_MODEL_FILE))
}

/// The default embedding model's folder, when it has been fetched.
pub fn default_embedder() -> Option<PathBuf> {
    find(Path::new(DEFAULT_EMBEDDER_FOLDER))
}

/// What to tell someone whose default embedding model is missing.
pub fn missing_default_embedder() -> String {
    let folder = models_folder().map_or("the models folder".into(), |f| f.display().to_string());
    format!(
        "the default embedding model ({DEFAULT_EMBEDDER_FOLDER}) is not downloaded: run `{FETCH_COMMAND}` in the anymodel repository to fetch it into {folder}, or pass -e FOLDER"
    )
}

/// Where the local model `path` is: `path` itself when it exists, else a file of that name
/// (or relative path) in the models folder.
pub fn find(path: &Path) -> Option<PathBuf> {
    if path.is_file() || path.is_dir() {
        return Some(path.to_path_buf());
    }
    let folder = models_folder()?;
    let by_path = folder.join(path);
    if path.is_relative() && by_path.exists() {
        return Some(by_path);
    }
    let by_name = folder.join(path.file_name()?);
    by_name.exists().then_some(by_name)
}

/// The models in the models folder (`.gguf` files and model folders, Hub downloads under
/// `OWNER/REPO/`), with their sizes in bytes, by path.
pub fn downloaded() -> Vec<(PathBuf, u64)> {
    fn walk(folder: &Path, depth: usize, found: &mut Vec<(PathBuf, u64)>) {
        let Ok(entries) = std::fs::read_dir(folder) else { return };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(metadata) = std::fs::metadata(&path) else { continue };
            if metadata.is_dir() && depth < 4 {
                walk(&path, depth + 1, found);
            } else if metadata.is_file()
                && path.extension().is_some_and(|e| e.eq_ignore_ascii_case("gguf"))
            {
                found.push((path, metadata.len()));
            }
        }
    }
    let mut found = Vec::new();
    if let Some(folder) = models_folder() {
        walk(&folder, 0, &mut found);
    }
    found.sort();
    found
}

/// What to tell someone whose default model is missing.
pub fn missing_default_model() -> String {
    let folder = models_folder().map_or("the models folder".into(), |f| f.display().to_string());
    format!(
        "the default model ({DEFAULT_MODEL_FILE}) is not downloaded: run `{FETCH_COMMAND}` in the anymodel repository to fetch it into {folder}, or pass -m MODEL"
    )
}
