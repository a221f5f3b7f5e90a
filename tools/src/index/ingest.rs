//! Bringing the index up to date with files and folders: walking them (honouring `.gitignore`),
//! hashing each file, indexing only what changed, removing what is gone, committing once.

use std::collections::{HashMap, HashSet};
use std::path::{Component, Path, PathBuf};

use indicatif::{ProgressBar, ProgressStyle};
use tantivy::query::TermQuery;
use tantivy::schema::{IndexRecordOption, Value};
use tantivy::{IndexWriter, TantivyDocument, Term};

use anymodel_core::{Embedder, InputKind};

use super::KnowledgeIndex;
use super::chunk::{self, ChunkOptions};
use super::document::{self, Document, Location, Skip};
use super::error::IndexError;
use super::schema::{CHUNK, FILE, Fields};
use super::vectors::{self, VectorSpace};

/// How files are ingested.
#[derive(Debug, Clone, Default)]
pub struct IngestOptions {
    /// How documents are cut into chunks. Changing it re-indexes every file on the next ingest.
    pub chunking: ChunkOptions,
    /// Whether to show a progress bar on standard error (never drawn when it is not a terminal).
    pub progress: bool,
    /// How the application names the embedder of [`Writer::ingest_embedding`] (a configured
    /// name, a model folder): recorded with the vectors so that a later run can load the same
    /// embedder without being told ([`VectorSpace::named`]).
    pub embedder_named: Option<String>,
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
    /// Chunks whose vectors were made by the embedder.
    pub embedded: usize,
    /// Chunks whose vectors were taken from the chunk of the same text they replace (the
    /// content-hash cache), not embedded again.
    pub reused: usize,
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
        )?;
        if self.embedded + self.reused > 0 {
            write!(f, "; {} chunks embedded, {} vectors reused", self.embedded, self.reused)?;
        }
        Ok(())
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
    /// The vectors the index holds, and will hold at commit.
    space: Option<VectorSpace>,
    /// Whether an ingest asked for progress (the commit's graphs show theirs too).
    progress: bool,
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
        let space = vectors::recorded(&index.index, &index.folder)?;
        Ok(Writer { index, writer, space, progress: false })
    }

    /// Stages the files and folders at `roots`, as [`KnowledgeIndex::ingest`] describes.
    /// Compared against the last commit: roots of one writer should not overlap. An index that
    /// holds vectors is refused ([`IndexError::EmbedderNeeded`]): its new chunks need vectors
    /// too, from [`Writer::ingest_embedding`].
    pub fn ingest<P: AsRef<Path>>(
        &mut self,
        roots: &[P],
        options: &IngestOptions,
    ) -> Result<IngestReport, IndexError> {
        if let Some(space) = &self.space {
            return Err(IndexError::EmbedderNeeded {
                folder: self.index.folder.clone(),
                space: space.clone(),
            });
        }
        self.progress |= options.progress;
        let mut run = self.begin(roots, options)?;
        for path in std::mem::take(&mut run.files) {
            for chunk in self.stage(&mut run, &path)? {
                self.add(chunk.doc)?;
            }
        }
        Ok(self.finish(run))
    }

    /// As [`Writer::ingest`], with a vector for each new chunk from `embedder`. Chunks whose
    /// text is unchanged keep their vectors (a content-hash cache per file): re-adding an
    /// unchanged folder embeds nothing, and an edit embeds only the chunks it changed.
    ///
    /// An index holds the vectors of one embedder: another one is refused
    /// ([`IndexError::EmbedderMismatch`]), and vectors are added to an index that has none
    /// only when `roots` cover every file it holds (they are all indexed again, with vectors).
    pub async fn ingest_embedding<P: AsRef<Path>>(
        &mut self,
        roots: &[P],
        options: &IngestOptions,
        embedder: &dyn Embedder,
    ) -> Result<IngestReport, IndexError> {
        self.progress |= options.progress;
        let mut run = self.begin(roots, options)?;
        self.adopt(embedder, options.embedder_named.clone(), &run)?;
        let mut waiting = Vec::new();
        for path in std::mem::take(&mut run.files) {
            waiting.extend(self.stage(&mut run, &path)?);
            while waiting.len() >= EMBED_BATCH {
                let batch: Vec<Staged> = waiting.drain(..EMBED_BATCH).collect();
                self.embed(batch, &mut run, embedder).await?;
            }
            if waiting.is_empty() {
                // Every chunk staged so far has its vector: what the cache held was for them.
                run.cache.clear();
            }
        }
        self.embed(waiting, &mut run, embedder).await?;
        Ok(self.finish(run))
    }

    /// Takes `embedder`'s vectors (loaded by the name `named`) as the index's: those it
    /// records, or the first, when every file it holds is among those about to be indexed again.
    fn adopt(
        &mut self,
        embedder: &dyn Embedder,
        named: Option<String>,
        run: &Run,
    ) -> Result<(), IndexError> {
        let folder = &self.index.folder;
        match &self.space {
            Some(held) => held.accepts(folder, embedder)?,
            None => {
                let searcher = self.index.reader.searcher();
                let files = searcher
                    .search(&file_query(self.index.fields), &tantivy::collector::Count)
                    .map_err(|e| IndexError::engine(folder, e))?;
                if files > run.known.len() {
                    return Err(IndexError::WithoutVectors {
                        folder: folder.clone(),
                        outside: files - run.known.len(),
                    });
                }
            }
        }
        // The name it was loaded by follows the latest run.
        self.space = Some(VectorSpace {
            embedder: embedder.name().to_string(),
            dimensions: embedder.dimensions(),
            named: named.or_else(|| self.space.as_ref()?.named.clone()),
        });
        Ok(())
    }

    /// Walks `roots` and reads what the index holds of them, before any file is staged.
    fn begin<P: AsRef<Path>>(
        &self,
        roots: &[P],
        options: &IngestOptions,
    ) -> Result<Run, IndexError> {
        let mut run = Run {
            files: Vec::new(),
            known: HashMap::new(),
            here: working_folder(),
            report: IngestReport::default(),
            progress: ProgressBar::hidden(),
            chunking: options.chunking,
            cache: HashMap::new(),
        };
        for root in roots {
            let root = root.as_ref();
            if let Err(source) = std::fs::metadata(root) {
                return Err(IndexError::Input {
                    path: root.to_path_buf(),
                    message: source.to_string(),
                });
            }
            let name = index_name(root, run.here.as_deref());
            run.known.extend(indexed_files(self.index, &name)?);
            walk(root, &self.index.folder, &mut run.files, &mut run.report.skipped);
        }
        run.progress = progress_bar(options.progress, run.files.len(), "files");
        Ok(run)
    }

    /// Reads the file at `path` and, when it changed, stages the removal of its old chunks and
    /// returns its new ones (and, for an index with vectors, keeps the old chunks' vectors in
    /// the run's cache).
    fn stage(&mut self, run: &mut Run, path: &Path) -> Result<Vec<Staged>, IndexError> {
        let index = self.index;
        let fields = index.fields;
        let name = index_name(path, run.here.as_deref());
        run.progress.set_message(name.clone());
        let was = run.known.remove(&name);
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) => {
                run.report.skipped.push(Skipped {
                    path: path.to_path_buf(),
                    reason: SkipReason::Unreadable(e.to_string()),
                });
                run.progress.inc(1);
                return Ok(Vec::new());
            }
        };
        let mut fingerprint =
            format!("chunks {} {}\n", run.chunking.target_bytes, run.chunking.overlap_bytes);
        if let Some(space) = &self.space {
            fingerprint.push_str(&format!("vectors {} {}\n", space.embedder, space.dimensions));
        }
        let hash = blake3::Hasher::new().update(fingerprint.as_bytes()).update(&bytes).finalize();
        if was.as_deref() == Some(hash.as_bytes().as_slice()) {
            run.report.unchanged += 1;
            run.progress.inc(1);
            return Ok(Vec::new());
        }
        if was.is_some() {
            if let Some(space) = &self.space {
                cached_vectors(index, &name, space, &mut run.cache)?;
            }
            self.writer.delete_term(Term::from_field_text(fields.path, &name));
        }
        let mut staged = Vec::new();
        match document::read(path, &name, &bytes) {
            Ok(documents) => {
                for document in &documents {
                    staged.extend(chunk_documents(fields, document, run.chunking));
                }
                run.report.chunks += staged.len();
                let mut record = TantivyDocument::new();
                record.add_text(fields.kind, FILE);
                record.add_text(fields.path, &name);
                record.add_bytes(fields.hash, hash.as_bytes().as_slice());
                self.add(record)?;
                if was.is_some() {
                    run.report.updated += 1;
                } else {
                    run.report.added += 1;
                }
            }
            Err(skip) => {
                run.report.removed += usize::from(was.is_some());
                let reason = match skip {
                    Skip::Binary => SkipReason::Binary,
                    Skip::Invalid(why) => SkipReason::Invalid(why),
                };
                run.report.skipped.push(Skipped { path: path.to_path_buf(), reason });
            }
        }
        run.progress.inc(1);
        Ok(staged)
    }

    /// Gives each of `chunks` its vector (from the cache of replaced chunks, else from
    /// `embedder`) and adds them.
    async fn embed(
        &mut self,
        chunks: Vec<Staged>,
        run: &mut Run,
        embedder: &dyn Embedder,
    ) -> Result<(), IndexError> {
        let Some(space) = self.space.clone() else { return Ok(()) };
        let folder = &self.index.folder;
        let hashes: Vec<[u8; 32]> =
            chunks.iter().map(|c| vectors::content_hash(&space, &c.embedded)).collect();
        let missing: Vec<usize> =
            (0..chunks.len()).filter(|&i| !run.cache.contains_key(&hashes[i])).collect();
        // The same text twice in one batch is embedded once.
        let mut texts: Vec<String> = Vec::new();
        let mut asked: HashMap<[u8; 32], usize> = HashMap::new();
        for &i in &missing {
            asked.entry(hashes[i]).or_insert_with(|| {
                texts.push(chunks[i].embedded.clone());
                texts.len() - 1
            });
        }
        let mut fresh: HashMap<[u8; 32], Vec<f32>> = HashMap::new();
        if !texts.is_empty() {
            run.progress.set_message(format!(
                "embedding chunks {}-{}",
                run.report.embedded + 1,
                run.report.embedded + texts.len()
            ));
            let mut made = embedder
                .embed(&texts, InputKind::Document)
                .await
                .map_err(|source| IndexError::Embedding { folder: folder.clone(), source })?;
            if made.len() != texts.len() || made.iter().any(|v| v.len() != space.dimensions) {
                return Err(IndexError::Embedding {
                    folder: folder.clone(),
                    source: anymodel_core::Error::Backend {
                        message: format!(
                            "{} gave {} vectors for {} texts, or vectors not of {} dimensions",
                            space.embedder,
                            made.len(),
                            texts.len(),
                            space.dimensions
                        ),
                    },
                });
            }
            for (hash, at) in asked {
                fresh.insert(hash, std::mem::take(&mut made[at]));
            }
            run.report.embedded += texts.len();
        }
        run.report.reused += chunks.len() - missing.len();
        for (mut chunk, hash) in chunks.into_iter().zip(hashes) {
            let vector = fresh
                .get(&hash)
                .or_else(|| run.cache.get(&hash))
                .map(|v| vectors::encode(v))
                .unwrap_or_default();
            chunk.doc.add_bytes(self.index.fields.vector, &vector);
            chunk.doc.add_bytes(self.index.fields.hash, hash.as_slice());
            self.add(chunk.doc)?;
        }
        Ok(())
    }

    /// Stages the removal of what is known but was not found under the roots (unless it was
    /// there but unreadable: its old chunks are kept), and reports the run.
    fn finish(&mut self, mut run: Run) -> IngestReport {
        let unreadable: HashSet<String> = run
            .report
            .skipped
            .iter()
            .filter(|s| matches!(s.reason, SkipReason::Unreadable(_)))
            .map(|s| index_name(&s.path, run.here.as_deref()))
            .collect();
        for (name, _) in run.known {
            if !unreadable.contains(&name) {
                self.writer.delete_term(Term::from_field_text(self.index.fields.path, &name));
                run.report.removed += 1;
            }
        }
        run.progress.finish_and_clear();
        run.report
    }

    fn add(&self, doc: TantivyDocument) -> Result<(), IndexError> {
        self.writer
            .add_document(doc)
            .map(drop)
            .map_err(|e| IndexError::engine(&self.index.folder, e))
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
    /// The embedder's vectors are recorded with the commit; then the segments that the index's
    /// [`super::GraphPolicy`] calls for get their approximate graphs.
    pub fn commit(mut self) -> Result<(), IndexError> {
        let folder = &self.index.folder;
        let mut prepared =
            self.writer.prepare_commit().map_err(|e| IndexError::engine(folder, e))?;
        prepared.set_payload(&vectors::payload(self.space.as_ref()));
        prepared.commit().map_err(|e| IndexError::engine(folder, e))?;
        let Writer { index, writer, space, progress } = self;
        writer.wait_merging_threads().map_err(|e| IndexError::engine(folder, e))?;
        index.reader.reload().map_err(|e| IndexError::engine(folder, e))?;
        if let Some(space) = space {
            let searcher = index.reader.searcher();
            let made = super::graphs::update(
                &index.index,
                folder,
                &searcher,
                space.dimensions,
                &index.vectors,
                index.graphs,
                progress,
            )?;
            if made > 0 {
                tracing::info!(graphs = made, "made approximate graphs of large segments");
            }
        }
        Ok(())
    }
}

