//! Decode with AVX-512: one weight row times one token at a time, the row read once, straight
//! from the file's blocks. Each format's kernel is in its module; this one drives them. Where
//! a wider kernel measured no faster than AVX2's (64-byte vectors take two of a core's three
//! vector ports), a format keeps its AVX2 kernel here. Unsafe code is allowed here: the
//! kernels are entered once the CPU is known to have the features they are compiled for.

use super::avx2;

/// A format's AVX-512 kernel for one weight row times one activation row: by default its
/// AVX2 kernel, which is what the formats whose wider kernel measured no faster keep.
pub(crate) trait Row: avx2::Tile {
    /// `row` (whole blocks) times `acts` (as many blocks).
    ///
    /// # Safety
    /// The CPU has the features [`available`] checks.
    unsafe fn dot_row(row: &[u8], acts: &[Self::Act]) -> f32 {
        // SAFETY: the caller's contract includes AVX2, FMA and F16C.
        unsafe { <Self as avx2::Tile>::dot::<1, 1>([row], [acts])[0][0] }
    }
}

/// Whether the CPU has what the row kernels are compiled for: AVX-512 (foundation, bytes and
/// words, 128- and 256-bit forms), its VNNI products, and AVX2's features.
pub(crate) fn available() -> bool {
    is_x86_feature_detected!("avx512f")
        && is_x86_feature_detected!("avx512bw")
        && is_x86_feature_detected!("avx512vl")
        && is_x86_feature_detected!("avx512vnni")
        && avx2::available()
}

/// [`super::dot_rows`] with format `T`'s row kernel, if the CPU has AVX-512 (else `false`).
pub(crate) fn dot_rows<T: Row>(
    rows: &[u8],
    row_bytes: usize,
    acts: &[T::Act],
    out: &mut [f32],
) -> bool {
    if !available() {
        return false;
    }
    let blocks = row_bytes / T::BLOCK_BYTES;
    if blocks == 0 {
        return true;
    }
    let m = acts.len() / blocks;
    for (row, out) in rows.chunks_exact(row_bytes).zip(out.chunks_exact_mut(m)) {
        for (value, acts) in out.iter_mut().zip(acts.chunks_exact(blocks)) {
            // SAFETY: the CPU has the features `dot` is compiled for.
            *value = unsafe { T::dot_row(row, acts) };
        }
    }
    true
}
