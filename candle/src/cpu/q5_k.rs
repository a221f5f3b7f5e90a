//! The Q5_K format: Q4_K's layout with a fifth bit per value (176 bytes: scale, minimum, 12
//! bytes of packed sub-block scales and minimums, 32 bytes of fifth bits, 128 bytes of nibbles),
//! multiplied with 8-bit activation blocks of 256 ([`Q8KBlock`]). Its kernels are Q4_K's
//! ([`super::q4_k`]), reading the fifth bits.

use super::matmul::Format;
use super::q8::Q8KBlock;

/// The Q5_K format.
pub(crate) struct Q5K;

impl Format for Q5K {
    const BLOCK_BYTES: usize = 176;
    type Act = Q8KBlock;

    const GROUP: usize = 32;
    const OFFSETS: bool = true;

    fn unpack(block: &[u8], q: &mut [i8], scales: &mut [f32], offsets: &mut [f32]) {
        super::q4_k::unpack_block::<true>(block, q, scales, offsets);
    }
}

/// The AVX2 tile kernel: Q4_K's, with the fifth bits.
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod avx2 {
    use super::super::matmul::avx2::{Tile, tile_loop};
    use super::super::q4_k::avx2::dot;
    use super::{Q5K, Q8KBlock};

    impl Tile for Q5K {
        unsafe fn tiled(rows: &[u8], row_bytes: usize, acts: &[Q8KBlock], out: &mut [f32]) {
            // SAFETY: the caller's contract.
            unsafe { tile_loop::<Self, 1, 4>(rows, row_bytes, acts, out) }
        }

        #[target_feature(enable = "avx2,fma,f16c")]
        unsafe fn dot<const R: usize, const A: usize>(
            rows: [&[u8]; R],
            acts: [&[Q8KBlock]; A],
        ) -> [[f32; R]; A] {
            dot::<R, A, true>(rows, acts)
        }
    }
}
