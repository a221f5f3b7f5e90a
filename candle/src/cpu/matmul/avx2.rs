//! The AVX2 tiling every format's kernel shares: tiles of weight rows by activation rows for
//! prompts, one row at a time for decode. Unsafe code is allowed here: the tile kernels are
//! entered once the CPU is known to have the features they are compiled for.

use std::arch::x86_64::*;

use super::Format;

/// A format's AVX2 kernel for a tile of weight rows by activation rows.
pub(crate) trait Tile: Format + Sized {
    /// `R` weight rows times `A` activation rows, as many blocks each: `[activation][row]`.
    ///
    /// # Safety
    /// The CPU has AVX2, FMA and F16C.
    unsafe fn dot<const R: usize, const A: usize>(
        rows: [&[u8]; R],
        acts: [&[Self::Act]; A],
    ) -> [[f32; R]; A];

    /// Every row times every activation row ([`super::dot_rows`]), in the tile shape this
    /// format runs fastest in: four weight rows by two activation rows unless it says
    /// otherwise (measured on prompts of 64 tokens).
    ///
    /// # Safety
    /// The CPU has AVX2, FMA and F16C.
    unsafe fn tiled(rows: &[u8], row_bytes: usize, acts: &[Self::Act], out: &mut [f32]) {
        // SAFETY: the caller's contract.
        unsafe { tile_loop::<Self, 4, 2>(rows, row_bytes, acts, out) }
    }
}

/// Whether the CPU has what the tile kernels are compiled for.
pub(crate) fn available() -> bool {
    is_x86_feature_detected!("avx2")
        && is_x86_feature_detected!("fma")
        && is_x86_feature_detected!("f16c")
}

/// [`super::dot_rows`] with format `T`'s tiles, if the CPU has AVX2 (else `false`).
pub(crate) fn dot_rows<T: Tile>(
    rows: &[u8],
    row_bytes: usize,
    acts: &[T::Act],
    out: &mut [f32],
) -> bool {
    let available = available();
    if available {
        // SAFETY: the CPU has the features `tiled` is compiled for.
        unsafe { T::tiled(rows, row_bytes, acts, out) };
    }
    available
}

/// Tiles of `R` weight rows by `A` activation rows (each weight block unpacked once serves
/// `A` activation rows, each activation load `R` weight rows), then the edges; one row at
/// a time for a single activation row (decode), where a tile's registers would spill and
/// the weights' stream is best read straight.
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) fn tile_loop<T: Tile, const R: usize, const A: usize>(
    rows: &[u8],
    row_bytes: usize,
    acts: &[T::Act],
    out: &mut [f32],
) {
    let blocks = row_bytes / T::BLOCK_BYTES;
    if blocks == 0 {
        return;
    }
    let m = acts.len() / blocks;
    let n = (rows.len() / row_bytes).min(out.len() / m.max(1));
    let row = |r: usize| &rows[r * row_bytes..(r + 1) * row_bytes];
    let act = |i: usize| &acts[i * blocks..(i + 1) * blocks];
    let mut r = 0;
    // SAFETY (every `T::dot` below): this function runs with AVX2, FMA and F16C.
    while m > 1 && r + R <= n {
        let w: [&[u8]; R] = std::array::from_fn(|q| row(r + q));
        let mut i = 0;
        while i + A <= m {
            let x: [&[T::Act]; A] = std::array::from_fn(|k| act(i + k));
            let tile = unsafe { T::dot(w, x) };
            for (k, values) in tile.iter().enumerate() {
                for (q, value) in values.iter().enumerate() {
                    out[(r + q) * m + i + k] = *value;
                }
            }
            i += A;
        }
        for i in i..m {
            let [values] = unsafe { T::dot(w, [act(i)]) };
            for (q, value) in values.iter().enumerate() {
                out[(r + q) * m + i] = *value;
            }
        }
        r += R;
    }
    for r in r..n {
        for i in 0..m {
            out[r * m + i] = unsafe { T::dot([row(r)], [act(i)]) }[0][0];
        }
    }
}

/// Two `f16` side by side at the start of `bytes` (a block's scale and minimum), as `f32`.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) fn half_pair(bytes: &[u8]) -> (f32, f32) {
    let pair = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    let pair = _mm_cvtph_ps(_mm_cvtsi32_si128(pair as i32));
    (_mm_cvtss_f32(pair), _mm_cvtss_f32(_mm_movehdup_ps(pair)))
}

/// The lane sums of a tile's accumulators.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) fn lane_sums<const R: usize, const A: usize>(acc: [[__m256; R]; A]) -> [[f32; R]; A] {
    let mut sums = [[0f32; R]; A];
    for (sums, acc) in sums.iter_mut().zip(acc) {
        for (sum, acc) in sums.iter_mut().zip(acc) {
            *sum = horizontal_sum(acc);
        }
    }
    sums
}

/// The sum of the eight lanes.
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) fn horizontal_sum(v: __m256) -> f32 {
    let pair = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    let pair = _mm_add_ps(pair, _mm_movehl_ps(pair, pair));
    _mm_cvtss_f32(_mm_add_ss(pair, _mm_movehdup_ps(pair)))
}
