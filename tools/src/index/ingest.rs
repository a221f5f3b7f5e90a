//! Bringing the index up to date with files and folders: walking them (honouring `.gitignore`),
//! hashing each file, indexing only what changed, removing what is gone, committing once.

use std::collections::{HashMap, HashSet};
use std::path::{Component, Path, PathBuf};

use indicatif::{ProgressBar, ProgressStyle};
use tantivy::query::TermQuery;
use tantivy::schema::{IndexRecordOption, Value};
use tantivy::{IndexWriter, TantivyDocument, Term};

use super::KnowledgeIndex;
use super::chunk::{self, ChunkOptions};
use super::document::{self, Document, Location, Skip};
use super::error::IndexError;
use super::schema::{CHUNK, FILE, Fields};

/// How files are ingested.
#[derive(Debug, Clone, Default)]
pub struct IngestOptions {
    /// How documents are cut into chunks. Changing it re-indexes every file on the next ingest.
    pub chunking: ChunkOptions,
    /// Whether to show a progress bar on standard error (never drawn when it is not a terminal).
    pub progress: bool,
}

/// Why a file was left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkipReason {
    /// It is not text.
    Binary,
    /// It could not be read (permissions, a broken link, an I/O error).
    Unreadable(String),
    /// It is text but not what its name says (a JSON Lines file with a bad record).
    Invalid(String),
}

impl std::fmt::Display for SkipReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SkipReason::Binary => write!(f, "binary"),
            SkipReason::Unreadable(why) => write!(f, "unreadable: {why}"),
            SkipReason::Invalid(why) => write!(f, "invalid: {why}"),
        }
    }
}

/// A file left out of the index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// The file.
    pub path: PathBuf,
    /// Why.
    pub reason: SkipReason,
}

/// What an ingest did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IngestReport {
    /// Files indexed for the first time.
    pub added: usize,
    /// Files indexed again because their content changed.
    pub updated: usize,
    /// Files already indexed with the same content.
    pub unchanged: usize,
    /// Files removed from the index because they are gone (or now binary).
    pub removed: usize,
    /// Chunks written.
    pub chunks: usize,
    /// Files left out, and why. Unreadable files keep what was indexed of them before.
    pub skipped: Vec<Skipped>,
}

impl IngestReport {
    /// How many files were skipped as binary.
    pub fn binary(&self) -> usize {
        self.skipped.iter().filter(|s| s.reason == SkipReason::Binary).count()
    }

    /// How many files could not be read.
    pub fn unreadable(&self) -> usize {
        self.skipped.iter().filter(|s| matches!(s.reason, SkipReason::Unreadable(_))).count()
    }

    /// How many files were invalid.
    pub fn invalid(&self) -> usize {
        self.skipped.iter().filter(|s| matches!(s.reason, SkipReason::Invalid(_))).count()
    }

    /// The skipped files counted by kind, most first: binary files by extension (`.png`, or
    /// `binary` for files without one), then `unreadable` and `invalid`.
    pub fn skipped_by_kind(&self) -> Vec<(String, usize)> {
        let mut counts: Vec<(String, usize)> = Vec::new();
        for skipped in &self.skipped {
            let kind = match &skipped.reason {
                SkipReason::Binary => skipped.path.extension().map_or("binary".into(), |e| {
                    format!(".{}", e.to_string_lossy().to_ascii_lowercase())
                }),
                SkipReason::Unreadable(_) => "unreadable".into(),
                SkipReason::Invalid(_) => "invalid".into(),
            };
            match counts.iter_mut().find(|(k, _)| *k == kind) {
                Some((_, count)) => *count += 1,
                None => counts.push((kind, 1)),
            }
        }
        counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        counts
    }
}

impl std::fmt::Display for IngestReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} added, {} updated, {} unchanged, {} removed ({} chunks written); skipped {} binary, {} unreadable, {} invalid",
            self.added,
            self.updated,
            self.unchanged,
            self.removed,
            self.chunks,
            self.binary(),
            self.unreadable(),
            self.invalid()
        )
    }
}

/// Memory the writer may use per thread before it flushes a segment.
const WRITER_MEMORY_PER_THREAD: usize = 64 << 20;

/// The one writer of an index: what it ingests and removes becomes visible, all at once, when it
/// commits. While it lives no other writer can be had, in this process or another; dropping it
/// without committing discards its work, as a crash would.
pub struct Writer<'a> {
    index: &'a KnowledgeIndex,
    writer: IndexWriter,
}

