//! Rankings from several retrievers made one: reciprocal rank fusion, or a blend of scores
//! normalised per ranking (by its range, or by its distribution). How lexical (BM25) and dense (embedding) search become hybrid
//! search, and where another engine's ranking (OpenSearch, Qdrant, Quickwit: any
//! [`Retriever`]) joins them.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;

use crate::error::Result;
use crate::retrieval::{Passage, RetrievalQuery, Retriever};

/// How rankings are combined. Each ranking has a weight (1 when not given).
#[derive(Debug, Clone, PartialEq)]
pub enum Fusion {
    /// Reciprocal rank fusion: a result's score is the sum over rankings of
    /// `weight / (k + rank)`, ranks from 1. Only ranks count, so scores on different scales
    /// combine without tuning; `k` (60 in the original paper) flattens the top ranks' lead.
    Rrf {
        /// The rank offset.
        k: f32,
        /// The weight of each ranking, in order.
        weights: Vec<f32>,
    },
    /// Each ranking's scores scaled to [0, 1] (min to max), then summed with the weights; a
    /// result absent from a ranking gets 0 there.
    Blend {
        /// The weight of each ranking, in order.
        weights: Vec<f32>,
    },
    /// Distribution-based score fusion (as Qdrant's `dbsf`): each ranking's scores scaled so
    /// that its mean minus three standard deviations is 0 and its mean plus three is 1 (clamped
    /// to [0, 1]), then summed with the weights; a result absent from a ranking gets 0 there.
    /// Unlike [`Fusion::Blend`], one outlying score does not squeeze the rest of its ranking.
    Distribution {
        /// The weight of each ranking, in order.
        weights: Vec<f32>,
    },
}

impl Fusion {
    /// Reciprocal rank fusion with this `k` and equal weights.
    pub fn rrf(k: f32) -> Self {
        Fusion::Rrf { k, weights: Vec::new() }
    }

    fn weight(weights: &[f32], ranking: usize) -> f32 {
        weights.get(ranking).copied().unwrap_or(1.0)
    }

    /// A contribution that maps `low..=high` to `0..=weight` (clamped), or gives every score
    /// the whole weight where the range is empty.
    fn scaled(weight: f32, low: f32, high: f32) -> Box<dyn Fn(usize, f32) -> f32> {
        let span = high - low;
        Box::new(move |_, score| {
            weight * if span > 0.0 { ((score - low) / span).clamp(0.0, 1.0) } else { 1.0 }
        })
    }

    /// The fused ranking of `rankings` (each a list of keys with their scores, best first),
    /// best first, at most `depth` long. Ties keep the order in which keys first appear.
    pub fn fuse<K: Clone + Eq + std::hash::Hash>(
        &self,
        rankings: &[Vec<(K, f32)>],
        depth: usize,
    ) -> Vec<(K, f32)> {
        let mut scores: HashMap<K, (f32, usize)> = HashMap::new();
        let mut order = 0;
        for (index, ranking) in rankings.iter().enumerate() {
            let contribution: Box<dyn Fn(usize, f32) -> f32> = match self {
                Fusion::Rrf { k, weights } => {
                    let (k, weight) = (*k, Self::weight(weights, index));
                    Box::new(move |rank, _| weight / (k + rank as f32 + 1.0))
                }
                Fusion::Blend { weights } => {
                    let (low, high) = ranking
                        .iter()
                        .fold((f32::INFINITY, f32::NEG_INFINITY), |(l, h), (_, s)| {
                            (l.min(*s), h.max(*s))
                        });
                    Self::scaled(Self::weight(weights, index), low, high)
                }
                Fusion::Distribution { weights } => {
                    let count = ranking.len().max(1) as f64;
                    let mean = ranking.iter().map(|(_, s)| f64::from(*s)).sum::<f64>() / count;
                    let variance =
                        ranking.iter().map(|(_, s)| (f64::from(*s) - mean).powi(2)).sum::<f64>()
                            / count;
                    let spread = 3.0 * variance.sqrt();
                    let (low, high) = ((mean - spread) as f32, (mean + spread) as f32);
                    Self::scaled(Self::weight(weights, index), low, high)
                }
            };
            for (rank, (key, score)) in ranking.iter().enumerate() {
                let entry = scores.entry(key.clone()).or_insert_with(|| {
                    order += 1;
                    (0.0, order)
                });
                entry.0 += contribution(rank, *score);
            }
        }
        let mut fused: Vec<(K, f32, usize)> =
            scores.into_iter().map(|(key, (score, first))| (key, score, first)).collect();
        fused.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.2.cmp(&b.2)));
        fused.into_iter().take(depth).map(|(key, score, _)| (key, score)).collect()
    }
}

