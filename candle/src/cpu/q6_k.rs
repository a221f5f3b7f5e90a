//! The Q6_K format: blocks of 256 six-bit values in 16 groups of 16, each with an `i8` scale
//! under the block's `f16` scale (210 bytes: 128 bytes of low nibbles, 64 bytes of high bit
//! pairs, 16 scales, the scale), values stored offset by 32; multiplied with 8-bit activation
//! blocks of 256 ([`Q8KBlock`]). What Q4_K_M files keep their output head and part of their
//! value and down projections in.
//!
//! In each half `h` of a block (values `128h..128h + 128`), low-nibble byte `l` (of 64) and
//! high-bit byte `l` (of 32) give four values: bits 0–3 of byte `l` and bits 0–1 of high byte
//! `l` value `l`; bits 0–3 of byte `l + 32` and bits 2–3 value `l + 32`; bits 4–7 of byte `l`
//! and bits 4–5 value `l + 64`; bits 4–7 of byte `l + 32` and bits 6–7 value `l + 96`.

use half::f16;

use super::matmul::Format;
use super::q8::Q8KBlock;

/// The Q6_K format.
pub(crate) struct Q6K;

impl Format for Q6K {
    const BLOCK_BYTES: usize = 210;
    type Act = Q8KBlock;
    const GROUP: usize = 16;
    const OFFSETS: bool = false;

    fn unpack(block: &[u8], q: &mut [i8], scales: &mut [f32], offsets: &mut [f32]) {
        let (low, high, group_scales) = (&block[..128], &block[128..192], &block[192..208]);
        let d = f16::from_le_bytes([block[208], block[209]]).to_f32();
        for (h, out) in q.chunks_exact_mut(128).take(2).enumerate() {
            // Fixed lengths, so that the compiler checks no index and vectorises each loop.
            let (Ok(low), Ok(high)) = (
                <&[u8; 64]>::try_from(&low[64 * h..64 * h + 64]),
                <&[u8; 32]>::try_from(&high[32 * h..32 * h + 32]),
            ) else {
                unreachable!("a Q6_K block's halves have 64 and 32 bytes")
            };
            let value = |low: u8, high: u8| ((low | (high << 4)) as i8) - 32;
            // Quarter `k` of the half: value `32k + l` takes its low bits from byte `l` (or
            // `l + 32`) of `low` and its high bits from bits `2k`, `2k + 1` of `high[l]`.
            for (k, out) in out.chunks_exact_mut(32).enumerate() {
                let nibbles = &low[32 * (k % 2)..32 * (k % 2) + 32];
                let shift = 4 * (k / 2);
                for ((out, &nibble), &pairs) in out.iter_mut().zip(nibbles).zip(high) {
                    *out = value((nibble >> shift) & 0x0F, (pairs >> (2 * k)) & 3);
                }
            }
        }
        for (scale, &s) in scales.iter_mut().zip(group_scales) {
            *scale = d * f32::from(s as i8);
        }
        offsets[..16].fill(0.0);
    }
}

