//! The retrieval benchmark end to end on a tiny BEIR dataset whose figures are worked out by hand.

#![allow(clippy::unwrap_used)] // Tests fail loudly by design.

use std::fs;

use anymodel_tools::eval::benchmark::benchmark;

#[test]
fn the_benchmark_scores_a_tiny_dataset_as_worked_out_by_hand() {
    let temp = tempfile::tempdir().unwrap();
    let folder = temp.path();
    fs::write(
        folder.join("corpus.jsonl"),
        "{\"_id\": \"d1\", \"title\": \"\", \"text\": \"apple banana\"}\n\
         {\"_id\": \"d2\", \"title\": \"\", \"text\": \"apple\"}\n\
         {\"_id\": \"d3\", \"title\": \"\", \"text\": \"cherry\"}\n",
    )
    .unwrap();
    fs::write(
        folder.join("queries.jsonl"),
        "{\"_id\": \"q1\", \"text\": \"banana\"}\n{\"_id\": \"q2\", \"text\": \"apple\"}\n{\"_id\": \"q3\", \"text\": \"cherry\"}\n{\"_id\": \"q4\", \"text\": \"unjudged\"}\n",
    )
    .unwrap();
    fs::create_dir(folder.join("qrels")).unwrap();
    fs::write(
        folder.join("qrels/test.tsv"),
        "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td1\t1\nq3\td2\t1\n",
    )
    .unwrap();

    let report =
        futures::executor::block_on(benchmark(folder, "test", Default::default(), 1)).unwrap();
    // q1 "banana" finds d1 alone: nDCG@10 1, Recall@100 1, MRR@10 1.
    // q2 "apple" ranks the shorter d2 above d1, the relevant one: nDCG@10 = (1/log2 3) / 1 = 0.630930,
    //    Recall@100 1, MRR@10 1/2.
    // q3 "cherry" finds only d3, not the relevant d2: all 0.
    // Means over the three judged queries (q4 is not judged):
    assert_eq!((report.documents, report.scores.queries), (3, 3));
    assert!((report.scores.ndcg_at_10 - (1.0 + 0.630_930) / 3.0).abs() < 1e-6, "{report}");
    assert!((report.scores.recall_at_100 - 2.0 / 3.0).abs() < 1e-9, "{report}");
    assert!((report.scores.mrr_at_10 - 0.5).abs() < 1e-9, "{report}");
    assert!(report.latency.p50 <= report.latency.p99 && report.latency.p99 <= report.latency.max);
    let printed = report.to_string();
    assert!(
        printed.contains("nDCG@10 0.5436") && printed.contains("query latency p50"),
        "{printed}"
    );
}
