//! Matrix products with Q4_1 weights on the CPU. candle's Q4_1 kernel is generic code (it has
//! SIMD kernels for Q4_0, Q8_0 and the K-quants only), and Q4_1 is what small models such as
//! SmolLM2 ship in. As llama.cpp does, activations are quantised to 8 bits per block of 32
//! ([`Q8Block`]), and each weight block's product is an integer dot product (AVX2 where the CPU
//! has it) scaled once; weight rows are split over the threads of the calling rayon pool.
//!
//! The weights stay in the file's layout (20-byte blocks: `f16` scale, `f16` minimum, 32
//! four-bit values), read in place from candle's `QTensor`: no copy, no extra memory.

use std::sync::Arc;

use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{CpuStorage, CustomOp1, Layout, Result, Shape};
use half::f16;
use rayon::prelude::*;

use super::q8::{BLOCK, Q8Block};

/// Bytes of one Q4_1 block.
const BLOCK_BYTES: usize = 20;
/// Weight rows one task of the pool computes.
const ROWS_PER_TASK: usize = 32;

/// A Q4_1 weight matrix (`rows` × `columns`, one row per output feature) applied as a candle
/// custom op: `x (…, columns) → (…, rows)`.
pub(crate) struct Q4_1Matrix {
    weights: Arc<QTensor>,
    rows: usize,
    columns: usize,
}

impl Q4_1Matrix {
    /// The matrix of `weights`, if they are a two-dimensional Q4_1 tensor in CPU memory whose
    /// rows are whole blocks.
    pub(crate) fn new(weights: Arc<QTensor>) -> Option<Self> {
        let (rows, columns) = weights.shape().dims2().ok()?;
        let fits =
            weights.dtype() == GgmlDType::Q4_1 && weights.device().is_cpu() && columns % BLOCK == 0;
        fits.then_some(Q4_1Matrix { weights, rows, columns })
    }
}

impl CustomOp1 for Q4_1Matrix {
    fn name(&self) -> &'static str {
        "q4_1-matmul"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let Some((start, end)) = layout.contiguous_offsets() else {
            candle_core::bail!("q4_1-matmul: the input is not contiguous");
        };
        let input = &storage.as_slice::<f32>()?[start..end];
        let dims = layout.dims();
        if dims.last() != Some(&self.columns) {
            candle_core::bail!("q4_1-matmul: input {dims:?} for a {}-column matrix", self.columns);
        }
        let m = input.len() / self.columns;
        let blocks = self.columns / BLOCK;
        let mut activations = vec![Q8Block::ZERO; m * blocks];
        input
            .par_chunks(self.columns)
            .zip(activations.par_chunks_mut(blocks))
            .for_each(|(row, out)| Q8Block::quantise_row(row, out));
        let data = self.weights.data()?;
        // Tasks own runs of weight rows; each computes them against every input row, so the
        // weights are read once. The result comes out transposed (rows × m) and is turned.
        let row_bytes = blocks * BLOCK_BYTES;
        let mut transposed = vec![0f32; self.rows * m];
        transposed.par_chunks_mut(ROWS_PER_TASK * m).enumerate().for_each(|(task, out)| {
            let first = task * ROWS_PER_TASK * row_bytes;
            let rows = &data[first..first + out.len() / m * row_bytes];
            dot_rows(rows, row_bytes, &activations, out);
        });
        let output = if m == 1 {
            transposed
        } else {
            let mut output = vec![0f32; m * self.rows];
            output.par_chunks_mut(self.rows).enumerate().for_each(|(i, out)| {
                for (value, row) in out.iter_mut().zip(transposed.chunks_exact(m)) {
                    *value = row[i];
                }
            });
            output
        };
        let mut shape = dims.to_vec();
        if let Some(last) = shape.last_mut() {
            *last = self.rows;
        }
        Ok((CpuStorage::F32(output), Shape::from(shape)))
    }
}

/// Every row of `rows` (Q4_1, `row_bytes` each) times every row of `activations` (as many
/// blocks each): `out[r * m + i]` is row `r` times activation row `i`, for `m` activation rows.
fn dot_rows(rows: &[u8], row_bytes: usize, activations: &[Q8Block], out: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if avx2::dot_rows(rows, row_bytes, activations, out) {
        return;
    }
    let blocks = row_bytes / BLOCK_BYTES;
    let m = activations.len() / blocks.max(1);
    for (row, out) in rows.chunks_exact(row_bytes).zip(out.chunks_exact_mut(m)) {
        for (value, activations) in out.iter_mut().zip(activations.chunks_exact(blocks)) {
            *value = dot_row(row, activations);
        }
    }
}

