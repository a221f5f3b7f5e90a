//! A retrieval dataset in the BEIR format: `corpus.jsonl` (`_id`, `title`, `text`),
//! `queries.jsonl` (`_id`, `text`) and `qrels/<split>.tsv` (`query-id`, `corpus-id`, `score`,
//! after a header line). Errors name the file and the line.

use std::collections::HashMap;
use std::path::Path;

use anymodel_core::{Error, Result};
use serde::Deserialize;

use super::metrics::Qrels;

/// One document of the corpus.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Document {
    /// Its id, as the qrels name it.
    #[serde(rename = "_id")]
    pub id: String,
    /// Its title (may be empty).
    #[serde(default)]
    pub title: String,
    /// Its text.
    pub text: String,
}

#[derive(Deserialize)]
struct QueryLine {
    #[serde(rename = "_id")]
    id: String,
    text: String,
}

/// A BEIR dataset: the corpus, the queries and the judgements of one split.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// The documents, in file order.
    pub corpus: Vec<Document>,
    /// The text of each query judged in the split, by query id.
    pub queries: HashMap<String, String>,
    /// The split's relevance judgements.
    pub qrels: Qrels,
}

impl Dataset {
    /// Loads the dataset in `folder` with the judgements of `split` (`test`, `train`, `dev`).
    /// Only the queries judged in that split are kept; a judged query missing from
    /// `queries.jsonl` is an error.
    pub fn load(folder: &Path, split: &str) -> Result<Self> {
        let corpus = jsonl::<Document>(&folder.join("corpus.jsonl"))?;
        let qrels_path = folder.join("qrels").join(format!("{split}.tsv"));
        let qrels = read_qrels(&qrels_path)?;
        let queries_path = folder.join("queries.jsonl");
        let mut queries: HashMap<String, String> = jsonl::<QueryLine>(&queries_path)?
            .into_iter()
            .filter(|q| qrels.contains_key(&q.id))
            .map(|q| (q.id, q.text))
            .collect();
        if let Some(missing) = qrels.keys().find(|id| !queries.contains_key(*id)) {
            return Err(Error::config(format!(
                "{}: query `{missing}` is judged but not in {}",
                qrels_path.display(),
                queries_path.display()
            )));
        }
        queries.shrink_to_fit();
        Ok(Dataset { corpus, queries, qrels })
    }
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|err| Error::config(format!("{}: {err}", path.display())))
}

fn jsonl<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Vec<T>> {
    read(path)?
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(number, line)| {
            serde_json::from_str(line)
                .map_err(|err| Error::config(format!("{}:{}: {err}", path.display(), number + 1)))
        })
        .collect()
}

/// Reads `query-id<TAB>corpus-id<TAB>score` lines after a header.
pub fn read_qrels(path: &Path) -> Result<Qrels> {
    let mut qrels = Qrels::new();
    for (number, line) in read(path)?.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split('\t').collect();
        let grade = match fields.as_slice() {
            [_, _, grade] => grade.trim().parse::<u32>().ok(),
            _ => None,
        };
        let Some(grade) = grade else {
            return Err(Error::config(format!(
                "{}:{}: expected query-id, corpus-id and a whole-number score separated by tabs",
                path.display(),
                number + 1
            )));
        };
        qrels.entry(fields[0].to_string()).or_default().insert(fields[1].to_string(), grade);
    }
    Ok(qrels)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn folder(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("anymodel-beir-{name}-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("qrels")).unwrap();
        dir
    }

    #[test]
    fn a_dataset_loads_with_the_queries_of_its_split() {
        let dir = folder("ok");
        std::fs::write(dir.join("corpus.jsonl"), "{\"_id\": \"d1\", \"title\": \"T\", \"text\": \"x\"}\n{\"_id\": \"d2\", \"text\": \"y\"}\n").unwrap();
        std::fs::write(
            dir.join("queries.jsonl"),
            "{\"_id\": \"q1\", \"text\": \"what\"}\n{\"_id\": \"q2\", \"text\": \"other\"}\n",
        )
        .unwrap();
        std::fs::write(dir.join("qrels/test.tsv"), "query-id\tcorpus-id\tscore\nq1\td2\t1\n")
            .unwrap();
        let dataset = Dataset::load(&dir, "test").unwrap();
        assert_eq!(dataset.corpus.len(), 2);
        assert_eq!(dataset.corpus[1].title, "");
        assert_eq!(dataset.queries, HashMap::from([("q1".to_string(), "what".to_string())]));
        assert_eq!(dataset.qrels["q1"]["d2"], 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn malformed_files_are_named_with_their_line() {
        let dir = folder("bad");
        std::fs::write(dir.join("corpus.jsonl"), "{\"_id\": \"d1\", \"text\": \"x\"}\nnot json\n")
            .unwrap();
        let err = Dataset::load(&dir, "test").unwrap_err().to_string();
        assert!(err.contains("corpus.jsonl:2:"), "{err}");
        std::fs::write(dir.join("qrels/test.tsv"), "query-id\tcorpus-id\tscore\nq1 d1 1\n")
            .unwrap();
        let err = read_qrels(&dir.join("qrels/test.tsv")).unwrap_err().to_string();
        assert!(err.contains("test.tsv:2:"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
