//! RFC 6902 JSON patches (kustomize `patches` with JSON/YAML operation lists), applied with the
//! `json-patch` crate on the JSON form of the target, then mapped back onto [`Node`]s so that
//! values the patch did not change keep their source locations.

use json_patch::{PatchErrorKind, PatchOperation};

use super::PatchError;
use crate::source::{Limits, Loc, Node};

const OPS: [&str; 6] = ["add", "remove", "replace", "move", "copy", "test"];

/// Applies the operations `ops` (a list, parsed from YAML or JSON) to `target`, within the
/// default [`Limits`]. See [`apply_json6902_bounded`].
pub fn apply_json6902(target: &mut Node, ops: &Node, patch_loc: Loc) -> Result<(), PatchError> {
    apply_json6902_bounded(target, ops, patch_loc, &Limits::default())
}

/// Applies the operations `ops` (a list, parsed from YAML or JSON) to `target`. Values the
/// patch sets are located at `patch_loc`. All-or-nothing: on error `target` is unchanged, and
/// the error names the failing operation (index, op, path) and why.
///
/// `copy` (and `add`/`move` into deeper paths) can grow an object exponentially from a small
/// patch (`copy /data` into `/data/x` forty times is 2^40 nodes), so the object's size and depth
/// are checked after every operation against `limits.max_object_nodes` and `limits.max_depth`.
pub fn apply_json6902_bounded(
    target: &mut Node,
    ops: &Node,
    patch_loc: Loc,
    limits: &Limits,
) -> Result<(), PatchError> {
    let Some(items) = ops.as_seq() else {
        return Err(PatchError::new(
            format!("json patch must be a list of operations, not a {}", ops.type_name()),
            ops.loc.or(patch_loc),
        ));
    };
    let mut parsed = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        parsed.push(parse_op(i, item, patch_loc)?);
    }
    let mut doc = target.to_json();
    let max_depth = limits.max_depth.saturating_mul(2);
    for (i, op) in parsed.iter().enumerate() {
        let item = items.get(i);
        let (op_name, path) = item.map(describe).unwrap_or_default();
        let op = replace_missing_key_as_add(&doc, op);
        let result = match test_of_missing_key(&doc, &op) {
            Some(passes) => passes,
            None => json_patch::patch(&mut doc, std::slice::from_ref(&op)).map_err(|e| e.kind),
        };
        if let Err(kind) = result {
            let reason = match kind {
                PatchErrorKind::TestFailed => format!("testing value {path} failed: test failed"),
                PatchErrorKind::InvalidFromPointer => {
                    let from = item.and_then(|n| n.str_at(&["from"])).unwrap_or_default();
                    format!("from path '{from}' does not exist in the target")
                }
                PatchErrorKind::InvalidPointer => match op_name.as_str() {
                    "remove" => format!("unable to remove nonexistent path '{path}'"),
                    "add" => format!("parent of path '{path}' does not exist in the target"),
                    _ => format!("path '{path}' does not exist in the target"),
                },
                PatchErrorKind::CannotMoveInsideItself => "cannot move a value inside itself".to_string(),
                ref other => other.to_string(),
            };
            return Err(PatchError::new(
                format!("json patch operation {i} ({op_name} {path}) failed: {reason}"),
                item.map_or(patch_loc, |n| n.loc.or(patch_loc)),
            ));
        }
        if matches!(op_name.as_str(), "add" | "replace" | "move" | "copy")
            && let Some(why) = over_bounds(&doc, limits.max_object_nodes, max_depth)
        {
            return Err(PatchError::new(
                format!("json patch operation {i} ({op_name} {path}) makes the object {why} (an exponential patch?)"),
                item.map_or(patch_loc, |n| n.loc.or(patch_loc)),
            ));
        }
    }
    let old = std::mem::replace(target, Node::from_json(&doc, patch_loc));
    target.inherit_locs(&old);
    relocate_changed_scalars(target, &old, patch_loc);
    Ok(())
}

