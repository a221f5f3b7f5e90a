//! Matrix products with quantised weights on the CPU, read in place from the file's block
//! layout: no expanded copy, no memory beyond the file's. As llama.cpp does, activations are
//! quantised to 8 bits per block (as many values as a weight block holds), and each weight
//! block's product is an integer dot product scaled once. Weight rows are split over the
//! threads of the calling rayon pool.
//!
//! Each weight format ([`Format`]) says how its blocks are laid out and multiplied, portably
//! and with AVX2 where the CPU has it; [`QuantMatrix`] drives any of them as a candle op.

use candle_core::quantized::GgmlDType;
use candle_core::{CpuStorage, CustomOp1, Layout, Result, Shape};
use rayon::prelude::*;

use super::mapped::Region;
use super::q4_1::Q4_1;
use super::q4_k::Q4K;
use super::q5_k::Q5K;
use super::q6_k::Q6K;
use super::q8_0::Q8_0;

/// Weight rows one task of the pool computes.
const ROWS_PER_TASK: usize = 32;

/// A weight format: its blocks, the 8-bit activation blocks they are multiplied with, and the
/// products.
pub(crate) trait Format: Sync + 'static {
    /// Bytes per weight block.
    const BLOCK_BYTES: usize;
    /// The activation block a weight block is multiplied with (as many values).
    type Act: Activation;

    /// One weight block (`BLOCK_BYTES` bytes) times one activation block, in portable code.
    fn dot_block(block: &[u8], act: &Self::Act) -> f32;
}

/// A block of activations quantised to 8 bits, as the formats' kernels take them.
pub(crate) trait Activation: Copy + Send + Sync {
    /// Values per block.
    const BLOCK: usize;
    /// A block of zeros.
    const ZERO: Self;

    /// Quantises `values` (a block of them, or fewer and the rest zero).
    fn quantise(values: &[f32]) -> Self;
}

/// A format with every kernel this target has: on x86_64, its AVX2 tiles too.
#[cfg(target_arch = "x86_64")]
pub(crate) trait Kernels: avx2::Tile {}
#[cfg(target_arch = "x86_64")]
impl<T: avx2::Tile> Kernels for T {}
/// A format with every kernel this target has: the portable ones here.
#[cfg(not(target_arch = "x86_64"))]
pub(crate) trait Kernels: Format {}
#[cfg(not(target_arch = "x86_64"))]
impl<T: Format> Kernels for T {}

/// Every row of `rows` (`row_bytes` each) times every row of `acts` (as many blocks each):
/// `out[r * m + i]` is row `r` times activation row `i`, for `m` activation rows. With SIMD
/// where the CPU has it.
pub(crate) fn dot_rows<F: Kernels>(
    rows: &[u8],
    row_bytes: usize,
    acts: &[F::Act],
    out: &mut [f32],
) {
    #[cfg(target_arch = "x86_64")]
    if avx2::dot_rows::<F>(rows, row_bytes, acts, out) {
        return;
    }
    dot_rows_portable::<F>(rows, row_bytes, acts, out);
}

/// [`dot_rows`] in portable code.
pub(crate) fn dot_rows_portable<F: Format>(
    rows: &[u8],
    row_bytes: usize,
    acts: &[F::Act],
    out: &mut [f32],
) {
    let blocks = row_bytes / F::BLOCK_BYTES;
    let m = acts.len() / blocks.max(1);
    for (row, out) in rows.chunks_exact(row_bytes).zip(out.chunks_exact_mut(m)) {
        for (value, acts) in out.iter_mut().zip(acts.chunks_exact(blocks)) {
            *value =
                row.chunks_exact(F::BLOCK_BYTES).zip(acts).map(|(b, a)| F::dot_block(b, a)).sum();
        }
    }
}

/// A matrix product in one format: the weights times an input of whole rows.
type Forward = fn(&QuantMatrix, &[f32]) -> Result<Vec<f32>>;

