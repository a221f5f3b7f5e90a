//! The Llama forward pass on candle's tensors and quantised matmuls: its own, rather than
//! candle-transformers' `quantized_llama`, because that one ignores Llama 3.1's `rope_freqs`,
//! caps positions at 4,096 and grows its key-value cache by concatenation on every token.
//! Here the cache grows in steps, the prompt is processed in chunks (bounding the attention
//! score matrix), and the cache remembers its tokens so that a prompt extending the previous
//! one only processes what is new. On the CPU, Q4_1 weights go through anymodel's own kernel
//! (`q4_1`) and attention reads the cache in place (`attention`); elsewhere candle's ops run.

use std::borrow::Cow;
use std::fs::File;

use candle_core::quantized::{GgmlDType, QMatMul, QStorage, QTensor, gguf_file};
use candle_core::{
    DType, Device, IndexOp, Layout, Module, Result as CandleResult, Storage, Tensor, WithDType,
};
use candle_transformers::quantized_nn::RmsNorm;
use candle_transformers::utils::repeat_kv;

use crate::cpu::attention::Attention;
use crate::cpu::cache::{CacheKind, LayerCache, Q8_BLOCK};
use crate::cpu::mapped::{FileBytes, Region};
use crate::cpu::matmul::QuantMatrix;

/// The shape of a Llama model, from GGUF metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct LlamaShape {
    /// Attention heads.
    pub heads: usize,
    /// Key-value heads (fewer than `heads` with grouped-query attention).
    pub kv_heads: usize,
    /// Transformer blocks.
    pub layers: usize,
    /// Width of the residual stream.
    pub embedding: usize,
    /// Width of one head.
    pub head_dim: usize,
    /// RMS norm epsilon.
    pub rms_eps: f64,
    /// RoPE base frequency.
    pub rope_base: f32,
    /// The context length the model was trained for.
    pub context_length: usize,
}

impl LlamaShape {
    /// Reads the shape from `llama.*` metadata.
    pub fn from_gguf(content: &gguf_file::Content) -> CandleResult<Self> {
        let get = |key: &str| {
            content
                .metadata
                .get(&format!("llama.{key}"))
                .ok_or_else(|| candle_core::Error::Msg(format!("no `llama.{key}` in the metadata")))
        };
        let heads = get("attention.head_count")?.to_u32()? as usize;
        let embedding = get("embedding_length")?.to_u32()? as usize;
        if heads == 0 {
            return Err(candle_core::Error::Msg("`llama.attention.head_count` is 0".into()));
        }
        let shape = LlamaShape {
            heads,
            kv_heads: get("attention.head_count_kv")?.to_u32()? as usize,
            layers: get("block_count")?.to_u32()? as usize,
            embedding,
            head_dim: match get("rope.dimension_count") {
                Ok(dim) => dim.to_u32()? as usize,
                Err(_) => embedding / heads,
            },
            rms_eps: get("attention.layer_norm_rms_epsilon")?.to_f32()? as f64,
            rope_base: get("rope.freq_base").and_then(|v| v.to_f32()).unwrap_or(10_000.0),
            context_length: get("context_length")
                .and_then(|v| v.to_u32())
                .map_or(4096, |n| n as usize),
        };
        shape.check(content)?;
        Ok(shape)
    }

