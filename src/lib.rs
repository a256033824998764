//! fluxgate: the merge gate of a GitOps repository. Renders every kustomize overlay and Flux
//! entry point natively, checks what it renders, and reports findings.

pub mod audit;
pub mod check;
pub mod cluster;
pub mod config;
pub mod diff;
pub mod discover;
pub mod finding;
pub mod flux;
pub mod fuzzing;
pub mod gate;
pub mod helm;
pub mod hook;
pub mod kustomize;
pub mod pipeline;
pub mod policy;
pub mod publish;
pub mod report;
pub mod rules;
pub mod schema;
pub mod source;