/// The AVX2 tile kernel; unsafe code as in [`super::q4_1`].
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod avx2 {
    use std::arch::x86_64::*;

    use super::super::matmul::avx2::{Tile, lane_sums};
    use super::super::matmul::prefetch_ahead;
    use super::{Format, Q6K, Q8KBlock};

    impl Tile for Q6K {
        // One block index addresses all `R` rows and `A` activation rows alike.
        #[allow(clippy::needless_range_loop)]
        #[target_feature(enable = "avx2,fma,f16c")]
        unsafe fn dot<const R: usize, const A: usize>(
            rows: [&[u8]; R],
            acts: [&[Q8KBlock]; A],
        ) -> [[f32; R]; A] {
            const BYTES: usize = Q6K::BLOCK_BYTES;
            let nibble = _mm256_set1_epi8(0x0F);
            let pair = _mm256_set1_epi8(3);
            let mut acc = [[_mm256_setzero_ps(); R]; A];

            let blocks = acts.iter().map(|a| a.len()).min().unwrap_or(0);
            for b in 0..blocks {
                for r in 0..R {
                    prefetch_ahead(rows[r], b * BYTES, BYTES);
                    let block = &rows[r][b * BYTES..(b + 1) * BYTES];
                    let scales = &block[192..208];
                    let d = half::f16::from_le_bytes([block[208], block[209]]).to_f32();
                    // SAFETY: bytes 192..208 are the block's 16 scales.
                    let scale_bytes = unsafe { _mm_loadu_si128(scales.as_ptr().cast()) };
                    // The 16 scales as pairs of 16-bit lanes: group g in the low half of
                    // vector g / 2, group g + 1 in its high half.
                    let mut lane_scales = [_mm256_setzero_si256(); 8];
                    for (k, scale) in lane_scales.iter_mut().enumerate() {
                        let pick = _mm_set_epi64x(
                            0x0101_0101_0101_0101 * (2 * k as i64 + 1),
                            0x0101_0101_0101_0101 * (2 * k as i64),
                        );
                        *scale = _mm256_cvtepi8_epi16(_mm_shuffle_epi8(scale_bytes, pick));
                    }
                    let all_scales = _mm256_cvtepi8_epi16(scale_bytes);
                    for a in 0..A {
                        let x = &acts[a][b];
                        let mut sum = _mm256_setzero_si256();
                        for h in 0..2 {
                            // SAFETY: bytes 64h..64h + 64 and 128 + 32h..128 + 32h + 32 are in
                            // the block's 210 for h < 2.
                            let (first, second, high) = unsafe {
                                (
                                    _mm256_loadu_si256(block[64 * h..].as_ptr().cast()),
                                    _mm256_loadu_si256(block[64 * h + 32..].as_ptr().cast()),
                                    _mm256_loadu_si256(block[128 + 32 * h..].as_ptr().cast()),
                                )
                            };
                            let quarters = [
                                _mm256_or_si256(
                                    _mm256_and_si256(first, nibble),
                                    high_bits(high, 0, pair),
                                ),
                                _mm256_or_si256(
                                    _mm256_and_si256(second, nibble),
                                    high_bits(high, 2, pair),
                                ),
                                _mm256_or_si256(
                                    _mm256_and_si256(_mm256_srli_epi16(first, 4), nibble),
                                    high_bits(high, 4, pair),
                                ),
                                _mm256_or_si256(
                                    _mm256_and_si256(_mm256_srli_epi16(second, 4), nibble),
                                    high_bits(high, 6, pair),
                                ),
                            ];
                            for (k, q) in quarters.into_iter().enumerate() {
                                let at = 128 * h + 32 * k;
                                // SAFETY: `x.qs` holds 256 bytes; `at + 32 <= 256`.
                                let xs = unsafe { _mm256_loadu_si256(x.qs[at..].as_ptr().cast()) };
                                let products = _mm256_maddubs_epi16(q, xs);
                                let scaled = _mm256_madd_epi16(products, lane_scales[4 * h + k]);
                                sum = _mm256_add_epi32(sum, scaled);
                            }
                        }
                        // What the offset of 32 costs: 32 × Σ_g scale[g] × sum[g].
                        // SAFETY: `sums` is 16 `i16`s, 32 bytes.
                        let sums = unsafe { _mm256_loadu_si256(x.sums.as_ptr().cast()) };
                        let offset = _mm256_slli_epi32(_mm256_madd_epi16(all_scales, sums), 5);
                        let sum = _mm256_sub_epi32(sum, offset);
                        let scale = _mm256_set1_ps(d * x.d);
                        acc[a][r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum), scale, acc[a][r]);
                    }
                }
            }
            lane_sums(acc)
        }
    }

    /// The bit pair at `shift` of each byte of `high`, moved to bits 4–5.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn high_bits(high: __m256i, shift: i32, pair: __m256i) -> __m256i {
        let shifted = _mm256_srl_epi16(high, _mm_cvtsi32_si128(shift));
        _mm256_slli_epi16(_mm256_and_si256(shifted, pair), 4)
    }
}
