//! The Q4_K format: blocks of 256 four-bit values in 8 sub-blocks of 32, each with a 6-bit
//! scale and a 6-bit minimum under the block's `f16` scale and minimum (144 bytes: scale,
//! minimum, 12 bytes of packed sub-block scales and minimums, 128 bytes of nibbles; bytes
//! `32j..32j + 32` hold sub-block `2j` in their low nibbles and `2j + 1` in their high ones),
//! multiplied with 8-bit activation blocks of 256 ([`Q8KBlock`]). The most downloaded form of
//! Llama models (Q4_K_M files are mostly Q4_K).

use half::f16;

use super::matmul::Format;
use super::q8::{K_BLOCK, Q8KBlock};

/// The Q4_K format.
pub(crate) struct Q4K;

/// The 8 scales then the 8 minimums of a Q4_K or Q5_K block's sub-blocks, six bits each,
/// unpacked from its 12 bytes: scales 0–3 and minimums 0–3 in the low six bits of bytes 0–3
/// and 4–7; scales and minimums 4–7 in the nibbles of bytes 8–11, their top two bits in the top
/// bits of bytes 0–3 and 4–7. Done on whole words, as llama.cpp does.
pub(crate) fn unpack_scales(packed: &[u8]) -> [u8; 16] {
    let word = |i: usize| {
        u32::from_le_bytes([packed[4 * i], packed[4 * i + 1], packed[4 * i + 2], packed[4 * i + 3]])
    };
    let (w0, w1, w2) = (word(0), word(1), word(2));
    let six = 0x3f3f_3f3f;
    let nibbles = 0x0f0f_0f0f;
    let pairs = 0x0303_0303;
    let words = [
        w0 & six,
        (w2 & nibbles) | (((w0 >> 6) & pairs) << 4),
        w1 & six,
        ((w2 >> 4) & nibbles) | (((w1 >> 6) & pairs) << 4),
    ];
    let mut out = [0u8; 16];
    for (chunk, word) in out.chunks_exact_mut(4).zip(words) {
        chunk.copy_from_slice(&word.to_le_bytes());
    }
    out
}

/// `Σ_j minimum[j] × (the sum of activation sub-block j)`, from the activations' sums of 16.
pub(crate) fn minimums(unpacked: &[u8; 16], a: &Q8KBlock) -> i32 {
    (0..8)
        .map(|j| {
            i32::from(unpacked[8 + j]) * (i32::from(a.sums[2 * j]) + i32::from(a.sums[2 * j + 1]))
        })
        .sum()
}

impl Format for Q4K {
    const NAME: &'static str = "q4_K";
    const BLOCK: usize = K_BLOCK;
    const BLOCK_BYTES: usize = 144;
    type Act = Q8KBlock;
    const ZERO: Q8KBlock = Q8KBlock::ZERO;

    fn quantise(values: &[f32]) -> Q8KBlock {
        Q8KBlock::quantise(values)
    }

    fn dot_block(block: &[u8], a: &Q8KBlock) -> f32 {
        let d = f16::from_le_bytes([block[0], block[1]]).to_f32();
        let dmin = f16::from_le_bytes([block[2], block[3]]).to_f32();
        let unpacked = unpack_scales(&block[4..16]);
        let mut dot = 0i32;
        for (j, q) in block[16..144].chunks_exact(32).enumerate() {
            let x = &a.qs[64 * j..64 * j + 64];
            let lo: i32 =
                q.iter().zip(&x[..32]).map(|(&q, &x)| i32::from(q & 0x0F) * i32::from(x)).sum();
            let hi: i32 =
                q.iter().zip(&x[32..]).map(|(&q, &x)| i32::from(q >> 4) * i32::from(x)).sum();
            dot += i32::from(unpacked[2 * j]) * lo + i32::from(unpacked[2 * j + 1]) * hi;
        }
        a.d * (d * dot as f32 - dmin * minimums(&unpacked, a) as f32)
    }
}