/// kustomize's JSON patch library lets `replace` set a key its object lacks (as `add` would);
/// RFC 6902 and `json-patch` refuse. A missing list index or parent still fails.
fn replace_missing_key_as_add(doc: &serde_json::Value, op: &json_patch::PatchOperation) -> json_patch::PatchOperation {
    if let json_patch::PatchOperation::Replace(r) = op {
        let path = r.path.as_str();
        let parent = path.rfind('/').map(|i| &path[..i]);
        if !path.is_empty()
            && doc.pointer(path).is_none()
            && parent.and_then(|p| doc.pointer(p)).is_some_and(serde_json::Value::is_object)
        {
            return json_patch::PatchOperation::Add(json_patch::AddOperation {
                path: r.path.clone(),
                value: r.value.clone(),
            });
        }
    }
    op.clone()
}

/// kustomize's JSON patch library reads a key its object lacks as null for `test`: the test
/// passes when it expects null and fails ("test failed") otherwise. RFC 6902 and `json-patch`
/// refuse a missing path; a missing parent or list index still does. `None`: not such a test.
fn test_of_missing_key(doc: &serde_json::Value, op: &json_patch::PatchOperation) -> Option<Result<(), PatchErrorKind>> {
    let json_patch::PatchOperation::Test(t) = op else { return None };
    let path = t.path.as_str();
    let parent = path.rfind('/').map(|i| &path[..i])?;
    if path.is_empty() || doc.pointer(path).is_some() || !doc.pointer(parent).is_some_and(serde_json::Value::is_object)
    {
        return None;
    }
    Some(if t.value.is_null() { Ok(()) } else { Err(PatchErrorKind::TestFailed) })
}

/// Why `doc` is over the size or depth bound, if it is. Stops counting at the bound, so the
/// check costs at most `max_nodes` steps and `max_depth` stack frames.
fn over_bounds(doc: &serde_json::Value, max_nodes: usize, max_depth: usize) -> Option<String> {
    fn walk(v: &serde_json::Value, depth: usize, max_depth: usize, budget: &mut usize) -> Result<(), bool> {
        if *budget == 0 {
            return Err(false);
        }
        *budget -= 1;
        if depth > max_depth {
            return Err(true);
        }
        match v {
            serde_json::Value::Array(a) => a.iter().try_for_each(|x| walk(x, depth + 1, max_depth, budget)),
            serde_json::Value::Object(o) => o.values().try_for_each(|x| walk(x, depth + 1, max_depth, budget)),
            _ => Ok(()),
        }
    }
    let mut budget = max_nodes;
    match walk(doc, 0, max_depth, &mut budget) {
        Ok(()) => None,
        Err(false) => Some(format!("larger than {max_nodes} nodes")),
        Err(true) => Some(format!("nested deeper than {max_depth} levels")),
    }
}

/// `Node::inherit_locs` also gives a changed scalar the old location (it keeps the location of
/// any same-typed value); a scalar the patch changed must point at the patch instead.
fn relocate_changed_scalars(new: &mut Node, old: &Node, patch_loc: Loc) {
    use crate::source::Value;
    match (&mut new.value, &old.value) {
        (Value::Map(m), Value::Map(o)) => {
            for (k, v) in m.iter_mut() {
                match o.get(k) {
                    Some(ov) => relocate_changed_scalars(v, ov, patch_loc),
                    None => v.set_loc_deep(patch_loc),
                }
            }
        }
        (Value::Seq(s), Value::Seq(o)) => {
            for (i, v) in s.iter_mut().enumerate() {
                match o.get(i) {
                    Some(ov) => relocate_changed_scalars(v, ov, patch_loc),
                    None => v.set_loc_deep(patch_loc),
                }
            }
        }
        (Value::Map(_) | Value::Seq(_), _) => new.set_loc_deep(patch_loc),
        _ => {
            if new.value != old.value {
                new.loc = patch_loc;
            }
        }
    }
}

/// `(op, path)` of an operation, for messages.
fn describe(n: &Node) -> (String, String) {
    (n.str_at(&["op"]).unwrap_or("?").to_string(), n.str_at(&["path"]).unwrap_or("?").to_string())
}

