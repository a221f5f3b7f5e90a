//! Reading a file into the documents the index holds: text, Markdown and source code as they
//! are, HTML as its text, JSON Lines as one document per record; any of them gzip-compressed
//! (`notes.md.gz` reads as `notes.md`). Binary files are recognised (a NUL byte near the start,
//! as git and ripgrep judge, or text that is not UTF-8) and skipped.

use std::io::Read;
use std::path::Path;

use serde_json::{Map, Value};

use super::chunk::Structure;

/// What kind of file a document came from; also a metadata value (`kind=…`) to filter on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Markdown (`.md`, `.markdown`, `.mdx`).
    Markdown,
    /// Source code, configuration and other structured text.
    Code,
    /// Anything else that is text.
    Text,
    /// HTML, indexed as its text.
    Html,
    /// One record of a JSON Lines file.
    Record,
}

impl Kind {
    /// Its name in metadata.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Markdown => "markdown",
            Kind::Code => "code",
            Kind::Text => "text",
            Kind::Html => "html",
            Kind::Record => "record",
        }
    }

    fn of(path: &Path) -> Kind {
        let extension =
            path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
        match extension.as_str() {
            "md" | "markdown" | "mdx" => Kind::Markdown,
            "html" | "htm" | "xhtml" => Kind::Html,
            "jsonl" | "ndjson" => Kind::Record,
            "rs" | "py" | "js" | "mjs" | "ts" | "tsx" | "jsx" | "go" | "java" | "kt" | "scala"
            | "c" | "h" | "cc" | "cpp" | "hpp" | "cs" | "rb" | "php" | "swift" | "m" | "sh"
            | "bash" | "zsh" | "fish" | "ps1" | "sql" | "lua" | "r" | "jl" | "hs" | "ml" | "ex"
            | "exs" | "erl" | "clj" | "dart" | "zig" | "nim" | "vue" | "svelte" | "css"
            | "scss" | "proto" | "toml" | "yaml" | "yml" | "json" | "xml" | "ini" | "cfg"
            | "gradle" | "cmake" => Kind::Code,
            _ => Kind::Text,
        }
    }
}

/// How a document's chunks map back to its file, for citations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location {
    /// The document is the file's text: chunk lines are file lines.
    File,
    /// The document is the record on this line of the file.
    Record(u32),
    /// The document was converted (HTML): its lines are not the file's.
    Converted,
}

/// One document to chunk and index.
#[derive(Debug, Clone)]
pub struct Document {
    /// Its key: the file's path, or a record's id.
    pub id: String,
    /// The file it came from, as the index names it.
    pub path: String,
    /// Its title: a record's title, the first top-level Markdown heading, or the file name.
    pub title: String,
    /// Its text.
    pub text: String,
    /// How its structure is read for chunking.
    pub structure: Structure,
    /// How its chunks map back to the file.
    pub location: Location,
    /// `key=value` pairs to filter on: always `kind` and, for files, `ext`; a record's scalar
    /// fields besides id, title and text (and those of its `metadata` object).
    pub metadata: Vec<(String, String)>,
}

/// Why a file was not indexed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skip {
    /// It is not text.
    Binary,
    /// It is text but not what its name says (a JSON Lines record that does not parse).
    Invalid(String),
}

/// How far into a file a NUL byte marks it as binary.
const BINARY_PROBE: usize = 8192;

/// The most a gzip-compressed file may expand to (a small file can expand to gigabytes).
pub const MAX_INFLATED: u64 = 256 << 20;

