//! Exact vector search at scale: the time of one query over `N` vectors, scanned in f32 and in
//! 8 bits (then rescored in f32), as the knowledge index scans each segment's vectors. Random
//! normalised vectors: the time of a scan does not depend on the values.
//!
//! ```text
//! cargo run --release --example vector_search -- --vectors 1000000 --dimensions 384
//! ```

use std::time::{Duration, Instant};

use anymodel::tools::vectors::VectorIndex;
use clap::Parser;

/// Times exact searches over random vectors.
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
}

/// A pseudo-random normalised vector (xorshift: reproducible, no dependency).
fn vector(seed: &mut u64, dimensions: usize) -> Vec<f32> {
    let mut v: Vec<f32> = (0..dimensions)
        .map(|_| {
            *seed ^= *seed << 13;
            *seed ^= *seed >> 7;
            *seed ^= *seed << 17;
            (*seed >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        })
        .collect();
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter_mut().for_each(|x| *x /= norm);
    v
}

fn median(mut times: Vec<Duration>) -> f64 {
    times.sort_unstable();
    times[times.len() / 2].as_secs_f64() * 1000.0
}

fn main() {
    let args = Args::parse();
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut index = VectorIndex::<u32>::new(args.dimensions);
    for at in 0..args.vectors {
        index.push(at as u32, &vector(&mut seed, args.dimensions));
    }
    index.quantize();
    let queries: Vec<Vec<f32>> =
        (0..args.queries.max(1)).map(|_| vector(&mut seed, args.dimensions)).collect();
    let (mut exact, mut quantized, mut agree) = (Vec::new(), Vec::new(), 0);
    for query in &queries {
        let started = Instant::now();
        let best = index.search(query, args.k);
        exact.push(started.elapsed());
        let started = Instant::now();
        let fast = index.search_quantized(query, args.k, 4, |_| true);
        quantized.push(started.elapsed());
        agree += usize::from(best == fast);
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
}