    /// Whether the shape is one a Llama can have, and every tensor the forward pass reads is
    /// there with the shape the metadata implies: checked before anything is allocated, so a
    /// damaged or crafted header is an error naming what is wrong, never a huge allocation, a
    /// division by zero or a "shape mismatch" at the first token.
    fn check(&self, content: &gguf_file::Content) -> CandleResult<()> {
        const MAX_LAYERS: usize = 1024;
        const MAX_EMBEDDING: usize = 65_536;
        const MAX_HEAD_DIM: usize = 1024;
        let bad = |what: String| Err(candle_core::Error::Msg(what));
        if self.kv_heads == 0 || !self.heads.is_multiple_of(self.kv_heads) {
            return bad(format!(
                "`llama.attention.head_count_kv` is {}: expected at least 1, dividing head_count ({})",
                self.kv_heads, self.heads
            ));
        }
        if !(1..=MAX_LAYERS).contains(&self.layers) {
            return bad(format!(
                "`llama.block_count` is {}: expected 1 to {MAX_LAYERS}",
                self.layers
            ));
        }
        if !(1..=MAX_EMBEDDING).contains(&self.embedding) {
            return bad(format!(
                "`llama.embedding_length` is {}: expected 1 to {MAX_EMBEDDING}",
                self.embedding
            ));
        }
        if self.head_dim == 0 || self.head_dim > MAX_HEAD_DIM || !self.head_dim.is_multiple_of(2) {
            return bad(format!(
                "the head width (`llama.rope.dimension_count`) is {}: expected an even number up to {MAX_HEAD_DIM}",
                self.head_dim
            ));
        }
        if !(self.rms_eps.is_finite() && self.rms_eps > 0.0) {
            return bad(format!("`llama.attention.layer_norm_rms_epsilon` is {}", self.rms_eps));
        }
        let dims =
            |name: &str| content.tensor_infos.get(name).map(|info| info.shape.dims().to_vec());
        let expect = |name: String, expected: &[usize]| match dims(&name) {
            None => bad(format!("the tensor `{name}` is missing")),
            Some(found) if found != expected => bad(format!(
                "the tensor `{name}` has shape {found:?}, and the metadata implies {expected:?}"
            )),
            Some(_) => Ok(()),
        };
        let embedding = self.embedding;
        match dims("token_embd.weight") {
            Some(found) if found.len() == 2 && found[1] == embedding => {}
            found => {
                return bad(format!(
                    "the tensor `token_embd.weight` has shape {found:?}: expected [vocabulary, {embedding}]"
                ));
            }
        }
        let ffn = match dims("blk.0.ffn_gate.weight") {
            Some(found) if found.len() == 2 => found[0],
            found => return bad(format!("the tensor `blk.0.ffn_gate.weight` has shape {found:?}")),
        };
        let (q, kv) = (self.heads * self.head_dim, self.kv_heads * self.head_dim);
        expect("output_norm.weight".into(), &[embedding])?;
        for i in 0..self.layers {
            let name = |part: &str| format!("blk.{i}.{part}.weight");
            expect(name("attn_norm"), &[embedding])?;
            expect(name("attn_q"), &[q, embedding])?;
            expect(name("attn_k"), &[kv, embedding])?;
            expect(name("attn_v"), &[kv, embedding])?;
            expect(name("attn_output"), &[embedding, q])?;
            expect(name("ffn_norm"), &[embedding])?;
            expect(name("ffn_gate"), &[ffn, embedding])?;
            expect(name("ffn_up"), &[ffn, embedding])?;
            expect(name("ffn_down"), &[embedding, ffn])?;
        }
        Ok(())
    }
}

/// A weight matrix: anymodel's own kernels on the CPU for the formats it has them for (Q4_1,
/// Q8_0, Q4_K, Q5_K, Q6_K: read in place from the file's blocks), candle's quantised matmul
/// otherwise (other formats, GPUs).
enum Linear {
    Own(QuantMatrix),
    Candle(QMatMul),
}

impl Linear {
    /// The matrix `name`: in place from the file's bytes where anymodel has a kernel for its
    /// format on this device, else copied into candle's quantised matmul.
    fn new(tensors: &Tensors, name: &str) -> CandleResult<Self> {
        let (region, info) = tensors.region(name)?;
        if tensors.device.is_cpu()
            && let Ok((rows, columns)) = info.shape.dims2()
            && let Some(matrix) = QuantMatrix::new(region, info.ggml_dtype, rows, columns)
        {
            return Ok(Linear::Own(matrix));
        }
        Ok(Linear::Candle(QMatMul::from_qtensor(tensors.qtensor(name)?)?))
    }

    /// The bytes of its weights: what one decoded token reads of it.
    fn bytes(&self) -> usize {
        match self {
            Linear::Own(matrix) => matrix.bytes(),
            Linear::Candle(QMatMul::QTensor(weights)) => weights.storage_size_in_bytes(),
            Linear::Candle(QMatMul::Tensor(weights) | QMatMul::TensorF16(weights)) => {
                weights.elem_count() * weights.dtype().size_in_bytes()
            }
        }
    }

    fn forward(&self, x: &Tensor) -> CandleResult<Tensor> {
        match self {
            Linear::Own(matrix) => x.contiguous()?.apply_op1_no_bwd(matrix),
            Linear::Candle(matmul) => matmul.forward(x),
        }
    }
}

struct Block {
    attn_norm: RmsNorm,
    wq: Linear,
    wk: Linear,
    wv: Linear,
    wo: Linear,
    ffn_norm: RmsNorm,
    gate: Linear,
    up: Linear,
    down: Linear,
}