/// Any retrievers, their passages fused: a passage is the same when its source (path and
/// lines) is. The query goes to each retriever for its own `k`; the fused list is `k` long.
pub struct FusedRetriever {
    retrievers: Vec<Arc<dyn Retriever>>,
    fusion: Fusion,
}

impl FusedRetriever {
    /// These retrievers, fused as `fusion` says (weights in the retrievers' order).
    pub fn new(retrievers: Vec<Arc<dyn Retriever>>, fusion: Fusion) -> Self {
        FusedRetriever { retrievers, fusion }
    }
}

#[async_trait]
impl Retriever for FusedRetriever {
    async fn retrieve(&self, query: &RetrievalQuery) -> Result<Vec<Passage>> {
        let results =
            futures::future::try_join_all(self.retrievers.iter().map(|r| r.retrieve(query)))
                .await?;
        let mut passages: HashMap<String, Passage> = HashMap::new();
        let rankings: Vec<Vec<(String, f32)>> = results
            .into_iter()
            .map(|found| {
                found
                    .into_iter()
                    .map(|passage| {
                        let key = passage.source.to_string();
                        let score = passage.score;
                        passages.entry(key.clone()).or_insert(passage);
                        (key, score)
                    })
                    .collect()
            })
            .collect();
        Ok(self
            .fusion
            .fuse(&rankings, query.k)
            .into_iter()
            .filter_map(|(key, score)| passages.remove(&key).map(|p| Passage { score, ..p }))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ranking(keys: &[&'static str]) -> Vec<(&'static str, f32)> {
        keys.iter().enumerate().map(|(i, k)| (*k, 10.0 - i as f32)).collect()
    }

    #[test]
    fn rrf_rewards_agreement_and_weights_tilt_it() {
        let lexical = ranking(&["a", "b", "c"]);
        let dense = ranking(&["b", "d", "a"]);
        let fused = Fusion::rrf(60.0).fuse(&[lexical.clone(), dense.clone()], 10);
        let keys: Vec<_> = fused.iter().map(|(k, _)| *k).collect();
        assert_eq!(keys, ["b", "a", "d", "c"]);
        assert!((fused[0].1 - (1.0 / 62.0 + 1.0 / 61.0)).abs() < 1e-6);
        let tilted = Fusion::Rrf { k: 1.0, weights: vec![3.0, 1.0] }.fuse(&[lexical, dense], 2);
        assert_eq!(tilted.iter().map(|(k, _)| *k).collect::<Vec<_>>(), ["a", "b"]);
    }

    #[test]
    fn a_blend_scales_each_ranking_before_summing() {
        let lexical = vec![("a", 30.0), ("b", 10.0)];
        let dense = vec![("b", 0.9), ("a", 0.8)];
        let fused = Fusion::Blend { weights: vec![1.0, 1.0] }.fuse(&[lexical, dense], 5);
        assert_eq!(fused, [("a", 1.0), ("b", 1.0)]);
        let fused = Fusion::Blend { weights: vec![0.5, 1.0] }
            .fuse(&[vec![("a", 30.0), ("b", 10.0)], vec![("b", 0.9), ("a", 0.8)]], 5);
        assert_eq!(fused[0].0, "b");
    }

    #[test]
    fn a_distribution_blend_scales_by_mean_and_three_deviations() {
        // Mean 2, deviation 1: the range is -1..5, so 3 -> 4/6 and 1 -> 2/6.
        let lexical = vec![("a", 3.0), ("b", 1.0)];
        let dense = vec![("b", 0.5)];
        let fused = Fusion::Distribution { weights: vec![1.0, 0.5] }.fuse(&[lexical, dense], 5);
        assert_eq!(fused[0].0, "b");
        assert!((fused[0].1 - (2.0 / 6.0 + 0.5)).abs() < 1e-6, "{fused:?}");
        assert!((fused[1].1 - 4.0 / 6.0).abs() < 1e-6, "{fused:?}");
        // A score past mean + 3 deviations is clamped to the whole weight.
        let mut ranking = vec![("top", 100.0)];
        ranking.extend(["b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l"].map(|k| (k, 1.0)));
        let fused = Fusion::Distribution { weights: Vec::new() }.fuse(&[ranking], 1);
        assert_eq!(fused, [("top", 1.0)]);
        let same = vec![("x", 1.0), ("y", 1.0)];
        let fused = Fusion::Distribution { weights: vec![2.0] }.fuse(&[same], 2);
        assert_eq!(fused, [("x", 2.0), ("y", 2.0)]);
    }
}
