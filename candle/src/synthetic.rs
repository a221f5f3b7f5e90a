//! Llama-shaped GGUF files with random weights and the real Llama 3 tokenizer, for speed
//! benchmarks on the shapes people run (1B, 3B, 8B) in the quantisations they download
//! (Q4_K_M, Q5_K_M, Q6_K, Q8_0): speed does not depend on the weights' values, and no model
//! needs downloading. The tensor types follow llama.cpp's choices for each file type.

use std::collections::HashMap;
use std::path::Path;

use anymodel_core::{Error, Result};
use candle_core::quantized::gguf_file::{self, Value};
use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{Device, Tensor};
use rayon::prelude::*;
use serde_json::Value as Json;

use crate::candle_message;

/// The size of a Llama 3 model, as Meta's configurations give it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LlamaSize {
    /// Llama 3.2 1B: width 2048, 16 blocks, tied embeddings.
    B1,
    /// Llama 3.2 3B: width 3072, 28 blocks, tied embeddings.
    B3,
    /// Llama 3.1 8B: width 4096, 32 blocks, its own output head.
    B8,
}

/// A llama.cpp file type: which tensor gets which quantisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileType {
    /// Q4_K, with Q6_K for the output head and for the value and down projections of the
    /// blocks llama.cpp gives more bits (the first and last eighth, every third between).
    Q4KM,
    /// Q5_K, with Q6_K where Q4_K_M has it.
    Q5KM,
    /// Q6_K throughout.
    Q6K,
    /// Q8_0 throughout.
    Q8_0,
}

/// A synthetic model: its size and file type, as `1b:q4_k_m` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Synthetic {
    /// The size.
    pub size: LlamaSize,
    /// The file type.
    pub file_type: FileType,
}

impl std::str::FromStr for Synthetic {
    type Err = String;

    fn from_str(text: &str) -> std::result::Result<Self, String> {
        let expected = "expected SIZE:TYPE with SIZE 1b, 3b or 8b and TYPE q4_k_m, q5_k_m, q6_k or q8_0 (as 1b:q4_k_m)";
        let (size, file_type) =
            text.split_once(':').ok_or_else(|| format!("`{text}`: {expected}"))?;
        let size = match size.to_ascii_lowercase().as_str() {
            "1b" => LlamaSize::B1,
            "3b" => LlamaSize::B3,
            "8b" => LlamaSize::B8,
            _ => return Err(format!("`{text}`: {expected}")),
        };
        let file_type = match file_type.to_ascii_lowercase().as_str() {
            "q4_k_m" => FileType::Q4KM,
            "q5_k_m" => FileType::Q5KM,
            "q6_k" => FileType::Q6K,
            "q8_0" => FileType::Q8_0,
            _ => return Err(format!("`{text}`: {expected}")),
        };
        Ok(Synthetic { size, file_type })
    }
}

impl std::fmt::Display for Synthetic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let size = match self.size {
            LlamaSize::B1 => "1b",
            LlamaSize::B3 => "3b",
            LlamaSize::B8 => "8b",
        };
        let file_type = match self.file_type {
            FileType::Q4KM => "q4_k_m",
            FileType::Q5KM => "q5_k_m",
            FileType::Q6K => "q6_k",
            FileType::Q8_0 => "q8_0",
        };
        write!(f, "{size}:{file_type}")
    }
}

/// The dimensions of a size.
struct Dimensions {
    width: usize,
    ffn: usize,
    blocks: usize,
    heads: usize,
    kv_heads: usize,
    head_width: usize,
    tied: bool,
}

/// Llama 3's vocabulary without the Vision tokenizer's extra `<|image|>` token.
const VOCABULARY: usize = 128_256;

impl LlamaSize {
    fn dimensions(self) -> Dimensions {
        match self {
            LlamaSize::B1 => Dimensions {
                width: 2048,
                ffn: 8192,
                blocks: 16,
                heads: 32,
                kv_heads: 8,
                head_width: 64,
                tied: true,
            },
            LlamaSize::B3 => Dimensions {
                width: 3072,
                ffn: 8192,
                blocks: 28,
                heads: 24,
                kv_heads: 8,
                head_width: 128,
                tied: true,
            },
            LlamaSize::B8 => Dimensions {
                width: 4096,
                ffn: 14336,
                blocks: 32,
                heads: 32,
                kv_heads: 8,
                head_width: 128,
                tied: false,
            },
        }
    }
}

/// Whether llama.cpp gives layer `i` of `n` more bits in the mixed file types.
fn more_bits(i: usize, n: usize) -> bool {
    i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2
}