impl std::fmt::Debug for Writer<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer").field("index", &self.index.folder).finish()
    }
}

/// How long a writer waits for the index's lock before it says another writer holds it.
const LOCK_PATIENCE: std::time::Duration = std::time::Duration::from_millis(500);

impl<'a> Writer<'a> {
    /// Takes the index's write lock, waiting up to half a second for it;
    /// [`IndexError::Locked`] when another writer holds it longer.
    pub(super) fn new(index: &'a KnowledgeIndex, threads: usize) -> Result<Self, IndexError> {
        let threads = match threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()).min(4),
            n => n,
        };
        // A lock held a moment longer (a writer of this process still shutting down its
        // threads, a reader reloading under load) is waited for briefly; a writer that holds
        // it on is another's, and refused.
        let started = std::time::Instant::now();
        let writer = loop {
            match index.index.writer_with_num_threads(threads, threads * WRITER_MEMORY_PER_THREAD) {
                Ok(writer) => break writer,
                Err(tantivy::TantivyError::LockFailure(..))
                    if started.elapsed() < LOCK_PATIENCE =>
                {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                Err(error) => return Err(IndexError::engine(&index.folder, error)),
            }
        };
        // What is staged is compared with the last commit, which a writer that waited (or
        // another process) may have made after this reader last looked.
        index.reader.reload().map_err(|e| IndexError::engine(&index.folder, e))?;
        Ok(Writer { index, writer })
    }

    /// Stages the files and folders at `roots`, as [`KnowledgeIndex::ingest`] describes.
    /// Compared against the last commit: roots of one writer should not overlap.
    pub fn ingest<P: AsRef<Path>>(
        &mut self,
        roots: &[P],
        options: &IngestOptions,
    ) -> Result<IngestReport, IndexError> {
        let index = self.index;
        let writer = &self.writer;
        let mut report = IngestReport::default();
        let mut files = Vec::new();
        let mut known = HashMap::new();
        let here = working_folder();
        for root in roots {
            let root = root.as_ref();
            if let Err(source) = std::fs::metadata(root) {
                return Err(IndexError::Input {
                    path: root.to_path_buf(),
                    message: source.to_string(),
                });
            }
            let name = index_name(root, here.as_deref());
            known.extend(indexed_files(index, &name)?);
            walk(root, &index.folder, &mut files, &mut report.skipped);
        }

        let progress = progress_bar(options.progress, files.len());
        let fingerprint = format!(
            "chunks {} {}\n",
            options.chunking.target_bytes, options.chunking.overlap_bytes
        );
        let fields = index.fields;
        for path in &files {
            let name = index_name(path, here.as_deref());
            progress.set_message(name.clone());
            let was = known.remove(&name);
            let bytes = match std::fs::read(path) {
                Ok(bytes) => bytes,
                Err(e) => {
                    report.skipped.push(Skipped {
                        path: path.clone(),
                        reason: SkipReason::Unreadable(e.to_string()),
                    });
                    progress.inc(1);
                    continue;
                }
            };
            let hash =
                blake3::Hasher::new().update(fingerprint.as_bytes()).update(&bytes).finalize();
            if was.as_deref() == Some(hash.as_bytes().as_slice()) {
                report.unchanged += 1;
                progress.inc(1);
                continue;
            }
            if was.is_some() {
                writer.delete_term(Term::from_field_text(fields.path, &name));
            }
            match document::read(path, &name, &bytes) {
                Ok(documents) => {
                    for document in &documents {
                        report.chunks +=
                            add_chunks(writer, fields, document, options.chunking, index)?;
                    }
                    let mut record = TantivyDocument::new();
                    record.add_text(fields.kind, FILE);
                    record.add_text(fields.path, &name);
                    record.add_bytes(fields.hash, hash.as_bytes().as_slice());
                    writer
                        .add_document(record)
                        .map_err(|e| IndexError::engine(&index.folder, e))?;
                    if was.is_some() {
                        report.updated += 1;
                    } else {
                        report.added += 1;
                    }
                }
                Err(skip) => {
                    report.removed += usize::from(was.is_some());
                    let reason = match skip {
                        Skip::Binary => SkipReason::Binary,
                        Skip::Invalid(why) => SkipReason::Invalid(why),
                    };
                    report.skipped.push(Skipped { path: path.clone(), reason });
                }
            }
            progress.inc(1);
        }
        // What is still known was not found under the roots: it is gone, unless it was there
        // but could not be read (its old chunks are kept).
        let unreadable: HashSet<String> = report
            .skipped
            .iter()
            .filter(|s| matches!(s.reason, SkipReason::Unreadable(_)))
            .map(|s| index_name(&s.path, here.as_deref()))
            .collect();
        for (name, _) in known {
            if !unreadable.contains(&name) {
                writer.delete_term(Term::from_field_text(fields.path, &name));
                report.removed += 1;
            }
        }
        progress.finish_and_clear();
        Ok(report)
    }

    /// Stages the removal of every file whose indexed path starts with `prefix`; returns how many.
    pub fn remove(&mut self, prefix: &str) -> Result<usize, IndexError> {
        let name = index_name(Path::new(prefix), working_folder().as_deref());
        let files = indexed_files(self.index, &name)?;
        for name in files.keys() {
            self.writer.delete_term(Term::from_field_text(self.index.fields.path, name));
        }
        Ok(files.len())
    }

    /// Makes everything staged visible to new searchers, atomically, and releases the lock.
    pub fn commit(mut self) -> Result<(), IndexError> {
        let folder = &self.index.folder;
        self.writer.commit().map_err(|e| IndexError::engine(folder, e))?;
        self.writer.wait_merging_threads().map_err(|e| IndexError::engine(folder, e))?;
        self.index.reader.reload().map_err(|e| IndexError::engine(folder, e))
    }
}