/// The AVX2 tile kernel; unsafe code as in [`super::q4_1`].
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod avx2 {
    use std::arch::x86_64::*;

    use super::super::matmul::avx2::{Tile, horizontal_sum, tile_loop};
    use super::{Format, Q4K, Q8KBlock, unpack_scales};

    impl Tile for Q4K {
        unsafe fn tiled(rows: &[u8], row_bytes: usize, acts: &[Q8KBlock], out: &mut [f32]) {
            // SAFETY: the caller's contract.
            unsafe { tile_loop::<Self, 1, 4>(rows, row_bytes, acts, out) }
        }

        // One block index addresses all `R` rows and `A` activation rows alike.
        #[allow(clippy::needless_range_loop)]
        #[target_feature(enable = "avx2,fma,f16c")]
        unsafe fn dot<const R: usize, const A: usize>(
            rows: [&[u8]; R],
            acts: [&[Q8KBlock]; A],
        ) -> [[f32; R]; A] {
            const BYTES: usize = Q4K::BLOCK_BYTES;
            let low = _mm256_set1_epi8(0x0F);
            let mut acc = [[_mm256_setzero_ps(); R]; A];
            let mut offsets = [[_mm_setzero_ps(); R]; A];
            let blocks = acts.iter().map(|a| a.len()).min().unwrap_or(0);
            for b in 0..blocks {
                // Each activation block's sums of 32 (pairs of its sums of 16).
                let mut sums = [_mm_setzero_si128(); A];
                for a in 0..A {
                    // SAFETY: `sums` is 16 `i16`s, 32 bytes.
                    let all = unsafe { _mm256_loadu_si256(acts[a][b].sums.as_ptr().cast()) };
                    sums[a] = _mm_hadd_epi16(
                        _mm256_castsi256_si128(all),
                        _mm256_extracti128_si256(all, 1),
                    );
                }
                for r in 0..R {
                    let block = &rows[r][b * BYTES..(b + 1) * BYTES];
                    // The scale and the minimum, two f16 side by side.
                    let dm = u32::from_le_bytes([block[0], block[1], block[2], block[3]]);
                    let dm = _mm_cvtph_ps(_mm_cvtsi32_si128(dm as i32));
                    let (d, dmin) = (_mm_cvtss_f32(dm), _mm_cvtss_f32(_mm_movehdup_ps(dm)));
                    let unpacked = unpack_scales(&block[4..16]);
                    // SAFETY: `unpacked` is 16 bytes.
                    let minimums = _mm_cvtepu8_epi16(unsafe {
                        _mm_loadl_epi64(unpacked[8..].as_ptr().cast())
                    });
                    let qs = &block[16..];
                    for a in 0..A {
                        let x = &acts[a][b];
                        let mut sum = _mm256_setzero_si256();
                        for j in 0..4 {
                            // SAFETY: `qs` holds 128 bytes and `x.qs` 256: both loads are in
                            // bounds for j < 4.
                            let (q, xl, xh) = unsafe {
                                (
                                    _mm256_loadu_si256(qs[32 * j..].as_ptr().cast()),
                                    _mm256_loadu_si256(x.qs[64 * j..].as_ptr().cast()),
                                    _mm256_loadu_si256(x.qs[64 * j + 32..].as_ptr().cast()),
                                )
                            };
                            let lo = _mm256_and_si256(q, low);
                            let hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), low);
                            let lo = _mm256_maddubs_epi16(lo, xl);
                            let hi = _mm256_maddubs_epi16(hi, xh);
                            let lo = _mm256_madd_epi16(
                                lo,
                                _mm256_set1_epi16(i16::from(unpacked[2 * j])),
                            );
                            let hi = _mm256_madd_epi16(
                                hi,
                                _mm256_set1_epi16(i16::from(unpacked[2 * j + 1])),
                            );
                            sum = _mm256_add_epi32(sum, _mm256_add_epi32(lo, hi));
                        }
                        let scale = _mm256_set1_ps(d * x.d);
                        acc[a][r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum), scale, acc[a][r]);
                        let products = _mm_cvtepi32_ps(_mm_madd_epi16(minimums, sums[a]));
                        offsets[a][r] =
                            _mm_fmadd_ps(products, _mm_set1_ps(-dmin * x.d), offsets[a][r]);
                    }
                }
            }
            let mut result = [[0f32; R]; A];
            for a in 0..A {
                for r in 0..R {
                    let offset =
                        _mm_add_ps(offsets[a][r], _mm_movehl_ps(offsets[a][r], offsets[a][r]));
                    let offset = _mm_add_ss(offset, _mm_movehdup_ps(offset));
                    result[a][r] = horizontal_sum(acc[a][r]) + _mm_cvtss_f32(offset);
                }
            }
            result
        }
    }
}
