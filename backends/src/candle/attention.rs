//! Causal attention on the CPU straight from the half-precision key-value cache. candle's path
//! (repeat the key-value heads for grouped-query attention, copy them contiguous, two matmuls)
//! copies the whole cache several times per layer and token; here each task takes one
//! key-value head and a run of query positions, converts keys and values to `f32` a tile at a
//! time (F16C where the CPU has it) and scores every query of the head group against the tile,
//! so the cache is read once per task.

use half::f16;
use half::slice::HalfFloatSliceExt;
use rayon::prelude::*;

/// Keys (and values) converted to `f32` at a time.
const KEY_TILE: usize = 64;
/// Query positions one task takes.
const QUERY_TILE: usize = 16;
/// Queries per task from which the key tile is turned to [dim][key] for scoring.
const TURN_FROM: usize = 8;

/// One layer's cached keys or values, kv_heads × capacity × head_dim, as the cache holds them.
#[derive(Clone, Copy)]
pub(crate) enum CacheRows<'a> {
    /// Half precision.
    Half(&'a [f16]),
    /// Eight bits per value, stored plus 128, with one scale per 32 values.
    Q8 {
        /// The values.
        values: &'a [u8],
        /// The scales.
        scales: &'a [f32],
    },
}

/// Values per scale in a [`CacheRows::Q8`] cache.
pub(crate) const Q8_BLOCK: usize = 32;

impl CacheRows<'_> {
    /// Fills `out` with the values from element `at` on (a multiple of 32), as `f32`.
    fn convert(&self, at: usize, out: &mut [f32]) {
        match self {
            CacheRows::Half(values) => values[at..at + out.len()].convert_to_f32_slice(out),
            CacheRows::Q8 { values, scales } => {
                let values = &values[at..at + out.len()];
                let scales = &scales[at / Q8_BLOCK..];
                for ((out, values), scale) in
                    out.chunks_mut(Q8_BLOCK).zip(values.chunks(Q8_BLOCK)).zip(scales)
                {
                    for (o, v) in out.iter_mut().zip(values) {
                        *o = (f32::from(*v) - 128.0) * scale;
                    }
                }
            }
        }
    }
}

/// Quantises rows of `values` (a multiple of 32 long) to [`CacheRows::Q8`]'s form.
pub(crate) fn quantise(values: &[f32]) -> (Vec<u8>, Vec<f32>) {
    let mut quantised = Vec::with_capacity(values.len());
    let mut scales = Vec::with_capacity(values.len() / Q8_BLOCK);
    for block in values.chunks(Q8_BLOCK) {
        let amax = block.iter().fold(0f32, |m, v| m.max(v.abs()));
        let scale = amax / 127.0;
        let inverse = if scale == 0.0 { 0.0 } else { 1.0 / scale };
        quantised.extend(block.iter().map(|v| ((v * inverse).round() + 128.0) as u8));
        scales.push(scale);
    }
    (quantised, scales)
}

/// The shape of one attention call.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Attention {
    /// Query heads.
    pub heads: usize,
    /// Key-value heads; each serves `heads / kv_heads` query heads.
    pub kv_heads: usize,
    /// Width of a head.
    pub head_dim: usize,
    /// Positions each head has room for in the cache.
    pub capacity: usize,
    /// Positions cached before the new ones.
    pub start: usize,
    /// New positions (queries).
    pub len: usize,
}

impl Attention {
    /// `queries` (heads × len × head_dim) attend causally over `keys` and `values` (kv_heads ×
    /// capacity × head_dim, the first `start + len` positions filled); the result is len ×
    /// heads × head_dim.
    pub(crate) fn run(&self, queries: &[f32], keys: CacheRows, values: CacheRows) -> Vec<f32> {
        let Attention { heads, kv_heads, head_dim, len, .. } = *self;
        let group = heads / kv_heads.max(1);
        let tiles = len.div_ceil(QUERY_TILE);
        let pieces: Vec<(usize, usize, Vec<f32>)> = (0..kv_heads * tiles)
            .into_par_iter()
            .map(|task| {
                let (kv, tile) = (task / tiles, task % tiles);
                let first = tile * QUERY_TILE;
                let count = QUERY_TILE.min(len - first);
                (kv, first, self.task(queries, keys, values, kv, group, first, count))
            })
            .collect();
        let mut out = vec![0f32; len * heads * head_dim];
        for (kv, first, piece) in pieces {
            // The piece is [position][head of the group][dim].
            for (p, rows) in piece.chunks_exact(group * head_dim).enumerate() {
                let at = ((first + p) * heads + kv * group) * head_dim;
                out[at..at + group * head_dim].copy_from_slice(rows);
            }
        }
        out
    }

