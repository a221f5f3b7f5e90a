//! Vector search at scale: the time of one query over `N` vectors, scanned exactly in f32 and
//! in 8 bits (then rescored in f32), as the knowledge index scans each segment's vectors, and
//! with `--graph` through an approximate graph (HNSW, as the index makes for segments of
//! indexes past a million chunks): its build time, query time and recall against the exact
//! scan. The time of a scan does not depend on the values; a graph's recall does, so
//! `--clusters` draws the vectors around that many centres, as real embeddings gather by topic,
//! instead of uniformly over the sphere (where no index beats a scan).
//!
//! ```text
//! cargo run --release --example vector_search -- --vectors 1000000 --dimensions 384
//! cargo run --release --example vector_search -- --vectors 200000 --clusters 2000 --graph
//! ```

use std::time::{Duration, Instant};

use anymodel::tools::vectors::VectorIndex;
use anymodel::tools::vectors::graph::Graph;
use clap::Parser;

/// Times exact (and approximate) searches over random vectors.
#[derive(Parser)]
struct Args {
    /// How many vectors.
    #[arg(long, default_value_t = 1_000_000)]
    vectors: usize,
    /// Their size.
    #[arg(long, default_value_t = 384)]
    dimensions: usize,
    /// Results per query.
    #[arg(short, default_value_t = 10)]
    k: usize,
    /// Queries timed (the median is printed).
    #[arg(long, default_value_t = 20)]
    queries: usize,
    /// Draw the vectors around this many centres (0: uniformly).
    #[arg(long, default_value_t = 0)]
    clusters: usize,
    /// Also build a graph over the vectors and search through it.
    #[arg(long)]
    graph: bool,
}

/// Pseudo-random numbers (xorshift: reproducible, no dependency).
struct Draw(u64);

impl Draw {
    fn next(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 40) as f32 / (1u64 << 24) as f32 - 0.5
    }

    /// A normalised vector: uniform, or near one of `centres`.
    fn vector(&mut self, dimensions: usize, centres: &[Vec<f32>]) -> Vec<f32> {
        let mut v: Vec<f32> = (0..dimensions).map(|_| self.next()).collect();
        if !centres.is_empty() {
            let centre = &centres[(self.0 % centres.len() as u64) as usize];
            v.iter_mut().zip(centre).for_each(|(x, c)| *x = c + *x * 0.15);
        }
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.iter_mut().for_each(|x| *x /= norm);
        v
    }
}

fn median(mut times: Vec<Duration>) -> f64 {
    times.sort_unstable();
    times[times.len() / 2].as_secs_f64() * 1000.0
}

fn main() {
    let args = Args::parse();
    let mut draw = Draw(0x9e37_79b9_7f4a_7c15);
    let centres: Vec<Vec<f32>> =
        (0..args.clusters).map(|_| draw.vector(args.dimensions, &[])).collect();
    let mut index = VectorIndex::<u32>::new(args.dimensions);
    for at in 0..args.vectors {
        index.push(at as u32, &draw.vector(args.dimensions, &centres));
    }
    index.quantize();
    let queries: Vec<Vec<f32>> =
        (0..args.queries.max(1)).map(|_| draw.vector(args.dimensions, &centres)).collect();
    let (mut exact, mut quantized, mut agree, mut truths) = (Vec::new(), Vec::new(), 0, Vec::new());
    for query in &queries {
        let started = Instant::now();
        let best = index.search(query, args.k);
        exact.push(started.elapsed());
        let started = Instant::now();
        let fast = index.search_quantized(query, args.k, 4, |_| true);
        quantized.push(started.elapsed());
        agree += usize::from(best == fast);
        truths.push(best);
    }
    println!(
        "{} vectors of {}: f32 scan {:.1} ms, 8-bit scan + rescore {:.1} ms (median of {}); same top {} in {agree} of {} queries",
        args.vectors,
        args.dimensions,
        median(exact),
        median(quantized),
        queries.len(),
        args.k,
        queries.len()
    );
    if !args.graph {
        return;
    }
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let keyed: Vec<(u64, &[f32])> = index.iter().map(|(key, v)| (u64::from(*key), v)).collect();
    let started = Instant::now();
    let graph = match Graph::build(args.dimensions, &keyed, threads, &|_| {}) {
        Ok(graph) => graph,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    };
    let built = started.elapsed();
    let (mut times, mut found) = (Vec::new(), 0);
    for (query, truth) in queries.iter().zip(&truths) {
        let started = Instant::now();
        let hits = graph.search(query, args.k, |_| true).unwrap_or_default();
        times.push(started.elapsed());
        found +=
            truth.iter().filter(|(at, _)| hits.iter().any(|(key, _)| *key == *at as u64)).count();
    }
    println!(
        "graph: built in {:.1} s on {threads} threads; query {:.2} ms (median); recall@{} {:.3}",
        built.as_secs_f64(),
        median(times),
        args.k,
        found as f64 / (truths.len() * args.k) as f64
    );
}