/// The documents in the file at `path`, whose contents are `bytes`, named `name` in the index.
pub fn read(path: &Path, name: &str, bytes: &[u8]) -> Result<Vec<Document>, Skip> {
    if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("gz")) {
        let text = inflate(bytes)?;
        return read(&path.with_extension(""), name, &text);
    }
    if bytes[..bytes.len().min(BINARY_PROBE)].contains(&0) {
        return Err(Skip::Binary);
    }
    let text = std::str::from_utf8(bytes).map_err(|_| Skip::Binary)?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let kind = Kind::of(path);
    let file_name =
        path.file_name().map_or_else(|| name.to_string(), |n| n.to_string_lossy().into_owned());
    let mut metadata = vec![("kind".to_string(), kind.name().to_string())];
    if let Some(extension) = path.extension() {
        metadata.push(("ext".into(), extension.to_string_lossy().to_ascii_lowercase()));
    }
    let document = |text: String, structure, location| Document {
        id: name.to_string(),
        path: name.to_string(),
        title: match structure {
            Structure::Markdown => first_heading(&text).unwrap_or(&file_name).to_string(),
            Structure::Plain => file_name.clone(),
        },
        text,
        structure,
        location,
        metadata: metadata.clone(),
    };
    Ok(match kind {
        Kind::Markdown => vec![document(text.to_string(), Structure::Markdown, Location::File)],
        Kind::Code | Kind::Text => {
            vec![document(text.to_string(), Structure::Plain, Location::File)]
        }
        Kind::Html => {
            let converted = html2text::from_read(text.as_bytes(), usize::MAX / 2)
                .map_err(|e| Skip::Invalid(format!("HTML: {e}")))?;
            vec![document(converted, Structure::Markdown, Location::Converted)]
        }
        Kind::Record => records(name, text, &metadata)?,
    })
}

/// The contents of a gzip-compressed file (every member, as `gzip -d` reads them).
fn inflate(bytes: &[u8]) -> Result<Vec<u8>, Skip> {
    let mut text = Vec::new();
    flate2::read::MultiGzDecoder::new(bytes)
        .take(MAX_INFLATED + 1)
        .read_to_end(&mut text)
        .map_err(|e| Skip::Invalid(format!("gzip: {e}")))?;
    if text.len() as u64 > MAX_INFLATED {
        return Err(Skip::Invalid(format!("gzip: expands past {} MiB", MAX_INFLATED >> 20)));
    }
    Ok(text)
}

/// The first top-level heading of Markdown text (or the first heading of any level).
fn first_heading(text: &str) -> Option<&str> {
    let headings = text.lines().filter_map(|line| {
        let level = line.bytes().take_while(|&b| b == b'#').count();
        let title = line[level..].strip_prefix(' ')?.trim().trim_end_matches('#').trim();
        ((1..=6).contains(&level) && !title.is_empty()).then_some((level, title))
    });
    headings.min_by_key(|&(level, _)| level).map(|(_, title)| title)
}

