//! Prompts on CPUs with AVX-512 VNNI: many tokens times a weight matrix, sixteen tokens to a
//! vector. The activations are quantised once per product, as every kernel quantises them, and
//! laid out with sixteen tokens side by side (four bytes of each, `x + 128` so that they are
//! the unsigned operand of `vpdpbusd`); each run of weight rows is unpacked once into small
//! signed integers with a scale and an offset per group ([`Format::unpack`]), and then one
//! broadcast of four weights meets sixteen tokens in one instruction. Unlike the decode
//! kernels, which must read each weight once and straight from the file, a prompt's product
//! reads each weight for many tokens, so unpacking it first costs little.
//!
//! For row `r`, token `t`, and each activation block (of `Act::BLOCK` values, one scale
//! `d(t)`), with `u = x + 128` and the groups `g` of the block:
//!
//! `Σ w·x = d(t) × ( Σ_g [scale(r,g) × Σ_g u·q + offset(r,g) × Σ_g x] − 128 × Σ_g scale(r,g) × Σ_g q )`
//!
//! where the last term depends on the row alone and starts each block's sum.
//!
//! Unsafe code is allowed here: the intrinsics load and store through pointers, the kernel
//! is entered once the CPU is known to have the features it is compiled for, and every
//! pointer it reads through is checked against its slice's length before.

use std::arch::x86_64::*;
use std::cell::RefCell;

use rayon::prelude::*;

use super::{Activation, Format, ROWS_PER_TASK};

/// Tokens side by side in one vector (sixteen lanes of four bytes).
const LANES: usize = 16;
/// Weight rows one kernel call multiplies.
const ROWS: usize = 4;
/// The most token vectors one kernel call multiplies.
const VECTORS: usize = 2;
/// Activation bytes a pass over the columns keeps in the core's cache: the columns are taken
/// in chunks of about this many bytes of every token, so that each chunk, read once per run of
/// weight rows, stays in the second-level cache.
const CHUNK_BYTES: usize = 512 * 1024;

/// Whether the CPU has what the kernel is compiled for.
pub(crate) fn available() -> bool {
    is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512vnni")
}

/// The tokens of a product, quantised as format `F`'s activation blocks, sixteen to a run.
struct Tokens {
    /// Runs of sixteen tokens (the last padded with zeros).
    runs: usize,
    /// `[run][column / 4][lane][column % 4]`: each token's value plus 128.
    values: Vec<u8>,
    /// `[run][block][lane]`: each activation block's scale.
    scales: Vec<f32>,
    /// `[run][group][lane]`: the sum of each group's quantised values.
    sums: Vec<f32>,
}

impl Tokens {
    /// Quantises `input` (whole rows of `columns`) as `F`'s activations are quantised.
    fn new<F: Format>(input: &[f32], columns: usize) -> Tokens {
        let m = input.len() / columns;
        let runs = m.div_ceil(LANES);
        let block = F::Act::BLOCK;
        let (blocks, groups) = (columns / block, columns / F::GROUP);
        // Padding lanes hold zeros: values of 128 (zero plus 128), scales and sums of zero.
        let mut values = vec![0x80u8; runs * columns * LANES];
        let mut scales = vec![0f32; runs * blocks * LANES];
        let mut sums = vec![0f32; runs * groups * LANES];
        values
            .par_chunks_mut(columns * LANES)
            .zip(scales.par_chunks_mut(blocks * LANES))
            .zip(sums.par_chunks_mut(groups * LANES))
            .enumerate()
            .for_each(|(run, ((values, scales), sums))| {
                for lane in 0..LANES.min(m - run * LANES) {
                    let token = run * LANES + lane;
                    let x = &input[token * columns..(token + 1) * columns];
                    for (b, x) in x.chunks_exact(block).enumerate() {
                        let act = F::Act::quantise(x);
                        scales[b * LANES + lane] = act.scale();
                        for (i, four) in act.values().chunks_exact(4).enumerate() {
                            let at = ((b * block / 4 + i) * LANES + lane) * 4;
                            let four = [four[0] as u8, four[1] as u8, four[2] as u8, four[3] as u8];
                            let flipped = u32::from_le_bytes(four) ^ 0x8080_8080;
                            values[at..at + 4].copy_from_slice(&flipped.to_le_bytes());
                        }
                        let per_block = block / F::GROUP;
                        for (g, group) in act.values().chunks_exact(F::GROUP).enumerate() {
                            let sum: i32 = group.iter().map(|&v| i32::from(v)).sum();
                            sums[(b * per_block + g) * LANES + lane] = sum as f32;
                        }
                    }
                }
            });
        Tokens { runs, values, scales, sums }
    }
}

