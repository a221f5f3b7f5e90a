//! Retrieval evaluation in the BEIR format: the dataset ([`beir`]), the metrics ([`metrics`])
//! that published retrieval figures use, and the benchmark of the knowledge index
//! ([`benchmark`]).

pub mod beir;
pub mod benchmark;
pub mod metrics;
