//! GGUF files made by the tests: Llama 3's real tokenizer in the metadata, and tiny models.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anymodel_candle::candle_core::quantized::gguf_file::Value;
use serde_json::Value as Json;

/// The repository's `models/` folder.
pub fn models() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../models")
}

/// The id of `token` in Llama 3.2's vocabulary (`models/llama3.2/tokenizer.json`).
pub fn token_id(token: &str) -> u32 {
    let path = need(models().join("llama3.2/tokenizer.json"));
    let json: Json = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    json["model"]["vocab"][token].as_u64().unwrap() as u32
}

/// `path`, which must exist.
pub fn need(path: PathBuf) -> PathBuf {
    assert!(path.exists(), "{} is missing: run scripts/fetch-model.sh", path.display());
    path
}

/// GGUF tokenizer metadata made from a Hugging Face tokenizer.json, as llama.cpp's converter
/// writes it for Llama 3.
pub fn llama3_metadata(tokenizer_json: &Path) -> Vec<(String, Value)> {
    anymodel_candle::llama3_tokenizer_metadata(tokenizer_json, None).unwrap()
}

/// A tiny Llama 3.1 model (2 blocks, width 16, `rope_freqs`, a 131,072-token context) with the
/// real Llama 3 tokenizer, whose greedy output is chosen by the test: it acts as a bigram model
/// in which `transitions` give the token after each listed token, and `otherwise` the token
/// after any other. (Attention and feed-forward run on random weights but add nothing to the
/// residual stream, so the last token's embedding alone decides the next token.)
pub fn tiny_llama(path: &Path, otherwise: u32, transitions: &[(u32, u32)], template: Option<&str>) {
    use anymodel_candle::candle_core::quantized::{GgmlDType, QTensor, gguf_file};
    use anymodel_candle::candle_core::{Device, Tensor};

    const WIDTH: usize = 16;
    const FFN: usize = 32;
    const HEADS: usize = 2;
    const HEAD_DIM: usize = 8;
    let mut metadata = llama3_metadata(&need(models().join("llama3.2/tokenizer.json")));
    let vocab = 128_256;
    metadata.extend([
        ("llama.attention.head_count".to_string(), Value::U32(HEADS as u32)),
        ("llama.attention.head_count_kv".into(), Value::U32(1)),
        ("llama.block_count".into(), Value::U32(2)),
        ("llama.embedding_length".into(), Value::U32(WIDTH as u32)),
        ("llama.feed_forward_length".into(), Value::U32(FFN as u32)),
        ("llama.rope.dimension_count".into(), Value::U32(HEAD_DIM as u32)),
        ("llama.attention.layer_norm_rms_epsilon".into(), Value::F32(1e-5)),
        ("llama.rope.freq_base".into(), Value::F32(500_000.0)),
        ("llama.context_length".into(), Value::U32(131_072)),
    ]);
    if let Some(template) = template {
        metadata.push(("tokenizer.chat_template".into(), Value::String(template.into())));
    }

    let (embedding, output) = bigram(vocab, WIDTH, otherwise, transitions);

    let device = Device::Cpu;
    let tensor = |values: Vec<f32>, shape: &[usize]| {
        QTensor::quantize(&Tensor::from_vec(values, shape, &device).unwrap(), GgmlDType::F32)
            .unwrap()
    };
    let random = |shape: &[usize]| {
        let count = shape.iter().product();
        tensor((0..count).map(|_| fastrand::f32() - 0.5).collect(), shape)
    };
    let zeros = |shape: &[usize]| tensor(vec![0.0; shape.iter().product()], shape);
    let ones = |len: usize| tensor(vec![1.0; len], &[len]);
    let mut tensors = vec![
        ("token_embd.weight".to_string(), tensor(embedding, &[vocab, WIDTH])),
        ("output.weight".into(), tensor(output, &[vocab, WIDTH])),
        ("output_norm.weight".into(), ones(WIDTH)),
        ("rope_freqs.weight".into(), tensor(vec![1.0, 1.0, 4.0, 8.0], &[HEAD_DIM / 2])),
    ];
    for block in 0..2 {
        let name = |part: &str| format!("blk.{block}.{part}.weight");
        tensors.extend([
            (name("attn_norm"), ones(WIDTH)),
            (name("attn_q"), random(&[HEADS * HEAD_DIM, WIDTH])),
            (name("attn_k"), random(&[HEAD_DIM, WIDTH])),
            (name("attn_v"), random(&[HEAD_DIM, WIDTH])),
            (name("attn_output"), zeros(&[WIDTH, HEADS * HEAD_DIM])),
            (name("ffn_norm"), ones(WIDTH)),
            (name("ffn_gate"), random(&[FFN, WIDTH])),
            (name("ffn_up"), random(&[FFN, WIDTH])),
            (name("ffn_down"), zeros(&[WIDTH, FFN])),
        ]);
    }
    let pairs: Vec<(&str, &Value)> = metadata.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let tensors: Vec<(&str, &QTensor)> = tensors.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let mut file = std::fs::File::create(path).unwrap();
    gguf_file::write(&mut file, &pairs, &tensors).unwrap();
}