/// Where the bytes of the tensor `info` lie in its GGUF file: their offset and length, if the
/// header's figures neither overflow nor leave a partial block.
pub(crate) fn tensor_bytes(
    content: &gguf_file::Content,
    info: &gguf_file::TensorInfo,
) -> Option<(u64, u64)> {
    let dtype = info.ggml_dtype;
    let elements = info.shape.dims().iter().try_fold(1u64, |n, &d| n.checked_mul(d as u64))?;
    let blocks = elements.is_multiple_of(dtype.block_size() as u64).then_some(elements)?
        / dtype.block_size() as u64;
    let len = blocks.checked_mul(dtype.type_size() as u64)?;
    Some((content.tensor_data_offset.checked_add(info.offset)?, len))
}

/// The tensors of a GGUF file, read from its bytes (mapped where the system allows).
struct Tensors<'a> {
    content: &'a gguf_file::Content,
    bytes: FileBytes,
    device: &'a Device,
}

impl Tensors<'_> {
    /// The bytes of the tensor `name`, and what the header says of it.
    fn region(&self, name: &str) -> CandleResult<(Region, &gguf_file::TensorInfo)> {
        let info =
            self.content.tensor_infos.get(name).ok_or_else(|| {
                candle_core::Error::Msg(format!("the tensor `{name}` is missing"))
            })?;
        let region = tensor_bytes(self.content, info)
            .and_then(|(start, len)| self.bytes.region(start, len))
            .ok_or_else(|| {
                candle_core::Error::Msg(format!(
                    "the tensor `{name}` runs past the end of the file"
                ))
            })?;
        Ok((region, info))
    }

    /// The tensor `name`, copied onto the device as candle's quantised tensor.
    fn qtensor(&self, name: &str) -> CandleResult<QTensor> {
        let (region, info) = self.region(name)?;
        let storage = QStorage::from_data(Cow::Borrowed(&region), self.device, info.ggml_dtype)?;
        QTensor::new(storage, info.shape.clone())
    }
}

/// The token embedding table, read in place and kept quantised: only the rows of the tokens at
/// hand are dequantised, so the table costs no memory beyond the file's.
struct Embeddings {
    table: Region,
    dtype: GgmlDType,
    width: usize,
}

impl Embeddings {
    fn forward(&self, tokens: &[u32], device: &Device) -> CandleResult<Tensor> {
        let dtype = self.dtype;
        let row_bytes = self.width / dtype.block_size() * dtype.type_size();
        let data = &*self.table;
        let mut values = Vec::with_capacity(tokens.len() * self.width);
        for &token in tokens {
            let start = token as usize * row_bytes;
            let bytes = data.get(start..start + row_bytes).ok_or_else(|| {
                candle_core::Error::Msg(format!("token {token} is outside the vocabulary"))
            })?;
            let storage = QStorage::from_data(Cow::Borrowed(bytes), &Device::Cpu, dtype)?;
            let row = QTensor::new(storage, (self.width,))?.dequantize(&Device::Cpu)?;
            values.extend(row.to_vec1::<f32>()?);
        }
        Tensor::from_vec(values, (1, tokens.len(), self.width), device)
    }
}

/// A loaded Llama model: weights and rotary tables, shared by every call.
pub struct Llama {
    shape: LlamaShape,
    embed: Embeddings,
    blocks: Vec<Block>,
    norm: RmsNorm,
    output: Linear,
    cos: Tensor,
    sin: Tensor,
    device: Device,
}

/// Keys and values are kept in half precision, as llama.cpp keeps them: half the memory.
const CACHE_DTYPE: DType = DType::F16;

/// How many prompt tokens go through the model at once.
const PREFILL_CHUNK: usize = 256;

