//! The Q5_K format: Q4_K's layout (see [`super::q4_k`]) with a fifth bit per value (176 bytes:
//! scale, minimum, 12 bytes of packed sub-block scales and minimums, 32 bytes of high bits, 128
//! bytes of nibbles; bit `2j` of high-bit byte `l` belongs to value `l` of sub-block `2j`, bit
//! `2j + 1` to value `l` of sub-block `2j + 1`), multiplied with 8-bit activation blocks of 256
//! ([`Q8KBlock`]).

use half::f16;

use super::matmul::Format;
use super::q4_k::{minimums, unpack_scales};
use super::q8::{K_BLOCK, Q8KBlock};

/// The Q5_K format.
pub(crate) struct Q5K;

impl Format for Q5K {
    const NAME: &'static str = "q5_K";
    const BLOCK: usize = K_BLOCK;
    const BLOCK_BYTES: usize = 176;
    type Act = Q8KBlock;
    const ZERO: Q8KBlock = Q8KBlock::ZERO;

    fn quantise(values: &[f32]) -> Q8KBlock {
        Q8KBlock::quantise(values)
    }

    fn dot_block(block: &[u8], a: &Q8KBlock) -> f32 {
        let d = f16::from_le_bytes([block[0], block[1]]).to_f32();
        let dmin = f16::from_le_bytes([block[2], block[3]]).to_f32();
        let unpacked = unpack_scales(&block[4..16]);
        let high = &block[16..48];
        let mut dot = 0i32;
        for (j, q) in block[48..176].chunks_exact(32).enumerate() {
            let x = &a.qs[64 * j..64 * j + 64];
            let (mut lo, mut hi) = (0i32, 0i32);
            for l in 0..32 {
                let low_value = (q[l] & 0x0F) | (((high[l] >> (2 * j)) & 1) << 4);
                let high_value = (q[l] >> 4) | (((high[l] >> (2 * j + 1)) & 1) << 4);
                lo += i32::from(low_value) * i32::from(x[l]);
                hi += i32::from(high_value) * i32::from(x[32 + l]);
            }
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
    use super::{Format, Q5K, Q8KBlock, minimums, unpack_scales};

    impl Tile for Q5K {
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
            const BYTES: usize = Q5K::BLOCK_BYTES;
            let low = _mm256_set1_epi8(0x0F);
            let one = _mm256_set1_epi8(1);
            let mut acc = [[_mm256_setzero_ps(); R]; A];
            let mut offsets = [[0f32; R]; A];
            let blocks = acts.iter().map(|a| a.len()).min().unwrap_or(0);
            for b in 0..blocks {
                for r in 0..R {
                    let block = &rows[r][b * BYTES..(b + 1) * BYTES];
                    let d = half::f16::from_le_bytes([block[0], block[1]]).to_f32();
                    let dmin = half::f16::from_le_bytes([block[2], block[3]]).to_f32();
                    let unpacked = unpack_scales(&block[4..16]);
                    // SAFETY: bytes 16..48 of the block are 32 bytes.
                    let high = unsafe { _mm256_loadu_si256(block[16..].as_ptr().cast()) };
                    let qs = &block[48..];
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
                            let shift = _mm_cvtsi32_si128(2 * j as i32);
                            let bits = _mm256_srl_epi16(high, shift);
                            let lo_bit = _mm256_slli_epi16(_mm256_and_si256(bits, one), 4);
                            let hi_bit = _mm256_slli_epi16(
                                _mm256_and_si256(_mm256_srli_epi16(bits, 1), one),
                                4,
                            );
                            let lo = _mm256_or_si256(_mm256_and_si256(q, low), lo_bit);
                            let hi = _mm256_or_si256(
                                _mm256_and_si256(_mm256_srli_epi16(q, 4), low),
                                hi_bit,
                            );
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
                        offsets[a][r] -= dmin * x.d * minimums(&unpacked, x) as f32;
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