/// One document per record of a JSON Lines file: `id` (or `_id`), `title`, `text` (or `body`,
/// `content`). A line that is not such a record makes the whole file invalid, naming the line.
fn records(
    name: &str,
    text: &str,
    file_metadata: &[(String, String)],
) -> Result<Vec<Document>, Skip> {
    let mut documents = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let number = u32::try_from(index + 1).unwrap_or(u32::MAX);
        if line.trim().is_empty() {
            continue;
        }
        let invalid = |what: String| Skip::Invalid(format!("line {number}: {what}"));
        let mut record: Map<String, Value> =
            serde_json::from_str(line).map_err(|e| invalid(format!("not a JSON object: {e}")))?;
        let id = match ["id", "_id"].iter().find_map(|key| record.remove(*key)) {
            Some(Value::String(id)) => id,
            Some(Value::Number(id)) => id.to_string(),
            Some(other) => {
                return Err(invalid(format!("the id is {other}, not a string or number")));
            }
            None => format!("{name}:{number}"),
        };
        let text = match ["text", "body", "content"].iter().find_map(|key| record.remove(*key)) {
            Some(Value::String(text)) => text,
            _ => return Err(invalid("no `text` string field".into())),
        };
        let title = match record.remove("title") {
            Some(Value::String(title)) => title,
            _ => String::new(),
        };
        let mut metadata = file_metadata.to_vec();
        let nested = match record.remove("metadata") {
            Some(Value::Object(nested)) => nested,
            _ => Map::new(),
        };
        metadata.extend(record.into_iter().chain(nested).filter_map(|(key, value)| match value {
            Value::String(value) => Some((key, value)),
            Value::Number(_) | Value::Bool(_) => Some((key, value.to_string())),
            _ => None,
        }));
        documents.push(Document {
            id,
            path: name.to_string(),
            title,
            text,
            structure: Structure::Plain,
            location: Location::Record(number),
            metadata,
        });
    }
    Ok(documents)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn gzip_compressed_text_reads_as_the_file_inside() {
        let file = gzip(b"# Descaling\n\nRun the descaling programme monthly.\n");
        let documents = read(Path::new("docs/care.md.gz"), "docs/care.md.gz", &file).unwrap();
        assert_eq!(documents.len(), 1);
        assert_eq!(documents[0].title, "Descaling");
        assert!(documents[0].text.contains("descaling programme"));
        assert_eq!(documents[0].path, "docs/care.md.gz");
        assert!(documents[0].metadata.contains(&("kind".into(), "markdown".into())));
        assert!(documents[0].metadata.contains(&("ext".into(), "md".into())));
    }

    #[test]
    fn damaged_or_huge_gzip_files_are_invalid() {
        let Err(Skip::Invalid(why)) = read(Path::new("a.txt.gz"), "a.txt.gz", b"not gzip") else {
            panic!("damaged gzip read");
        };
        assert!(why.starts_with("gzip: "), "{why}");
        let bomb = {
            use std::io::Write;
            let mut encoder =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            let zeros = vec![b'a'; 1 << 20];
            for _ in 0..=(MAX_INFLATED >> 20) {
                encoder.write_all(&zeros).unwrap();
            }
            encoder.finish().unwrap()
        };
        let Err(Skip::Invalid(why)) = read(Path::new("b.txt.gz"), "b.txt.gz", &bomb) else {
            panic!("a gzip bomb read");
        };
        assert!(why.contains("expands past 256 MiB"), "{why}");
    }

    #[test]
    fn binary_and_non_utf8_files_are_skipped() {
        assert_eq!(
            read(Path::new("a.bin"), "a.bin", b"PK\x03\x04\x00\x00").unwrap_err(),
            Skip::Binary
        );
        assert_eq!(read(Path::new("a.txt"), "a.txt", b"caf\xe9").unwrap_err(), Skip::Binary);
    }

    #[test]
    fn markdown_titles_come_from_the_top_heading() {
        let docs =
            read(Path::new("d/guide.md"), "d/guide.md", b"intro\n## Sub\n# Guide\n").unwrap();
        assert_eq!(docs[0].title, "Guide");
        assert_eq!(
            docs[0].metadata,
            [("kind".to_string(), "markdown".to_string()), ("ext".into(), "md".into())]
        );
        let docs =
            read(Path::new("d/notes.txt"), "d/notes.txt", b"# not a heading here\n").unwrap();
        assert_eq!(docs[0].title, "notes.txt");
    }

    #[test]
    fn records_carry_id_title_and_metadata() {
        let file = "{\"_id\": 7, \"title\": \"T\", \"text\": \"body\", \"lang\": \"en\", \"metadata\": {\"year\": 2020}}\n\n{\"id\": \"b\", \"text\": \"x\"}\n";
        let docs = read(Path::new("c.jsonl"), "c.jsonl", file.as_bytes()).unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(
            (docs[0].id.as_str(), docs[0].title.as_str(), docs[0].location),
            ("7", "T", Location::Record(1))
        );
        assert!(docs[0].metadata.contains(&("lang".into(), "en".into())));
        assert!(docs[0].metadata.contains(&("year".into(), "2020".into())));
        assert_eq!((docs[1].id.as_str(), docs[1].location), ("b", Location::Record(3)));
    }

    #[test]
    fn a_bad_record_names_its_line() {
        let file = "{\"id\": \"a\", \"text\": \"x\"}\n{\"id\": \"b\"}\n";
        let Err(Skip::Invalid(why)) = read(Path::new("c.jsonl"), "c.jsonl", file.as_bytes()) else {
            panic!("a record without text was accepted");
        };
        assert!(why.starts_with("line 2: no `text`"), "{why}");
    }

    #[test]
    fn html_is_read_as_text_with_its_headings() {
        let page = b"<html><head><title>x</title><style>p{}</style></head><body><h1>Install</h1><p>Run <b>make</b>.</p></body></html>";
        let docs = read(Path::new("i.html"), "i.html", page).unwrap();
        assert_eq!(docs[0].location, Location::Converted);
        assert!(
            docs[0].text.contains("Install") && docs[0].text.contains("Run"),
            "{}",
            docs[0].text
        );
        assert!(!docs[0].text.contains("<b>") && !docs[0].text.contains("p{}"), "{}", docs[0].text);
    }
}
