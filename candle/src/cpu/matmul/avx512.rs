//! Decode with AVX-512: one weight row times one token at a time, the row read once, straight
//! from the file's blocks, 64 weights to an instruction where AVX2 takes 32 (`vpmaddubsw` for
//! the products, `vpdpwssd` to scale and add them in one step). Each format's kernel is in its
//! module; this one drives them. Unsafe code is allowed here: the kernels are entered once the
//! CPU is known to have the features they are compiled for.

use super::{Format, avx2};

/// A format's AVX-512 kernel for one weight row times one activation row.
pub(crate) trait Row: Format {
    /// `row` (whole blocks) times `acts` (as many blocks).
    ///
    /// # Safety
    /// The CPU has the features [`available`] checks.
    unsafe fn dot(row: &[u8], acts: &[Self::Act]) -> f32;
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
            *value = unsafe { T::dot(row, acts) };
        }
    }
    true
}

/// Bytes ahead of the block at hand that the row kernels ask the memory for: decode reads
/// every weight once, in order, and the hardware's prefetcher stops at each 4 KiB page, so
/// without this one core waits on memory and reads a third of what it could.
pub(crate) const PREFETCH_AHEAD: usize = 2048;

/// Asks for the cache lines of `len` bytes from `PREFETCH_AHEAD` after `at` in `bytes` (past
/// its end too: a prefetch never faults).
#[inline(always)]
pub(crate) fn prefetch(bytes: &[u8], at: usize, len: usize) {
    let start = bytes.as_ptr().wrapping_add(at + PREFETCH_AHEAD);
    for line in (0..len).step_by(64) {
        // SAFETY: a prefetch is a hint: it reads nothing the program sees and never faults.
        unsafe {
            std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                start.wrapping_add(line).cast(),
            )
        };
    }
}