impl Llama {
    /// Loads the weights of the GGUF `file`, whose header is `content`, with rotary tables for
    /// `positions` positions. On the CPU the weights stay in the file, mapped into memory, and
    /// are read in place; a device gets copies.
    pub fn from_gguf(
        content: &gguf_file::Content,
        file: &File,
        device: &Device,
        positions: usize,
    ) -> CandleResult<Self> {
        let shape = LlamaShape::from_gguf(content)?;
        let tensors = Tensors { content, bytes: FileBytes::open(file)?, device };
        let (table, info) = tensors.region("token_embd.weight")?;
        let dtype = info.ggml_dtype;
        if shape.embedding % dtype.block_size() != 0 {
            return Err(candle_core::Error::Msg(
                "the embedding width is not a whole number of blocks".into(),
            ));
        }
        let embed = Embeddings { table, dtype, width: shape.embedding };
        let norm = |name: &str| RmsNorm::from_qtensor(tensors.qtensor(name)?, shape.rms_eps);
        let output = match content.tensor_infos.contains_key("output.weight") {
            true => Linear::new(&tensors, "output.weight")?,
            false => Linear::new(&tensors, "token_embd.weight")?, // tied (SmolLM2, Llama 3.2)
        };
        // Llama 3.1+ scales rotary frequencies by a factor per dimension pair.
        let factors = match content.tensor_infos.contains_key("rope_freqs.weight") {
            true => Some(
                tensors
                    .qtensor("rope_freqs.weight")?
                    .dequantize(device)?
                    .to_dtype(DType::F32)?
                    .to_vec1::<f32>()?,
            ),
            false => None,
        };
        let mut blocks = Vec::with_capacity(shape.layers);
        for i in 0..shape.layers {
            let name = |part: &str| format!("blk.{i}.{part}.weight");
            let linear = |part: &str| Linear::new(&tensors, &name(part));
            blocks.push(Block {
                attn_norm: norm(&name("attn_norm"))?,
                wq: linear("attn_q")?,
                wk: linear("attn_k")?,
                wv: linear("attn_v")?,
                wo: linear("attn_output")?,
                ffn_norm: norm(&name("ffn_norm"))?,
                gate: linear("ffn_gate")?,
                up: linear("ffn_up")?,
                down: linear("ffn_down")?,
            });
        }
        let (cos, sin) = rotary_tables(&shape, factors.as_deref(), positions, device)?;
        let norm = norm("output_norm.weight")?;
        Ok(Llama { shape, embed, blocks, norm, output, cos, sin, device: device.clone() })
    }

    /// The bytes of weights each decoded token reads: every matrix once (the embedding table
    /// only a row, so not counted unless it is also the output head). What decoding speed is
    /// bound by.
    pub fn decode_bytes(&self) -> u64 {
        let blocks: usize = self
            .blocks
            .iter()
            .map(|b| {
                [&b.wq, &b.wk, &b.wv, &b.wo, &b.gate, &b.up, &b.down]
                    .iter()
                    .map(|l| l.bytes())
                    .sum::<usize>()
            })
            .sum();
        (blocks + self.output.bytes()) as u64
    }

    /// The most positions this instance can process (its rotary tables' length).
    pub fn positions(&self) -> usize {
        self.cos.dim(0).unwrap_or(0)
    }

    /// A cache of `kind` for this model: the 8-bit one needs the CPU and a head width that is a
    /// multiple of 32.
    pub fn new_cache_of(&self, kind: CacheKind) -> CandleResult<Cache> {
        if kind == CacheKind::Q8
            && (!self.device.is_cpu() || !self.shape.head_dim.is_multiple_of(Q8_BLOCK))
        {
            candle_core::bail!(
                "the 8-bit key-value cache needs the CPU and a head width that is a multiple of 32"
            );
        }
        Ok(self.cache_of(kind))
    }

    /// An empty cache of `kind`, which the device can hold.
    fn cache_of(&self, kind: CacheKind) -> Cache {
        let s = &self.shape;
        let layers = match self.device.is_cpu() {
            true => Layers::Cpu(
                (0..s.layers).map(|_| LayerCache::new(kind, s.kv_heads, s.head_dim)).collect(),
            ),
            false => Layers::Device(Vec::new()),
        };
        Cache { tokens: Vec::new(), layers, capacity: 0 }
    }

    /// Runs `tokens` after what `cache` holds and returns the logits of the last one. The
    /// caller keeps the total within [`Llama::positions`].
    pub fn forward(&self, tokens: &[u32], cache: &mut Cache) -> CandleResult<Tensor> {
        let mut logits = None;
        for chunk in tokens.chunks(PREFILL_CHUNK) {
            logits = Some(self.forward_chunk(chunk, cache)?);
        }
        logits.ok_or_else(|| candle_core::Error::Msg("no tokens to process".into()))
    }

