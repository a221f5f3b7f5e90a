//! The Q4_1 format: blocks of 32 four-bit values with an `f16` scale and an `f16` minimum
//! (20 bytes: scale, minimum, 16 bytes of nibbles; value `j` in the low nibble of byte `j`,
//! value `j + 16` in its high nibble), multiplied with 8-bit activation blocks of 32
//! ([`Q8Block`]). candle has no SIMD kernel for it, and it is what small models such as SmolLM2
//! ship in.

use half::f16;

use super::matmul::Format;
use super::q8::{BLOCK, Q8Block};

/// The Q4_1 format.
pub(crate) struct Q4_1;

impl Format for Q4_1 {
    const BLOCK_BYTES: usize = 20;
    type Act = Q8Block;
    const GROUP: usize = BLOCK;
    const OFFSETS: bool = true;

    fn unpack(block: &[u8], q: &mut [i8], scales: &mut [f32], offsets: &mut [f32]) {
        scales[0] = f16::from_le_bytes([block[0], block[1]]).to_f32();
        offsets[0] = f16::from_le_bytes([block[2], block[3]]).to_f32();
        let (low, high) = q.split_at_mut(BLOCK / 2);
        for ((low, high), &byte) in low.iter_mut().zip(high).zip(&block[4..20]) {
            *low = (byte & 0x0F) as i8;
            *high = (byte >> 4) as i8;
        }
    }
}

/// The AVX2 tile kernel. Unsafe code is allowed here only: the intrinsics load through
/// pointers, and the kernel is entered once the CPU is known to have the features it is
/// compiled for.
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod avx2 {
    use std::arch::x86_64::*;

    use super::super::matmul::avx2::{Tile, half_pair, lane_sums};
    use super::super::matmul::prefetch_ahead;
    use super::{Format, Q4_1, Q8Block};

    impl Tile for Q4_1 {
        // One block index addresses all `R` rows and `A` activation rows alike.
        #[allow(clippy::needless_range_loop)]
        #[target_feature(enable = "avx2,fma,f16c")]
        unsafe fn dot<const R: usize, const A: usize>(
            rows: [&[u8]; R],
            acts: [&[Q8Block]; A],
        ) -> [[f32; R]; A] {
            const BYTES: usize = Q4_1::BLOCK_BYTES;
            let low = _mm_set1_epi8(0x0F);
            let ones = _mm256_set1_epi16(1);
            let mut acc = [[_mm256_setzero_ps(); R]; A];
            let mut minimums = [[0f32; R]; A];
            let blocks = acts.iter().map(|a| a.len()).min().unwrap_or(0);
            for b in 0..blocks {
                let mut wq = [_mm256_setzero_si256(); R];
                let mut d = [0f32; R];
                let mut min = [0f32; R];
                for r in 0..R {
                    // Every row holds as many blocks as the activations (the tiler cuts both so).
                    prefetch_ahead(rows[r], b * BYTES, BYTES);
                    let block = &rows[r][b * BYTES..(b + 1) * BYTES];
                    (d[r], min[r]) = half_pair(block);
                    // SAFETY: bytes 4..20 of the block are 16 bytes.
                    let packed = unsafe { _mm_loadu_si128(block[4..].as_ptr().cast()) };
                    let lo = _mm_and_si128(packed, low);
                    let hi = _mm_and_si128(_mm_srli_epi16(packed, 4), low);
                    wq[r] = _mm256_set_m128i(hi, lo);
                }
                for a in 0..A {
                    let block = &acts[a][b];
                    // SAFETY: `qs` is 32 bytes.
                    let aq = unsafe { _mm256_loadu_si256(block.qs.as_ptr().cast()) };
                    for r in 0..R {
                        let sums = _mm256_madd_epi16(_mm256_maddubs_epi16(wq[r], aq), ones);
                        let scale = _mm256_set1_ps(d[r] * block.d);
                        acc[a][r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sums), scale, acc[a][r]);
                        minimums[a][r] += min[r] * block.s;
                    }
                }
            }
            let mut result = lane_sums(acc);
            for a in 0..A {
                for r in 0..R {
                    result[a][r] += minimums[a][r];
                }
            }
            result
        }
    }
}
