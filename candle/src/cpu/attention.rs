//! Causal attention on the CPU straight from the key-value cache (`cpu_cache`). candle's path
//! (repeat the key-value heads for grouped-query attention, copy them contiguous, two matmuls)
//! copies the whole cache several times per layer and token. Here a task takes one key-value
//! head, a run of query positions and a span of keys, and scores every query of the head group
//! against a key tile at a time, so the cache is read once per task: half-precision keys are
//! cached turned ([dim][position] per tile) and converted to `f32` a tile at a time, so that a
//! query's scores against a tile accumulate side by side in vector registers; 8-bit keys are
//! scored by integer dot products (`int8_scores`). Values are converted a tile at a time and
//! weighed with the accumulator in registers.
//!
//! A head's keys are split into spans of [`KEY_SPAN`], each span's softmax kept unnormalised
//! with its maximum and sum, and the spans merged at the end (flash-decoding): one decoded
//! token then gives every thread work even though the model has few key-value heads.

use std::ops::Range;

use half::slice::HalfFloatSliceExt;
use rayon::prelude::*;

use super::cache::{KEY_TILE, KeyTile, LayerCache};
use int8_scores::Query;

mod int8_scores;

/// Query positions one task takes.
const QUERY_TILE: usize = 16;
/// Keys one task takes, a multiple of [`KEY_TILE`]: long enough for the hardware prefetcher
/// to stream each task's keys and values (spans of 512 decoded 20% slower on one thread
/// after 4,000 tokens), short enough that such a cache still splits into 6 tasks for two
/// threads. Fixed rather than derived from the thread count, so that results do not depend
/// on it.
const KEY_SPAN: usize = 32 * KEY_TILE;

/// The shape of one attention call.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Attention {
    /// Query heads, a multiple of the cache's key-value heads.
    pub heads: usize,
    /// Positions cached before the new ones.
    pub start: usize,
    /// New positions (queries).
    pub len: usize,
}

/// One task: head `kv`'s group of query heads at positions `first..first + count` (counted
/// from [`Attention::start`]) against the keys at `keys`.
struct Task {
    kv: usize,
    first: usize,
    count: usize,
    keys: Range<usize>,
}

/// A task's result for each of its query rows (position, then head of the group): the largest
/// score, the sum of `exp(score - max)` and the values weighted by it.
struct Partial {
    max: Vec<f32>,
    sum: Vec<f32>,
    weighted: Vec<f32>,
}

impl Attention {
    /// `queries` (heads × len × head_dim) attend causally over the cache, whose first `start +
    /// len` positions are filled; the result is len × heads × head_dim.
    pub(crate) fn run(&self, queries: &[f32], cache: &LayerCache) -> Vec<f32> {
        let Attention { heads, start, len } = *self;
        let (kv_heads, d) = (cache.kv_heads(), cache.head_dim());
        let group = heads / kv_heads.max(1);
        let tasks: Vec<Task> = (0..kv_heads)
            .flat_map(|kv| {
                (0..len).step_by(QUERY_TILE).flat_map(move |first| {
                    let count = QUERY_TILE.min(len - first);
                    let last = start + first + count; // Keys the last query sees.
                    (0..last).step_by(KEY_SPAN).map(move |k| Task {
                        kv,
                        first,
                        count,
                        keys: k..(k + KEY_SPAN).min(last),
                    })
                })
            })
            .collect();
        let partials: Vec<Partial> =
            tasks.par_iter().map(|task| self.task(queries, cache, group, task)).collect();
        let mut out = vec![0f32; len * heads * d];
        let mut at = 0;
        // The spans of one head and query run are consecutive.
        for spans in tasks.chunk_by(|a, b| a.kv == b.kv && a.first == b.first) {
            let Task { kv, first, .. } = spans[0];
            let merged = merge(&partials[at..at + spans.len()], d);
            at += spans.len();
            for (p, rows) in merged.chunks_exact(group * d).enumerate() {
                let to = ((first + p) * heads + kv * group) * d;
                out[to..to + group * d].copy_from_slice(rows);
            }
        }
        out
    }

