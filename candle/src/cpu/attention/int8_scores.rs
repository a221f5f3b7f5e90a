//! Scores against an 8-bit key tile by integer dot products, as llama.cpp scores a `q8_0`
//! cache: each query is quantised to 8 bits per block of 32 dims ([`Query`]), a block's
//! products are summed exactly in `i32`, and each sum is scaled once by the query's and the
//! key's scales. With AVX-512 VNNI one instruction takes four dims of 16 keys (the cache
//! keeps an 8-bit tile in that layout, see [`KeyTile`](super::super::cpu_cache::KeyTile));
//! elsewhere the same integer sums are computed plainly.

use super::super::cache::{KEY_GROUP, KEY_TILE, Q8_BLOCK};
use super::super::q8::Q8Block;
use super::mul_add;

/// Groups of [`KEY_GROUP`] dims in a block.
const GROUPS: usize = Q8_BLOCK / KEY_GROUP;

/// A query quantised for integer scoring: its blocks, and each block's sum of quantised
/// values (the VNNI kernel takes keys as unsigned, offset by 128, and takes this back out).
pub(super) struct Query {
    blocks: Vec<Q8Block>,
    sums: Vec<i32>,
}

impl Query {
    /// `values` (a multiple of 32 long) quantised.
    pub(super) fn new(values: &[f32]) -> Self {
        let blocks: Vec<Q8Block> = values.chunks_exact(Q8_BLOCK).map(Q8Block::quantise).collect();
        let sums = blocks.iter().map(|b| b.qs.iter().map(|q| i32::from(*q)).sum()).collect();
        Query { blocks, sums }
    }
}

/// Scores (dot products) of `queries` against an 8-bit key tile (`keys` and `scales` as
/// `KeyTile::Q8` holds them): `out` gets a row of [`KEY_TILE`] per query.
pub(super) fn score_tile(queries: &[Query], keys: &[i8], scales: &[f32], out: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if vnni::score_tile(queries, keys, scales, out) {
        return;
    }
    for (query, out) in queries.iter().zip(out.chunks_exact_mut(KEY_TILE)) {
        score_plainly(query, keys, scales, out);
    }
}

/// One query's scores in plain code: the same integer sums as the VNNI kernel, scaled alike.
fn score_plainly(query: &Query, keys: &[i8], scales: &[f32], out: &mut [f32]) {
    out.fill(0.0);
    for (b, block) in query.blocks.iter().enumerate() {
        let mut sums = [0i32; KEY_TILE];
        for (g, q) in block.qs.chunks_exact(KEY_GROUP).enumerate() {
            let keys = &keys[(b * GROUPS + g) * KEY_TILE * KEY_GROUP..][..KEY_TILE * KEY_GROUP];
            for (sum, key) in sums.iter_mut().zip(keys.chunks_exact(KEY_GROUP)) {
                *sum += key.iter().zip(q).map(|(k, q)| i32::from(*k) * i32::from(*q)).sum::<i32>();
            }
        }
        let scales = &scales[b * KEY_TILE..][..KEY_TILE];
        for ((o, sum), scale) in out.iter_mut().zip(&sums).zip(scales) {
            *o = mul_add(*sum as f32, scale * block.d, *o);
        }
    }
}

