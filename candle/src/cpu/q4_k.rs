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

/// The scale and minimum of sub-block `j` (0..8), six bits each, from the 12 packed bytes
/// of a Q4_K or Q5_K block.
pub(crate) fn scale_min(j: usize, packed: &[u8]) -> (i32, i32) {
    let (scale, min) = if j < 4 {
        (packed[j] & 63, packed[j + 4] & 63)
    } else {
        (
            (packed[j + 4] & 0x0F) | ((packed[j - 4] >> 6) << 4),
            (packed[j + 4] >> 4) | ((packed[j] >> 6) << 4),
        )
    };
    (i32::from(scale), i32::from(min))
}

/// The 8 scales and minimums of a Q4_K or Q5_K block.
pub(crate) fn scales_mins(packed: &[u8]) -> ([i32; 8], [i32; 8]) {
    let mut scales = [0; 8];
    let mut mins = [0; 8];
    for j in 0..8 {
        (scales[j], mins[j]) = scale_min(j, packed);
    }
    (scales, mins)
}

/// `Σ_j mins[j] × (the sum of activation sub-block j)`, from the activations' sums of 16.
pub(crate) fn minimums(mins: &[i32; 8], a: &Q8KBlock) -> i32 {
    (0..8).map(|j| mins[j] * (i32::from(a.sums[2 * j]) + i32::from(a.sums[2 * j + 1]))).sum()
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
        let (scales, mins) = scales_mins(&block[4..16]);
        let mut dot = 0i32;
        for (j, q) in block[16..144].chunks_exact(32).enumerate() {
            let x = &a.qs[64 * j..64 * j + 64];
            let lo: i32 =
                q.iter().zip(&x[..32]).map(|(&q, &x)| i32::from(q & 0x0F) * i32::from(x)).sum();
            let hi: i32 =
                q.iter().zip(&x[32..]).map(|(&q, &x)| i32::from(q >> 4) * i32::from(x)).sum();
            dot += scales[2 * j] * lo + scales[2 * j + 1] * hi;
        }
        a.d * (d * dot as f32 - dmin * minimums(&mins, a) as f32)
    }
}

/// The AVX2 tile kernel; unsafe code as in [`super::q4_1`].
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod avx2 {
    use std::arch::x86_64::*;

    use super::super::matmul::avx2::{Tile, horizontal_sum};
    use super::{Format, Q4K, Q8KBlock, minimums, scales_mins};

    impl Tile for Q4K {
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
            let mut offsets = [[0f32; R]; A];
            let blocks = acts.iter().map(|a| a.len()).min().unwrap_or(0);
            for b in 0..blocks {
                for r in 0..R {
                    let block = &rows[r][b * BYTES..(b + 1) * BYTES];
                    let d = half::f16::from_le_bytes([block[0], block[1]]).to_f32();
                    let dmin = half::f16::from_le_bytes([block[2], block[3]]).to_f32();
                    let (scales, mins) = scales_mins(&block[4..16]);
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
                            let lo = _mm256_madd_epi16(lo, _mm256_set1_epi16(scales[2 * j] as i16));
                            let hi =
                                _mm256_madd_epi16(hi, _mm256_set1_epi16(scales[2 * j + 1] as i16));
                            sum = _mm256_add_epi32(sum, _mm256_add_epi32(lo, hi));
                        }
                        let scale = _mm256_set1_ps(d * x.d);
                        acc[a][r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum), scale, acc[a][r]);
                        offsets[a][r] -= dmin * x.d * minimums(&mins, x) as f32;
                    }
                }
            }
            let mut result = [[0f32; R]; A];
            for a in 0..A {
                for r in 0..R {
                    result[a][r] = horizontal_sum(acc[a][r]) + offsets[a][r];
                }
            }
            result
        }
    }
}