    fn task(&self, queries: &[f32], cache: &LayerCache, group: usize, task: &Task) -> Partial {
        let Attention { start, len, .. } = *self;
        let Task { kv, first, count, ref keys } = *task;
        let d = cache.head_dim();
        let scale = 1.0 / (d as f32).sqrt();
        // Each row: the keys its query sees (up to its own position), and the query.
        let rows: Vec<(usize, &[f32])> = (0..count)
            .flat_map(|p| {
                (0..group).map(move |h| {
                    let at = ((kv * group + h) * len + first + p) * d;
                    (start + first + p + 1, &queries[at..at + d])
                })
            })
            .collect();
        let span = keys.len();
        let mut scores = vec![f32::NEG_INFINITY; rows.len() * span];
        let mut tile = vec![0f32; d * KEY_TILE];
        let mut tile_scores = vec![0f32; rows.len() * KEY_TILE];
        // An 8-bit cache is scored by integer dot products, with the queries quantised once.
        let mut quantised = Vec::new();
        for t0 in keys.clone().step_by(KEY_TILE) {
            match cache.key_tile(kv, t0) {
                KeyTile::Half(keys) => {
                    keys.convert_to_f32_slice(&mut tile);
                    for ((_, query), out) in rows.iter().zip(tile_scores.chunks_exact_mut(KEY_TILE))
                    {
                        score_tile(query, &tile, out);
                    }
                }
                KeyTile::Q8 { values, scales } => {
                    if quantised.is_empty() {
                        quantised = rows.iter().map(|(_, query)| Query::new(query)).collect();
                    }
                    int8_scores::score_tile(&quantised, values, scales, &mut tile_scores);
                }
            }
            let here = KEY_TILE.min(keys.end - t0);
            let rows = rows.iter().zip(scores.chunks_exact_mut(span));
            for (((seen, _), row), sums) in rows.zip(tile_scores.chunks_exact(KEY_TILE)) {
                let visible = seen.saturating_sub(t0).min(here);
                for (score, sum) in row[t0 - keys.start..][..visible].iter_mut().zip(sums) {
                    *score = sum * scale;
                }
            }
        }
        let (max, sum): (Vec<f32>, Vec<f32>) =
            scores.chunks_exact_mut(span).map(exponentiate).unzip();
        let mut weighted = vec![0f32; rows.len() * d];
        for t0 in keys.clone().step_by(KEY_TILE) {
            let values = &mut tile[..d * KEY_TILE.min(keys.end - t0)];
            cache.value_rows(kv, t0, values);
            for (acc, weights) in weighted.chunks_exact_mut(d).zip(scores.chunks_exact(span)) {
                let weights = &weights[t0 - keys.start..];
                match d {
                    64 => weighted_sum::<64>(weights, values, acc),
                    128 => weighted_sum::<128>(weights, values, acc),
                    _ => weighted_sum_any(weights, values, acc),
                }
            }
        }
        Partial { max, sum, weighted }
    }
}

/// The spans of one query run merged: each span's weighted values rescaled to the largest
/// maximum, over the sum of the rescaled sums.
fn merge(spans: &[Partial], d: usize) -> Vec<f32> {
    let rows = spans[0].max.len();
    let mut out = vec![0f32; rows * d];
    for (r, out) in out.chunks_exact_mut(d).enumerate() {
        let max = spans.iter().map(|s| s.max[r]).fold(f32::NEG_INFINITY, f32::max);
        let mut total = 0.0;
        for span in spans.iter().filter(|s| s.max[r] > f32::NEG_INFINITY) {
            let factor = (span.max[r] - max).exp();
            total += span.sum[r] * factor;
            for (o, w) in out.iter_mut().zip(&span.weighted[r * d..][..d]) {
                *o = mul_add(factor, *w, *o);
            }
        }
        let inverse = 1.0 / total;
        out.iter_mut().for_each(|o| *o *= inverse);
    }
    out
}

/// A query's scores against a turned key tile, unscaled, into `out`: a broadcast and a
/// multiply-add per dimension over [`KEY_TILE`] keys, which the compiler keeps in vector
/// registers.
fn score_tile(query: &[f32], tile: &[f32], out: &mut [f32]) {
    let mut sums = [0f32; KEY_TILE];
    for (q, column) in query.iter().zip(tile.chunks_exact(KEY_TILE)) {
        for (s, k) in sums.iter_mut().zip(column) {
            *s = mul_add(*q, *k, *s);
        }
    }
    out.copy_from_slice(&sums);
}

