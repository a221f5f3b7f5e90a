//! Values quantised to 8 bits with one scale per block: blocks of 32 (llama.cpp's `q8_0`), the
//! form the Q4_1 and Q8_0 kernels take activations in, the 8-bit key-value cache stores
//! (`cache`) and attention quantises queries to for integer scoring (`attention`); and blocks
//! of 256 with sums of each 16 (`q8_K`), the form the K-format kernels take activations in.

use super::matmul::Activation;

/// Values per block of 32.
pub(crate) const BLOCK: usize = 32;

/// The largest magnitude among `values`, in sixteen lanes the compiler vectorises: one running
/// maximum (a fold) is a chain of dependent scalar steps, and quantising a prompt's
/// activations spent a tenth of its time there. Quantised values round half to even, as
/// llama.cpp's SIMD code does.
fn largest_magnitude(values: &[f32]) -> f32 {
    let mut lanes = [0f32; 16];
    let (chunks, rest) = values.as_chunks::<16>();
    for chunk in chunks {
        for (lane, v) in lanes.iter_mut().zip(chunk) {
            *lane = lane.max(v.abs());
        }
    }
    rest.iter().chain(&lanes).fold(0f32, |m, v| m.max(v.abs()))
}

/// 32 values quantised to `i8` with one scale (`value ≈ qs[i] × d`), and the scaled sum of the
/// quantised values (`s = d × Σ qs`), which offsets and minimums multiply.
#[derive(Clone, Copy)]
#[repr(C, align(8))]
pub(crate) struct Q8Block {
    /// The quantised values.
    pub(crate) qs: [i8; BLOCK],
    /// The scale.
    pub(crate) d: f32,
    /// `d × Σ qs`.
    pub(crate) s: f32,
}

impl Q8Block {
    /// A block of zeros.
    pub(crate) const ZERO: Q8Block = Q8Block { qs: [0; BLOCK], d: 0.0, s: 0.0 };

    /// Quantises `values` (32 of them, or fewer and the rest zero): the largest magnitude
    /// becomes ±127.
    pub(crate) fn quantise(values: &[f32]) -> Q8Block {
        let d = largest_magnitude(values) / 127.0;
        let inverse = if d == 0.0 { 0.0 } else { 1.0 / d };
        let mut block = Q8Block { d, ..Q8Block::ZERO };
        let mut sum = 0i32;
        for (q, v) in block.qs.iter_mut().zip(values) {
            *q = (v * inverse).round_ties_even() as i8;
            sum += i32::from(*q);
        }
        block.s = d * sum as f32;
        block
    }
}

/// Values per block of the K formats (`q4_K`, `q5_K`, `q6_K`) and of their activations.
pub(crate) const K_BLOCK: usize = 256;

/// 256 values quantised to `i8` with one scale (`value ≈ qs[i] × d`), and the sums of each
/// 16 quantised values, llama.cpp's `q8_K`: the form the K-format kernels take activations in
/// (their minimums and offsets multiply the sums).
#[derive(Clone, Copy)]
#[repr(C, align(32))]
pub(crate) struct Q8KBlock {
    /// The quantised values.
    pub(crate) qs: [i8; K_BLOCK],
    /// The sums of each 16 of `qs`.
    pub(crate) sums: [i16; K_BLOCK / 16],
    /// The scale.
    pub(crate) d: f32,
}

impl Q8KBlock {
    /// A block of zeros.
    pub(crate) const ZERO: Q8KBlock =
        Q8KBlock { qs: [0; K_BLOCK], sums: [0; K_BLOCK / 16], d: 0.0 };

    /// Quantises `values` (256 of them, or fewer and the rest zero): the largest magnitude
    /// becomes ±127.
    pub(crate) fn quantise(values: &[f32]) -> Q8KBlock {
        let d = largest_magnitude(values) / 127.0;
        let inverse = if d == 0.0 { 0.0 } else { 1.0 / d };
        let mut block = Q8KBlock { d, ..Q8KBlock::ZERO };
        for (q, v) in block.qs.iter_mut().zip(values) {
            *q = (v * inverse).round_ties_even() as i8;
        }
        for (sum, group) in block.sums.iter_mut().zip(block.qs.chunks_exact(16)) {
            *sum = group.iter().map(|&q| i16::from(q)).sum();
        }
        block
    }
}

impl Activation for Q8Block {
    const BLOCK: usize = BLOCK;
    const ZERO: Q8Block = Q8Block::ZERO;

    fn quantise(values: &[f32]) -> Q8Block {
        Q8Block::quantise(values)
    }

    fn values(&self) -> &[i8] {
        &self.qs
    }

    fn scale(&self) -> f32 {
        self.d
    }
}

impl Activation for Q8KBlock {
    const BLOCK: usize = K_BLOCK;
    const ZERO: Q8KBlock = Q8KBlock::ZERO;

    fn quantise(values: &[f32]) -> Q8KBlock {
        Q8KBlock::quantise(values)
    }

    fn values(&self) -> &[i8] {
        &self.qs
    }

    fn scale(&self) -> f32 {
        self.d
    }
}
