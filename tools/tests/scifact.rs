//! The BEIR loader on the real SciFact dataset in `../shared/datasets/scifact/`.

#![allow(clippy::unwrap_used)] // Tests fail loudly by design.

use std::path::Path;

use anymodel_tools::eval::beir::Dataset;

#[test]
fn scifact_loads_with_its_published_sizes() {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/datasets/scifact");
    assert!(
        folder.exists(),
        "{} is missing: the shared datasets sit beside the repository",
        folder.display()
    );
    let test = Dataset::load(&folder, "test").unwrap();
    assert_eq!(test.corpus.len(), 5183);
    assert_eq!(test.queries.len(), 300);
    assert_eq!(test.qrels.values().map(|judged| judged.len()).sum::<usize>(), 339);
    let train = Dataset::load(&folder, "train").unwrap();
    assert_eq!(train.queries.len(), 809);
}

/// The index's default ranking, chosen on the train split, holds the published BM25 quality on
/// the test split (Anserini/Pyserini BM25 flat: nDCG@10 0.6789, Recall@100 0.9253).
#[test]
fn the_index_matches_the_best_published_bm25_on_scifact_test() {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/datasets/scifact");
    let report = futures::executor::block_on(anymodel_tools::eval::benchmark::benchmark(
        &folder,
        "test",
        Default::default(),
        0,
    ))
    .unwrap();
    assert_eq!((report.documents, report.scores.queries), (5183, 300));
    assert!(report.scores.ndcg_at_10 >= 0.679, "{report}");
    assert!(report.scores.recall_at_100 >= 0.92, "{report}");
}