/// `acc += Σ weight[t] · value row t` with the accumulator in registers: the common head
/// widths are constants, so the compiler unrolls the row into vector registers.
fn weighted_sum<const D: usize>(weights: &[f32], values: &[f32], acc: &mut [f32]) {
    let mut sum = [0f32; D];
    sum.copy_from_slice(&acc[..D]);
    for (weight, value) in weights.iter().zip(values.chunks_exact(D)) {
        for (s, v) in sum.iter_mut().zip(value) {
            *s = mul_add(*weight, *v, *s);
        }
    }
    acc[..D].copy_from_slice(&sum);
}

/// [`weighted_sum`] for any head width.
fn weighted_sum_any(weights: &[f32], values: &[f32], acc: &mut [f32]) {
    for (weight, value) in weights.iter().zip(values.chunks_exact(acc.len())) {
        for (a, v) in acc.iter_mut().zip(value) {
            *a = mul_add(*weight, *v, *a);
        }
    }
}

/// `a · b + c`, fused where the build targets a CPU with FMA (`-C target-cpu=native` here);
/// without it, `f32::mul_add` would be a library call per element.
#[inline(always)]
fn mul_add(a: f32, b: f32, c: f32) -> f32 {
    if cfg!(target_feature = "fma") { a.mul_add(b, c) } else { a * b + c }
}

/// Turns a row of scores into `exp(score - max)` in place and returns the maximum and the
/// sum; masked entries are `-inf` and come out (nearly) 0, a row of only those stays as it is.
fn exponentiate(row: &mut [f32]) -> (f32, f32) {
    let max = across_lanes(row, f32::NEG_INFINITY, |m, v| if v > m { v } else { m });
    if max == f32::NEG_INFINITY {
        return (max, 0.0);
    }
    for value in row.iter_mut() {
        *value = exp(*value - max);
    }
    (max, across_lanes(row, 0.0, |sum, v| sum + v))
}

/// Folds `row` with `op` in 16 lanes side by side, then the lanes: the compiler vectorises
/// that, where one running value would be a chain of scalar operations.
#[inline]
fn across_lanes(row: &[f32], init: f32, op: impl Fn(f32, f32) -> f32) -> f32 {
    let mut lanes = [init; 16];
    let chunks = row.chunks_exact(16);
    let rest = chunks.remainder().iter().fold(init, |a, v| op(a, *v));
    for chunk in chunks {
        for (lane, v) in lanes.iter_mut().zip(chunk) {
            *lane = op(*lane, *v);
        }
    }
    lanes.into_iter().fold(rest, &op)
}

/// `e^x` for `x <= 0` without branches or float-to-integer casts, so that a loop of it
/// compiles to vector code (libm's `expf` is a call per value, and a long prompt takes
/// millions of them per token): `2^(x log2 e)` split into the nearest integer power, set in
/// the exponent bits, and a fraction in [-0.5, 0.5], by its Taylor series to degree 6
/// (relative error under 1e-5, far below what the half-precision cache keeps). Below -87
/// the result is 0 or nearly.
#[inline]
fn exp(x: f32) -> f32 {
    // Adding 1.5 · 2^23 rounds to a whole number (to even, as the FPU rounds) and leaves it
    // in the low bits of the sum.
    const ROUNDER: f32 = 12_582_912.0;
    let x = x.max(-87.0) * std::f32::consts::LOG2_E;
    let shifted = x + ROUNDER;
    let f = (x - (shifted - ROUNDER)) * std::f32::consts::LN_2;
    let p = mul_add(1.0 / 720.0, f, 1.0 / 120.0);
    let p = mul_add(p, f, 1.0 / 24.0);
    let p = mul_add(p, f, 1.0 / 6.0);
    let p = mul_add(p, f, 0.5);
    let p = mul_add(p, f, 1.0);
    let p = mul_add(p, f, 1.0);
    let whole = shifted.to_bits().wrapping_sub(ROUNDER.to_bits());
    f32::from_bits(p.to_bits().wrapping_add(whole << 23))
}

#[cfg(test)]
mod tests {
    use half::f16;

    use super::super::cache::CacheKind;
    use super::*;
    use crate::test_numbers as numbers;