/// The product of the formats anymodel has kernels for.
fn forward_of(dtype: GgmlDType) -> Option<Forward> {
    Some(match dtype {
        GgmlDType::Q4_1 => QuantMatrix::forward::<Q4_1>,
        GgmlDType::Q8_0 => QuantMatrix::forward::<Q8_0>,
        GgmlDType::Q4K => QuantMatrix::forward::<Q4K>,
        GgmlDType::Q5K => QuantMatrix::forward::<Q5K>,
        GgmlDType::Q6K => QuantMatrix::forward::<Q6K>,
        _ => return None,
    })
}

/// A quantised weight matrix (`rows` × `columns`, one row per output feature) applied as a
/// candle custom op: `x (…, columns) → (…, rows)`.
pub(crate) struct QuantMatrix {
    weights: Region,
    forward: Forward,
    rows: usize,
    columns: usize,
}

impl QuantMatrix {
    /// The `rows` × `columns` matrix whose blocks of `dtype` are `weights`, if anymodel has a
    /// kernel for the format, the rows are whole blocks and `weights` holds them all.
    pub(crate) fn new(
        weights: Region,
        dtype: GgmlDType,
        rows: usize,
        columns: usize,
    ) -> Option<Self> {
        let forward = forward_of(dtype)?;
        let whole = columns.is_multiple_of(dtype.block_size());
        let bytes = rows.checked_mul(columns / dtype.block_size() * dtype.type_size())?;
        (whole && weights.len() >= bytes).then_some(QuantMatrix { weights, forward, rows, columns })
    }

    /// The bytes of its weights.
    pub(crate) fn bytes(&self) -> usize {
        self.weights.len()
    }

    fn forward<F: Kernels>(&self, input: &[f32]) -> Result<Vec<f32>> {
        let m = input.len() / self.columns;
        let blocks = self.columns / F::Act::BLOCK;
        let mut acts = vec![F::Act::ZERO; m * blocks];
        input.par_chunks(self.columns).zip(acts.par_chunks_mut(blocks)).for_each(|(row, out)| {
            for (values, act) in row.chunks_exact(F::Act::BLOCK).zip(out) {
                *act = F::Act::quantise(values);
            }
        });
        let data = &*self.weights;
        let row_bytes = blocks * F::BLOCK_BYTES;
        // Tasks own runs of weight rows; each computes them against every input row, so the
        // weights are read once. The result comes out transposed (rows × m) and is turned.
        let mut transposed = vec![0f32; self.rows * m];
        transposed.par_chunks_mut(ROWS_PER_TASK * m).enumerate().for_each(|(task, out)| {
            let first = task * ROWS_PER_TASK * row_bytes;
            let rows = &data[first..first + out.len() / m * row_bytes];
            dot_rows::<F>(rows, row_bytes, &acts, out);
        });
        if m == 1 {
            return Ok(transposed);
        }
        let mut output = vec![0f32; m * self.rows];
        output.par_chunks_mut(self.rows).enumerate().for_each(|(i, out)| {
            for (value, row) in out.iter_mut().zip(transposed.chunks_exact(m)) {
                *value = row[i];
            }
        });
        Ok(output)
    }
}

impl CustomOp1 for QuantMatrix {
    fn name(&self) -> &'static str {
        "quant-matmul"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let Some((start, end)) = layout.contiguous_offsets() else {
            candle_core::bail!("quant-matmul: the input is not contiguous");
        };
        let input = &storage.as_slice::<f32>()?[start..end];
        let dims = layout.dims();
        if dims.last() != Some(&self.columns) {
            candle_core::bail!("quant-matmul: input {dims:?} for a {}-column matrix", self.columns);
        }
        let output = (self.forward)(self, input)?;
        let mut shape = dims.to_vec();
        if let Some(last) = shape.last_mut() {
            *last = self.rows;
        }
        Ok((CpuStorage::F32(output), Shape::from(shape)))
    }
}