    fn forward_chunk(&self, tokens: &[u32], cache: &mut Cache) -> CandleResult<Tensor> {
        let start = cache.tokens.len();
        let len = tokens.len();
        cache.reserve(self, start + len)?;
        let mut x = self.embed.forward(tokens, &self.device)?;
        // The CPU kernel masks as it goes; candle's ops need the mask as a tensor.
        let mask = match self.device.is_cpu() {
            true => None,
            false => causal_mask(len, start, &self.device)?,
        };
        for (i, block) in self.blocks.iter().enumerate() {
            let residual = &x;
            let h = block.attn_norm.forward(&x)?;
            let h = self.attention(block, &h, start, i, cache, mask.as_ref())?;
            let x1 = (residual + h)?;
            let h = block.ffn_norm.forward(&x1)?;
            let h = block.down.forward(
                &(candle_nn::ops::silu(&block.gate.forward(&h)?)? * block.up.forward(&h)?)?,
            )?;
            x = (x1 + h)?;
        }
        cache.tokens.extend_from_slice(tokens);
        let last = x.i((.., len - 1, ..))?;
        let last = self.norm.forward(&last)?;
        self.output.forward(&last)?.squeeze(0)?.to_dtype(DType::F32)
    }

    fn attention(
        &self,
        block: &Block,
        x: &Tensor,
        start: usize,
        layer: usize,
        cache: &mut Cache,
        mask: Option<&Tensor>,
    ) -> CandleResult<Tensor> {
        let s = &self.shape;
        let (batch, len, _) = x.dims3()?;
        let heads =
            |t: Tensor, n| t.reshape((batch, len, n, s.head_dim))?.transpose(1, 2)?.contiguous();
        let q = heads(block.wq.forward(x)?, s.heads)?;
        let k = heads(block.wk.forward(x)?, s.kv_heads)?;
        let v = heads(block.wv.forward(x)?, s.kv_heads)?;
        let cos = self.cos.narrow(0, start, len)?;
        let sin = self.sin.narrow(0, start, len)?;
        let q = candle_nn::rotary_emb::rope_i(&q, &cos, &sin)?;
        let k = candle_nn::rotary_emb::rope_i(&k, &cos, &sin)?;
        cache.store(layer, &k, &v, start)?;
        if let Layers::Cpu(layers) = &cache.layers {
            let (q_storage, q_layout) = q.storage_and_layout();
            let shape = Attention { heads: s.heads, start, len };
            let y = shape.run(cpu_slice::<f32>(&q_storage, q_layout)?, &layers[layer]);
            let y = Tensor::from_vec(y, (batch, len, s.heads * s.head_dim), &self.device)?;
            return block.wo.forward(&y);
        }
        let (k_all, v_all) = cache.held(layer, start + len)?;
        let groups = s.heads / s.kv_heads;
        let k_all = repeat_kv(k_all, groups)?.contiguous()?;
        let v_all = repeat_kv(v_all, groups)?.contiguous()?;
        let q = q.to_dtype(CACHE_DTYPE)?;
        let scores = (q.matmul(&k_all.t()?)?.to_dtype(DType::F32)? / (s.head_dim as f64).sqrt())?;
        let scores = match mask {
            Some(mask) => scores.broadcast_add(mask)?,
            None => scores,
        };
        let weights = candle_nn::ops::softmax_last_dim(&scores)?.to_dtype(CACHE_DTYPE)?;
        let y = weights.matmul(&v_all)?.to_dtype(DType::F32)?;
        let y = y.transpose(1, 2)?.reshape((batch, len, s.heads * s.head_dim))?;
        block.wo.forward(&y)
    }
}

/// The elements of a contiguous tensor in CPU memory.
fn cpu_slice<'a, T: WithDType>(storage: &'a Storage, layout: &Layout) -> CandleResult<&'a [T]> {
    let (Storage::Cpu(cpu), Some((start, end))) = (storage, layout.contiguous_offsets()) else {
        candle_core::bail!("expected a contiguous tensor in CPU memory");
    };
    Ok(&cpu.as_slice::<T>()?[start..end])
}

/// `-inf` above the diagonal for `len` new positions after `start` cached ones; none for one.
fn causal_mask(len: usize, start: usize, device: &Device) -> CandleResult<Option<Tensor>> {
    if len == 1 {
        return Ok(None);
    }
    let total = start + len;
    let values: Vec<f32> = (0..len)
        .flat_map(|row| {
            (0..total).map(move |col| if col > start + row { f32::NEG_INFINITY } else { 0.0 })
        })
        .collect();
    Tensor::from_vec(values, (len, total), device).map(Some)
}