fn parse_op(i: usize, item: &Node, patch_loc: Loc) -> Result<PatchOperation, PatchError> {
    let loc = item.loc.or(patch_loc);
    let fail = |why: String| {
        let (op, path) = describe(item);
        PatchError::new(format!("json patch operation {i} ({op} {path}) is invalid: {why}"), loc)
    };
    if item.as_map().is_none() {
        return Err(fail(format!("an operation must be a map, not a {}", item.type_name())));
    }
    let op = item.str_at(&["op"]).ok_or_else(|| fail("missing 'op'".into()))?;
    if !OPS.contains(&op) {
        return Err(fail(format!("unknown op '{op}' (expected one of {})", OPS.join(", "))));
    }
    if item.str_at(&["path"]).is_none() {
        return Err(fail("missing 'path'".into()));
    }
    if matches!(op, "move" | "copy") && item.str_at(&["from"]).is_none() {
        return Err(fail("missing 'from'".into()));
    }
    if matches!(op, "add" | "replace" | "test") && item.get("value").is_none() {
        return Err(fail("missing 'value'".into()));
    }
    serde_json::from_value::<PatchOperation>(item.to_json()).map_err(|e| fail(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::yaml::{Dialect, parse};
    use crate::source::{FileId, Limits};

    fn y(text: &str, file: u32) -> Node {
        let p = parse(text, FileId(file), Dialect::Yaml11, &Limits::default());
        assert!(p.error.is_none(), "{:?}", p.error);
        p.docs.into_iter().next().unwrap_or_else(|| Node::synthetic(crate::source::Value::NULL))
    }

    const CM: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  a: '1'\n  b: two\n";
    const PLOC: Loc = Loc { file: FileId(1), line: 3, col: 1 };

    fn apply(ops: &str) -> Result<Node, PatchError> {
        let mut t = y(CM, 0);
        apply_json6902(&mut t, &y(ops, 1), PLOC).map(|()| t)
    }

    #[test]
    fn ops_apply_and_keep_provenance() {
        let r = apply("- {op: add, path: /data/c, value: x}\n- {op: replace, path: /data/a, value: '2'}\n");
        let r = r.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.str_at(&["data", "c"]), Some("x"));
        assert_eq!(r.path(&["data", "a"]).map(|n| n.loc), Some(PLOC));
        assert_eq!(r.path(&["data", "b"]).map(|n| (n.loc.file, n.loc.line)), Some((FileId(0), 7)));
        assert_eq!(r.path(&["metadata", "name"]).map(|n| n.loc.file), Some(FileId(0)));
    }

    #[test]
    fn json_text_ops_are_accepted() {
        let r = apply("[{\"op\": \"move\", \"from\": \"/data/a\", \"path\": \"/data/z\"}]")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.str_at(&["data", "z"]), Some("1"));
        assert!(r.path(&["data", "a"]).is_none());
    }

    #[test]
    fn errors_name_the_failing_op() {
        let e = apply("- {op: add, path: /data/c, value: x}\n- {op: test, path: /data/a, value: '9'}\n").err();
        assert_eq!(
            e.map(|e| e.message).as_deref(),
            Some("json patch operation 1 (test /data/a) failed: testing value /data/a failed: test failed")
        );
        let e = apply("- {op: remove, path: /data/zz}\n").err().map(|e| e.message);
        assert_eq!(
            e.as_deref(),
            Some("json patch operation 0 (remove /data/zz) failed: unable to remove nonexistent path '/data/zz'")
        );
        let e = apply("- {op: bogus, path: /data/a}\n").err().map(|e| e.message).unwrap_or_default();
        assert!(e.starts_with("json patch operation 0 (bogus /data/a) is invalid: unknown op 'bogus'"), "{e}");
        assert!(apply("- {op: add, path: /data/q}\n").is_err());
        assert!(apply("- 5\n").is_err());
        assert!(apply("op: add\n").is_err());
    }

    #[test]
    fn failed_patch_leaves_target_unchanged() {
        let mut t = y(CM, 0);
        let before = t.clone();
        let ops = y("- {op: add, path: /data/c, value: x}\n- {op: remove, path: /nope}\n", 1);
        assert!(apply_json6902(&mut t, &ops, PLOC).is_err());
        assert_eq!(t, before);
    }
}