/// One row's dot product, in portable code.
fn dot_row(row: &[u8], activations: &[Q8Block]) -> f32 {
    let mut sum = 0f32;
    for (block, a) in row.chunks_exact(BLOCK_BYTES).zip(activations) {
        let d = f16::from_le_bytes([block[0], block[1]]).to_f32();
        let min = f16::from_le_bytes([block[2], block[3]]).to_f32();
        let mut dot = 0i32;
        for (j, byte) in block[4..].iter().enumerate() {
            dot += i32::from(byte & 0x0F) * i32::from(a.qs[j]);
            dot += i32::from(byte >> 4) * i32::from(a.qs[j + BLOCK / 2]);
        }
        sum += d * a.d * dot as f32 + min * a.s;
    }
    sum
}

/// The AVX2 kernel. Unsafe code is allowed here only: the intrinsics load through pointers,
/// and the kernel is entered once the CPU is known to have the features it is compiled for.
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod avx2 {
    use std::arch::x86_64::*;

    use super::{BLOCK_BYTES, Q8Block};

    /// [`super::dot_rows`] with AVX2, FMA and F16C, if the CPU has them (else `false`, and
    /// `out` untouched).
    pub(super) fn dot_rows(
        rows: &[u8],
        row_bytes: usize,
        activations: &[Q8Block],
        out: &mut [f32],
    ) -> bool {
        let available = is_x86_feature_detected!("avx2")
            && is_x86_feature_detected!("fma")
            && is_x86_feature_detected!("f16c");
        if available {
            // SAFETY: the CPU has the features `rows_avx2` is compiled for.
            unsafe { rows_avx2(rows, row_bytes, activations, out) };
        }
        available
    }

    /// Tiles of four weight rows by two activation rows (each weight block unpacked once
    /// serves both, each activation load serves four rows), then the edges.
    #[target_feature(enable = "avx2,fma,f16c")]
    fn rows_avx2(rows: &[u8], row_bytes: usize, activations: &[Q8Block], out: &mut [f32]) {
        let blocks = row_bytes / BLOCK_BYTES;
        if blocks == 0 {
            return;
        }
        let m = activations.len() / blocks;
        let n = (rows.len() / row_bytes).min(out.len() / m.max(1));
        let row = |r: usize| &rows[r * row_bytes..(r + 1) * row_bytes];
        let act = |i: usize| &activations[i * blocks..(i + 1) * blocks];
        let mut r = 0;
        while r + 4 <= n {
            let w = [row(r), row(r + 1), row(r + 2), row(r + 3)];
            let mut i = 0;
            while i + 2 <= m {
                let [first, second] = dot(w, [act(i), act(i + 1)]);
                for q in 0..4 {
                    out[(r + q) * m + i] = first[q];
                    out[(r + q) * m + i + 1] = second[q];
                }
                i += 2;
            }
            if i < m {
                let [only] = dot(w, [act(i)]);
                for q in 0..4 {
                    out[(r + q) * m + i] = only[q];
                }
            }
            r += 4;
        }
        for r in r..n {
            for i in 0..m {
                out[r * m + i] = dot([row(r)], [act(i)])[0][0];
            }
        }
    }

    /// `R` weight rows times `A` activation rows: `[activation][row]`.
    // One block index addresses all `R` rows and `A` activation rows alike.
    #[allow(clippy::needless_range_loop)]
    #[target_feature(enable = "avx2,fma,f16c")]
    fn dot<const R: usize, const A: usize>(
        rows: [&[u8]; R],
        activations: [&[Q8Block]; A],
    ) -> [[f32; R]; A] {
        let low = _mm_set1_epi8(0x0F);
        let ones = _mm256_set1_epi16(1);
        let mut acc = [[_mm256_setzero_ps(); R]; A];
        let mut minimums = [[0f32; R]; A];
        let blocks = activations.iter().map(|a| a.len()).min().unwrap_or(0);
        for b in 0..blocks {
            let mut wq = [_mm256_setzero_si256(); R];
            let mut d = [0f32; R];
            let mut min = [0f32; R];
            for r in 0..R {
                // Every row holds as many blocks as the activations (`rows_avx2` cuts both so).
                let block = &rows[r][b * BLOCK_BYTES..(b + 1) * BLOCK_BYTES];
                // The scale and the minimum, two f16 side by side.
                let dm = u32::from_le_bytes([block[0], block[1], block[2], block[3]]);
                let dm = _mm_cvtph_ps(_mm_cvtsi32_si128(dm as i32));
                d[r] = _mm_cvtss_f32(dm);
                min[r] = _mm_cvtss_f32(_mm_movehdup_ps(dm));
                // 32 four-bit values: low nibbles are values 0..16, high nibbles 16..32.
                // SAFETY: bytes 4..20 of the block are 16 bytes.
                let packed = unsafe { _mm_loadu_si128(block[4..].as_ptr().cast()) };
                let lo = _mm_and_si128(packed, low);
                let hi = _mm_and_si128(_mm_srli_epi16(packed, 4), low);
                wq[r] = _mm256_set_m128i(hi, lo);
            }
            for a in 0..A {
                let block = &activations[a][b];
                // SAFETY: `qs` is 32 bytes.
                let aq = unsafe { _mm256_loadu_si256(block.qs.as_ptr().cast()) };
                for r in 0..R {
                    let sums = _mm256_madd_epi16(_mm256_maddubs_epi16(wq[r], aq), ones);
                    let scale = _mm256_set1_ps(d[r] * block.d);
                    acc[a][r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sums), scale, acc[a][r]);
                    minimums[a][r] += min[r] * block.s;
                }
            }
        }
        let mut result = [[0f32; R]; A];
        for a in 0..A {
            for r in 0..R {
                result[a][r] = horizontal_sum(acc[a][r]) + minimums[a][r];
            }
        }
        result
    }

    #[target_feature(enable = "avx2,fma,f16c")]
    fn horizontal_sum(v: __m256) -> f32 {
        let pair = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
        let pair = _mm_add_ps(pair, _mm_movehl_ps(pair, pair));
        _mm_cvtss_f32(_mm_add_ss(pair, _mm_movehdup_ps(pair)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Tensor};

    /// A deterministic pseudo-random matrix.
    fn values(count: usize, seed: u32) -> Vec<f32> {
        let mut state = seed.wrapping_mul(2_654_435_761).max(1);
        (0..count)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                (state % 2001) as f32 / 1000.0 - 1.0
            })
            .collect()
    }

    /// The product against the exact one with the dequantised weights, for one input row
    /// (decode) and several (a prompt), with a row count that is not a multiple of the task or
    /// quad size. The only error allowed is the activations' rounding: at most half a step
    /// (`amax / 127 / 2` of their block) per value, times the weight it meets.
    #[test]
    fn matches_the_exact_product_up_to_the_activations_rounding() {
        let (rows, columns) = (70, 96);
        let weights = Tensor::from_vec(values(rows * columns, 1), (rows, columns), &Device::Cpu)
            .and_then(|w| QTensor::quantize(&w, GgmlDType::Q4_1))
            .map(Arc::new)
            .unwrap();
        let exact = weights.dequantize(&Device::Cpu).unwrap().to_vec2::<f32>().unwrap();
        let ours = Q4_1Matrix::new(weights).unwrap();
        for m in [1, 5] {
            let input = values(m * columns, 7 + m as u32);
            let x = Tensor::from_vec(input.clone(), (1, m, columns), &Device::Cpu).unwrap();
            let got = x.apply_op1_no_bwd(&ours).unwrap();
            assert_eq!(got.dims(), &[1, m, rows]);
            let got = got.flatten_all().unwrap().to_vec1::<f32>().unwrap();
            for (i, x) in input.chunks(columns).enumerate() {
                let steps: Vec<f32> = x
                    .chunks(BLOCK)
                    .map(|b| b.iter().fold(0f32, |m, v| m.max(v.abs())) / 254.0)
                    .collect();
                for (r, w) in exact.iter().enumerate() {
                    let product: f32 = w.iter().zip(x).map(|(w, x)| w * x).sum();
                    let bound: f32 =
                        w.iter().enumerate().map(|(j, w)| w.abs() * steps[j / BLOCK]).sum();
                    let value = got[i * rows + r];
                    assert!((value - product).abs() <= bound + 1e-4, "{value} vs {product}");
                }
            }
        }
    }

    #[test]
    fn the_portable_and_the_simd_rows_agree() {
        let columns = 64;
        let weights = QTensor::quantize(
            &Tensor::from_vec(values(5 * columns, 3), (5, columns), &Device::Cpu).unwrap(),
            GgmlDType::Q4_1,
        )
        .unwrap();
        let data = weights.data().unwrap();
        let mut activations = vec![Q8Block::ZERO; columns / BLOCK];
        Q8Block::quantise_row(&values(columns, 9), &mut activations);
        let mut out = vec![0f32; 5];
        dot_rows(&data, columns / BLOCK * BLOCK_BYTES, &activations, &mut out);
        for (r, value) in out.iter().enumerate() {
            let row = &data[r * 40..(r + 1) * 40];
            assert!((value - dot_row(row, &activations)).abs() < 1e-4);
        }
    }
}
