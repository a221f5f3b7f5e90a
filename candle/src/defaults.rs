//! The sampling a local model uses for what a request leaves unset: the settings its authors
//! recommend where the file carries them, otherwise what llama.cpp and Ollama users know.

use anymodel_core::Sampling;
use candle_core::quantized::gguf_file::Value;

/// What llama.cpp (temperature, top-k, top-p, min-p) and Ollama (a repetition penalty of 1.1
/// over the last 64 tokens) do by default.
pub fn builtin() -> Sampling {
    Sampling {
        temperature: Some(0.8),
        top_k: Some(40),
        top_p: Some(0.95),
        min_p: Some(0.05),
        repetition_penalty: Some(1.1),
        repeat_last_n: Some(64),
        ..Sampling::default()
    }
}

/// The recommended sampling in GGUF metadata (`general.sampling.*`, as llama.cpp's converter
/// writes it), over [`builtin`].
pub(crate) fn from_gguf(metadata: &std::collections::HashMap<String, Value>) -> Sampling {
    let number = |key: &str| -> Option<f64> {
        Some(match metadata.get(&format!("general.sampling.{key}"))? {
            Value::F32(v) => f64::from(*v),
            Value::F64(v) => *v,
            Value::U32(v) => f64::from(*v),
            Value::I32(v) => f64::from(*v),
            Value::U64(v) => *v as f64,
            Value::I64(v) => *v as f64,
            _ => return None,
        })
    };
    let count = |key: &str| number(key).filter(|v| *v >= 0.0).map(|v| v as u32);
    Sampling {
        temperature: number("temp"),
        top_k: count("top_k"),
        top_p: number("top_p"),
        min_p: number("min_p"),
        repetition_penalty: number("penalty_repeat"),
        repeat_last_n: count("penalty_last_n"),
        ..Sampling::default()
    }
    .or(&builtin())
}

/// The recommended sampling in a Hugging Face `generation_config.json`, over [`builtin`]
/// (`do_sample: false` means greedy).
pub(crate) fn from_generation_config(config: &serde_json::Value) -> Sampling {
    let number = |key: &str| config.get(key).and_then(serde_json::Value::as_f64);
    let greedy = config.get("do_sample").and_then(serde_json::Value::as_bool) == Some(false);
    Sampling {
        temperature: if greedy { Some(0.0) } else { number("temperature") },
        top_k: number("top_k").filter(|k| *k >= 0.0).map(|k| k as u32),
        top_p: number("top_p"),
        repetition_penalty: number("repetition_penalty"),
        ..Sampling::default()
    }
    .or(&builtin())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_files_own_settings_come_first() {
        let metadata = std::collections::HashMap::from([
            ("general.sampling.temp".to_string(), Value::F32(0.6)),
            ("general.sampling.top_k".to_string(), Value::I32(20)),
            ("general.sampling.penalty_last_n".to_string(), Value::I32(128)),
        ]);
        let sampling = from_gguf(&metadata);
        assert_eq!(sampling.temperature, Some(f64::from(0.6_f32)));
        assert_eq!((sampling.top_k, sampling.repeat_last_n), (Some(20), Some(128)));
        assert_eq!((sampling.top_p, sampling.repetition_penalty), (Some(0.95), Some(1.1)));
        let greedy = from_generation_config(&serde_json::json!({"do_sample": false, "top_p": 0.9}));
        assert_eq!((greedy.temperature, greedy.top_p), (Some(0.0), Some(0.9)));
    }
}
