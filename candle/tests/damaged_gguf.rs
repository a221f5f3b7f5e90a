//! GGUF files with damaged or crafted headers: each is a configuration error naming what is
//! wrong, before anything large is allocated; none panics, aborts or loads to answer garbage.

#![allow(clippy::unwrap_used)] // Tests fail loudly by design.

mod support;

use std::path::Path;

use anymodel_candle::candle_core::Device;
use anymodel_candle::candle_core::quantized::{QTensor, gguf_file};
use anymodel_candle::{LocalConfig, LocalModel};
use anymodel_core::Error;
use gguf_file::Value;
use support::llama3::tiny_llama;

/// A copy of the GGUF at `from` with `changes` to its metadata (the tensors as they are).
fn altered(from: &Path, to: &Path, changes: &[(&str, Value)]) {
    let mut file = std::fs::File::open(from).unwrap();
    let content = gguf_file::Content::read(&mut file).unwrap();
    let mut metadata: Vec<(String, Value)> = content.metadata.clone().into_iter().collect();
    for (key, value) in changes {
        metadata.retain(|(k, _)| k != key);
        metadata.push((key.to_string(), value.clone()));
    }
    let tensors: Vec<(String, QTensor)> = content
        .tensor_infos
        .keys()
        .map(|name| (name.clone(), content.tensor(&mut file, name, &Device::Cpu).unwrap()))
        .collect();
    let pairs: Vec<(&str, &Value)> = metadata.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let tensors: Vec<(&str, &QTensor)> = tensors.iter().map(|(k, v)| (k.as_str(), v)).collect();
    gguf_file::write(&mut std::fs::File::create(to).unwrap(), &pairs, &tensors).unwrap();
}

fn load_error(path: &Path) -> String {
    match LocalModel::load(LocalConfig::new(path)) {
        Err(error @ Error::Configuration { .. }) => error.to_string(),
        Err(other) => panic!("not a configuration error: {other}"),
        Ok(_) => panic!("{} loaded", path.display()),
    }
}

#[test]
fn damaged_headers_are_named_configuration_errors() {
    let temp = tempfile::tempdir().unwrap();
    let good = temp.path().join("good.gguf");
    tiny_llama(&good, 0, &[], None);
    let cases: [(&str, Value, &str); 6] = [
        ("llama.attention.head_count", Value::U32(0), "head_count` is 0"),
        ("general.alignment", Value::U32(0), "header is damaged"),
        ("llama.block_count", Value::U32(u32::MAX), "block_count` is 4294967295"),
        ("llama.rope.dimension_count", Value::U32(1 << 31), "head width"),
        ("llama.attention.head_count_kv", Value::U32(2), "`blk.0.attn_k.weight` has shape [8, 16]"),
        ("llama.embedding_length", Value::U32(32), "token_embd.weight"),
    ];
    for (i, (key, value, expected)) in cases.into_iter().enumerate() {
        let path = temp.path().join(format!("bad-{i}.gguf"));
        altered(&good, &path, &[(key, value)]);
        let error = load_error(&path);
        assert!(error.contains(expected), "{key}: {error}");
    }
    // Cut short: a truncated file.
    let bytes = std::fs::read(&good).unwrap();
    let cut = temp.path().join("cut.gguf");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let error = load_error(&cut);
    assert!(error.contains("cut.gguf"), "{error}");
}
