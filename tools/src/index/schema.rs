//! The index's fields, and the marker file that says which format a folder holds.

use std::path::Path;

use serde::{Deserialize, Serialize};
use tantivy::schema::{
    FAST, Field, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions,
};

use super::analyzer::ANALYZER;
use super::error::IndexError;

/// The format this version writes and reads. Bumped whenever the fields or how text is
/// analysed change, since an index written otherwise would give wrong results, not errors.
pub const FORMAT_VERSION: u32 = 2;

/// The marker file in an index folder.
pub const MARKER_FILE: &str = "anymodel-index.json";

/// The `kind` of a chunk document.
pub const CHUNK: &str = "chunk";
/// The `kind` of the document that records an indexed file and its content hash.
pub const FILE: &str = "file";

/// The handles of the index's fields.
#[derive(Debug, Clone, Copy)]
pub struct Fields {
    /// [`CHUNK`] or [`FILE`].
    pub kind: Field,
    /// The document a chunk belongs to: a file's path, a record's id (also a fast field).
    pub doc_id: Field,
    /// The file's path, as the index names it; what re-ingesting deletes by.
    pub path: Field,
    /// The chunk's heading path, or its document's title: searched with a boost, and shown.
    pub title: Field,
    /// What is searched: the title and the chunk's text.
    pub body: Field,
    /// The chunk's text as stored, for passages and snippets.
    pub text: Field,
    /// `key=value` metadata, one value each.
    pub meta: Field,
    /// First and last line of the chunk in its file (absent for converted documents).
    pub first_line: Field,
    /// See `first_line`.
    pub last_line: Field,
    /// Byte range of the chunk in its file (files read as they are only).
    pub first_byte: Field,
    /// See `first_byte` (exclusive).
    pub end_byte: Field,
    /// The content hash of an indexed file (on [`FILE`] documents), or of the text a chunk's
    /// vector was made from (on [`CHUNK`] documents of an index with vectors).
    pub hash: Field,
    /// A chunk's vector, little-endian f32s (a fast field: read by segment without the stored
    /// documents).
    pub vector: Field,
}

/// The schema this version writes, and its fields.
pub fn schema() -> (Schema, Fields) {
    let mut builder = Schema::builder();
    let analysed = |stored: bool| {
        let indexing = TextFieldIndexing::default()
            .set_tokenizer(ANALYZER)
            .set_index_option(IndexRecordOption::WithFreqsAndPositions);
        let options = TextOptions::default().set_indexing_options(indexing);
        if stored { options.set_stored() } else { options }
    };
    let fields = Fields {
        kind: builder.add_text_field("kind", STRING),
        doc_id: builder.add_text_field("doc_id", STRING | STORED | FAST),
        path: builder.add_text_field("path", STRING | STORED),
        title: builder.add_text_field("title", analysed(true)),
        body: builder.add_text_field("body", analysed(false)),
        text: builder.add_text_field("text", STORED),
        meta: builder.add_text_field("meta", STRING | STORED),
        first_line: builder.add_u64_field("first_line", STORED),
        last_line: builder.add_u64_field("last_line", STORED),
        first_byte: builder.add_u64_field("first_byte", STORED),
        end_byte: builder.add_u64_field("end_byte", STORED),
        hash: builder.add_bytes_field("hash", STORED),
        vector: builder.add_bytes_field("vector", FAST),
    };
    (builder.build(), fields)
}

/// What the marker file holds.
#[derive(Debug, Serialize, Deserialize)]
struct Marker {
    format: String,
    version: u32,
}

const FORMAT_NAME: &str = "anymodel-index";

/// Writes the marker of this version into `folder`.
pub fn write_marker(folder: &Path) -> Result<(), IndexError> {
    let marker = Marker { format: FORMAT_NAME.into(), version: FORMAT_VERSION };
    let path = folder.join(MARKER_FILE);
    let text = serde_json::to_string_pretty(&marker).map_err(|e| IndexError::corrupt(&path, e))?;
    std::fs::write(&path, text).map_err(|source| IndexError::Io { path, source })
}

/// Checks that `folder` holds an index of this version's format.
pub fn check_marker(folder: &Path) -> Result<(), IndexError> {
    let path = folder.join(MARKER_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(IndexError::NotAnIndex {
                folder: folder.to_path_buf(),
                marker: MARKER_FILE,
            });
        }
        Err(source) => return Err(IndexError::Io { path, source }),
    };
    let marker: Marker = serde_json::from_str(&text).map_err(|e| IndexError::corrupt(&path, e))?;
    if marker.format != FORMAT_NAME {
        return Err(IndexError::corrupt(
            &path,
            format!("format `{}`, not `{FORMAT_NAME}`", marker.format),
        ));
    }
    if marker.version != FORMAT_VERSION {
        return Err(IndexError::Version {
            folder: folder.to_path_buf(),
            found: marker.version,
            expected: FORMAT_VERSION,
        });
    }
    Ok(())
}
