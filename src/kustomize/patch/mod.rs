//! TEMPORARY stub until the patch branch merges.
pub mod json6902;
pub mod strategic;
use crate::source::Loc;
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct PatchError {
    pub message: String,
    pub loc: Option<Loc>,
}
