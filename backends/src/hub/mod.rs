//! Models named on the Hugging Face Hub: `hf:OWNER/REPO/FILE` (or `hf.co/OWNER/REPO/FILE`),
//! optionally `@REVISION`, downloaded into the models folder ([`crate::store`]) by [`Hub`]
//! (feature `hf-hub`) and found there again by the same name, offline too.

#[cfg(feature = "hf-hub")]
mod download;

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use anymodel_core::Error;
#[cfg(feature = "hf-hub")]
pub use download::{Hub, PROGRESS_TARGET};

/// A file in a model repository of the Hugging Face Hub.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubFile {
    /// The repository's owner.
    pub owner: String,
    /// The repository.
    pub repo: String,
    /// The file's path inside the repository.
    pub file: String,
    /// A branch, tag or commit; `None` for the main branch.
    pub revision: Option<String>,
}

impl HubFile {
    /// Where the file goes inside a models folder: `OWNER/REPO/FILE`, or
    /// `OWNER/REPO@REVISION/FILE` for a pinned revision.
    pub fn local_path(&self) -> PathBuf {
        let repo = match &self.revision {
            Some(revision) => format!("{}@{revision}", self.repo),
            None => self.repo.clone(),
        };
        let mut path = PathBuf::from(&self.owner);
        path.push(repo);
        path.extend(self.file.split('/'));
        path
    }
}

/// The local path of the model `name` names: a Hub name (see [`HubFile`]) is looked for in the
/// models folder and downloaded there when missing; anything else is a path, or, when nothing
/// is there, a file of that name in the models folder ([`crate::store`]). A model found nowhere
/// is a configuration error saying where it was looked for (and, for the default model, the
/// command that fetches it).
pub async fn resolve_model(name: &str) -> anymodel_core::Result<PathBuf> {
    if !crate::store::is_hub_name(name) {
        let path = std::path::Path::new(name);
        return crate::store::find(path).ok_or_else(|| {
            Error::config(match path.file_name() {
                Some(file) if file == crate::store::DEFAULT_MODEL_FILE => {
                    crate::store::missing_default_model()
                }
                _ => {
                    let folder = crate::store::models_folder()
                        .map_or(String::new(), |f| format!(" (nor in {})", f.display()));
                    format!("{name}: no such model file{folder}")
                }
            })
        });
    }
    let file: HubFile = name.parse()?;
    // Hub::fetch finds an earlier download before it asks the Hub.
    #[cfg(feature = "hf-hub")]
    return Hub::from_env()?.fetch(&file).await;
    #[cfg(not(feature = "hf-hub"))]
    crate::store::models_folder()
        .map(|folder| folder.join(file.local_path()))
        .filter(|path| path.is_file())
        .ok_or_else(|| {
            Error::config(format!(
                "{file}: this build cannot download from the Hub (enable the `hf-hub` feature)"
            ))
        })
}

impl fmt::Display for HubFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "hf:{}/{}/{}", self.owner, self.repo, self.file)?;
        match &self.revision {
            Some(revision) => write!(f, "@{revision}"),
            None => Ok(()),
        }
    }
}

impl FromStr for HubFile {
    type Err = Error;

    fn from_str(name: &str) -> Result<Self, Error> {
        let expected = || {
            Error::config(format!(
                "`{name}` is not a Hub file name: expected hf:OWNER/REPO/FILE[@REVISION]"
            ))
        };
        let rest = name
            .strip_prefix("hf:")
            .or_else(|| name.strip_prefix("hf.co/"))
            .ok_or_else(expected)?;
        let (path, revision) = match rest.rsplit_once('@') {
            Some((path, revision)) if !revision.is_empty() && !revision.contains('/') => {
                (path, Some(revision.to_string()))
            }
            _ => (rest, None),
        };
        let mut parts = path.splitn(3, '/');
        let (Some(owner), Some(repo), Some(file)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(expected());
        };
        // Each part becomes a folder or file name in the models folder: none may climb out.
        let plain =
            |part: &str| !part.is_empty() && part != "." && part != ".." && !part.contains('\\');
        if ![owner, repo].iter().all(|part| plain(part)) || !file.split('/').all(plain) {
            return Err(expected());
        }
        Ok(HubFile { owner: owner.into(), repo: repo.into(), file: file.into(), revision })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hub_names_are_parsed() {
        let file: HubFile =
            "hf:bartowski/Llama-3.2-1B-Instruct-GGUF/Llama-3.2-1B-Instruct-Q4_K_M.gguf"
                .parse()
                .unwrap();
        assert_eq!(
            file,
            HubFile {
                owner: "bartowski".into(),
                repo: "Llama-3.2-1B-Instruct-GGUF".into(),
                file: "Llama-3.2-1B-Instruct-Q4_K_M.gguf".into(),
                revision: None,
            }
        );
        let pinned: HubFile = "hf.co/org/repo/sub/dir/model.gguf@v1.2".parse().unwrap();
        assert_eq!(
            (pinned.file.as_str(), pinned.revision.as_deref()),
            ("sub/dir/model.gguf", Some("v1.2"))
        );
        assert_eq!(pinned.to_string(), "hf:org/repo/sub/dir/model.gguf@v1.2");
        assert_eq!(pinned.local_path(), PathBuf::from("org/repo@v1.2/sub/dir/model.gguf"));
        assert!(
            crate::store::is_hub_name("hf:a/b/c") && !crate::store::is_hub_name("models/x.gguf")
        );
    }

    #[tokio::test]
    async fn plain_names_are_paths_and_missing_files_say_so() {
        let here = env!("CARGO_MANIFEST_DIR");
        assert_eq!(resolve_model(here).await.unwrap(), PathBuf::from(here));
        let missing = resolve_model("models/nowhere.gguf").await.unwrap_err();
        assert!(matches!(missing, Error::Configuration { .. }), "{missing}");
        assert!(missing.to_string().contains("models/nowhere.gguf: no such model file"));
        assert!(resolve_model("hf:broken").await.is_err());
    }

    #[test]
    fn malformed_hub_names_say_what_is_expected() {
        for name in [
            "hf:owner/repo",
            "hf:/repo/file",
            "hf:owner//file",
            "models/x.gguf",
            "hf:o/r/dir/",
            "hf:../r/file",
            "hf:o/r/../../../etc/passwd",
            "hf:o/r/a\\..\\b",
        ] {
            let err = name.parse::<HubFile>().unwrap_err();
            assert!(
                err.to_string().contains("expected hf:OWNER/REPO/FILE[@REVISION]"),
                "{name}: {err}"
            );
        }
    }
}
