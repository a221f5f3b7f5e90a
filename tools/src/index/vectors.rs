//! The index's vectors: one per chunk, in a fast field of the chunk's own document (so a
//! chunk and its vector are written, replaced and deleted in the same commit), the embedder
//! that made them recorded in each commit's payload, and each segment's vectors loaded once
//! into memory for exact search, or its graph mapped for approximate search where it has one
//! ([`super::graphs`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use anymodel_core::Embedder;
use serde::{Deserialize, Serialize};
use tantivy::index::SegmentId;
use tantivy::{DocId, Index, SegmentReader};

use super::error::IndexError;
use crate::vectors::VectorIndex;
use crate::vectors::graph::Graph;

/// The embedder whose vectors an index holds, as each commit records it. Queries must be
/// embedded by the same model: vectors of two models are not comparable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VectorSpace {
    /// The embedder's name ([`anymodel_core::Embedder::name`]).
    pub embedder: String,
    /// The size of its vectors.
    pub dimensions: usize,
    /// How the application named the embedder when it made the vectors (a configured name, a
    /// model folder), so that a later run can load it again without being told.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub named: Option<String>,
}

impl std::fmt::Display for VectorSpace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({} dimensions)", self.embedder, self.dimensions)
    }
}

impl VectorSpace {
    /// Refuses `embedder` for the vectors of the index at `folder` when another model made
    /// them ([`IndexError::EmbedderMismatch`]).
    pub fn accepts(
        &self,
        folder: &std::path::Path,
        embedder: &dyn Embedder,
    ) -> Result<(), IndexError> {
        if embedder.name() == self.embedder && embedder.dimensions() == self.dimensions {
            return Ok(());
        }
        Err(IndexError::EmbedderMismatch {
            folder: folder.to_path_buf(),
            held: self.clone(),
            given: format!("{} ({} dimensions)", embedder.name(), embedder.dimensions()),
        })
    }
}

/// What a commit's payload holds.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Payload {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    vectors: Option<VectorSpace>,
}

/// The vector space recorded by the index's last commit; `None` when it holds no vectors.
pub fn recorded(
    index: &Index,
    folder: &std::path::Path,
) -> Result<Option<VectorSpace>, IndexError> {
    let metas = index.load_metas().map_err(|e| IndexError::engine(folder, e))?;
    let Some(payload) = metas.payload else { return Ok(None) };
    let payload: Payload = serde_json::from_str(&payload).map_err(|e| {
        IndexError::corrupt(&folder.join("meta.json"), format!("its commit payload: {e}"))
    })?;
    Ok(payload.vectors)
}

/// The payload that records `space`.
pub fn payload(space: Option<&VectorSpace>) -> String {
    serde_json::to_string(&Payload { vectors: space.cloned() }).unwrap_or_default()
}