    /// One key-value head's group of query heads at `count` positions from `first`.
    #[allow(clippy::too_many_arguments)]
    fn task(
        &self,
        queries: &[f32],
        keys: CacheRows,
        values: CacheRows,
        kv: usize,
        group: usize,
        first: usize,
        count: usize,
    ) -> Vec<f32> {
        let Attention { head_dim: d, capacity, start, len, .. } = *self;
        let scale = 1.0 / (d as f32).sqrt();
        // Query q = (position p, head h of the group), in that order.
        let query = |p: usize, h: usize| {
            let head = kv * group + h;
            let at = (head * len + first + p) * d;
            &queries[at..at + d]
        };
        let last = start + first + count; // Positions the last query sees.
        let seen = |p: usize| start + first + p + 1;
        let queries: Vec<(usize, &[f32])> =
            (0..count).flat_map(|p| (0..group).map(move |h| (p, query(p, h)))).collect();
        let mut tile = vec![0f32; KEY_TILE * d];
        // The key tile turned to [dim][key], so that one query's scores against all its keys
        // are accumulated side by side (broadcast and multiply-add, no horizontal sums).
        let mut turned = vec![0f32; d * KEY_TILE];
        let mut scores = vec![f32::NEG_INFINITY; queries.len() * last];
        let at = |t: usize| (kv * capacity + t) * d;
        for t0 in (0..last).step_by(KEY_TILE) {
            let tile = &mut tile[..d * KEY_TILE.min(last - t0)];
            keys.convert(at(t0), tile);
            let keys_here = tile.len() / d;
            if queries.len() < TURN_FROM {
                // Few queries (decoding): turning the tile would cost more than it saves.
                for (i, (p, q)) in queries.iter().enumerate() {
                    let visible = seen(*p).saturating_sub(t0).min(keys_here);
                    let row = &mut scores[i * last + t0..][..visible];
                    for (score, key) in row.iter_mut().zip(tile.chunks_exact(d)) {
                        *score = dot(q, key) * scale;
                    }
                }
                continue;
            }
            for (t, key) in tile.chunks_exact(d).enumerate() {
                for (j, value) in key.iter().enumerate() {
                    turned[j * KEY_TILE + t] = *value;
                }
            }
            for (i, (p, q)) in queries.iter().enumerate() {
                let visible = seen(*p).saturating_sub(t0).min(keys_here);
                if visible == 0 {
                    continue;
                }
                let mut acc = [0f32; KEY_TILE];
                for (qj, column) in q.iter().zip(turned.chunks_exact(KEY_TILE)) {
                    for (a, k) in acc.iter_mut().zip(column) {
                        *a += qj * k;
                    }
                }
                let row = &mut scores[i * last + t0..][..visible];
                for (score, a) in row.iter_mut().zip(&acc) {
                    *score = a * scale;
                }
            }
        }
        for row in scores.chunks_exact_mut(last) {
            softmax(row);
        }
        let mut out = vec![0f32; count * group * d];
        for t0 in (0..last).step_by(KEY_TILE) {
            let tile = &mut tile[..d * KEY_TILE.min(last - t0)];
            values.convert(at(t0), tile);
            for (q, acc) in out.chunks_exact_mut(d).enumerate() {
                let weights = &scores[q * last + t0..];
                match d {
                    64 => weighted_sum::<64>(weights, tile, acc),
                    128 => weighted_sum::<128>(weights, tile, acc),
                    _ => weighted_sum_any(weights, tile, acc),
                }
            }
        }
        out
    }
}

/// `acc += Σ weight[t] · value row t` with the accumulator in registers: the common head
/// widths are constants, so the compiler unrolls the row into vector registers.
fn weighted_sum<const D: usize>(weights: &[f32], tile: &[f32], acc: &mut [f32]) {
    let mut sum = [0f32; D];
    sum.copy_from_slice(&acc[..D]);
    for (weight, value) in weights.iter().zip(tile.chunks_exact(D)) {
        for (s, v) in sum.iter_mut().zip(value) {
            *s += weight * v;
        }
    }
    acc[..D].copy_from_slice(&sum);
}

/// [`weighted_sum`] for any head width.
fn weighted_sum_any(weights: &[f32], tile: &[f32], acc: &mut [f32]) {
    for (weight, value) in weights.iter().zip(tile.chunks_exact(acc.len())) {
        for (a, v) in acc.iter_mut().zip(value) {
            *a += weight * v;
        }
    }
}

/// A dot product in eight partial sums, which the compiler keeps in one vector register.
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut sums = [0f32; 8];
    let (a_chunks, b_chunks) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = a_chunks.remainder().iter().zip(b_chunks.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in a_chunks.zip(b_chunks) {
        for i in 0..8 {
            sums[i] += x[i] * y[i];
        }
    }
    sums.iter().sum::<f32>() + tail
}

