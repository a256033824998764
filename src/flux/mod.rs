//! Flux semantics on top of the kustomize engine: what Flux's kustomize-controller applies.

pub mod entry;
pub mod envsubst;
pub mod graph;
pub mod helm_values;
pub mod markers;
pub mod provenance;
pub mod render;
pub mod sourceignore;
pub mod sources;
pub mod substitute;
pub mod summary;
pub mod tree;
pub mod version;
