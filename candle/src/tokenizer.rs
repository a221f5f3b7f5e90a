//! The tokenizer a GGUF file describes in its metadata, built with the `tokenizers` crate.
//!
//! GGUF stores the vocabulary, merges and token types, and names its pre-tokenizer
//! (`tokenizer.ggml.pre`); the pre-tokenizer decides how text is split before BPE, so each one
//! is rebuilt here as llama.cpp applies it. A model whose pre-tokenizer is not known here is
//! refused by name rather than tokenised wrongly. SentencePiece models (`llama`) become a BPE
//! with byte fallback, as Hugging Face converts them.

use std::collections::HashMap;

use anymodel_core::{Error, Result};
use candle_core::quantized::gguf_file::Value;
use tokenizers::decoders::DecoderWrapper;
use tokenizers::decoders::byte_fallback::ByteFallback;
use tokenizers::decoders::byte_level::ByteLevel as ByteLevelDecoder;
use tokenizers::decoders::fuse::Fuse;
use tokenizers::decoders::sequence::Sequence as DecoderSequence;
use tokenizers::decoders::strip::Strip;
use tokenizers::models::bpe::{BPE, Vocab};
use tokenizers::normalizers::{
    NormalizerWrapper, Prepend, Replace, Sequence as NormalizerSequence,
};
use tokenizers::pre_tokenizers::PreTokenizerWrapper;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::processors::PostProcessorWrapper;
use tokenizers::processors::byte_level::ByteLevel as ByteLevelProcessor;
use tokenizers::processors::sequence::Sequence as ProcessorSequence;
use tokenizers::processors::template::TemplateProcessing;
use tokenizers::{AddedToken, SplitDelimiterBehavior, Tokenizer};

/// Llama 3's split pattern (`tokenizer.ggml.pre = llama-bpe`).
const LLAMA3_PATTERN: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// GGUF token types that are special tokens: CONTROL (3) and USER_DEFINED (4).
const SPECIAL_TYPES: [i32; 2] = [3, 4];

/// A model's tokenizer and the special tokens its generation needs.
#[derive(Debug, Clone)]
pub struct Vocabulary {
    /// The tokenizer.
    pub tokenizer: Tokenizer,
    /// The beginning-of-text token, if the model has one.
    pub bos: Option<(u32, String)>,
    /// The end-of-sequence token.
    pub eos: Option<(u32, String)>,
    /// Whether a prompt starts with the BOS token (false for SmolLM2).
    pub add_bos: bool,
    /// The model's own chat template, if the file carries one.
    pub chat_template: Option<String>,
}