/// The files indexed under `prefix` (a file name or a folder's), with their content hashes.
fn indexed_files(
    index: &KnowledgeIndex,
    prefix: &str,
) -> Result<HashMap<String, Vec<u8>>, IndexError> {
    let searcher = index.reader.searcher();
    let docs = searcher
        .search(&file_query(index.fields), &tantivy::collector::DocSetCollector)
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

/// A chunk's document, and the text its vector is made from (its title and text, as BM25
/// searches them).
struct Staged {
    doc: TantivyDocument,
    embedded: String,
}

/// The documents of the chunks of `document`.
fn chunk_documents(fields: Fields, document: &Document, options: ChunkOptions) -> Vec<Staged> {
    let chunks = chunk::chunk(&document.text, document.structure, options);
    let mut staged = Vec::with_capacity(chunks.len());
    for chunk in &chunks {
        let title = if chunk.headings.is_empty() {
            document.title.clone()
        } else {
            chunk.headings.join(" > ")
        };
        let text = chunk.text(&document.text);
        let body = format!("{title}\n{text}");
        let mut doc = TantivyDocument::new();
        doc.add_text(fields.kind, CHUNK);
        doc.add_text(fields.doc_id, &document.id);
        doc.add_text(fields.path, &document.path);
        doc.add_text(fields.body, &body);
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
        staged.push(Staged { doc, embedded: body });
    }
    staged
}

/// Puts the vectors of the chunks the index holds for the file `name` into `cache`, by the hash
/// of their text, before the file's new chunks replace them.
fn cached_vectors(
    index: &KnowledgeIndex,
    name: &str,
    space: &VectorSpace,
    cache: &mut HashMap<[u8; 32], Vec<f32>>,
) -> Result<(), IndexError> {
    let engine = |e| IndexError::engine(&index.folder, e);
    let searcher = index.reader.searcher();
    let query =
        TermQuery::new(Term::from_field_text(index.fields.path, name), IndexRecordOption::Basic);
    let docs = searcher.search(&query, &tantivy::collector::DocSetCollector).map_err(engine)?;
    let mut bytes = Vec::new();
    for address in docs {
        let segment = searcher.segment_reader(address.segment_ord);
        let Some(column) = segment.fast_fields().bytes("vector").map_err(engine)? else {
            continue;
        };
        let Some(ordinal) = column.term_ords(address.doc_id).next() else { continue };
        bytes.clear();
        column
            .ord_to_bytes(ordinal, &mut bytes)
            .map_err(|e| IndexError::corrupt(&index.folder, format!("its vectors: {e}")))?;
        let doc: TantivyDocument = searcher.doc(address).map_err(engine)?;
        let hash = doc.get_first(index.fields.hash).and_then(|v| v.as_bytes());
        if let (Some(hash), Some(vector)) = (
            hash.and_then(|h| <[u8; 32]>::try_from(h).ok()),
            vectors::decode(&bytes, space.dimensions),
        ) {
            cache.insert(hash, vector);
        }
    }
    Ok(())
}

/// The query for the documents that record indexed files.
fn file_query(fields: Fields) -> TermQuery {
    TermQuery::new(Term::from_field_text(fields.kind, FILE), IndexRecordOption::Basic)
}

/// One ingest's state: the files to visit, what the index held of them, the report so far.
struct Run {
    files: Vec<PathBuf>,
    known: HashMap<String, Vec<u8>>,
    here: Option<PathBuf>,
    report: IngestReport,
    progress: ProgressBar,
    chunking: ChunkOptions,
    /// Vectors of replaced chunks, by the hash of their text.
    cache: HashMap<[u8; 32], Vec<f32>>,
}

/// Chunks embedded per call: enough for the embedder to batch well, few enough to show
/// progress and bound what waits in memory.
const EMBED_BATCH: usize = 256;

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

/// A bar of `len` `things` (counted as they are done) on standard error, when `shown`; never
/// drawn when standard error is not a terminal.
pub(super) fn progress_bar(shown: bool, len: usize, things: &str) -> ProgressBar {
    if !shown {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len as u64);
    let template = format!("{{bar:30}} {{pos}}/{{len}} {things} {{wide_msg}}");
    if let Ok(style) = ProgressStyle::with_template(&template) {
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