/// In place; masked entries are `-inf` and come out 0.
fn softmax(row: &mut [f32]) {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    if max == f32::NEG_INFINITY {
        return;
    }
    for value in row.iter_mut() {
        *value = exp(*value - max);
    }
    let sum: f32 = row.iter().sum();
    let inverse = 1.0 / sum;
    for value in row.iter_mut() {
        *value *= inverse;
    }
}

/// `e^x` for `x <= 0` without branches, so that a loop of it compiles to vector code (libm's
/// `expf` is a call per value, and a long prompt takes millions of them per token): `2^(x
/// log2 e)` split into the nearest integer power, set in the exponent bits, and a fraction in
/// [-0.5, 0.5], by its Taylor series to degree 6 (relative error under 1e-5, far below what the half-precision cache keeps). Below -87 the
/// result is 0 or nearly.
#[inline]
fn exp(x: f32) -> f32 {
    let x = x.max(-87.0) * std::f32::consts::LOG2_E;
    let whole = x.round_ties_even();
    let f = (x - whole) * std::f32::consts::LN_2;
    let p = (1.0_f32 / 720.0).mul_add(f, 1.0 / 120.0);
    let p = p.mul_add(f, 1.0 / 24.0);
    let p = p.mul_add(f, 1.0 / 6.0);
    let p = p.mul_add(f, 0.5);
    let p = p.mul_add(f, 1.0);
    let p = p.mul_add(f, 1.0);
    f32::from_bits(p.to_bits().wrapping_add(((whole as i32) << 23) as u32))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic values in [-1, 1].
    fn numbers(count: usize, seed: usize) -> Vec<f32> {
        (0..count).map(|i| (((i * 7919 + seed * 104_729) % 2003) as f32 / 1001.0) - 1.0).collect()
    }

    /// Attention written out the plain way, in f32, one head and query at a time.
    fn reference(shape: &Attention, q: &[f32], k: &[f16], v: &[f16]) -> Vec<f32> {
        let Attention { heads, kv_heads, head_dim: d, capacity, start, len } = *shape;
        let group = heads / kv_heads;
        let mut out = vec![0f32; len * heads * d];
        for h in 0..heads {
            let kv = h / group;
            for p in 0..len {
                let query = &q[(h * len + p) * d..][..d];
                let seen = start + p + 1;
                let key = |t: usize| &k[(kv * capacity + t) * d..][..d];
                let mut scores: Vec<f32> = (0..seen)
                    .map(|t| {
                        query.iter().zip(key(t)).map(|(a, b)| a * b.to_f32()).sum::<f32>()
                            / (d as f32).sqrt()
                    })
                    .collect();
                softmax(&mut scores);
                for (t, weight) in scores.iter().enumerate() {
                    let value = &v[(kv * capacity + t) * d..][..d];
                    for i in 0..d {
                        out[(p * heads + h) * d + i] += weight * value[i].to_f32();
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
        let shape =
            Attention { heads: 6, kv_heads: 2, head_dim: 64, capacity: 96, start: 40, len: 9 };
        let q = numbers(6 * 9 * 64, 1);
        let (k, v) = (numbers(2 * 96 * 64, 2), numbers(2 * 96 * 64, 3));
        let half = |x: &[f32]| x.iter().copied().map(f16::from_f32).collect::<Vec<_>>();
        let (k16, v16) = (half(&k), half(&v));
        let ((k8, k_scales), (v8, v_scales)) = (quantise(&k), quantise(&v));
        let exact = shape.run(&q, CacheRows::Half(&k16), CacheRows::Half(&v16));
        let eight = shape.run(
            &q,
            CacheRows::Q8 { values: &k8, scales: &k_scales },
            CacheRows::Q8 { values: &v8, scales: &v_scales },
        );
        for (e, g) in exact.iter().zip(&eight) {
            assert!((e - g).abs() < 0.02, "{g} vs {e}");
        }
    }

    #[test]
    fn matches_plain_attention_for_prompts_and_single_tokens() {
        // Width 64 takes the unrolled path, 16 the general one.
        for (start, len, d) in [(0, 37, 16), (70, 1, 16), (100, 20, 16), (0, 37, 64), (90, 1, 64)] {
            let shape = Attention { heads: 6, kv_heads: 2, head_dim: d, capacity: 160, start, len };
            let q = numbers(6 * len * d, 1);
            let k: Vec<f16> = numbers(2 * 160 * d, 2).into_iter().map(f16::from_f32).collect();
            let v: Vec<f16> = numbers(2 * 160 * d, 3).into_iter().map(f16::from_f32).collect();
            let got = shape.run(&q, CacheRows::Half(&k), CacheRows::Half(&v));
            let expected = reference(&shape, &q, &k, &v);
            for (g, e) in got.iter().zip(&expected) {
                assert!((g - e).abs() < 1e-4, "start {start} len {len}: {g} vs {e}");
            }
        }
    }
}