/// The files indexed under `prefix` (a file name or a folder's), with their content hashes.
fn indexed_files(
    index: &KnowledgeIndex,
    prefix: &str,
) -> Result<HashMap<String, Vec<u8>>, IndexError> {
    let searcher = index.reader.searcher();
    let query =
        TermQuery::new(Term::from_field_text(index.fields.kind, FILE), IndexRecordOption::Basic);
    let docs = searcher
        .search(&query, &tantivy::collector::DocSetCollector)
        .map_err(|e| IndexError::engine(&index.folder, e))?;
    let mut files = HashMap::new();
    for address in docs {
        let doc: TantivyDocument =
            searcher.doc(address).map_err(|e| IndexError::engine(&index.folder, e))?;
        let path = doc.get_first(index.fields.path).and_then(|v| v.as_str()).unwrap_or_default();
        // The working folder (`""`) holds the files named relative to it, not those named by
        // an absolute path, which are outside it.
        let under = path == prefix
            || (prefix.is_empty() && !path.starts_with('/'))
            || !prefix.is_empty()
                && path
                    .strip_prefix(prefix)
                    .is_some_and(|rest| rest.starts_with('/') || prefix.ends_with('/'));
        if under {
            let hash =
                doc.get_first(index.fields.hash).and_then(|v| v.as_bytes()).unwrap_or_default();
            files.insert(path.to_string(), hash.to_vec());
        }
    }
    Ok(files)
}

/// Adds the chunks of `document`; returns how many.
fn add_chunks(
    writer: &IndexWriter,
    fields: Fields,
    document: &Document,
    options: ChunkOptions,
    index: &KnowledgeIndex,
) -> Result<usize, IndexError> {
    let chunks = chunk::chunk(&document.text, document.structure, options);
    for chunk in &chunks {
        let title = if chunk.headings.is_empty() {
            document.title.clone()
        } else {
            chunk.headings.join(" > ")
        };
        let text = chunk.text(&document.text);
        let mut doc = TantivyDocument::new();
        doc.add_text(fields.kind, CHUNK);
        doc.add_text(fields.doc_id, &document.id);
        doc.add_text(fields.path, &document.path);
        doc.add_text(fields.body, format!("{title}\n{text}"));
        doc.add_text(fields.title, &title);
        doc.add_text(fields.text, text);
        for (key, value) in &document.metadata {
            doc.add_text(fields.meta, format!("{key}={value}"));
        }
        let lines = match document.location {
            Location::File => Some(chunk.lines),
            Location::Record(line) => Some((line, line)),
            Location::Converted => None,
        };
        if let Some((first, last)) = lines {
            doc.add_u64(fields.first_line, u64::from(first));
            doc.add_u64(fields.last_line, u64::from(last));
        }
        if document.location == Location::File {
            doc.add_u64(fields.first_byte, chunk.bytes.start as u64);
            doc.add_u64(fields.end_byte, chunk.bytes.end as u64);
        }
        writer.add_document(doc).map_err(|e| IndexError::engine(&index.folder, e))?;
    }
    Ok(chunks.len())
}