fn rotary_tables(
    shape: &LlamaShape,
    factors: Option<&[f32]>,
    positions: usize,
    device: &Device,
) -> CandleResult<(Tensor, Tensor)> {
    let half = shape.head_dim / 2;
    let inverse: Vec<f32> = (0..half)
        .map(|i| {
            let frequency = 1.0 / shape.rope_base.powf(2.0 * i as f32 / shape.head_dim as f32);
            frequency / factors.and_then(|f| f.get(i)).copied().unwrap_or(1.0)
        })
        .collect();
    let inverse = Tensor::from_vec(inverse, (1, half), device)?;
    let angles = Tensor::arange(0, positions as u32, device)?
        .to_dtype(DType::F32)?
        .reshape((positions, 1))?
        .matmul(&inverse)?;
    Ok((angles.cos()?, angles.sin()?))
}

/// The key-value cache of one conversation: per layer, keys and values for every processed
/// position, in buffers that grow a chunk at a time, and the tokens they came from.
pub struct Cache {
    tokens: Vec<u32>,
    layers: Layers,
    capacity: usize,
}

/// The layers' keys and values: on the CPU in the attention kernel's own layout; elsewhere as
/// half-precision tensors (1 × kv_heads × capacity × head_dim) for candle's ops.
enum Layers {
    Cpu(Vec<LayerCache>),
    Device(Vec<(Tensor, Tensor)>),
}

impl Cache {
    /// The tokens whose keys and values are held.
    pub fn tokens(&self) -> &[u32] {
        &self.tokens
    }

    /// Forgets everything after the first `len` tokens.
    pub fn truncate(&mut self, len: usize) {
        self.tokens.truncate(len);
    }

    /// Makes room for `needed` positions in one allocation (capped at the model's positions):
    /// callers that know how long a generation may get reserve it up front, so the buffers
    /// are not copied as they grow.
    pub fn reserve(&mut self, model: &Llama, needed: usize) -> CandleResult<()> {
        let needed = needed.min(model.positions());
        if needed <= self.capacity {
            return Ok(());
        }
        // Grow in steps of a chunk: copies stay rare and the buffer stays close to its use.
        let capacity = (needed.div_ceil(PREFILL_CHUNK) * PREFILL_CHUNK).min(model.positions());
        let held = self.tokens.len();
        match &mut self.layers {
            Layers::Cpu(layers) => layers.iter_mut().for_each(|l| l.grow(capacity, held)),
            Layers::Device(layers) => {
                let s = &model.shape;
                let grown = |old: Option<&Tensor>| -> CandleResult<Tensor> {
                    let shape = (1, s.kv_heads, capacity, s.head_dim);
                    let tensor = Tensor::zeros(shape, CACHE_DTYPE, &model.device)?;
                    if let Some(old) = old.filter(|_| held > 0) {
                        tensor.slice_set(&old.narrow(2, 0, held)?.contiguous()?, 2, 0)?;
                    }
                    Ok(tensor)
                };
                let mut grown_layers = Vec::with_capacity(s.layers);
                for layer in 0..s.layers {
                    let old = layers.get(layer);
                    grown_layers.push((grown(old.map(|l| &l.0))?, grown(old.map(|l| &l.1))?));
                }
                *layers = grown_layers;
            }
        }
        self.capacity = capacity;
        Ok(())
    }

    /// Writes the new keys and values (`f32`, 1 × kv_heads × len × head_dim) at `start`.
    fn store(&mut self, layer: usize, k: &Tensor, v: &Tensor, start: usize) -> CandleResult<()> {
        match &mut self.layers {
            Layers::Cpu(layers) => {
                let len = k.dim(2)?;
                let (k_storage, k_layout) = k.storage_and_layout();
                let (v_storage, v_layout) = v.storage_and_layout();
                let (k, v) = (cpu_slice(&k_storage, k_layout)?, cpu_slice(&v_storage, v_layout)?);
                layers[layer].store(k, v, start, len);
            }
            Layers::Device(layers) => {
                let (keys, values) = &layers[layer];
                keys.slice_set(&k.to_dtype(CACHE_DTYPE)?, 2, start)?;
                values.slice_set(&v.to_dtype(CACHE_DTYPE)?, 2, start)?;
            }
        }
        Ok(())
    }

    /// The keys and values of the first `total` positions, off the CPU.
    fn held(&self, layer: usize, total: usize) -> CandleResult<(Tensor, Tensor)> {
        let Layers::Device(layers) = &self.layers else {
            candle_core::bail!("the CPU cache is read by the attention kernel, not as tensors");
        };
        let (keys, values) = &layers[layer];
        Ok((keys.narrow(2, 0, total)?, values.narrow(2, 0, total)?))
    }
}
