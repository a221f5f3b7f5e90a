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
use proptest::prelude::*;
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

/// Where tensor `name`'s entry is in the header of `bytes`: the position of its name's length
/// (its name, dimension count, dimensions, type and offset follow).
fn tensor_entry(bytes: &[u8], data_offset: usize, name: &str) -> usize {
    let mut needle = (name.len() as u64).to_le_bytes().to_vec();
    needle.extend_from_slice(name.as_bytes());
    bytes[..data_offset].windows(needle.len()).rposition(|w| w == needle).unwrap()
}

/// Where the offset of tensor `name` (of `dims` dimensions) is written in the header.
fn offset_field(bytes: &[u8], data_offset: usize, name: &str, dims: usize) -> usize {
    tensor_entry(bytes, data_offset, name) + 8 + name.len() + 4 + 8 * dims + 4
}

#[test]
fn overlapping_or_outlying_tensors_are_refused() {
    let temp = tempfile::tempdir().unwrap();
    let good = temp.path().join("good.gguf");
    tiny_llama(&good, 0, &[], None);
    let content = gguf_file::Content::read(&mut std::fs::File::open(&good).unwrap()).unwrap();
    let data = content.tensor_data_offset as usize;
    let bytes = std::fs::read(&good).unwrap();
    let offset = |name: &str| content.tensor_infos[name].offset;

    // blk.0.attn_k.weight pointed at the bytes of blk.0.attn_q.weight.
    let mut overlapping = bytes.clone();
    let at = offset_field(&bytes, data, "blk.0.attn_k.weight", 2);
    assert_eq!(
        u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap()),
        offset("blk.0.attn_k.weight")
    );
    overlapping[at..at + 8].copy_from_slice(&offset("blk.0.attn_q.weight").to_le_bytes());
    let path = temp.path().join("overlapping.gguf");
    std::fs::write(&path, &overlapping).unwrap();
    let error = load_error(&path);
    assert!(error.contains("overlap"), "{error}");

    // Pointed past the end of the file.
    let mut outlying = bytes.clone();
    outlying[at..at + 8].copy_from_slice(&(1u64 << 40).to_le_bytes());
    let path = temp.path().join("outlying.gguf");
    std::fs::write(&path, &outlying).unwrap();
    let error = load_error(&path);
    assert!(error.contains("`blk.0.attn_k.weight`") && error.contains("does not fit"), "{error}");
}

/// How many damaged headers the property test loads.
const CASES: u32 = 48;

proptest! {
    #![proptest_config(ProptestConfig { cases: CASES, failure_persistence: None, ..ProptestConfig::default() })]

    /// Any bytes of the header changed (its counts, its tensor entries, anywhere in its
    /// metadata), or the file cut anywhere: the load ends in a model or a configuration error,
    /// never a panic or an abort.
    #[test]
    fn any_damaged_header_loads_or_is_a_configuration_error(
        changes in prop::collection::vec((0usize..3, any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in prop::option::of(any::<prop::sample::Index>()),
    ) {
        let (bytes, data, entries) = &*GOOD;
        let mut damaged = bytes.clone();
        for (region, at, value) in changes {
            // The counts and first keys; the tensor entries; anywhere before the weights.
            let (start, end) = match region {
                0 => (0, 64),
                1 => (*entries, *data),
                _ => (0, *data),
            };
            damaged[start + at.index(end - start)] = value;
        }
        if let Some(cut) = cut {
            damaged.truncate(cut.index(bytes.len()));
        }
        let temp = tempfile::tempdir().unwrap();
        let path = temp.path().join("damaged.gguf");
        std::fs::write(&path, &damaged).unwrap();
        match LocalModel::load(LocalConfig::new(&path)) {
            Ok(_) | Err(Error::Configuration { .. }) => {}
            Err(other) => prop_assert!(false, "not a configuration error: {other}"),
        }
    }
}

/// A good file's bytes, where its weights start, and where its tensor entries start.
static GOOD: std::sync::LazyLock<(Vec<u8>, usize, usize)> = std::sync::LazyLock::new(|| {
    let temp = tempfile::tempdir().unwrap();
    let good = temp.path().join("good.gguf");
    tiny_llama(&good, 0, &[], None);
    let bytes = std::fs::read(&good).unwrap();
    let content = gguf_file::Content::read(&mut std::fs::File::open(&good).unwrap()).unwrap();
    let data = content.tensor_data_offset as usize;
    let entries =
        content.tensor_infos.keys().map(|name| tensor_entry(&bytes, data, name)).min().unwrap();
    (bytes, data, entries)
});
