//! Matrix products with quantised weights on the CPU, read in place from the file's block
//! layout: no expanded copy, no memory beyond the file's. As llama.cpp does, activations are
//! quantised to 8 bits per block (as many values as a weight block holds), and each weight
//! block's product is an integer dot product scaled once. Weight rows are split over the
//! threads of the calling rayon pool.
//!
//! Each weight format ([`Format`]) says how its blocks are laid out ([`Format::unpack`], the
//! portable reading) and multiplied with AVX2 (its module's tiles: decode, and prompts on CPUs
//! without AVX-512 VNNI); prompts on CPUs with AVX-512 VNNI take one product for every format
//! (`vnni`). [`QuantMatrix`] drives them as a candle op, picking by the CPU it runs on.

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

/// Tokens from which a product goes to the AVX-512 VNNI prompt kernel where the CPU has it
/// (fewer take the AVX2 tiles).
#[cfg(target_arch = "x86_64")]
const PROMPT_TOKENS: usize = 4;

/// A weight format: its blocks, the 8-bit activation blocks they are multiplied with, and the
/// products.
pub(crate) trait Format: Sync + 'static {
    /// Bytes per weight block.
    const BLOCK_BYTES: usize;
    /// The activation block a weight block is multiplied with (as many values).
    type Act: Activation;

    /// Weights per group that share a scale and an offset in [`Format::unpack`].
    const GROUP: usize;
    /// Whether [`Format::unpack`] gives groups offsets (else they are all zero).
    const OFFSETS: bool;

    /// One weight block as small integers, the form every kernel multiplies: weight `i` is
    /// `scales[i / GROUP] × q[i] + offsets[i / GROUP]`, for the block's `Act::BLOCK` weights
    /// (`offsets` all zero unless `OFFSETS`). The format's one portable reading of its blocks.
    fn unpack(block: &[u8], q: &mut [i8], scales: &mut [f32], offsets: &mut [f32]);

    /// One weight block (`BLOCK_BYTES` bytes) times one activation block, in portable code:
    /// per group, the integer product scaled, and the activations' sum times the offset.
    fn dot_block(block: &[u8], act: &Self::Act) -> f32 {
        let values = Self::Act::BLOCK;
        let groups = values / Self::GROUP;
        let mut q = [0i8; MAX_BLOCK];
        let mut scales = [0f32; MAX_BLOCK / MIN_GROUP];
        let mut offsets = [0f32; MAX_BLOCK / MIN_GROUP];
        Self::unpack(block, &mut q[..values], &mut scales[..groups], &mut offsets[..groups]);
        let x = act.values();
        let mut sum = 0f32;
        for (g, (q, x)) in
            q[..values].chunks_exact(Self::GROUP).zip(x.chunks_exact(Self::GROUP)).enumerate()
        {
            let dot: i32 = q.iter().zip(x).map(|(&q, &x)| i32::from(q) * i32::from(x)).sum();
            sum += scales[g] * dot as f32;
            if Self::OFFSETS {
                let total: i32 = x.iter().map(|&x| i32::from(x)).sum();
                sum += offsets[g] * total as f32;
            }
        }
        act.scale() * sum
    }
}

/// The most values a block of any format holds (the K formats' 256).
pub(crate) const MAX_BLOCK: usize = 256;
/// The fewest values a group of any format holds (Q6_K's 16).
pub(crate) const MIN_GROUP: usize = 16;

/// A block of activations quantised to 8 bits, as the formats' kernels take them.
pub(crate) trait Activation: Copy + Send + Sync {
    /// Values per block.
    const BLOCK: usize;
    /// A block of zeros.
    const ZERO: Self;

    /// Quantises `values` (a block of them, or fewer and the rest zero).
    fn quantise(values: &[f32]) -> Self;

    /// The quantised values (`BLOCK` of them).
    fn values(&self) -> &[i8];

    /// The scale: value `i` is `values()[i] × scale()`.
    fn scale(&self) -> f32;
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
        #[cfg(target_arch = "x86_64")]
        if m >= PROMPT_TOKENS && vnni::available() {
            return Ok(vnni::products::<F>(&self.weights, self.rows, self.columns, input));
        }
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
        Ok(transpose(transposed, self.rows, m))
    }
}

