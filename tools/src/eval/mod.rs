//! Retrieval evaluation in the BEIR format: the dataset ([`beir`]), the metrics ([`metrics`])
//! that published retrieval figures use, the benchmark of the knowledge index
//! ([`benchmark`]), and dense and hybrid retrieval with an embedder ([`dense`]).

pub mod beir;
pub mod benchmark;
pub mod dense;
pub mod metrics;