/// A run of weight rows unpacked ([`Format::unpack`]), padded to whole kernel calls with rows
/// of zeros.
#[derive(Default)]
struct Unpacked {
    /// `[row][column]`.
    q: Vec<i8>,
    /// `[row][group]`.
    scales: Vec<f32>,
    /// `[row][group]`.
    offsets: Vec<f32>,
    /// `[row][block]`: `−128 × Σ_g scale × Σ_g q`, what the `+ 128` of the tokens adds.
    starts: Vec<f32>,
    /// `[row][token]`: the products summed so far, for every row of the run and token.
    totals: Vec<f32>,
}

impl Unpacked {
    /// Unpacks `rows` (`row_bytes` each, whole rows) of format `F`, followed by rows of zeros
    /// up to `padded` rows. The buffers only grow: what they held is overwritten, not cleared.
    fn fill<F: Format>(&mut self, rows: &[u8], row_bytes: usize, columns: usize, padded: usize) {
        let block = F::Act::BLOCK;
        let (blocks, groups) = (columns / block, columns / F::GROUP);
        let per_block = block / F::GROUP;
        let n = rows.len() / row_bytes;
        grow(&mut self.q, padded * columns);
        grow(&mut self.scales, padded * groups);
        grow(&mut self.offsets, padded * groups);
        grow(&mut self.starts, padded * blocks);
        self.q[n * columns..padded * columns].fill(0);
        self.scales[n * groups..padded * groups].fill(0.0);
        self.offsets[n * groups..padded * groups].fill(0.0);
        self.starts[n * blocks..padded * blocks].fill(0.0);
        for (r, row) in rows.chunks_exact(row_bytes).enumerate() {
            for (b, bytes) in row.chunks_exact(F::BLOCK_BYTES).enumerate() {
                let q = &mut self.q[r * columns + b * block..][..block];
                let at = r * groups + b * per_block;
                let scales = &mut self.scales[at..at + per_block];
                F::unpack(bytes, q, scales, &mut self.offsets[at..at + per_block]);
                let mut start = 0f32;
                for (q, scale) in q.chunks_exact(F::GROUP).zip(scales.iter()) {
                    // At most 32 × 128 in magnitude: 16 bits hold it, and sum 16 at a time.
                    start += scale * f32::from(q.iter().map(|&q| i16::from(q)).sum::<i16>());
                }
                self.starts[r * blocks + b] = -128.0 * start;
            }
        }
    }
}

/// Makes `buffer` at least `len` long.
fn grow<T: Copy + Default>(buffer: &mut Vec<T>, len: usize) {
    if buffer.len() < len {
        buffer.resize(len, T::default());
    }
}

thread_local! {
    /// Each thread's unpacked rows, kept for the next product (no allocation per task).
    static UNPACKED: RefCell<Unpacked> = RefCell::default();
}