/// `rows × m` values as `m × rows`, sixteen columns at a time: each row's sixteen values are
/// one cache line read, and the sixteen output rows they go to stay in the cache. (One output
/// row at a time reads a line per value: a fifth of a 512-token prompt's time went there.)
fn transpose(values: Vec<f32>, rows: usize, m: usize) -> Vec<f32> {
    const COLUMNS: usize = 16;
    if m == 1 {
        return values;
    }
    let mut output = vec![0f32; m * rows];
    output.par_chunks_mut(COLUMNS * rows).enumerate().for_each(|(strip, out)| {
        let first = strip * COLUMNS;
        let count = out.len() / rows;
        for (r, row) in values.chunks_exact(m).enumerate() {
            for (i, &value) in row[first..first + count].iter().enumerate() {
                out[i * rows + r] = value;
            }
        }
    });
    output
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

/// Bytes ahead of the block at hand that the kernels ask the memory for. Decode reads every
/// weight once, in order, and the hardware's prefetcher stops at each 4 KiB page: without
/// asking ahead, one core waited on memory and read 5–7 GB/s of Q4_K where it can read 11–13.
/// (Asking for a whole row as each row starts did worse than a steady stream block by block.)
#[cfg(target_arch = "x86_64")]
const PREFETCH_AHEAD: usize = 2048;

/// Asks for the cache lines of the `len` bytes from `at` in `bytes` moved `PREFETCH_AHEAD`
/// on (past the end of `bytes` too: a prefetch is a hint, which never faults). Each kernel
/// calls it for the block it starts.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(crate) fn prefetch_ahead(bytes: &[u8], at: usize, len: usize) {
    use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
    let start = bytes.as_ptr().wrapping_add(at + PREFETCH_AHEAD);
    for line in (0..len).step_by(64) {
        // SAFETY: a prefetch reads nothing the program sees and never faults, whatever the
        // address.
        #[allow(unsafe_code)]
        unsafe {
            _mm_prefetch::<_MM_HINT_T0>(start.wrapping_add(line).cast())
        };
    }
}

/// The AVX2 tiling every format's kernel shares.
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
pub(crate) mod avx2;
/// Prompts with AVX-512 VNNI, every format alike.
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod vnni;

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
    /// input row (decode), a few, and prompts of one and several runs of 16 tokens, with a row
    /// count that is not a multiple of the task or tile size. The only error allowed is the activations' rounding: at most half
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
            for m in [1, 3, 5, 21, 40] {
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

    /// Each format's blocks read as llama.cpp reads them: `scale × q + offset` is candle's
    /// dequantised weight.
    #[test]
    fn every_format_unpacks_to_the_dequantised_weights() {
        fn check<F: Format>(dtype: GgmlDType) {
            let (rows, columns) = (3, 512);
            let weights = QTensor::quantize(
                &Tensor::from_vec(values(rows * columns, 5), (rows, columns), &Device::Cpu)
                    .unwrap(),
                dtype,
            )
            .unwrap();
            let exact = weights.dequantize(&Device::Cpu).unwrap().flatten_all().unwrap();
            let exact = exact.to_vec1::<f32>().unwrap();
            let data = weights.data().unwrap();
            let values = F::Act::BLOCK;
            let groups = values / F::GROUP;
            for (block, exact) in data.chunks_exact(F::BLOCK_BYTES).zip(exact.chunks(values)) {
                let mut q = vec![0i8; values];
                let (mut scales, mut offsets) = (vec![0f32; groups], vec![f32::NAN; groups]);
                F::unpack(block, &mut q, &mut scales, &mut offsets);
                for (i, (&q, &exact)) in q.iter().zip(exact).enumerate() {
                    let g = i / F::GROUP;
                    let offset = if F::OFFSETS { offsets[g] } else { 0.0 };
                    let weight = scales[g] * f32::from(q) + offset;
                    assert!(
                        (weight - exact).abs() <= 1e-6 * exact.abs().max(1e-3),
                        "{dtype:?} weight {i}: {weight} vs {exact}"
                    );
                    assert!(
                        F::OFFSETS || offsets[g] == 0.0,
                        "{dtype:?}: an offset it says it has not"
                    );
                }
            }
        }
        check::<Q4_1>(GgmlDType::Q4_1);
        check::<Q8_0>(GgmlDType::Q8_0);
        check::<Q4K>(GgmlDType::Q4K);
        check::<Q5K>(GgmlDType::Q5K);
        check::<Q6K>(GgmlDType::Q6K);
    }

    /// Every kernel this CPU can run (AVX2 tiles, the AVX-512 VNNI prompt product) against
    /// the portable one, each called directly whichever the dispatch would
    /// pick; on CPUs without them, the portable code alone.
    fn agree<F: Kernels>(dtype: GgmlDType) {
        let (rows, columns, m) = (9, 512, 19);
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
        let mut portable = vec![0f32; rows * m];
        dot_rows_portable::<F>(&data, row_bytes, &acts, &mut portable);
        let check = |kernel: &str, got: &[f32]| {
            for (s, p) in got.iter().zip(&portable) {
                assert!((s - p).abs() <= 1e-3 * p.abs().max(1.0), "{dtype:?} {kernel}: {s} vs {p}");
            }
        };
        #[cfg(target_arch = "x86_64")]
        {
            let mut simd = vec![0f32; rows * m];
            if avx2::dot_rows::<F>(&data, row_bytes, &acts, &mut simd) {
                check("AVX2", &simd);
            }
            if vnni::available() {
                let products = vnni::products::<F>(&data, rows, columns, &input);
                let turned: Vec<f32> =
                    (0..rows * m).map(|i| products[(i % m) * rows + i / m]).collect();
                check("AVX-512 VNNI prompt", &turned);
            }
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
