//! Dense vectors and exact nearest-neighbour search over them: dot products over f32 (the
//! vectors are normalised, so this is cosine), and 8-bit quantised vectors scanned first with
//! the best candidates scored again in f32. Exact search over a million 384-wide vectors is a
//! scan of 1.5 GB in f32, 384 MB in 8 bits: on one core of this project's machines about 170 ms
//! and 120 ms a query (`cargo run --release --example vector_search`), tolerable for the
//! collections of up to a million chunks it is meant for; larger ones take an approximate
//! [`graph`].

pub mod graph;

/// Vectors by position, each with its key (a document's id, a chunk's address).
#[derive(Debug, Clone)]
pub struct VectorIndex<K = String> {
    dimensions: usize,
    keys: Vec<K>,
    values: Vec<f32>,
    quantized: Option<Quantized>,
}

/// The vectors in 8 bits: each a scale and `dimensions` signed bytes.
#[derive(Debug, Clone)]
struct Quantized {
    scales: Vec<f32>,
    values: Vec<i8>,
}

/// The dot product of two slices of the same length, in 16 lanes the compiler vectorises.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 16];
    let (a_chunks, b_chunks) = (a.chunks_exact(16), b.chunks_exact(16));
    let (a_rest, b_rest) = (a_chunks.remainder(), b_chunks.remainder());
    for (x, y) in a_chunks.zip(b_chunks) {
        for i in 0..16 {
            lanes[i] += x[i] * y[i];
        }
    }
    lanes.iter().sum::<f32>() + a_rest.iter().zip(b_rest).map(|(x, y)| x * y).sum::<f32>()
}

fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
    let mut lanes = [0i32; 32];
    let (a_chunks, b_chunks) = (a.chunks_exact(32), b.chunks_exact(32));
    let (a_rest, b_rest) = (a_chunks.remainder(), b_chunks.remainder());
    for (x, y) in a_chunks.zip(b_chunks) {
        for i in 0..32 {
            lanes[i] += i32::from(x[i]) * i32::from(y[i]);
        }
    }
    lanes.iter().sum::<i32>()
        + a_rest.iter().zip(b_rest).map(|(x, y)| i32::from(*x) * i32::from(*y)).sum::<i32>()
}

fn quantize(vector: &[f32]) -> (f32, Vec<i8>) {
    let largest = vector.iter().fold(0.0f32, |m, x| m.max(x.abs()));
    let scale = if largest > 0.0 { largest / 127.0 } else { 1.0 };
    (scale, vector.iter().map(|x| (x / scale).round().clamp(-127.0, 127.0) as i8).collect())
}

/// A scored position, ordered worst first (a lower score, then a later position), so that a
/// max-heap of them keeps the worst of the best at its top.
#[derive(PartialEq)]
struct Worst(f32, usize);

impl Eq for Worst {}

impl PartialOrd for Worst {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Worst {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        other.0.total_cmp(&self.0).then(self.1.cmp(&other.1))
    }
}

/// The `k` best of `scored` (position, score), best first (ties: the earlier position), in one
/// pass holding `k` at a time.
fn best(scored: impl Iterator<Item = (usize, f32)>, k: usize) -> Vec<(usize, f32)> {
    if k == 0 {
        return Vec::new();
    }
    let mut heap = std::collections::BinaryHeap::with_capacity(k + 1);
    for (at, score) in scored {
        if heap.len() < k {
            heap.push(Worst(score, at));
        } else if heap.peek().is_some_and(|worst| Worst(score, at) < *worst) {
            heap.pop();
            heap.push(Worst(score, at));
        }
    }
    heap.into_sorted_vec().into_iter().map(|Worst(score, at)| (at, score)).collect()
}

impl<K> Default for VectorIndex<K> {
    fn default() -> Self {
        VectorIndex { dimensions: 0, keys: Vec::new(), values: Vec::new(), quantized: None }
    }
}

impl<K> VectorIndex<K> {
    /// An empty index of vectors of this size.
    pub fn new(dimensions: usize) -> Self {
        VectorIndex { dimensions, ..VectorIndex::default() }
    }

    /// The size of its vectors.
    pub fn dimensions(&self) -> usize {
        self.dimensions
    }

    /// How many vectors it holds.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The key of the vector at `position` (as a search gives it); `None` past the end.
    pub fn key(&self, position: usize) -> Option<&K> {
        self.keys.get(position)
    }

