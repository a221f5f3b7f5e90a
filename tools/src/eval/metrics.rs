//! nDCG@k, Recall@k and MRR@k, as BEIR computes them with `pytrec_eval`: graded gains with a
//! log2 discount for nDCG, the share of a query's relevant documents in its top k for recall,
//! and the reciprocal rank of the first relevant document within k for MRR; each averaged over
//! every judged query (a query without results scores 0).

use std::collections::HashMap;

/// Relevance judgements: query id → document id → grade (0 is not relevant).
pub type Qrels = HashMap<String, HashMap<String, u32>>;

/// A ranking per query: query id → document ids, best first.
pub type Run = HashMap<String, Vec<String>>;

/// The mean scores of a run over a set of judged queries.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scores {
    /// nDCG@10.
    pub ndcg_at_10: f64,
    /// Recall@100.
    pub recall_at_100: f64,
    /// MRR@10.
    pub mrr_at_10: f64,
    /// How many judged queries were scored.
    pub queries: usize,
}

/// nDCG@k of one ranking.
pub fn ndcg_at(k: usize, ranking: &[String], judged: &HashMap<String, u32>) -> f64 {
    let discounted = |position: usize, grade: u32| grade as f64 / (position as f64 + 2.0).log2();
    let dcg: f64 = ranking
        .iter()
        .take(k)
        .enumerate()
        .map(|(position, doc)| discounted(position, judged.get(doc).copied().unwrap_or(0)))
        .sum();
    let mut grades: Vec<u32> = judged.values().copied().filter(|g| *g > 0).collect();
    grades.sort_unstable_by(|a, b| b.cmp(a));
    let ideal: f64 = grades.iter().take(k).enumerate().map(|(p, g)| discounted(p, *g)).sum();
    if ideal == 0.0 { 0.0 } else { dcg / ideal }
}

/// Recall@k of one ranking.
pub fn recall_at(k: usize, ranking: &[String], judged: &HashMap<String, u32>) -> f64 {
    let relevant = judged.values().filter(|g| **g > 0).count();
    if relevant == 0 {
        return 0.0;
    }
    let found =
        ranking.iter().take(k).filter(|doc| judged.get(*doc).is_some_and(|g| *g > 0)).count();
    found as f64 / relevant as f64
}

/// MRR@k of one ranking: 1 / the rank of the first relevant document within k, else 0.
pub fn mrr_at(k: usize, ranking: &[String], judged: &HashMap<String, u32>) -> f64 {
    ranking
        .iter()
        .take(k)
        .position(|doc| judged.get(doc).is_some_and(|g| *g > 0))
        .map_or(0.0, |position| 1.0 / (position as f64 + 1.0))
}

/// One metric of one ranking against one query's judgements.
type Metric<'a> = &'a dyn Fn(&[String], &HashMap<String, u32>) -> f64;

/// The mean scores of `run` over every query judged in `qrels`.
pub fn evaluate(qrels: &Qrels, run: &Run) -> Scores {
    let empty = Vec::new();
    let mean = |metric: Metric| {
        if qrels.is_empty() {
            return 0.0;
        }
        let total: f64 = qrels
            .iter()
            .map(|(query, judged)| metric(run.get(query).unwrap_or(&empty), judged))
            .sum();
        total / qrels.len() as f64
    };
    Scores {
        ndcg_at_10: mean(&|ranking, judged| ndcg_at(10, ranking, judged)),
        recall_at_100: mean(&|ranking, judged| recall_at(100, ranking, judged)),
        mrr_at_10: mean(&|ranking, judged| mrr_at(10, ranking, judged)),
        queries: qrels.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn judged(pairs: &[(&str, u32)]) -> HashMap<String, u32> {
        pairs.iter().map(|(d, g)| (d.to_string(), *g)).collect()
    }

    #[test]
    fn metrics_match_hand_computed_values() {
        // Query 1: relevant a (grade 1) and b (grade 1); ranked x, a, y, b.
        //   DCG  = 1/log2(3) + 1/log2(5) = 0.630930 + 0.430677 = 1.061606
        //   IDCG = 1/log2(2) + 1/log2(3) = 1 + 0.630930 = 1.630930
        //   nDCG@10 = 0.650921; Recall@100 = 2/2 = 1; MRR@10 = 1/2.
        let q1 = judged(&[("a", 1), ("b", 1)]);
        let r1 = ids(&["x", "a", "y", "b"]);
        assert!((ndcg_at(10, &r1, &q1) - 0.650_921).abs() < 1e-6, "{}", ndcg_at(10, &r1, &q1));
        assert_eq!(recall_at(100, &r1, &q1), 1.0);
        assert_eq!(mrr_at(10, &r1, &q1), 0.5);
        // Cut at 2, only a counts: nDCG@2 = 0.630930 / 1.630930 = 0.386853; Recall@2 = 1/2.
        assert!((ndcg_at(2, &r1, &q1) - 0.386_853).abs() < 1e-6);
        assert_eq!(recall_at(2, &r1, &q1), 0.5);
        // Graded: c has grade 2, d grade 1; ranked d, c.
        //   DCG = 1/1 + 2/log2(3) = 2.261860; IDCG = 2/1 + 1/log2(3) = 2.630930 → 0.859719.
        let q2 = judged(&[("c", 2), ("d", 1), ("z", 0)]);
        assert!((ndcg_at(10, &ids(&["d", "c"]), &q2) - 0.859_719).abs() < 1e-6);
        // Nothing relevant retrieved.
        assert_eq!(mrr_at(10, &ids(&["z"]), &q2), 0.0);
    }

    #[test]
    fn means_are_over_every_judged_query() {
        let qrels: Qrels = [
            ("q1".to_string(), judged(&[("a", 1), ("b", 1)])),
            ("q2".to_string(), judged(&[("c", 1)])),
            ("q3".to_string(), judged(&[("e", 1)])),
        ]
        .into();
        // q1 as above; q2 finds c first (all metrics 1); q3 has no results (all 0).
        let run: Run =
            [("q1".to_string(), ids(&["x", "a", "y", "b"])), ("q2".to_string(), ids(&["c"]))]
                .into();
        let scores = evaluate(&qrels, &run);
        assert_eq!(scores.queries, 3);
        assert!((scores.ndcg_at_10 - (0.650_921 + 1.0) / 3.0).abs() < 1e-6);
        assert!((scores.recall_at_100 - 2.0 / 3.0).abs() < 1e-9);
        assert!((scores.mrr_at_10 - 0.5).abs() < 1e-9);
    }
}
