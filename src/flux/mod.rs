//! Flux semantics on top of the kustomize engine: what Flux's kustomize-controller applies.

pub mod substitute;
