//! The index's approximate graphs: past about a million vectors an exact scan per query gets
//! slow, so large segments also get an HNSW graph ([`Graph`]), a file of its own in the
//! index's `graphs` folder named by the segment's id, which searches then use instead of
//! scanning.
//!
//! A graph is derived data: made after the commit that made its segment visible (segments
//! never change, so it stays true for the segment's life), removed when its segment is merged
//! away. A segment without its graph (a crash between the commit and the graph, an index that
//! has just grown past the policy's size) is searched exactly until the next commit makes it.
//! Deleted chunks stay in a graph and are filtered out as they are in exact search.

use std::path::{Path, PathBuf};

use tantivy::index::SegmentId;

use super::error::IndexError;
use super::ingest::progress_bar;
use super::vectors::{SegmentCache, SegmentVectors};
use crate::vectors::graph::Graph;

/// When segments get graphs: once the index holds `from_total` chunks in all, each segment of
/// at least `from_segment` chunks. Below, exact search (8-bit scans past 100,000 vectors a
/// segment) answers in well under 200 ms a query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GraphPolicy {
    /// Chunks in the whole index from which graphs are made.
    pub from_total: usize,
    /// Chunks in a segment from which it gets a graph (smaller ones are scanned).
    pub from_segment: usize,
}

impl Default for GraphPolicy {
    fn default() -> Self {
        GraphPolicy { from_total: 1_000_000, from_segment: 100_000 }
    }
}

impl GraphPolicy {
    /// Never make graphs: every search is exact.
    pub fn never() -> Self {
        GraphPolicy { from_total: usize::MAX, from_segment: usize::MAX }
    }
}

/// The folder of the graphs, inside the index's.
const FOLDER: &str = "graphs";

/// The file of `segment`'s graph.
pub(super) fn file(folder: &Path, segment: SegmentId) -> PathBuf {
    folder.join(FOLDER).join(format!("{}.usearch", segment.uuid_string()))
}

/// The graph of `segment`, when it has one.
pub(super) fn open(
    folder: &Path,
    segment: SegmentId,
    dimensions: usize,
) -> Result<Option<Graph>, IndexError> {
    let path = file(folder, segment);
    if !path.is_file() {
        return Ok(None);
    }
    Graph::view(&path, dimensions).map(Some).map_err(|e| {
        IndexError::corrupt(&path, format!("{e}; delete it and the next commit makes it again"))
    })
}

/// Makes the graphs `policy` calls for among the segments of `searcher` that lack one and
/// removes those of segments gone; returns how many were made.
///
/// Runs after the writer's lock is released (tantivy releases it once merges end). Another
/// writer may commit meanwhile: the segments whose graphs are kept are read afresh from the
/// index's last commit, and a graph made for a segment that a merge has just replaced is
/// removed by the next commit.
pub(super) fn update(
    index: &tantivy::Index,
    folder: &Path,
    searcher: &tantivy::Searcher,
    dimensions: usize,
    cache: &SegmentCache,
    policy: GraphPolicy,
    progress: bool,
) -> Result<usize, IndexError> {
    let segments = searcher.segment_readers();
    let live = index.searchable_segment_ids().map_err(|e| IndexError::engine(folder, e))?;
    remove_stale(folder, &live)?;
    let total: usize = segments.iter().map(|s| s.num_docs() as usize).sum();
    if total < policy.from_total {
        return Ok(0);
    }
    let wanted: Vec<_> = segments
        .iter()
        .filter(|s| s.num_docs() as usize >= policy.from_segment)
        .filter(|s| !file(folder, s.segment_id()).is_file())
        .collect();
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| IndexError::Io { path, source }
    };
    let graphs = folder.join(FOLDER);
    std::fs::create_dir_all(&graphs).map_err(io(&graphs))?;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    for segment in &wanted {
        let cached = cache.loaded(segment.segment_id());
        let read;
        let vectors = match cached.as_deref() {
            Some(SegmentVectors::Exact(vectors)) => vectors,
            _ => {
                read = super::vectors::load(segment, dimensions, folder)?;
                &read
            }
        };
        let keyed: Vec<(u64, &[f32])> =
            vectors.iter().map(|(doc, vector)| (u64::from(*doc), vector)).collect();
        let bar = progress_bar(progress, keyed.len(), "vectors in a graph");
        let graph = Graph::build(dimensions, &keyed, threads, &|n| bar.inc(n as u64))
            .map_err(|e| IndexError::corrupt(folder, format!("making a graph: {e}")))?;
        bar.finish_and_clear();
        let path = file(folder, segment.segment_id());
        let staging = tempfile::Builder::new()
            .prefix(".graph-")
            .tempfile_in(&graphs)
            .map_err(io(&graphs))?
            .into_temp_path();
        graph.save(&staging).map_err(|e| IndexError::Io {
            path: staging.to_path_buf(),
            source: std::io::Error::other(e),
        })?;
        staging
            .persist(&path)
            .map_err(|e| IndexError::Io { path: path.clone(), source: e.error })?;
        if let Some(graph) = open(folder, segment.segment_id(), dimensions)? {
            cache.insert(segment.segment_id(), SegmentVectors::Graph(graph));
        }
    }
    Ok(wanted.len())
}

/// Removes the graphs of segments not among `live` (and files left by a graph that was never
/// finished).
fn remove_stale(folder: &Path, live: &[SegmentId]) -> Result<(), IndexError> {
    let graphs = folder.join(FOLDER);
    let entries = match std::fs::read_dir(&graphs) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(source) => return Err(IndexError::Io { path: graphs, source }),
    };
    let kept: Vec<String> = live.iter().map(|id| format!("{}.usearch", id.uuid_string())).collect();
    for entry in entries.flatten() {
        let name = entry.file_name();
        if !kept.iter().any(|k| name.to_str() == Some(k)) {
            // A searcher still reading it keeps its mapping; on failure the next commit tries again.
            let _ = std::fs::remove_file(entry.path());
        }
    }
    Ok(())
}
