//! The Q4_K format: blocks of 256 four-bit values in 8 sub-blocks of 32, each with a 6-bit
//! scale and a 6-bit minimum under the block's `f16` scale and minimum (144 bytes: scale,
//! minimum, 12 bytes of packed sub-block scales and minimums, 128 bytes of nibbles; bytes
//! `32j..32j + 32` hold sub-block `2j` in their low nibbles and `2j + 1` in their high ones),
//! multiplied with 8-bit activation blocks of 256 ([`Q8KBlock`]). The most downloaded form of
//! Llama models (Q4_K_M files are mostly Q4_K).

use half::f16;

use super::matmul::Format;
use super::q8::Q8KBlock;

/// The Q4_K format.
pub(crate) struct Q4K;

/// The 8 scales then the 8 minimums of a Q4_K or Q5_K block's sub-blocks, six bits each,
/// unpacked from its 12 bytes: scales 0–3 and minimums 0–3 in the low six bits of bytes 0–3
/// and 4–7; scales and minimums 4–7 in the nibbles of bytes 8–11, their top two bits in the top
/// bits of bytes 0–3 and 4–7. Done on whole words, as llama.cpp does.
fn unpack_scales(packed: &[u8]) -> [u8; 16] {
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

impl Format for Q4K {
    const BLOCK_BYTES: usize = 144;
    type Act = Q8KBlock;
    const GROUP: usize = 32;
    const OFFSETS: bool = true;

    fn unpack(block: &[u8], q: &mut [i8], scales: &mut [f32], offsets: &mut [f32]) {
        unpack_block::<false>(block, q, scales, offsets);
    }
}

/// Where a block's values start: after the scales, and for Q5_K after its 32 bytes of fifth
/// bits.
const fn values_at(five: bool) -> usize {
    if five { 48 } else { 16 }
}

/// [`Format::unpack`] for a Q4_K block, or with `FIVE` a Q5_K block: the same with a fifth
/// bit per value from bytes 16..48, bit `2j` of byte `l` for value `l` of sub-block `2j`, bit
/// `2j + 1` for sub-block `2j + 1`. Sub-block `j`'s weights are `d × scale[j] × q −
/// dmin × minimum[j]`.
pub(crate) fn unpack_block<const FIVE: bool>(
    block: &[u8],
    q: &mut [i8],
    scales: &mut [f32],
    offsets: &mut [f32],
) {
    let d = f16::from_le_bytes([block[0], block[1]]).to_f32();
    let dmin = f16::from_le_bytes([block[2], block[3]]).to_f32();
    let unpacked = unpack_scales(&block[4..16]);
    for (j, (scale, offset)) in scales.iter_mut().zip(offsets.iter_mut()).take(8).enumerate() {
        *scale = d * f32::from(unpacked[j]);
        *offset = -dmin * f32::from(unpacked[8 + j]);
    }
    let at = values_at(FIVE);
    let (nibbles, _) = block[at..at + 128].as_chunks::<32>();
    let (Ok(fifth), (pairs, _)) = (<&[u8; 32]>::try_from(&block[16..48]), q.as_chunks_mut::<64>())
    else {
        unreachable!("a Q4_K or Q5_K block holds 48 bytes before its nibbles")
    };
    // Arrays, so that the compiler checks no index and vectorises the loop.
    for (j, (bytes, pair)) in nibbles.iter().zip(pairs).enumerate() {
        let (low, high) = pair.split_at_mut(32);
        for (l, &byte) in bytes.iter().enumerate() {
            let (mut lo, mut hi) = (byte & 0x0F, byte >> 4);
            if FIVE {
                lo |= ((fifth[l] >> (2 * j)) & 1) << 4;
                hi |= ((fifth[l] >> (2 * j + 1)) & 1) << 4;
            }
            low[l] = lo as i8;
            high[l] = hi as i8;
        }
    }
}

/// The AVX2 tile kernel, Q5_K's too; unsafe code as in [`super::q4_1`].
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
pub(crate) mod avx2 {
    use std::arch::x86_64::*;

    use super::super::matmul::avx2::{Tile, half_pair, horizontal_sum, lane_sums, tile_loop};
    use super::super::matmul::prefetch_ahead;
    use super::{Format, Q4K, Q8KBlock, values_at};

    impl Tile for Q4K {
        unsafe fn tiled(rows: &[u8], row_bytes: usize, acts: &[Q8KBlock], out: &mut [f32]) {
            // SAFETY: the caller's contract.
            unsafe { tile_loop::<Self, 1, 4>(rows, row_bytes, acts, out) }
        }

        #[target_feature(enable = "avx2,fma,f16c")]
        unsafe fn dot<const R: usize, const A: usize>(
            rows: [&[u8]; R],
            acts: [&[Q8KBlock]; A],
        ) -> [[f32; R]; A] {
            dot::<R, A, false>(rows, acts)
        }
    }

    /// [`super::unpack_scales`] in one vector, from the block's bytes 4..20 (the 12 packed
    /// bytes, then four of the next): the 8 scales in bytes 0–7, the 8 minimums in 8–15.
    /// (Done on scalar words, the compiler turned the three words into a copy through the stack
    /// and a call in Q5_K's kernels: they ran at half Q4_K's speed.)
    #[inline]
    #[target_feature(enable = "avx2")]
    pub(crate) fn scales_and_minimums(packed: __m128i) -> __m128i {
        // Words w0 (scales 0–3 and the top bits of 4–7), w1 (the same for minimums), w2 (the
        // low bits of scales and minimums 4–7, in its low and high nibbles).
        let low = _mm_shuffle_epi32::<0b10_01_10_00>(packed); // [w0, w2, w1, w2]
        let high = _mm_shuffle_epi32::<0b01_01_00_00>(packed); // [w0, w0, w1, w1]
        let six = _mm_set_epi32(0, 0x3f3f_3f3f, 0, 0x3f3f_3f3f);
        let nibbles = _mm_set_epi32(0x0f0f_0f0f, 0, 0x0f0f_0f0f, 0);
        let tops = _mm_set_epi32(0x3030_3030, 0, 0x3030_3030, 0);
        let firsts = _mm_and_si128(low, six);
        let seconds = _mm_and_si128(_mm_srlv_epi32(low, _mm_set_epi32(4, 0, 0, 0)), nibbles);
        let top_bits = _mm_and_si128(_mm_srli_epi32(high, 2), tops);
        _mm_or_si128(_mm_or_si128(firsts, seconds), top_bits)
    }

    /// [`Tile::dot`] for Q4_K blocks, or with `FIVE` Q5_K blocks (see
    /// [`super::unpack_block`]).
    // One block index addresses all `R` rows and `A` activation rows alike.
    #[allow(clippy::needless_range_loop)]
    #[inline]
    #[target_feature(enable = "avx2,fma,f16c")]
    pub(crate) fn dot<const R: usize, const A: usize, const FIVE: bool>(
        rows: [&[u8]; R],
        acts: [&[Q8KBlock]; A],
    ) -> [[f32; R]; A] {
        let bytes = if FIVE { 176 } else { Q4K::BLOCK_BYTES };
        let at = values_at(FIVE);
        let low = _mm256_set1_epi8(0x0F);
        let one = _mm256_set1_epi8(1);
        let mut acc = [[_mm256_setzero_ps(); R]; A];
        let mut offsets = [[_mm_setzero_ps(); R]; A];
        let blocks = acts.iter().map(|a| a.len()).min().unwrap_or(0);
        for b in 0..blocks {
            // Each activation block's sums of 32 (pairs of its sums of 16).
            let mut sums = [_mm_setzero_si128(); A];
            for a in 0..A {
                // SAFETY: `sums` is 16 `i16`s, 32 bytes.
                let all = unsafe { _mm256_loadu_si256(acts[a][b].sums.as_ptr().cast()) };
                sums[a] =
                    _mm_hadd_epi16(_mm256_castsi256_si128(all), _mm256_extracti128_si256(all, 1));
            }
            for r in 0..R {
                prefetch_ahead(rows[r], b * bytes, bytes);
                let block = &rows[r][b * bytes..(b + 1) * bytes];
                let (d, dmin) = half_pair(block);
                // SAFETY: bytes 4..20 lie in the block.
                let packed = unsafe { _mm_loadu_si128(block[4..].as_ptr().cast()) };
                let wide = _mm256_cvtepu8_epi16(scales_and_minimums(packed));
                let scales = _mm256_castsi256_si128(wide);
                let scales = _mm256_set_m128i(scales, scales);
                let minimums = _mm256_extracti128_si256(wide, 1);
                // SAFETY: a Q5_K block has 32 bytes of fifth bits at 16..48.
                let fifth = if FIVE {
                    unsafe { _mm256_loadu_si256(block[16..].as_ptr().cast()) }
                } else {
                    _mm256_setzero_si256()
                };
                let qs = &block[at..at + 128];
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
                        let mut lo = _mm256_and_si256(q, low);
                        let mut hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), low);
                        if FIVE {
                            let bits = _mm256_srl_epi16(fifth, _mm_cvtsi32_si128(2 * j as i32));
                            let lo_bit = _mm256_slli_epi16(_mm256_and_si256(bits, one), 4);
                            let hi_bit = _mm256_slli_epi16(
                                _mm256_and_si256(_mm256_srli_epi16(bits, 1), one),
                                4,
                            );
                            lo = _mm256_or_si256(lo, lo_bit);
                            hi = _mm256_or_si256(hi, hi_bit);
                        }
                        let lo = _mm256_maddubs_epi16(lo, xl);
                        let hi = _mm256_maddubs_epi16(hi, xh);
                        let pick =
                            |s: usize| _mm256_set1_epi16((((2 * s + 1) << 8) | (2 * s)) as i16);
                        let lo = _mm256_madd_epi16(lo, _mm256_shuffle_epi8(scales, pick(2 * j)));
                        let hi =
                            _mm256_madd_epi16(hi, _mm256_shuffle_epi8(scales, pick(2 * j + 1)));
                        sum = _mm256_add_epi32(sum, _mm256_add_epi32(lo, hi));
                    }
                    let scale = _mm256_set1_ps(d * x.d);
                    acc[a][r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum), scale, acc[a][r]);
                    let products = _mm_cvtepi32_ps(_mm_madd_epi16(minimums, sums[a]));
                    offsets[a][r] = _mm_fmadd_ps(products, _mm_set1_ps(-dmin * x.d), offsets[a][r]);
                }
            }
        }
        let mut result = lane_sums(acc);
        for a in 0..A {
            for r in 0..R {
                result[a][r] += horizontal_sum(_mm256_zextps128_ps256(offsets[a][r]));
            }
        }
        result
    }
}
