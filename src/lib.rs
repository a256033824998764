//! fluxgate: the merge gate of a GitOps repository. Renders every kustomize overlay and Flux
//! entry point natively, checks what it renders, and reports findings.

pub mod finding;
pub mod kustomize;
pub mod rules;
pub mod source;