/// `rows` × `columns` weights of format `F` (`data`, whole rows) times `input` (whole rows of
/// `columns`), as `[token][row]`: what the product op returns.
///
/// # Panics
/// If the CPU lacks AVX-512F or VNNI ([`available`]), or `data` holds fewer than `rows` rows.
pub(crate) fn products<F: Format>(
    data: &[u8],
    rows: usize,
    columns: usize,
    input: &[f32],
) -> Vec<f32> {
    assert!(available(), "the AVX-512 VNNI prompt kernel needs AVX-512F and VNNI");
    let m = input.len() / columns;
    let tokens = Tokens::new::<F>(input, columns);
    let width = tokens.runs * LANES;
    let row_bytes = columns / F::Act::BLOCK * F::BLOCK_BYTES;
    let blocks = columns / F::Act::BLOCK;
    let chunk = (CHUNK_BYTES / (width * F::Act::BLOCK)).clamp(1, blocks.max(1));
    let mut output = vec![0f32; m * rows];
    let shared = Output { values: output.as_mut_ptr(), len: output.len() };
    (0..rows.div_ceil(ROWS_PER_TASK)).into_par_iter().for_each(|task| {
        let first_row = task * ROWS_PER_TASK;
        let n = ROWS_PER_TASK.min(rows - first_row);
        let first = first_row * row_bytes;
        let padded = n.div_ceil(ROWS) * ROWS;
        UNPACKED.with_borrow_mut(|unpacked| {
            unpacked.fill::<F>(&data[first..first + n * row_bytes], row_bytes, columns, padded);
            let mut totals = std::mem::take(&mut unpacked.totals);
            grow(&mut totals, padded * width);
            totals[..padded * width].fill(0.0);
            for start in (0..blocks).step_by(chunk) {
                let end = (start + chunk).min(blocks);
                for panel in 0..padded / ROWS {
                    let mut run = 0;
                    while run < tokens.runs {
                        let count = (tokens.runs - run).min(VECTORS);
                        let call = Call { unpacked, tokens: &tokens, panel, run, columns };
                        let out = &mut totals[panel * ROWS * width..(panel + 1) * ROWS * width];
                        // SAFETY: the CPU has AVX-512F and VNNI (asserted above); the call's
                        // ranges are checked against every slice it reads inside.
                        unsafe {
                            match count {
                                1 => call.run::<F, 1>(start..end, out, width),
                                _ => call.run::<F, VECTORS>(start..end, out, width),
                            }
                        }
                        run += count;
                    }
                }
            }
            for t in 0..m {
                // SAFETY: each task writes its own rows of each token, and no other task
                // touches them; `t × rows + first_row + n <= m × rows`.
                let out = unsafe { shared.rows(t * rows + first_row, n) };
                for (r, value) in out.iter_mut().enumerate() {
                    *value = totals[r * width + t];
                }
            }
            unpacked.totals = totals;
        });
    });
    output
}

/// The product's output, written by the tasks in parallel, each its own rows of every token.
struct Output {
    values: *mut f32,
    len: usize,
}

// SAFETY: the tasks write through it to disjoint elements only ([`Output::rows`]).
unsafe impl Send for Output {}
unsafe impl Sync for Output {}

impl Output {
    /// The `n` values from `at`.
    ///
    /// # Safety
    /// No other slice of these values is alive while this one is.
    // The point is a mutable slice from a shared handle.
    #[allow(clippy::mut_from_ref)]
    unsafe fn rows(&self, at: usize, n: usize) -> &mut [f32] {
        assert!(at + n <= self.len, "a task's rows lie outside the output");
        // SAFETY: in bounds (asserted), and unaliased by the caller's contract.
        unsafe { std::slice::from_raw_parts_mut(self.values.add(at), n) }
    }
}

/// One kernel call: the four rows of `panel` times the runs of tokens from `run`.
struct Call<'a> {
    unpacked: &'a Unpacked,
    tokens: &'a Tokens,
    panel: usize,
    run: usize,
    columns: usize,
}

