//! Blocks of 32 values quantised to 8 bits with one scale, llama.cpp's `q8_0`: the form the
//! Q4_1 kernel takes activations in (`q4_1`), the 8-bit key-value cache stores (`cpu_cache`),
//! and attention quantises queries to for integer scoring (`int8_scores`).

/// Values per block.
pub(crate) const BLOCK: usize = 32;

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
        let amax = values.iter().fold(0f32, |m, v| m.max(v.abs()));
        let d = amax / 127.0;
        let inverse = if d == 0.0 { 0.0 } else { 1.0 / d };
        let mut block = Q8Block { d, ..Q8Block::ZERO };
        let mut sum = 0i32;
        for (q, v) in block.qs.iter_mut().zip(values) {
            *q = (v * inverse).round() as i8;
            sum += i32::from(*q);
        }
        block.s = d * sum as f32;
        block
    }

    /// Quantises `values` (a multiple of 32 long) block by block into `out`.
    pub(crate) fn quantise_row(values: &[f32], out: &mut [Q8Block]) {
        for (chunk, block) in values.chunks_exact(BLOCK).zip(out) {
            *block = Q8Block::quantise(chunk);
        }
    }
}
