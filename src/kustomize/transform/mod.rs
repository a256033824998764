//! Builtin transformers, one per file; each is a function over the resource list. The order
//! they run in lives in one place: [`crate::kustomize::build`].

pub mod annotations;
pub mod build_metadata;
pub mod fields;
pub mod images;
pub mod labels;
pub mod name_affix;
pub mod namereference;
pub mod namespace;
pub mod replacements;
pub mod replicas;
pub mod sort;
pub mod vars;