/// Reads the tokenizer that GGUF metadata describes. `file` names the file in errors.
pub fn vocabulary_from_gguf(metadata: &HashMap<String, Value>, file: &str) -> Result<Vocabulary> {
    let fail = |what: String| Error::config(format!("{file}: cannot build its tokenizer: {what}"));
    let text = |key: &str| metadata.get(key).and_then(|v| v.to_string().ok()).cloned();
    let flag = |key: &str| metadata.get(key).and_then(|v| v.to_bool().ok());
    let model =
        text("tokenizer.ggml.model").ok_or_else(|| fail("no `tokenizer.ggml.model`".into()))?;
    if model != "gpt2" && model != "llama" {
        return Err(fail(format!(
            "tokenizer model `{model}` is not supported (BPE `gpt2` and SentencePiece `llama` are); put a tokenizer.json beside the model"
        )));
    }
    let tokens = strings(metadata, "tokenizer.ggml.tokens").map_err(fail)?;
    let types: Vec<i32> = match metadata.get("tokenizer.ggml.token_type").map(Value::to_vec) {
        Some(Ok(values)) => values.iter().map(|v| v.to_i32().unwrap_or(1)).collect(),
        _ => vec![1; tokens.len()],
    };
    let vocab: Vocab =
        tokens.iter().enumerate().map(|(id, token)| (token.clone(), id as u32)).collect();
    // Whether a prompt starts with BOS: llama.cpp's default is yes for SentencePiece, no for BPE.
    let (mut tokenizer, mut processors, add_bos) = match model.as_str() {
        "gpt2" => {
            let merges = strings(metadata, "tokenizer.ggml.merges").map_err(fail)?;
            let merges = merges
                .iter()
                .map(|merge| merge.split_once(' ').map(|(a, b)| (a.to_string(), b.to_string())))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| fail("a merge is not two tokens separated by a space".into()))?;
            let bpe = BPE::builder()
                .vocab_and_merges(vocab, merges)
                .build()
                .map_err(|err| fail(format!("the BPE model is inconsistent: {err}")))?;
            let mut tokenizer = Tokenizer::new(bpe);
            let pre = text("tokenizer.ggml.pre").unwrap_or_else(|| "default".into());
            tokenizer.with_pre_tokenizer(Some(pre_tokenizer(&pre).map_err(fail)?));
            tokenizer.with_decoder(Some(ByteLevelDecoder::default()));
            let byte_level =
                PostProcessorWrapper::ByteLevel(ByteLevelProcessor::new(true, false, true));
            (tokenizer, vec![byte_level], flag("tokenizer.ggml.add_bos_token").unwrap_or(false))
        }
        _ /* "llama": SentencePiece */ => {
            let scores: Vec<f32> = match metadata.get("tokenizer.ggml.scores").map(Value::to_vec) {
                Some(Ok(values)) => values.iter().map(|v| v.to_f32().unwrap_or(0.0)).collect(),
                _ => return Err(fail("no `tokenizer.ggml.scores`".into())),
            };
            let space_prefix = flag("tokenizer.ggml.add_space_prefix").unwrap_or(true);
            let tokenizer =
                sentencepiece(&tokens, &types, &scores, vocab, space_prefix).map_err(fail)?;
            (tokenizer, Vec::new(), flag("tokenizer.ggml.add_bos_token").unwrap_or(true))
        }
    };

    let special: Vec<AddedToken> = tokens
        .iter()
        .zip(&types)
        .filter(|(_, kind)| SPECIAL_TYPES.contains(kind))
        .map(|(token, _)| AddedToken::from(token.clone(), true))
        .collect();
    tokenizer
        .add_special_tokens(special)
        .map_err(|err| fail(format!("the special tokens: {err}")))?;

    let token = |key: &str| {
        let id = metadata.get(key).and_then(|v| v.to_u32().ok())?;
        tokens.get(id as usize).map(|token| (id, token.clone()))
    };
    let bos = token("tokenizer.ggml.bos_token_id");
    if let (true, Some((id, content))) = (add_bos, &bos) {
        let template = TemplateProcessing::builder()
            .try_single(format!("{content} $A"))
            .and_then(|builder| {
                builder
                    .special_tokens(vec![(content.clone(), *id)])
                    .build()
                    .map_err(|e| e.to_string())
            })
            .map_err(|err| fail(format!("the BOS template: {err}")))?;
        processors.push(PostProcessorWrapper::Template(template));
    }
    tokenizer.with_post_processor(Some(ProcessorSequence::new(processors)));

    Ok(Vocabulary {
        tokenizer,
        eos: token("tokenizer.ggml.eos_token_id"),
        bos,
        add_bos,
        chat_template: text("tokenizer.chat_template"),
    })
}

