use super::PatchError;
use crate::source::Node;
pub fn apply_strategic(target: &mut Node, patch: &Node) -> Result<(), PatchError> {
    if let (Some(t), Some(p)) = (target.as_map_mut(), patch.as_map()) {
        for (k, v) in p {
            if v.is_null() {
                t.shift_remove(k);
                continue;
            }
            match t.get_mut(k) {
                Some(tv) if tv.as_map().is_some() && v.as_map().is_some() => apply_strategic(tv, v)?,
                _ => {
                    t.insert(k.clone(), v.clone());
                }
            }
        }
    }
    Ok(())
}
