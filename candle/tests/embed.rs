//! The local embedder against sentence-transformers: all-MiniLM-L6-v2's vectors for a fixed set
//! of texts (`fixtures/minilm_reference.json`, written by `scripts/embedding-reference.py`)
//! match within 1e-4 cosine, batched and alone.

#![allow(clippy::unwrap_used)] // Tests fail loudly by design.

use std::path::Path;

use anymodel_candle::BertEmbedder;
use anymodel_core::{Embedder, InputKind, cosine};
use serde_json::Value;

fn minilm() -> BertEmbedder {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/all-MiniLM-L6-v2");
    assert!(folder.is_dir(), "{} is missing: run scripts/fetch-model.sh", folder.display());
    BertEmbedder::load(&folder, Some(2)).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn minilm_vectors_equal_sentence_transformers() {
    let reference: Value =
        serde_json::from_str(include_str!("fixtures/minilm_reference.json")).unwrap();
    let texts: Vec<String> = reference["texts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_string())
        .collect();
    let expected: Vec<Vec<f32>> = reference["vectors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect())
        .collect();
    let embedder = minilm();
    assert_eq!((embedder.dimensions(), embedder.max_input_tokens()), (384, Some(256)));
    let batched = embedder.embed(&texts, InputKind::Document).await.unwrap();
    for (i, (text, want)) in texts.iter().zip(&expected).enumerate() {
        let alone = embedder.embed(std::slice::from_ref(text), InputKind::Query).await.unwrap();
        for got in [&batched[i], &alone[0]] {
            let similarity = cosine(got, want);
            assert!(1.0 - similarity < 1e-4, "text {i} ({text:.40}): cosine {similarity}");
        }
    }
    assert!(embedder.embed(&[], InputKind::Query).await.unwrap().is_empty());
}

#[test]
fn a_folder_without_the_model_says_what_is_missing() {
    let error = BertEmbedder::load(Path::new("/nowhere"), None).unwrap_err().to_string();
    assert!(
        error.contains("/nowhere/config.json: missing") && error.contains("fetch-model.sh"),
        "{error}"
    );
}
