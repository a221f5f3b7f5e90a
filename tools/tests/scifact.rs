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
