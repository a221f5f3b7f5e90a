//! The CPU kernels of the local backend, where candle's are generic code: Q4_1 matrix products
//! over 8-bit activations ([`q4_1`], with the 8-bit blocks of [`q8`]), attention read in place
//! from the key-value cache ([`attention`]), and that cache's layout ([`cache`]). All the
//! crate's `unsafe` code is here (SIMD intrinsics that load through pointers), each block with
//! the reason it is sound.

pub(crate) mod attention;
pub(crate) mod cache;
pub(crate) mod q4_1;
pub(crate) mod q8;
