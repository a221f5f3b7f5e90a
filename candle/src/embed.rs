//! Sentence embeddings from a BERT-family model in the sentence-transformers layout (a folder
//! with `config.json`, `tokenizer.json`, `model.safetensors`, `sentence_bert_config.json` and
//! `1_Pooling/config.json`; all-MiniLM-L6-v2 is the default), run in-process by candle: token
//! vectors mean-pooled over the attention mask and L2-normalised, as sentence-transformers
//! computes them.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anymodel_core::{Embedder, Error, InputKind, Result};
use async_trait::async_trait;
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use serde::Deserialize;
use tokenizers::{Encoding, Tokenizer, TruncationParams};

use crate::candle_message;

/// Texts embedded in one forward pass. Texts are sorted by token count first, so a batch pads
/// little. Small batches keep each activation under glibc's 32 MiB mmap threshold, so that
/// freed buffers are reused instead of faulted in afresh by every operation: on SciFact's
/// abstracts (2 threads, AVX-512 products), 4 texts a pass ran at 13.8 documents/s, 8 at 13.5,
/// 16 at 12.0 (and with AVX2 products 32 at 9.7; `examples/embed_benchmark.rs`).
const BATCH: usize = 4;

/// `sentence_bert_config.json`.
#[derive(Deserialize)]
struct SentenceConfig {
    max_seq_length: usize,
}

/// `1_Pooling/config.json`: the one pooling anymodel computes is the mean.
#[derive(Deserialize)]
struct PoolingConfig {
    #[serde(default)]
    pooling_mode_mean_tokens: bool,
}

struct Loaded {
    model: BertModel,
    tokenizer: Tokenizer,
    device: Device,
    pool: rayon::ThreadPool,
}

/// A BERT-family sentence embedder run locally.
#[derive(Clone)]
pub struct BertEmbedder {
    name: String,
    dimensions: usize,
    max_tokens: usize,
    normalize: bool,
    loaded: Arc<Loaded>,
}

impl std::fmt::Debug for BertEmbedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BertEmbedder")
            .field("name", &self.name)
            .field("dimensions", &self.dimensions)
            .finish()
    }
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path)
        .map_err(|err| Error::config(format!("{}: {err}", path.display())))?;
    serde_json::from_str(&text).map_err(|err| Error::config(format!("{}: {err}", path.display())))
}