/// The AVX2 tiling every format's kernel shares. Unsafe code is allowed here: the tile
/// kernels are entered once the CPU is known to have the features they are compiled for.
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
pub(crate) mod avx2 {
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
    pub(crate) fn lane_sums<const R: usize, const A: usize>(
        acc: [[__m256; R]; A],
    ) -> [[f32; R]; A] {
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
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests fail loudly by design.
mod tests {
    use std::sync::Arc;

    use candle_core::quantized::QTensor;
    use candle_core::{Device, Tensor};

    use super::super::mapped::FileBytes;

    use super::*;

    fn values(count: usize, seed: u32) -> Vec<f32> {
        crate::test_numbers(count, seed as usize)
    }

    const FORMATS: [GgmlDType; 5] =
        [GgmlDType::Q4_1, GgmlDType::Q8_0, GgmlDType::Q4K, GgmlDType::Q5K, GgmlDType::Q6K];

    /// The product against the exact one with the dequantised weights, for every format, one
    /// input row (decode) and several (a prompt), with a row count that is not a multiple of
    /// the task or tile size. The only error allowed is the activations' rounding: at most half
    /// a step (`amax / 127 / 2` of their block) per value, times the weight it meets.
    #[test]
    fn every_format_matches_the_exact_product_up_to_the_activations_rounding() {
        let (rows, columns) = (70, 512);
        for dtype in FORMATS {
            let weights =
                Tensor::from_vec(values(rows * columns, 1), (rows, columns), &Device::Cpu)
                    .and_then(|w| QTensor::quantize(&w, dtype))
                    .map(Arc::new)
                    .unwrap();
            let exact = weights.dequantize(&Device::Cpu).unwrap().to_vec2::<f32>().unwrap();
            let bytes = weights.data().unwrap().to_vec();
            let len = bytes.len() as u64;
            let region = FileBytes::from(bytes).region(0, len).unwrap();
            let ours = QuantMatrix::new(region, dtype, rows, columns).unwrap();
            let block = dtype.block_size();
            for m in [1, 5] {
                let input = values(m * columns, 7 + m as u32);
                let x = Tensor::from_vec(input.clone(), (1, m, columns), &Device::Cpu).unwrap();
                let got = x.apply_op1_no_bwd(&ours).unwrap();
                assert_eq!(got.dims(), &[1, m, rows]);
                let got = got.flatten_all().unwrap().to_vec1::<f32>().unwrap();
                for (i, x) in input.chunks(columns).enumerate() {
                    let steps: Vec<f32> = x
                        .chunks(block)
                        .map(|b| b.iter().fold(0f32, |m, v| m.max(v.abs())) / 254.0)
                        .collect();
                    for (r, w) in exact.iter().enumerate() {
                        let product: f32 = w.iter().zip(x).map(|(w, x)| w * x).sum();
                        let bound: f32 =
                            w.iter().enumerate().map(|(j, w)| w.abs() * steps[j / block]).sum();
                        let value = got[i * rows + r];
                        assert!(
                            (value - product).abs() <= bound + 1e-3,
                            "{dtype:?} m={m} row {r}: {value} vs {product} (bound {bound})"
                        );
                    }
                }
            }
        }
    }

    fn agree<F: Kernels>(dtype: GgmlDType) {
        let (rows, columns, m) = (9, 512, 3);
        let weights = QTensor::quantize(
            &Tensor::from_vec(values(rows * columns, 3), (rows, columns), &Device::Cpu).unwrap(),
            dtype,
        )
        .unwrap();
        let data = weights.data().unwrap();
        let blocks = columns / F::Act::BLOCK;
        let input = values(m * columns, 9);
        let acts: Vec<F::Act> = input.chunks(F::Act::BLOCK).map(F::Act::quantise).collect();
        let row_bytes = blocks * F::BLOCK_BYTES;
        let mut simd = vec![0f32; rows * m];
        let mut portable = vec![0f32; rows * m];
        dot_rows::<F>(&data, row_bytes, &acts, &mut simd);
        dot_rows_portable::<F>(&data, row_bytes, &acts, &mut portable);
        for (s, p) in simd.iter().zip(&portable) {
            assert!((s - p).abs() <= 1e-3 * p.abs().max(1.0), "{dtype:?}: {s} vs {p}");
        }
    }

    #[test]
    fn the_portable_and_the_simd_kernels_agree() {
        agree::<Q4_1>(GgmlDType::Q4_1);
        agree::<Q8_0>(GgmlDType::Q8_0);
        agree::<Q4K>(GgmlDType::Q4K);
        agree::<Q5K>(GgmlDType::Q5K);
        agree::<Q6K>(GgmlDType::Q6K);
    }
}
