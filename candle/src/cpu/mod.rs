//! The CPU kernels of the local backend, where candle's are generic code or expand the weights:
//! matrix products read in place from the file's blocks ([`matmul`], over one module per
//! weight format: [`q4_1`], [`q8_0`], [`q4_k`], [`q5_k`], [`q6_k`], with the 8-bit activation
//! blocks of [`q8`]), attention read in place from the key-value cache ([`attention`]), that
//! cache's layout ([`cache`]), and the model file mapped into memory that the weights are read
//! from ([`mapped`]). All the crate's `unsafe` code is here (SIMD intrinsics that load through
//! pointers, the map), each block with the reason it is sound.

pub(crate) mod attention;
pub(crate) mod cache;
pub(crate) mod mapped;
pub(crate) mod matmul;
pub(crate) mod q4_1;
pub(crate) mod q4_k;
pub(crate) mod q5_k;
pub(crate) mod q6_k;
pub(crate) mod q8;
pub(crate) mod q8_0;
