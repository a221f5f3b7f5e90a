//! Models named on the Hugging Face Hub: `hf:OWNER/REPO/FILE` (or `hf.co/OWNER/REPO/FILE`),
//! optionally `@REVISION`, fetched into the Hub's local cache with the `hf-hub` crate (feature
//! `hf-hub`).

use std::fmt;
use std::str::FromStr;

use anymodel_core::Error;

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
    /// Whether `name` is meant as a Hub file (as opposed to a local path).
    pub fn is_hub_name(name: &str) -> bool {
        name.starts_with("hf:") || name.starts_with("hf.co/")
    }

    /// Downloads the file (or finds it in the Hub's local cache) and returns its local path.
    #[cfg(feature = "hf-hub")]
    pub async fn fetch(&self) -> anymodel_core::Result<std::path::PathBuf> {
        let failed =
            |err: hf_hub::HFError| Error::Backend { message: format!("fetching {self}: {err}") };
        let client = hf_hub::HFClient::new().map_err(failed)?;
        let repo = client.model(&self.owner, &self.repo);
        let download =
            repo.download_file().filename(&self.file).maybe_revision(self.revision.clone());
        download.send().await.map_err(failed)
    }
}

/// The local path of the model `name` names: a Hub name (see [`HubFile`]) is fetched, anything
/// else is a path, or, when nothing is there, a file of that name in the models folder
/// ([`crate::store`]).
pub async fn resolve_model(name: &str) -> anymodel_core::Result<std::path::PathBuf> {
    if !HubFile::is_hub_name(name) {
        let path = std::path::Path::new(name);
        return Ok(crate::store::find(path).unwrap_or_else(|| path.to_path_buf()));
    }
    let file: HubFile = name.parse()?;
    #[cfg(feature = "hf-hub")]
    return file.fetch().await;
    #[cfg(not(feature = "hf-hub"))]
    Err(Error::config(format!(
        "{file}: this build cannot fetch from the Hub (enable the `hf-hub` feature)"
    )))
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
        if [owner, repo, file].iter().any(|part| part.is_empty()) || file.ends_with('/') {
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
        assert!(HubFile::is_hub_name("hf:a/b/c") && !HubFile::is_hub_name("models/x.gguf"));
    }

    #[tokio::test]
    async fn plain_names_are_paths() {
        assert_eq!(
            resolve_model("models/x.gguf").await.unwrap(),
            std::path::PathBuf::from("models/x.gguf")
        );
        assert!(resolve_model("hf:broken").await.is_err());
    }

    #[test]
    fn malformed_hub_names_say_what_is_expected() {
        for name in
            ["hf:owner/repo", "hf:/repo/file", "hf:owner//file", "models/x.gguf", "hf:o/r/dir/"]
        {
            let err = name.parse::<HubFile>().unwrap_err();
            assert!(
                err.to_string().contains("expected hf:OWNER/REPO/FILE[@REVISION]"),
                "{name}: {err}"
            );
        }
    }
}
