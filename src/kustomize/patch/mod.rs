//! Patch application as kustomize v5.5 does it: strategic merge (kyaml `merge2`, with list
//! merge metadata from the Kubernetes OpenAPI schema) and RFC 6902 JSON patches.

pub mod json6902;
pub mod meta;
pub mod openapi;
pub mod strategic;

#[cfg(test)]
mod kubectl_diff;

use crate::source::Loc;

/// Why a patch could not be applied. `loc` points at the offending part of the patch when known,
/// so the finding can show the user the line to fix.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct PatchError {
    pub message: String,
    pub loc: Option<Loc>,
}

impl PatchError {
    pub fn new(message: impl Into<String>, loc: Loc) -> Self {
        PatchError { message: message.into(), loc: if loc.is_none() { None } else { Some(loc) } }
    }
}
