//! Retrieval evaluation in the BEIR format: the dataset ([`beir`]) and the metrics ([`metrics`])
//! that published retrieval figures use.

pub mod beir;
pub mod metrics;