    /// Its keys and vectors, in the order they were added.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &[f32])> {
        self.keys.iter().zip(self.values.chunks_exact(self.dimensions.max(1)))
    }

    /// Adds `vector` under `key`; a vector of another size is refused (`false`).
    pub fn push(&mut self, key: impl Into<K>, vector: &[f32]) -> bool {
        if vector.len() != self.dimensions {
            return false;
        }
        self.keys.push(key.into());
        self.values.extend_from_slice(vector);
        if let Some(quantized) = &mut self.quantized {
            let (scale, values) = quantize(vector);
            quantized.scales.push(scale);
            quantized.values.extend(values);
        }
        true
    }

    /// Keeps an 8-bit copy of the vectors, which [`VectorIndex::search_quantized`] scans.
    pub fn quantize(&mut self) {
        let mut scales = Vec::with_capacity(self.len());
        let mut values = Vec::with_capacity(self.values.len());
        for vector in self.values.chunks_exact(self.dimensions.max(1)) {
            let (scale, bytes) = quantize(vector);
            scales.push(scale);
            values.extend(bytes);
        }
        self.quantized = Some(Quantized { scales, values });
    }

    /// The `k` vectors with the largest dot product with `query`, exactly: (position, score),
    /// best first.
    pub fn search(&self, query: &[f32], k: usize) -> Vec<(usize, f32)> {
        self.search_where(query, k, |_| true)
    }

    /// As [`VectorIndex::search`], among the vectors whose key `keep` accepts.
    pub fn search_where(
        &self,
        query: &[f32],
        k: usize,
        keep: impl Fn(&K) -> bool,
    ) -> Vec<(usize, f32)> {
        if query.len() != self.dimensions || self.dimensions == 0 {
            return Vec::new();
        }
        let scored = self
            .values
            .chunks_exact(self.dimensions)
            .zip(&self.keys)
            .enumerate()
            .filter(|(_, (_, key))| keep(key))
            .map(|(at, (v, _))| (at, dot(v, query)));
        best(scored, k)
    }

    /// As [`VectorIndex::search_where`], scanning the 8-bit vectors and scoring the best
    /// `k * rescore` again in f32 (the exact search when [`VectorIndex::quantize`] was not
    /// called).
    pub fn search_quantized(
        &self,
        query: &[f32],
        k: usize,
        rescore: usize,
        keep: impl Fn(&K) -> bool,
    ) -> Vec<(usize, f32)> {
        let Some(quantized) = &self.quantized else { return self.search_where(query, k, keep) };
        if query.len() != self.dimensions || self.dimensions == 0 {
            return Vec::new();
        }
        let (query_scale, query_bytes) = quantize(query);
        let scored = quantized
            .values
            .chunks_exact(self.dimensions)
            .zip(&quantized.scales)
            .zip(&self.keys)
            .enumerate()
            .filter(|(_, (_, key))| keep(key))
            .map(|(at, ((v, scale), _))| {
                (at, dot_i8(v, &query_bytes) as f32 * scale * query_scale)
            });
        let candidates = best(scored, k.saturating_mul(rescore.max(1)));
        let exact = candidates.into_iter().map(|(at, _)| {
            (at, dot(&self.values[at * self.dimensions..(at + 1) * self.dimensions], query))
        });
        best(exact, k)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn normalised(seed: usize, dimensions: usize) -> Vec<f32> {
        let v: Vec<f32> = (0..dimensions)
            .map(|i| (((i * 7919 + seed * 104_729) % 2003) as f32 / 1001.0) - 1.0)
            .collect();
        let norm = dot(&v, &v).sqrt();
        v.iter().map(|x| x / norm).collect()
    }

    #[test]
    fn exact_search_finds_the_vector_itself_first() {
        let mut index = VectorIndex::<String>::new(37);
        for seed in 0..200 {
            assert!(index.push(format!("v{seed}"), &normalised(seed, 37)));
        }
        assert!(!index.push("wrong", &[1.0; 3]), "a vector of another size is refused");
        let hits = index.search(&normalised(42, 37), 5);
        assert_eq!(index.key(hits[0].0).map(String::as_str), Some("v42"));
        assert_eq!(index.key(200), None);
        assert!((hits[0].1 - 1.0).abs() < 1e-5);
        assert!(hits.windows(2).all(|w| w[0].1 >= w[1].1));
    }

    #[test]
    fn quantized_search_with_rescoring_agrees_with_exact_search() {
        let mut index = VectorIndex::<String>::new(384);
        for seed in 0..2000 {
            index.push(seed.to_string(), &normalised(seed, 384));
        }
        index.quantize();
        index.push("late", &normalised(5000, 384));
        for seed in [3, 999, 5000] {
            let query = normalised(seed, 384);
            assert_eq!(index.search_quantized(&query, 10, 4, |_| true), index.search(&query, 10));
            let odd = |key: &String| key.len() % 2 == 1;
            assert_eq!(
                index.search_quantized(&query, 10, 4, odd),
                index.search_where(&query, 10, odd)
            );
        }
    }

    #[test]
    fn dot_products_match_the_plain_sum() {
        let a: Vec<f32> = (0..50).map(|i| i as f32 * 0.5).collect();
        let b: Vec<f32> = (0..50).map(|i| 1.0 - i as f32 * 0.01).collect();
        let plain: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert!((dot(&a, &b) - plain).abs() < 1e-3);
        let bytes: Vec<i8> = (0..70).map(|i| (i % 50) as i8 - 25).collect();
        assert_eq!(
            dot_i8(&bytes, &bytes),
            bytes.iter().map(|x| i32::from(*x) * i32::from(*x)).sum::<i32>()
        );
    }
}
