use super::PatchError;
use crate::source::{Loc, Node};
pub fn apply_json6902(target: &mut Node, ops: &Node, patch_loc: Loc) -> Result<(), PatchError> {
    let _ = (target, ops, patch_loc);
    Ok(())
}