/// SentencePiece's model (GGUF `llama`: Llama 2, Mistral 7B) as a BPE with byte fallback, the
/// way Hugging Face converts it: every normal piece that splits into two other pieces becomes a
/// merge, ranked by the piece's score; spaces become `▁`, with one in front of the text when
/// `space_prefix` is set.
fn sentencepiece(
    tokens: &[String],
    types: &[i32],
    scores: &[f32],
    vocab: Vocab,
    space_prefix: bool,
) -> std::result::Result<Tokenizer, String> {
    const NORMAL: i32 = 1;
    let mut merges: Vec<(f32, u32, u32, u32)> = Vec::new();
    for (id, piece) in tokens.iter().enumerate() {
        if types.get(id) != Some(&NORMAL) {
            continue;
        }
        for (at, _) in piece.char_indices().skip(1) {
            if let (Some(&left), Some(&right)) = (vocab.get(&piece[..at]), vocab.get(&piece[at..]))
            {
                merges.push((scores.get(id).copied().unwrap_or(0.0), id as u32, left, right));
            }
        }
    }
    // Higher scores merge first; ties keep the vocabulary's order.
    merges.sort_by(|a, b| b.0.total_cmp(&a.0).then((a.1, a.2, a.3).cmp(&(b.1, b.2, b.3))));
    let merges = merges
        .into_iter()
        .map(|(_, _, left, right)| (tokens[left as usize].clone(), tokens[right as usize].clone()))
        .collect();
    let unknown = tokens
        .iter()
        .zip(types)
        .find(|(_, kind)| **kind == 2)
        .map_or("<unk>".to_string(), |(token, _)| token.clone());
    let bpe = BPE::builder()
        .vocab_and_merges(vocab, merges)
        .unk_token(unknown)
        .fuse_unk(true)
        .byte_fallback(true)
        .build()
        .map_err(|err| format!("the SentencePiece model is inconsistent: {err}"))?;
    let mut tokenizer = Tokenizer::new(bpe);
    let spaces = Replace::new(" ", "▁").map_err(|err| err.to_string())?;
    let normalizer = if space_prefix {
        NormalizerWrapper::Sequence(NormalizerSequence::new(vec![
            Prepend::new("▁".into()).into(),
            spaces.into(),
        ]))
    } else {
        spaces.into()
    };
    tokenizer.with_normalizer(Some(normalizer)).map_err(|err| err.to_string())?;
    let mut decoders = vec![
        DecoderWrapper::Replace(Replace::new("▁", " ").map_err(|err| err.to_string())?),
        DecoderWrapper::ByteFallback(ByteFallback::new()),
        DecoderWrapper::Fuse(Fuse::new()),
    ];
    if space_prefix {
        decoders.push(DecoderWrapper::Strip(Strip::new(' ', 1, 0)));
    }
    tokenizer.with_decoder(Some(DecoderSequence::new(decoders)));
    Ok(tokenizer)
}

fn strings(
    metadata: &HashMap<String, Value>,
    key: &str,
) -> std::result::Result<Vec<String>, String> {
    let values = metadata
        .get(key)
        .ok_or_else(|| format!("no `{key}`"))?
        .to_vec()
        .map_err(|_| format!("`{key}` is not an array"))?;
    values
        .iter()
        .map(|v| {
            v.to_string().cloned().map_err(|_| format!("`{key}` holds something other than text"))
        })
        .collect()
}

/// The pre-tokenizer llama.cpp applies for `tokenizer.ggml.pre = name`.
fn pre_tokenizer(name: &str) -> std::result::Result<PreTokenizerWrapper, String> {
    let byte_level =
        |use_regex| PreTokenizerWrapper::ByteLevel(ByteLevel::new(false, true, use_regex));
    Ok(match name {
        "llama-bpe" | "llama3" => {
            let split = Split::new(
                SplitPattern::Regex(LLAMA3_PATTERN.into()),
                SplitDelimiterBehavior::Isolated,
                false,
            )
            .map_err(|err| err.to_string())?;
            PreTokenizerWrapper::Sequence(Sequence::new(vec![split.into(), byte_level(false)]))
        }
        // SmolLM2: every digit apart, then GPT-2's split, and no prefix space.
        "smollm" => PreTokenizerWrapper::Sequence(Sequence::new(vec![
            Digits::new(true).into(),
            byte_level(true),
        ])),
        "gpt2" | "default" => byte_level(true),
        other => {
            return Err(format!(
                "pre-tokenizer `{other}` is not supported; put a tokenizer.json beside the model"
            ));
        }
    })
}