/// The AVX-512 VNNI kernel. Unsafe code is allowed here only: the intrinsics load and store
/// through pointers, and the kernel is entered once the CPU is known to have the features it
/// is compiled for and the slices are known to be long enough.
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod vnni {
    use std::arch::x86_64::*;

    use super::{GROUPS, KEY_GROUP, KEY_TILE, Q8_BLOCK, Query};

    /// Queries scored together against one load of the keys.
    const TOGETHER: usize = 4;
    /// Keys in one vector (16 lanes of four bytes).
    const LANES: usize = 16;

    /// [`super::score_tile`] with AVX-512 VNNI, if the CPU has it (else `false`, and `out`
    /// untouched).
    pub(super) fn score_tile(
        queries: &[Query],
        keys: &[i8],
        scales: &[f32],
        out: &mut [f32],
    ) -> bool {
        let available =
            is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512vnni");
        let blocks = queries.first().map_or(0, |q| q.blocks.len());
        let fits = queries.iter().all(|q| q.blocks.len() == blocks && q.sums.len() == blocks)
            && keys.len() >= blocks * Q8_BLOCK * KEY_TILE
            && scales.len() >= blocks * KEY_TILE
            && out.len() >= queries.len() * KEY_TILE;
        if !(available && fits) {
            return false;
        }
        for (queries, out) in queries.chunks(TOGETHER).zip(out.chunks_mut(TOGETHER * KEY_TILE)) {
            // SAFETY: the CPU has the features `tile` is compiled for, and the lengths were
            // checked above.
            unsafe {
                match queries.len() {
                    1 => tile::<1>(queries, blocks, keys, scales, out),
                    2 => tile::<2>(queries, blocks, keys, scales, out),
                    3 => tile::<3>(queries, blocks, keys, scales, out),
                    _ => tile::<TOGETHER>(queries, blocks, keys, scales, out),
                }
            }
        }
        true
    }

    /// `G` queries against the tile. Keys are flipped to unsigned (plus 128) for `vpdpbusd`,
    /// and 128 × the query block's sum taken back out of each sum.
    ///
    /// # Safety
    /// The CPU has AVX-512F and VNNI; `queries` holds `G` queries of `blocks` blocks, `keys`
    /// `blocks × 32 × KEY_TILE` values, `scales` `blocks × KEY_TILE`, `out` `G × KEY_TILE`.
    #[allow(clippy::needless_range_loop)] // One index addresses queries, sums and totals alike.
    #[target_feature(enable = "avx512f,avx512vnni")]
    unsafe fn tile<const G: usize>(
        queries: &[Query],
        blocks: usize,
        keys: &[i8],
        scales: &[f32],
        out: &mut [f32],
    ) {
        const VECTORS: usize = KEY_TILE / LANES;
        let flip = _mm512_set1_epi8(i8::MIN);
        let mut total = [[_mm512_setzero_ps(); VECTORS]; G];
        for b in 0..blocks {
            let mut sums = [[_mm512_setzero_si512(); VECTORS]; G];
            for g in 0..GROUPS {
                let at = (b * GROUPS + g) * KEY_TILE * KEY_GROUP;
                let mut k = [_mm512_setzero_si512(); VECTORS];
                for (v, k) in k.iter_mut().enumerate() {
                    // SAFETY: `at + (v + 1) × 64 <= blocks × 32 × KEY_TILE <= keys.len()`.
                    let loaded =
                        unsafe { _mm512_loadu_si512(keys.as_ptr().add(at + v * 64).cast()) };
                    *k = _mm512_xor_si512(loaded, flip);
                }
                for q in 0..G {
                    let qs = &queries[q].blocks[b].qs[g * KEY_GROUP..][..KEY_GROUP];
                    let four =
                        i32::from_le_bytes([qs[0] as u8, qs[1] as u8, qs[2] as u8, qs[3] as u8]);
                    let broadcast = _mm512_set1_epi32(four);
                    for v in 0..VECTORS {
                        sums[q][v] = _mm512_dpbusd_epi32(sums[q][v], k[v], broadcast);
                    }
                }
            }
            for q in 0..G {
                let offset = _mm512_set1_epi32(128 * queries[q].sums[b]);
                let d = _mm512_set1_ps(queries[q].blocks[b].d);
                for v in 0..VECTORS {
                    // SAFETY: `b × KEY_TILE + (v + 1) × 16 <= scales.len()`.
                    let scale =
                        unsafe { _mm512_loadu_ps(scales.as_ptr().add(b * KEY_TILE + v * LANES)) };
                    let exact = _mm512_cvtepi32_ps(_mm512_sub_epi32(sums[q][v], offset));
                    total[q][v] = _mm512_fmadd_ps(exact, _mm512_mul_ps(scale, d), total[q][v]);
                }
            }
        }
        for q in 0..G {
            for v in 0..VECTORS {
                // SAFETY: `(q × KEY_TILE + (v + 1) × 16) <= G × KEY_TILE <= out.len()`.
                unsafe {
                    _mm512_storeu_ps(out.as_mut_ptr().add(q * KEY_TILE + v * LANES), total[q][v])
                };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_numbers as numbers;

    /// The kernel this CPU takes (VNNI where it has it) and the plain code agree, and both
    /// match the float dot products of the dequantised values up to the query's rounding.
    #[test]
    fn integer_scores_match_the_plain_sums_and_the_float_products() {
        let d = 64;
        let mut keys = vec![0i8; d * KEY_TILE];
        let mut key_scales = vec![0f32; d / Q8_BLOCK * KEY_TILE];
        let raw = numbers(d * KEY_TILE, 1);
        let mut dequantised = vec![0f32; d * KEY_TILE]; // [key][dim]
        for (t, key) in raw.chunks_exact(d).enumerate() {
            for (b, part) in key.chunks_exact(Q8_BLOCK).enumerate() {
                let block = Q8Block::quantise(part);
                key_scales[b * KEY_TILE + t] = block.d;
                for (i, q) in block.qs.iter().enumerate() {
                    let j = b * Q8_BLOCK + i;
                    keys[(j / KEY_GROUP * KEY_TILE + t) * KEY_GROUP + j % KEY_GROUP] = *q;
                    dequantised[t * d + j] = f32::from(*q) * block.d;
                }
            }
        }
        let raw_queries: Vec<Vec<f32>> = (0..7).map(|i| numbers(d, 10 + i)).collect();
        let queries: Vec<Query> = raw_queries.iter().map(|q| Query::new(q)).collect();
        let mut fast = vec![0f32; queries.len() * KEY_TILE];
        score_tile(&queries, &keys, &key_scales, &mut fast);
        for (i, (query, raw_query)) in queries.iter().zip(&raw_queries).enumerate() {
            let mut plain = [0f32; KEY_TILE];
            score_plainly(query, &keys, &key_scales, &mut plain);
            for t in 0..KEY_TILE {
                let (fast, plain) = (fast[i * KEY_TILE + t], plain[t]);
                assert!((fast - plain).abs() <= 1e-5 * plain.abs().max(1.0), "{fast} vs {plain}");
                let exact: f32 =
                    raw_query.iter().zip(&dequantised[t * d..][..d]).map(|(q, k)| q * k).sum();
                assert!((plain - exact).abs() < 0.05, "query {i} key {t}: {plain} vs {exact}");
            }
        }
    }
}