impl FileType {
    /// The type of the tensor `part` (`attn_v`, `ffn_down`, … or `output`, `token_embd`) of
    /// block `block` of `blocks`.
    fn dtype(self, part: &str, block: usize, blocks: usize) -> GgmlDType {
        let (base, more) = match self {
            FileType::Q4KM => (GgmlDType::Q4K, GgmlDType::Q6K),
            FileType::Q5KM => (GgmlDType::Q5K, GgmlDType::Q6K),
            FileType::Q6K => (GgmlDType::Q6K, GgmlDType::Q6K),
            FileType::Q8_0 => (GgmlDType::Q8_0, GgmlDType::Q8_0),
        };
        match part {
            "output" => more,
            "attn_v" | "ffn_down" if more_bits(block, blocks) => more,
            _ => base,
        }
    }
}

/// GGUF tokenizer metadata made from a Hugging Face `tokenizer.json` of Llama 3, as llama.cpp's
/// converter writes it, with at most `vocabulary` tokens when given.
pub fn llama3_tokenizer_metadata(
    tokenizer_json: &Path,
    vocabulary: Option<usize>,
) -> Result<Vec<(String, Value)>> {
    let shown = tokenizer_json.display();
    let bytes =
        std::fs::read(tokenizer_json).map_err(|e| Error::config(format!("{shown}: {e}")))?;
    let json: Json =
        serde_json::from_slice(&bytes).map_err(|e| Error::config(format!("{shown}: {e}")))?;
    let malformed = |what: &str| Error::config(format!("{shown}: {what}"));
    let vocab = json["model"]["vocab"].as_object().ok_or_else(|| malformed("no model.vocab"))?;
    let mut by_id: HashMap<u64, (String, i32)> =
        vocab.iter().filter_map(|(token, id)| Some((id.as_u64()?, (token.clone(), 1)))).collect();
    for added in json["added_tokens"].as_array().into_iter().flatten() {
        let (Some(id), Some(content)) = (added["id"].as_u64(), added["content"].as_str()) else {
            continue;
        };
        let kind = if added["special"] == true { 3 } else { 4 };
        by_id.insert(id, (content.to_string(), kind));
    }
    let mut count = by_id.keys().max().map_or(0, |max| max + 1);
    if let Some(limit) = vocabulary {
        count = count.min(limit as u64);
    }
    let (tokens, types): (Vec<Value>, Vec<Value>) = (0..count)
        .map(|id| {
            let (token, kind) = by_id.remove(&id).unwrap_or((format!("[PAD{id}]"), 5));
            (Value::String(token), Value::I32(kind))
        })
        .unzip();
    let merges = json["model"]["merges"]
        .as_array()
        .ok_or_else(|| malformed("no model.merges"))?
        .iter()
        .filter_map(|merge| match merge {
            Json::String(pair) => Some(Value::String(pair.clone())),
            Json::Array(pair) => Some(Value::String(format!(
                "{} {}",
                pair.first()?.as_str()?,
                pair.get(1)?.as_str()?
            ))),
            _ => None,
        })
        .collect();
    Ok(vec![
        ("general.architecture".into(), Value::String("llama".into())),
        ("tokenizer.ggml.model".into(), Value::String("gpt2".into())),
        ("tokenizer.ggml.pre".into(), Value::String("llama-bpe".into())),
        ("tokenizer.ggml.tokens".into(), Value::Array(tokens)),
        ("tokenizer.ggml.token_type".into(), Value::Array(types)),
        ("tokenizer.ggml.merges".into(), Value::Array(merges)),
        ("tokenizer.ggml.bos_token_id".into(), Value::U32(128000)),
        ("tokenizer.ggml.eos_token_id".into(), Value::U32(128009)),
        ("tokenizer.ggml.add_bos_token".into(), Value::Bool(true)),
    ])
}

/// Llama 3.1's rotary frequency factors (factor 32, low 1, high 4, over an 8,192-token original
/// context), one per pair of head dimensions, as llama.cpp's converter writes `rope_freqs`.
fn rope_factors(head_width: usize) -> Vec<f32> {
    let (factor, low, high, original) = (32.0f32, 1.0f32, 4.0f32, 8192.0f32);
    let (low_wavelength, high_wavelength) = (original / low, original / high);
    (0..head_width / 2)
        .map(|i| {
            let frequency = 1.0 / 500_000f32.powf(2.0 * i as f32 / head_width as f32);
            let wavelength = 2.0 * std::f32::consts::PI / frequency;
            if wavelength < high_wavelength {
                1.0
            } else if wavelength > low_wavelength {
                factor
            } else {
                let smooth = (original / wavelength - low) / (high - low);
                1.0 / ((1.0 - smooth) / factor + smooth)
            }
        })
        .collect()
}

