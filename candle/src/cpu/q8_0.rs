//! The Q8_0 format: blocks of 32 eight-bit values with an `f16` scale (34 bytes), multiplied
//! with 8-bit activation blocks of 32 ([`Q8Block`]).

use half::f16;

use super::matmul::Format;
use super::q8::Q8Block;

/// The Q8_0 format.
pub(crate) struct Q8_0;

impl Format for Q8_0 {
    const BLOCK_BYTES: usize = 34;
    type Act = Q8Block;
    const GROUP: usize = 32;
    const OFFSETS: bool = false;

    fn unpack(block: &[u8], q: &mut [i8], scales: &mut [f32], offsets: &mut [f32]) {
        scales[0] = f16::from_le_bytes([block[0], block[1]]).to_f32();
        offsets[0] = 0.0;
        for (q, &byte) in q.iter_mut().zip(&block[2..34]) {
            *q = byte as i8;
        }
    }
}

/// The AVX2 tile kernel; unsafe code as in [`super::q4_1`].
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod avx2 {
    use std::arch::x86_64::*;

    use super::super::matmul::avx2::{Tile, lane_sums, tile_loop};
    use super::super::matmul::prefetch_ahead;
    use super::{Format, Q8_0, Q8Block};

    impl Tile for Q8_0 {
        unsafe fn tiled(rows: &[u8], row_bytes: usize, acts: &[Q8Block], out: &mut [f32]) {
            // SAFETY: the caller's contract.
            unsafe { tile_loop::<Self, 1, 4>(rows, row_bytes, acts, out) }
        }

        // One block index addresses all `R` rows and `A` activation rows alike.
        #[allow(clippy::needless_range_loop)]
        #[target_feature(enable = "avx2,fma,f16c")]
        unsafe fn dot<const R: usize, const A: usize>(
            rows: [&[u8]; R],
            acts: [&[Q8Block]; A],
        ) -> [[f32; R]; A] {
            const BYTES: usize = Q8_0::BLOCK_BYTES;
            let ones = _mm256_set1_epi16(1);
            let mut acc = [[_mm256_setzero_ps(); R]; A];
            let blocks = acts.iter().map(|a| a.len()).min().unwrap_or(0);
            for b in 0..blocks {
                let mut magnitude = [_mm256_setzero_si256(); R];
                let mut signs = [_mm256_setzero_si256(); R];
                let mut d = [0f32; R];
                for r in 0..R {
                    prefetch_ahead(rows[r], b * BYTES, BYTES);
                    let block = &rows[r][b * BYTES..(b + 1) * BYTES];
                    d[r] = half::f16::from_le_bytes([block[0], block[1]]).to_f32();
                    // SAFETY: bytes 2..34 of the block are 32 bytes.
                    let w = unsafe { _mm256_loadu_si256(block[2..].as_ptr().cast()) };
                    // maddubs multiplies unsigned by signed: |w| times x with w's sign.
                    magnitude[r] = _mm256_sign_epi8(w, w);
                    signs[r] = w;
                }
                for a in 0..A {
                    let block = &acts[a][b];
                    // SAFETY: `qs` is 32 bytes.
                    let x = unsafe { _mm256_loadu_si256(block.qs.as_ptr().cast()) };
                    for r in 0..R {
                        let signed = _mm256_sign_epi8(x, signs[r]);
                        let sums =
                            _mm256_madd_epi16(_mm256_maddubs_epi16(magnitude[r], signed), ones);
                        let scale = _mm256_set1_ps(d[r] * block.d);
                        acc[a][r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sums), scale, acc[a][r]);
                    }
                }
            }
            lane_sums(acc)
        }
    }
}