impl BertEmbedder {
    /// Loads the model in `folder` on the CPU, computing with `threads` threads (all cores when
    /// `None`). Errors name the file that is missing or wrong.
    pub fn load(folder: &Path, threads: Option<usize>) -> Result<Self> {
        let file = |name: &str| -> PathBuf { folder.join(name) };
        for name in ["config.json", "tokenizer.json", "model.safetensors"] {
            if !file(name).is_file() {
                return Err(Error::config(format!(
                    "{}: missing; an embedding model folder in the sentence-transformers layout has config.json, tokenizer.json and model.safetensors (scripts/fetch-model.sh fetches all-MiniLM-L6-v2)",
                    file(name).display()
                )));
            }
        }
        let config: Config = read_json(&file("config.json"))?;
        let max_tokens = match file("sentence_bert_config.json") {
            path if path.is_file() => read_json::<SentenceConfig>(&path)?.max_seq_length,
            _ => config.max_position_embeddings,
        }
        .min(config.max_position_embeddings);
        if let Ok(pooling) = read_json::<PoolingConfig>(&file("1_Pooling/config.json"))
            && !pooling.pooling_mode_mean_tokens
        {
            return Err(Error::config(format!(
                "{}: only mean pooling is supported",
                file("1_Pooling/config.json").display()
            )));
        }
        let normalize = match read_json::<serde_json::Value>(&file("modules.json")) {
            Ok(modules) => modules.to_string().contains("models.Normalize"),
            Err(_) => true,
        };
        let mut tokenizer = Tokenizer::from_file(file("tokenizer.json")).map_err(|err| {
            Error::config(format!(
                "{}: not a usable tokenizer.json: {err}",
                file("tokenizer.json").display()
            ))
        })?;
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: max_tokens,
                ..Default::default()
            }))
            .map_err(|err| Error::config(format!("tokenizer: {err}")))?;
        // Batches are padded here, after texts are sorted by their token counts.
        tokenizer.with_padding(None);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads.unwrap_or(0))
            .build()
            .map_err(|err| Error::config(format!("threads: {err}")))?;
        let device = Device::Cpu;
        let bytes = std::fs::read(file("model.safetensors")).map_err(|err| {
            Error::config(format!("{}: {err}", file("model.safetensors").display()))
        })?;
        let weights = candle_core::safetensors::load_buffer(&bytes, &device).map_err(|err| {
            Error::config(format!(
                "{}: {}",
                file("model.safetensors").display(),
                candle_message(&err)
            ))
        })?;
        let model =
            BertModel::load(VarBuilder::from_tensors(weights, DType::F32, &device), &config)
                .map_err(|err| {
                    Error::config(format!(
                        "{}: {}",
                        file("model.safetensors").display(),
                        candle_message(&err)
                    ))
                })?;
        let stem = folder.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        Ok(BertEmbedder {
            name: format!("local:{stem}"),
            dimensions: config.hidden_size,
            max_tokens,
            normalize,
            loaded: Arc::new(Loaded { model, tokenizer, device, pool }),
        })
    }

    /// The vectors of `texts`, computed on this thread (inside the embedder's thread pool).
    /// Texts are tokenised first and batched by token count, so a batch pads little.
    pub fn embed_blocking(&self, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        let encodings = self
            .loaded
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|err| Error::Backend { message: format!("tokenizing: {err}") })?;
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| encodings[i].get_ids().len());
        let mut vectors = vec![Vec::new(); texts.len()];
        self.loaded.pool.install(|| -> Result<()> {
            for batch in order.chunks(BATCH) {
                let inputs: Vec<&Encoding> = batch.iter().map(|&i| &encodings[i]).collect();
                for (&at, vector) in batch.iter().zip(self.batch(&inputs)?) {
                    vectors[at] = vector;
                }
            }
            Ok(())
        })?;
        Ok(vectors)
    }

    /// The vectors of one batch of encodings, padded to the longest.
    fn batch(&self, encodings: &[&Encoding]) -> Result<Vec<Vec<f32>>> {
        let failed = |err: candle_core::Error| Error::Backend {
            message: format!("embedding: {}", candle_message(&err)),
        };
        let Loaded { model, device, .. } = &*self.loaded;
        let rows = encodings.len();
        let width = encodings.iter().map(|e| e.get_ids().len()).max().unwrap_or(0);
        let padded = |f: &dyn Fn(&Encoding) -> &[u32]| -> Vec<u32> {
            let mut flat = Vec::with_capacity(rows * width);
            for encoding in encodings {
                let values = f(encoding);
                flat.extend_from_slice(values);
                flat.resize(flat.len() + width - values.len(), 0);
            }
            flat
        };
        let ids =
            Tensor::from_vec(padded(&|e| e.get_ids()), (rows, width), device).map_err(failed)?;
        let types = Tensor::from_vec(padded(&|e| e.get_type_ids()), (rows, width), device)
            .map_err(failed)?;
        let mask = Tensor::from_vec(padded(&|e| e.get_attention_mask()), (rows, width), device)
            .map_err(failed)?;
        let tokens = model.forward(&ids, &types, Some(&mask)).map_err(failed)?;
        // Mean over the tokens the mask keeps.
        let mask = mask.to_dtype(DType::F32).and_then(|m| m.unsqueeze(2)).map_err(failed)?;
        let summed = tokens.broadcast_mul(&mask).and_then(|t| t.sum(1)).map_err(failed)?;
        let counts = mask.sum(1).and_then(|c| c.clamp(1e-9, f64::MAX)).map_err(failed)?;
        let mut pooled = summed.broadcast_div(&counts).map_err(failed)?;
        if self.normalize {
            let norms = pooled
                .sqr()
                .and_then(|s| s.sum_keepdim(1))
                .and_then(|s| s.sqrt())
                .and_then(|n| n.clamp(1e-12, f64::MAX))
                .map_err(failed)?;
            pooled = pooled.broadcast_div(&norms).map_err(failed)?;
        }
        pooled.to_vec2::<f32>().map_err(failed)
    }
}

#[async_trait]
impl Embedder for BertEmbedder {
    fn name(&self) -> &str {
        &self.name
    }

    fn dimensions(&self) -> usize {
        self.dimensions
    }

    fn max_input_tokens(&self) -> Option<usize> {
        Some(self.max_tokens)
    }

    /// MiniLM and the other sentence-transformers models embed queries and documents alike.
    async fn embed(&self, texts: &[String], _kind: InputKind) -> Result<Vec<Vec<f32>>> {
        let embedder = self.clone();
        let texts = texts.to_vec();
        tokio::task::spawn_blocking(move || embedder.embed_blocking(&texts))
            .await
            .map_err(|err| Error::Backend { message: format!("embedding stopped: {err}") })?
    }
}