/// Embedding and output matrices (`vocab` x `width`, row-major) of a bigram model: each listed
/// token gets its own basis direction, every other token direction 0, and the output row of the
/// token to follow points along the direction of the token it follows.
fn bigram(
    vocab: usize,
    width: usize,
    otherwise: u32,
    transitions: &[(u32, u32)],
) -> (Vec<f32>, Vec<f32>) {
    let basis: HashMap<u32, usize> =
        transitions.iter().enumerate().map(|(i, (from, _))| (*from, i + 1)).collect();
    let mut embedding = vec![0f32; vocab * width];
    for token in 0..vocab {
        embedding[token * width + basis.get(&(token as u32)).copied().unwrap_or(0)] = 1.0;
    }
    let mut output = vec![0f32; vocab * width];
    output[otherwise as usize * width] = 10.0;
    for (from, to) in transitions {
        output[*to as usize * width + basis[from]] = 10.0;
    }
    (embedding, output)
}

/// A tiny full-precision Llama checkpoint in the Hugging Face layout (`config.json`,
/// `tokenizer.json`, `tokenizer_config.json` with `template`, `model.safetensors`), a bigram
/// model like [`tiny_llama`]'s, with a 256-position context.
pub fn tiny_checkpoint(folder: &Path, otherwise: u32, transitions: &[(u32, u32)], template: &str) {
    use anymodel_candle::candle_core::{Device, Tensor};

    const WIDTH: usize = 16;
    const FFN: usize = 32;
    let vocab = 128_256;
    std::fs::create_dir_all(folder).unwrap();
    std::fs::copy(need(models().join("llama3.2/tokenizer.json")), folder.join("tokenizer.json"))
        .unwrap();
    let config = serde_json::json!({
        "hidden_size": WIDTH, "intermediate_size": FFN, "vocab_size": vocab,
        "num_hidden_layers": 2, "num_attention_heads": 2, "num_key_value_heads": 1,
        "rms_norm_eps": 1e-5, "rope_theta": 500000.0, "max_position_embeddings": 256,
        "bos_token_id": 128000, "eos_token_id": 128009, "tie_word_embeddings": false,
    });
    std::fs::write(folder.join("config.json"), config.to_string()).unwrap();
    let settings = serde_json::json!({
        "bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>", "chat_template": template,
    });
    std::fs::write(folder.join("tokenizer_config.json"), settings.to_string()).unwrap();

    let device = Device::Cpu;
    let tensor =
        |values: Vec<f32>, shape: &[usize]| Tensor::from_vec(values, shape, &device).unwrap();
    let random = |shape: &[usize]| {
        tensor((0..shape.iter().product()).map(|_| fastrand::f32() - 0.5).collect(), shape)
    };
    let zeros = |shape: &[usize]| tensor(vec![0.0; shape.iter().product()], shape);
    let ones = |len: usize| tensor(vec![1.0; len], &[len]);
    let (embedding, output) = bigram(vocab, WIDTH, otherwise, transitions);
    let mut tensors = HashMap::from([
        ("model.embed_tokens.weight".to_string(), tensor(embedding, &[vocab, WIDTH])),
        ("lm_head.weight".into(), tensor(output, &[vocab, WIDTH])),
        ("model.norm.weight".into(), ones(WIDTH)),
    ]);
    for layer in 0..2 {
        let name = |part: &str| format!("model.layers.{layer}.{part}.weight");
        tensors.extend([
            (name("input_layernorm"), ones(WIDTH)),
            (name("post_attention_layernorm"), ones(WIDTH)),
            (name("self_attn.q_proj"), random(&[WIDTH, WIDTH])),
            (name("self_attn.k_proj"), random(&[WIDTH / 2, WIDTH])),
            (name("self_attn.v_proj"), random(&[WIDTH / 2, WIDTH])),
            (name("self_attn.o_proj"), zeros(&[WIDTH, WIDTH])),
            (name("mlp.gate_proj"), random(&[FFN, WIDTH])),
            (name("mlp.up_proj"), random(&[FFN, WIDTH])),
            (name("mlp.down_proj"), zeros(&[WIDTH, FFN])),
        ]);
    }
    anymodel_candle::candle_core::safetensors::save(&tensors, folder.join("model.safetensors"))
        .unwrap();
}