/// Writes `model` to `path` (random weights, Llama 3's tokenizer from `tokenizer_json`),
/// reporting each tensor's name to `progress` as it is made.
pub fn write_synthetic(
    model: Synthetic,
    tokenizer_json: &Path,
    path: &Path,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<()> {
    let dims = model.size.dimensions();
    let mut metadata = llama3_tokenizer_metadata(tokenizer_json, Some(VOCABULARY))?;
    metadata.extend([
        ("general.name".to_string(), Value::String(format!("synthetic llama {model}"))),
        ("llama.attention.head_count".into(), Value::U32(dims.heads as u32)),
        ("llama.attention.head_count_kv".into(), Value::U32(dims.kv_heads as u32)),
        ("llama.block_count".into(), Value::U32(dims.blocks as u32)),
        ("llama.embedding_length".into(), Value::U32(dims.width as u32)),
        ("llama.feed_forward_length".into(), Value::U32(dims.ffn as u32)),
        ("llama.rope.dimension_count".into(), Value::U32(dims.head_width as u32)),
        ("llama.attention.layer_norm_rms_epsilon".into(), Value::F32(1e-5)),
        ("llama.rope.freq_base".into(), Value::F32(500_000.0)),
        ("llama.context_length".into(), Value::U32(131_072)),
        ("llama.vocab_size".into(), Value::U32(VOCABULARY as u32)),
    ]);
    let (q, kv) = (dims.heads * dims.head_width, dims.kv_heads * dims.head_width);
    // Every tensor: its name, shape (rows, columns) and type; norms and factors in f32.
    let mut specs: Vec<(String, Vec<usize>, GgmlDType)> = Vec::new();
    let embedding_type = if dims.tied {
        model.file_type.dtype("output", 0, 1)
    } else {
        model.file_type.dtype("token_embd", 0, 1)
    };
    specs.push(("token_embd.weight".into(), vec![VOCABULARY, dims.width], embedding_type));
    if !dims.tied {
        specs.push((
            "output.weight".into(),
            vec![VOCABULARY, dims.width],
            model.file_type.dtype("output", 0, 1),
        ));
    }
    specs.push(("output_norm.weight".into(), vec![dims.width], GgmlDType::F32));
    for block in 0..dims.blocks {
        let typed = |part: &str| model.file_type.dtype(part, block, dims.blocks);
        let name = |part: &str| format!("blk.{block}.{part}.weight");
        specs.extend([
            (name("attn_norm"), vec![dims.width], GgmlDType::F32),
            (name("attn_q"), vec![q, dims.width], typed("attn_q")),
            (name("attn_k"), vec![kv, dims.width], typed("attn_k")),
            (name("attn_v"), vec![kv, dims.width], typed("attn_v")),
            (name("attn_output"), vec![dims.width, q], typed("attn_output")),
            (name("ffn_norm"), vec![dims.width], GgmlDType::F32),
            (name("ffn_gate"), vec![dims.ffn, dims.width], typed("ffn_gate")),
            (name("ffn_up"), vec![dims.ffn, dims.width], typed("ffn_up")),
            (name("ffn_down"), vec![dims.width, dims.ffn], typed("ffn_down")),
        ]);
    }
    let factors = rope_factors(dims.head_width);
    let made: Vec<(String, QTensor)> = specs
        .into_par_iter()
        .enumerate()
        .map(|(index, (name, shape, dtype))| {
            progress(&name);
            let count: usize = shape.iter().product();
            let values: Vec<f32> = if dtype == GgmlDType::F32 {
                vec![1.0; count]
            } else {
                // Uniform with the spread of a trained layer's weights (about 1/√columns).
                let spread = 1.7 / (*shape.last().unwrap_or(&1) as f32).sqrt();
                let mut random = fastrand::Rng::with_seed(index as u64 + 1);
                (0..count).map(|_| (random.f32() * 2.0 - 1.0) * spread).collect()
            };
            let tensor = Tensor::from_vec(values, shape.as_slice(), &Device::Cpu)
                .and_then(|t| QTensor::quantize(&t, dtype))
                .map_err(|e| Error::config(format!("making {name}: {}", candle_message(&e))))?;
            Ok((name, tensor))
        })
        .collect::<Result<_>>()?;
    let factors = Tensor::from_vec(factors, dims.head_width / 2, &Device::Cpu)
        .and_then(|t| QTensor::quantize(&t, GgmlDType::F32))
        .map_err(|e| Error::config(candle_message(&e)))?;
    let mut tensors: Vec<(&str, &QTensor)> = made.iter().map(|(n, t)| (n.as_str(), t)).collect();
    tensors.push(("rope_freqs.weight", &factors));
    let pairs: Vec<(&str, &Value)> = metadata.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let shown = path.display();
    if let Some(folder) = path.parent() {
        std::fs::create_dir_all(folder).map_err(|e| Error::config(format!("{shown}: {e}")))?;
    }
    // Written beside, under a name of this process's own, then renamed: an interrupted run
    // leaves no half file under the name, and two runs at once each rename a whole file.
    remove_abandoned_partials(path);
    let partial = path.with_extension(format!("gguf.partial-{}", std::process::id()));
    let written = std::fs::File::create(&partial)
        .map_err(|e| Error::config(format!("{shown}: {e}")))
        .and_then(|mut file| {
            gguf_file::write(&mut file, &pairs, &tensors)
                .map_err(|e| Error::config(format!("writing {shown}: {}", candle_message(&e))))
        })
        .and_then(|()| {
            std::fs::rename(&partial, path).map_err(|e| Error::config(format!("{shown}: {e}")))
        });
    if written.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    written
}

/// A partial file untouched this long belongs to a run that was stopped: a live one writes
/// its file in one go, once its tensors are made.
const ABANDONED_AFTER: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// Removes the partial files of `path` that runs stopped while writing (a killed run cannot
/// remove its own, and an 8B file's is gigabytes).
fn remove_abandoned_partials(path: &Path) {
    let (Some(folder), Some(name)) = (path.parent(), path.file_name()) else {
        return;
    };
    let prefix = format!("{}.partial-", name.to_string_lossy());
    let Ok(entries) = std::fs::read_dir(folder) else {
        return;
    };
    for entry in entries.flatten() {
        let abandoned = entry.file_name().to_string_lossy().starts_with(&prefix)
            && entry
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|at| at.elapsed().is_ok_and(|age| age > ABANDONED_AFTER));
        if abandoned {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests fail loudly by design.
mod tests {
    use super::*;

    /// A partial file left by a stopped run goes once it is old; a fresh one, maybe a live
    /// run's, stays.
    #[test]
    fn abandoned_partial_files_are_removed() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("llama-1b-q8_0.gguf");
        let old = folder.path().join("llama-1b-q8_0.gguf.partial-1");
        let fresh = folder.path().join("llama-1b-q8_0.gguf.partial-2");
        let other = folder.path().join("llama-8b-q8_0.gguf.partial-3");
        for file in [&old, &fresh, &other] {
            std::fs::write(file, b"half").unwrap();
        }
        let long_ago = std::time::SystemTime::now() - 2 * ABANDONED_AFTER;
        for file in [&old, &other] {
            std::fs::File::options()
                .write(true)
                .open(file)
                .unwrap()
                .set_modified(long_ago)
                .unwrap();
        }
        remove_abandoned_partials(&path);
        assert!(!old.exists());
        assert!(fresh.exists());
        assert!(other.exists(), "another model's partial file is not this one's");
    }

    #[test]
    fn names_parse_and_print_back() {
        let model: Synthetic = "1B:Q4_K_M".parse().unwrap();
        assert_eq!(model, Synthetic { size: LlamaSize::B1, file_type: FileType::Q4KM });
        assert_eq!(model.to_string(), "1b:q4_k_m");
        assert!("2b:q4_k_m".parse::<Synthetic>().unwrap_err().contains("expected SIZE:TYPE"));
        assert!("1b".parse::<Synthetic>().is_err());
    }

    /// llama.cpp's Q4_K_M of a 16-block model keeps blocks 0, 1, 4, 7, 10, 13, 14 and 15's
    /// value and down projections in Q6_K, the rest in Q4_K; the head in Q6_K.
    #[test]
    fn the_mixed_types_give_more_bits_where_llama_cpp_does() {
        let more: Vec<usize> = (0..16).filter(|&i| more_bits(i, 16)).collect();
        assert_eq!(more, [0, 1, 4, 7, 10, 13, 14, 15]);
        assert_eq!(FileType::Q4KM.dtype("ffn_down", 4, 16), GgmlDType::Q6K);
        assert_eq!(FileType::Q4KM.dtype("ffn_down", 5, 16), GgmlDType::Q4K);
        assert_eq!(FileType::Q4KM.dtype("attn_q", 0, 16), GgmlDType::Q4K);
        assert_eq!(FileType::Q5KM.dtype("output", 0, 1), GgmlDType::Q6K);
        assert_eq!(FileType::Q8_0.dtype("output", 0, 1), GgmlDType::Q8_0);
    }

    /// Llama 3.1's factors: none for the fast dimensions, 32 for the slow ones, smooth between.
    #[test]
    fn rope_factors_run_from_one_to_the_scaling_factor() {
        let factors = rope_factors(128);
        assert_eq!(factors.len(), 64);
        assert_eq!(factors[0], 1.0);
        assert_eq!(factors[63], 32.0);
        assert!(factors.windows(2).all(|pair| pair[0] <= pair[1]));
    }
}