/// A vector as the fast field stores it.
pub fn encode(vector: &[f32]) -> Vec<u8> {
    vector.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// A stored vector, or `None` when its length is not that of `dimensions` floats.
pub fn decode(bytes: &[u8], dimensions: usize) -> Option<Vec<f32>> {
    if bytes.len() != dimensions * 4 {
        return None;
    }
    Some(bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect())
}

/// The hash a chunk's vector is cached under: of the embedder and the exact text embedded.
pub fn content_hash(space: &VectorSpace, text: &str) -> [u8; 32] {
    *blake3::Hasher::new()
        .update(space.embedder.as_bytes())
        .update(&[0])
        .update(text.as_bytes())
        .finalize()
        .as_bytes()
}

/// Segments with more vectors than this are also kept in 8 bits and scanned in those first.
const QUANTIZE_FROM: usize = 100_000;

/// How many of the best 8-bit matches are scored again in f32, per result wanted.
pub const RESCORE: usize = 4;

/// A segment's vectors as searches use them.
#[derive(Debug)]
pub enum SegmentVectors {
    /// In memory, scanned exactly.
    Exact(VectorIndex<DocId>),
    /// Its graph, for approximate search.
    Graph(Graph),
}

impl SegmentVectors {
    /// The `k` best of the segment's vectors for `query` among the documents `keep` accepts:
    /// (document, score), best first.
    pub fn search(
        &self,
        query: &[f32],
        k: usize,
        keep: impl Fn(DocId) -> bool,
        folder: &std::path::Path,
    ) -> Result<Vec<(DocId, f32)>, IndexError> {
        match self {
            SegmentVectors::Exact(vectors) => Ok(vectors
                .search_quantized(query, k, RESCORE, |doc| keep(*doc))
                .into_iter()
                .filter_map(|(at, score)| Some((*vectors.key(at)?, score)))
                .collect()),
            SegmentVectors::Graph(graph) => Ok(graph
                .search(query, k, |key| DocId::try_from(key).is_ok_and(&keep))
                .map_err(|e| IndexError::corrupt(folder, format!("searching a graph: {e}")))?
                .into_iter()
                .filter_map(|(key, score)| Some((DocId::try_from(key).ok()?, score)))
                .collect()),
        }
    }
}

/// Each segment's vectors, loaded on first search and kept while the segment lives (segments
/// never change: deletes only mark documents, and merges make new segments).
#[derive(Debug, Default, Clone)]
pub struct SegmentCache(Arc<Mutex<HashMap<SegmentId, Arc<SegmentVectors>>>>);

impl SegmentCache {
    /// The vectors of `segment` (of `dimensions` floats), from the cache or read now: its
    /// graph where it has one, else the vectors themselves.
    pub fn vectors(
        &self,
        segment: &SegmentReader,
        dimensions: usize,
        folder: &std::path::Path,
    ) -> Result<Arc<SegmentVectors>, IndexError> {
        let id = segment.segment_id();
        if let Some(found) = self.loaded(id) {
            return Ok(found);
        }
        let loaded = Arc::new(match super::graphs::open(folder, id, dimensions)? {
            Some(graph) => SegmentVectors::Graph(graph),
            None => SegmentVectors::Exact(load(segment, dimensions, folder)?),
        });
        self.lock().insert(id, loaded.clone());
        Ok(loaded)
    }

    /// What the cache holds of `segment`.
    pub fn loaded(&self, segment: SegmentId) -> Option<Arc<SegmentVectors>> {
        self.lock().get(&segment).cloned()
    }

    /// Holds `vectors` for `segment` from now on.
    pub fn insert(&self, segment: SegmentId, vectors: SegmentVectors) {
        self.lock().insert(segment, Arc::new(vectors));
    }

    /// Forgets the segments that are not among `live` (merged away).
    pub fn retain(&self, live: &[SegmentId]) {
        self.lock().retain(|id, _| live.contains(id));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<SegmentId, Arc<SegmentVectors>>> {
        // A panic while the map was held cannot leave it half-changed: insert and retain are
        // whole operations. Go on with it.
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Reads the vectors of `segment`: its dictionary of distinct vectors in one pass, then each
/// document's. Deleted documents are kept (searches skip them by the segment's alive set).
pub(super) fn load(
    segment: &SegmentReader,
    dimensions: usize,
    folder: &std::path::Path,
) -> Result<VectorIndex<DocId>, IndexError> {
    let mut index = VectorIndex::new(dimensions);
    let column =
        segment.fast_fields().bytes("vector").map_err(|e| IndexError::engine(folder, e))?;
    let Some(column) = column else { return Ok(index) };
    let damaged = |what: String| IndexError::corrupt(folder, what);
    let mut distinct = Vec::with_capacity(column.num_terms());
    let mut stream =
        column.dictionary().stream().map_err(|e| damaged(format!("its vectors: {e}")))?;
    while stream.advance() {
        let vector = decode(stream.key(), dimensions).ok_or_else(|| {
            damaged(format!(
                "a vector of {} bytes where {dimensions} dimensions take {}",
                stream.key().len(),
                dimensions * 4
            ))
        })?;
        distinct.push(vector);
    }
    for doc in 0..segment.max_doc() {
        if let Some(ordinal) = column.term_ords(doc).next() {
            let vector = usize::try_from(ordinal)
                .ok()
                .and_then(|at| distinct.get(at))
                .ok_or_else(|| damaged(format!("chunk {doc} names a vector that is missing")))?;
            index.push(doc, vector);
        }
    }
    if index.len() >= QUANTIZE_FROM {
        index.quantize();
    }
    Ok(index)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_round_trip_and_wrong_lengths_are_refused() {
        let vector = [0.5f32, -1.25, 3.0];
        assert_eq!(decode(&encode(&vector), 3), Some(vector.to_vec()));
        assert_eq!(decode(&encode(&vector), 4), None);
    }

    #[test]
    fn the_payload_round_trips_and_an_empty_one_records_nothing() {
        let space = VectorSpace { embedder: "m".into(), dimensions: 3, named: Some("x".into()) };
        let text = payload(Some(&space));
        let read: Payload = serde_json::from_str(&text).unwrap();
        assert_eq!(read.vectors, Some(space));
        assert_eq!(payload(None), "{}");
    }
}