impl Call<'_> {
    /// Adds the products over `blocks` to `out` (`[row][token]`, `ROWS` rows of `width`), for
    /// the `V` runs of tokens from `self.run`.
    ///
    /// # Safety
    /// The CPU has AVX-512F and VNNI.
    // One index addresses rows and token vectors alike across several arrays.
    #[allow(clippy::needless_range_loop)]
    #[target_feature(enable = "avx512f,avx512vnni")]
    unsafe fn run<F: Format, const V: usize>(
        &self,
        blocks: std::ops::Range<usize>,
        out: &mut [f32],
        width: usize,
    ) {
        let (columns, tokens, unpacked) = (self.columns, self.tokens, self.unpacked);
        let block = F::Act::BLOCK;
        let per_block = block / F::GROUP;
        let (all_blocks, groups) = (columns / block, columns / F::GROUP);
        let first_row = self.panel * ROWS;
        // Every read below lies in these bounds, checked once here.
        assert!(blocks.end <= all_blocks && self.run + V <= tokens.runs);
        assert!(unpacked.q.len() >= (first_row + ROWS) * columns);
        assert!(unpacked.scales.len() >= (first_row + ROWS) * groups);
        assert!(unpacked.offsets.len() >= (first_row + ROWS) * groups);
        assert!(unpacked.starts.len() >= (first_row + ROWS) * all_blocks);
        assert!(out.len() >= ROWS * width && width >= (self.run + V) * LANES);
        let q: [*const i8; ROWS] =
            std::array::from_fn(|r| unpacked.q[(first_row + r) * columns..].as_ptr());
        let scales: [&[f32]; ROWS] =
            std::array::from_fn(|r| &unpacked.scales[(first_row + r) * groups..][..groups]);
        let offsets: [&[f32]; ROWS] =
            std::array::from_fn(|r| &unpacked.offsets[(first_row + r) * groups..][..groups]);
        let starts: [&[f32]; ROWS] =
            std::array::from_fn(|r| &unpacked.starts[(first_row + r) * all_blocks..][..all_blocks]);
        let values: [*const u8; V] =
            std::array::from_fn(|v| tokens.values[(self.run + v) * columns * LANES..].as_ptr());
        let token_scales: [&[f32]; V] = std::array::from_fn(|v| {
            &tokens.scales[(self.run + v) * all_blocks * LANES..][..all_blocks * LANES]
        });
        let sums: [&[f32]; V] = std::array::from_fn(|v| {
            &tokens.sums[(self.run + v) * groups * LANES..][..groups * LANES]
        });
        let mut total = [[_mm512_setzero_ps(); V]; ROWS];
        for r in 0..ROWS {
            for v in 0..V {
                let at = r * width + (self.run + v) * LANES;
                // SAFETY: `at + 16 <= ROWS × width <= out.len()` (asserted).
                total[r][v] = unsafe { _mm512_loadu_ps(out.as_ptr().add(at)) };
            }
        }
        for b in blocks {
            let mut sum = [[_mm512_setzero_ps(); V]; ROWS];
            for r in 0..ROWS {
                sum[r] = [_mm512_set1_ps(starts[r][b]); V];
            }
            for g in b * per_block..(b + 1) * per_block {
                let mut dots = [[_mm512_setzero_si512(); V]; ROWS];
                for four in g * F::GROUP / 4..(g + 1) * F::GROUP / 4 {
                    let mut x = [_mm512_setzero_si512(); V];
                    for v in 0..V {
                        // SAFETY: `four < columns / 4`, and each run holds `columns / 4`
                        // vectors of 64 bytes.
                        x[v] = unsafe { _mm512_loadu_si512(values[v].add(four * 64).cast()) };
                    }
                    for r in 0..ROWS {
                        // SAFETY: `4 × four + 4 <= columns`, the row's length.
                        let w = unsafe { q[r].add(4 * four).cast::<i32>().read_unaligned() };
                        let w = _mm512_set1_epi32(w);
                        for v in 0..V {
                            dots[r][v] = _mm512_dpbusd_epi32(dots[r][v], x[v], w);
                        }
                    }
                }
                for r in 0..ROWS {
                    let scale = _mm512_set1_ps(scales[r][g]);
                    for v in 0..V {
                        sum[r][v] =
                            _mm512_fmadd_ps(_mm512_cvtepi32_ps(dots[r][v]), scale, sum[r][v]);
                    }
                }
                if F::OFFSETS {
                    for v in 0..V {
                        // SAFETY: `g < groups`: 16 sums per group.
                        let x_sums = unsafe { _mm512_loadu_ps(sums[v][g * LANES..].as_ptr()) };
                        for r in 0..ROWS {
                            let offset = _mm512_set1_ps(offsets[r][g]);
                            sum[r][v] = _mm512_fmadd_ps(offset, x_sums, sum[r][v]);
                        }
                    }
                }
            }
            for v in 0..V {
                // SAFETY: `b < all_blocks`: 16 scales per block.
                let d = unsafe { _mm512_loadu_ps(token_scales[v][b * LANES..].as_ptr()) };
                for r in 0..ROWS {
                    total[r][v] = _mm512_fmadd_ps(sum[r][v], d, total[r][v]);
                }
            }
        }
        for r in 0..ROWS {
            for v in 0..V {
                let at = r * width + (self.run + v) * LANES;
                // SAFETY: as for the loads above.
                unsafe { _mm512_storeu_ps(out.as_mut_ptr().add(at), total[r][v]) };
            }
        }
    }
}