/// Collects the files under `root` (itself, when it is a file), skipping the index's own folder,
/// hidden files and whatever `.gitignore`, `.ignore` and git's excludes leave out.
fn walk(root: &Path, index_folder: &Path, files: &mut Vec<PathBuf>, skipped: &mut Vec<Skipped>) {
    if root.is_file() {
        files.push(root.to_path_buf());
        return;
    }
    let index_folder = index_folder.canonicalize().unwrap_or_else(|_| index_folder.to_path_buf());
    let walker = ignore::WalkBuilder::new(root)
        .require_git(false)
        .follow_links(true)
        .sort_by_file_name(|a, b| a.cmp(b))
        .filter_entry(move |entry| entry.path().canonicalize().map_or(true, |p| p != index_folder))
        .build();
    for entry in walker {
        match entry {
            Ok(entry) if entry.file_type().is_some_and(|t| t.is_file()) => {
                files.push(entry.into_path())
            }
            Ok(_) => {}
            Err(error) => {
                let path = error_path(&error).unwrap_or_else(|| root.to_path_buf());
                skipped.push(Skipped { path, reason: SkipReason::Unreadable(error.to_string()) });
            }
        }
    }
}

/// The path an error of the walk is about, when it names one.
fn error_path(error: &ignore::Error) -> Option<PathBuf> {
    match error {
        ignore::Error::WithPath { path, .. } => Some(path.clone()),
        ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => {
            error_path(err)
        }
        _ => None,
    }
}

/// How the index names a file or folder, one name however it was given (`docs`, `./docs`,
/// `$PWD/docs`, `docs/../docs`): its real path (links, `.` and `..` resolved), relative to the
/// working folder when it is inside it, as people usually give it, else absolute. A path that
/// does not exist (a name to remove) is taken as written. `here` is the working folder's real
/// path ([`working_folder`]), looked up once by the caller.
fn index_name(path: &Path, here: Option<&Path>) -> String {
    let Ok(real) = path.canonicalize() else { return display_name(path) };
    match here.and_then(|here| real.strip_prefix(here).ok()) {
        Some(inside) => display_name(inside),
        None => display_name(&real),
    }
}

/// The working folder's real path, which index names are relative to.
fn working_folder() -> Option<PathBuf> {
    std::env::current_dir().and_then(|folder| folder.canonicalize()).ok()
}

/// A path `/`-separated, without `.` components.
fn display_name(path: &Path) -> String {
    let mut name = String::new();
    for component in path.components() {
        match component {
            Component::CurDir => continue,
            Component::RootDir => {
                name.push('/');
                continue;
            }
            _ => {}
        }
        if !name.is_empty() && !name.ends_with('/') {
            name.push('/');
        }
        push_component(&mut name, component.as_os_str());
    }
    name
}

/// A path component as text: itself when it is UTF-8, else its valid parts with each other
/// byte written `\xNN`, so that two names differing only in invalid bytes stay two names.
fn push_component(name: &mut String, component: &std::ffi::OsStr) {
    match component.to_str() {
        Some(text) => name.push_str(text),
        None => {
            for chunk in component.as_encoded_bytes().utf8_chunks() {
                name.push_str(chunk.valid());
                for byte in chunk.invalid() {
                    name.push_str(&format!("\\x{byte:02x}"));
                }
            }
        }
    }
}

fn progress_bar(shown: bool, files: usize) -> ProgressBar {
    if !shown {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(files as u64);
    if let Ok(style) = ProgressStyle::with_template("{bar:30} {pos}/{len} files {wide_msg}") {
        bar.set_style(style);
    }
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_drop_dot_components() {
        assert_eq!(display_name(Path::new("./docs/a.md")), "docs/a.md");
        assert_eq!(display_name(Path::new("docs")), "docs");
        assert_eq!(display_name(Path::new("/abs/x")), "/abs/x");
        use std::os::unix::ffi::OsStrExt;
        let one = display_name(Path::new(std::ffi::OsStr::from_bytes(b"docs/a\xff.md")));
        let two = display_name(Path::new(std::ffi::OsStr::from_bytes(b"docs/a\xfe.md")));
        assert_eq!((one.as_str(), two.as_str()), ("docs/a\\xff.md", "docs/a\\xfe.md"));
    }
}