    /// A cache of `kind` holding `k` and `v` (kv_heads × positions × d) from position 0.
    fn cache_of(kind: CacheKind, kv_heads: usize, d: usize, k: &[f32], v: &[f32]) -> LayerCache {
        let positions = k.len() / (kv_heads * d);
        let mut cache = LayerCache::new(kind, kv_heads, d);
        cache.grow(positions, 0);
        cache.store(k, v, 0, positions);
        cache
    }

    /// Attention written out the plain way, in f32 over half-precision keys and values, one
    /// head and query at a time.
    fn reference(
        shape: &Attention,
        kv_heads: usize,
        d: usize,
        q: &[f32],
        k: &[f32],
        v: &[f32],
    ) -> Vec<f32> {
        let Attention { heads, start, len } = *shape;
        let (group, positions) = (heads / kv_heads, k.len() / (kv_heads * d));
        let half = |x: f32| f16::from_f32(x).to_f32();
        let mut out = vec![0f32; len * heads * d];
        for h in 0..heads {
            let kv = h / group;
            let row = |data: &[f32], t: usize| -> Vec<f32> {
                data[(kv * positions + t) * d..][..d].iter().map(|x| half(*x)).collect()
            };
            for p in 0..len {
                let query = &q[(h * len + p) * d..][..d];
                let scores: Vec<f32> = (0..start + p + 1)
                    .map(|t| {
                        let key = row(k, t);
                        query.iter().zip(&key).map(|(a, b)| a * b).sum::<f32>() / (d as f32).sqrt()
                    })
                    .collect();
                let max = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                let weights: Vec<f32> = scores.iter().map(|s| (s - max).exp()).collect();
                let total: f32 = weights.iter().sum();
                for (t, weight) in weights.iter().enumerate() {
                    for (i, value) in row(v, t).iter().enumerate() {
                        out[(p * heads + h) * d + i] += weight / total * value;
                    }
                }
            }
        }
        out
    }

    #[test]
    fn the_branchless_exp_is_close_to_libms() {
        for i in 0..=10_000 {
            let x = -(i as f32) * 0.0087;
            let (ours, libm) = (exp(x), x.exp());
            assert!((ours - libm).abs() <= 1e-5 * libm + 1e-30, "{x}: {ours} vs {libm}");
        }
        assert!(exp(-200.0) < 1e-37);
    }

    /// An 8-bit cache gives what the half-precision one gives up to its rounding.
    #[test]
    fn an_eight_bit_cache_attends_like_the_half_precision_one() {
        // Within one key span, and across two.
        for (start, len) in [(40, 9), (KEY_SPAN - 10, 20)] {
            let shape = Attention { heads: 6, start, len };
            let q = numbers(6 * len * 64, 1);
            let (k, v) = (numbers(2 * (start + len) * 64, 2), numbers(2 * (start + len) * 64, 3));
            let exact = shape.run(&q, &cache_of(CacheKind::Half, 2, 64, &k, &v));
            let eight = shape.run(&q, &cache_of(CacheKind::Q8, 2, 64, &k, &v));
            for (e, g) in exact.iter().zip(&eight) {
                assert!((e - g).abs() < 0.02, "start {start}: {g} vs {e}");
            }
        }
    }

    /// Prompts and single tokens, within one key span and across several (merged), at a
    /// width the unrolled sum takes (64) and one it does not (16).
    #[test]
    fn matches_plain_attention_for_prompts_and_single_tokens() {
        let cases = [(0, 37, 16), (70, 1, 16), (100, 20, 16), (0, 37, 64), (90, 1, 64)];
        let across_spans = [(KEY_SPAN + 60, 1, 64), (KEY_SPAN - 20, 40, 16)];
        for (start, len, d) in cases.into_iter().chain(across_spans) {
            let shape = Attention { heads: 6, start, len };
            let q = numbers(6 * len * d, 1);
            let k = numbers(2 * (start + len) * d, 2);
            let v = numbers(2 * (start + len) * d, 3);
            let got = shape.run(&q, &cache_of(CacheKind::Half, 2, d, &k, &v));
            let expected = reference(&shape, 2, d, &q, &k, &v);
            for (g, e) in got.iter().zip(&expected) {
                assert!((g - e).abs() < 1e-4, "start {start} len {len}: {g} vs {e}");
            }
        }
    }
}
