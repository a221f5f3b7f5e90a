//! An approximate nearest-neighbour graph (HNSW, by usearch) over normalised vectors, for
//! collections past about a million vectors, where an exact scan takes longer than a query
//! should. Built once from the vectors, saved to a file, and searched memory-mapped from it
//! (the file is read by the page cache, not copied into the process).
//!
//! The graph keeps its vectors in f32, so the scores it gives are the exact dot products of
//! the vectors it finds; only which vectors it finds is approximate.

use std::path::Path;

use usearch::{Index, IndexOptions, MetricKind, ScalarKind};

/// Why a graph could not be built, saved, read or searched (usearch's own message).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct GraphError(String);

impl GraphError {
    fn from(error: impl std::fmt::Display) -> Self {
        GraphError(error.to_string())
    }
}

/// Neighbours kept per node (HNSW's `M`), usearch's default.
const CONNECTIVITY: usize = 16;
/// Candidates weighed when a vector is added (`efConstruction`).
const EXPANSION_ADD: usize = 128;
/// Candidates weighed per search (`ef`); a search for more results weighs that many.
const EXPANSION_SEARCH: usize = 128;

/// A graph over vectors, each under a `u64` key.
pub struct Graph {
    index: Index,
}

impl std::fmt::Debug for Graph {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Graph")
            .field("dimensions", &self.index.dimensions())
            .field("len", &self.index.size())
            .finish()
    }
}

fn options(dimensions: usize) -> IndexOptions {
    IndexOptions {
        dimensions,
        metric: MetricKind::IP,
        quantization: ScalarKind::F32,
        connectivity: CONNECTIVITY,
        expansion_add: EXPANSION_ADD,
        expansion_search: EXPANSION_SEARCH,
        multi: false,
    }
}

fn path_text(path: &Path) -> Result<&str, GraphError> {
    path.to_str().ok_or_else(|| GraphError(format!("{} is not UTF-8", path.display())))
}

impl Graph {
    /// A graph over `vectors` (each `dimensions` long, under its key), built on `threads`
    /// threads; `added` is called with the count of vectors each thread adds, as it goes (for
    /// a progress bar).
    pub fn build(
        dimensions: usize,
        vectors: &[(u64, &[f32])],
        threads: usize,
        added: &(dyn Fn(usize) + Sync),
    ) -> Result<Self, GraphError> {
        let index = Index::new(&options(dimensions)).map_err(GraphError::from)?;
        let threads = threads.max(1);
        index.reserve_capacity_and_threads(vectors.len(), threads).map_err(GraphError::from)?;
        if let Some((_, wrong)) = vectors.iter().find(|(_, v)| v.len() != dimensions) {
            return Err(GraphError(format!(
                "a vector of {} dimensions among vectors of {dimensions}",
                wrong.len()
            )));
        }
        let share = vectors.len().div_ceil(threads).max(1);
        std::thread::scope(|scope| {
            let workers: Vec<_> = vectors
                .chunks(share)
                .map(|part| {
                    let index = &index;
                    scope.spawn(move || -> Result<(), GraphError> {
                        for (done, (key, vector)) in part.iter().enumerate() {
                            index.add(*key, vector).map_err(GraphError::from)?;
                            if done % 1024 == 1023 {
                                added(1024);
                            }
                        }
                        added(part.len() % 1024);
                        Ok(())
                    })
                })
                .collect();
            workers.into_iter().try_for_each(|worker| {
                worker.join().map_err(|_| GraphError("a thread adding vectors panicked".into()))?
            })
        })?;
        Ok(Graph { index })
    }

    /// Writes the graph to `path`.
    pub fn save(&self, path: &Path) -> Result<(), GraphError> {
        self.index.save(path_text(path)?).map_err(GraphError::from)
    }

    /// The graph saved at `path`, memory-mapped; its vectors must be `dimensions` long.
    pub fn view(path: &Path, dimensions: usize) -> Result<Self, GraphError> {
        let index = Index::new(&options(dimensions)).map_err(GraphError::from)?;
        index.view(path_text(path)?).map_err(GraphError::from)?;
        if index.dimensions() != dimensions {
            return Err(GraphError(format!(
                "it holds vectors of {} dimensions, not {dimensions}",
                index.dimensions()
            )));
        }
        index.change_expansion_search(EXPANSION_SEARCH);
        Ok(Graph { index })
    }

    /// How many vectors it holds.
    pub fn len(&self) -> usize {
        self.index.size()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// About the `k` vectors with the largest dot product with `query` among those whose key
    /// `keep` accepts: (key, score), best first.
    pub fn search(
        &self,
        query: &[f32],
        k: usize,
        keep: impl Fn(u64) -> bool,
    ) -> Result<Vec<(u64, f32)>, GraphError> {
        if k == 0 || self.is_empty() {
            return Ok(Vec::new());
        }
        if query.len() != self.index.dimensions() {
            return Err(GraphError(format!(
                "a query of {} dimensions for vectors of {}",
                query.len(),
                self.index.dimensions()
            )));
        }
        let found = self.index.filtered_search(query, k, keep).map_err(GraphError::from)?;
        // usearch's inner-product distance is 1 - the dot product.
        Ok(found.keys.into_iter().zip(found.distances).map(|(key, d)| (key, 1.0 - d)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vectors::{VectorIndex, dot};

    fn normalised(seed: u64, dimensions: usize) -> Vec<f32> {
        // A small xorshift: vectors spread over the sphere, the same on every run.
        let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let v: Vec<f32> = (0..dimensions)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state % 2001) as f32 / 1000.0 - 1.0
            })
            .collect();
        let norm = dot(&v, &v).sqrt();
        v.iter().map(|x| x / norm).collect()
    }

    #[test]
    fn a_saved_graph_finds_what_exact_search_finds_and_honours_the_filter() {
        let dimensions = 64;
        let vectors: Vec<Vec<f32>> = (0..3000).map(|seed| normalised(seed, dimensions)).collect();
        let keyed: Vec<(u64, &[f32])> =
            vectors.iter().enumerate().map(|(i, v)| (i as u64 * 3, v.as_slice())).collect();
        let counted = std::sync::atomic::AtomicUsize::new(0);
        let graph = Graph::build(dimensions, &keyed, 2, &|n| {
            counted.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
        })
        .unwrap();
        assert_eq!(counted.into_inner(), 3000);
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("graph.usearch");
        graph.save(&path).unwrap();
        let graph = Graph::view(&path, dimensions).unwrap();
        assert_eq!(graph.len(), 3000);
        assert!(Graph::view(&path, 32).is_err(), "another size is refused");
        // A damaged file is an error, not a crash: garbage, and a graph cut short.
        let garbage = folder.path().join("garbage.usearch");
        std::fs::write(&garbage, b"not a graph".repeat(100)).unwrap();
        assert!(Graph::view(&garbage, dimensions).is_err());
        let bytes = std::fs::read(&path).unwrap();
        let cut = folder.path().join("cut.usearch");
        std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
        assert!(Graph::view(&cut, dimensions).is_err());

        let mut exact = VectorIndex::<u64>::new(dimensions);
        for (key, vector) in &keyed {
            exact.push(*key, vector);
        }
        let mut agreed = 0;
        for seed in 5000..5020 {
            let query = normalised(seed, dimensions);
            let found = graph.search(&query, 10, |_| true).unwrap();
            let truth: Vec<u64> =
                exact.search(&query, 10).iter().map(|(at, _)| *exact.key(*at).unwrap()).collect();
            agreed += found.iter().filter(|(key, _)| truth.contains(key)).count();
            for (key, score) in &found {
                let vector = &vectors[(*key / 3) as usize];
                assert!((score - dot(vector, &query)).abs() < 1e-4, "scores are exact");
            }
            let even = graph.search(&query, 10, |key| key % 2 == 0).unwrap();
            assert_eq!(even.len(), 10);
            assert!(even.iter().all(|(key, _)| key % 2 == 0));
        }
        assert!(agreed >= 190, "recall@10 {} of 200", agreed);
        assert!(graph.search(&[0.0; 3], 1, |_| true).is_err());
    }
}
