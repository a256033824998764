//! Strategic merge patches, with the semantics of kustomize v5.5 (kyaml `merge2` walking with the
//! patch items prepended), checked against `kubectl kustomize`:
//!
//! - maps merge recursively; a `null` value deletes the key;
//! - lists the schema marks `x-kubernetes-patch-strategy: merge` merge by their merge key: the
//!   patch's items come first (in patch order), then the target's remaining items; lists with
//!   several `x-kubernetes-list-map-keys` match items on all keys, and a patch item that only
//!   partially matches a target item is dropped (kyaml behaviour); keyless merge lists merge as
//!   sets; every other list (and every list of a custom resource, unless the kustomization's
//!   `openapi` schema defines its kind: see [`super::openapi`]) is replaced;
//! - `$patch: delete|replace|merge` on maps, `$patch: delete` on list items, and the list items
//!   `- $patch: replace` / `- $patch: delete`. `$patch: replace` on a list item keeps the target
//!   item unchanged, as kyaml does.
//! - `$retainKeys`, `$setElementOrder/…` and `$deleteFromPrimitiveList/…` are not directives to
//!   kustomize: they are merged as ordinary fields and end up in the output, so they are here too.
//!
//! Provenance: values taken from the patch keep the patch's locations; untouched values keep
//! theirs; merged maps and lists keep the target's location.

use super::PatchError;
use super::meta::{ListStrategy, MergeMeta};
use crate::source::{Mapping, Node, NullForm, Value};

pub use super::meta::{BuiltinMeta, NoMeta};

const DIRECTIVE: &str = "$patch";

/// Applies strategic merge `patch` to `target`, with list strategies from `meta` (use
/// [`BuiltinMeta::for_object`] on the target). A top-level `$patch: delete` leaves `target`
/// null: the caller drops the resource, as kustomize does.
pub fn apply_strategic(target: &mut Node, patch: &Node, meta: &dyn MergeMeta) -> Result<(), PatchError> {
    if patch.as_map().is_none() {
        return Err(PatchError::new(
            format!("strategic merge patch must be a map, not a {}", patch.type_name()),
            patch.loc,
        ));
    }
    let mut path = Vec::new();
    let merged = merge(Some(target.clone()), patch, meta, &mut path)?;
    *target = merged.unwrap_or_else(|| Node::new(Value::NULL, patch.loc));
    drop_empty_nulls(target, meta, &mut path);
    Ok(())
}

/// kyaml's merge walks the whole target, not just the patched paths, and on the way clears
/// every map field whose value is an empty null (`key:` with nothing after it) while it keeps
/// one written `null` or `~`. It walks maps and the items of merge lists, not the other lists
/// (those are copied whole), so neither does this.
fn drop_empty_nulls(node: &mut Node, meta: &dyn MergeMeta, path: &mut Vec<String>) {
    match &mut node.value {
        Value::Map(m) => {
            m.retain(|_, v| !matches!(v.value, Value::Null(NullForm::Empty)));
            for (k, v) in m.iter_mut() {
                path.push(k.clone());
                drop_empty_nulls(v, meta, path);
                path.pop();
            }
        }
        Value::Seq(items) => {
            let keys: Vec<&str> = path.iter().map(String::as_str).collect();
            if matches!(meta.list_strategy(&keys), ListStrategy::MergeByKeys(_)) {
                for item in items.iter_mut().filter(|i| i.as_map().is_some()) {
                    drop_empty_nulls(item, meta, path);
                }
            }
        }
        _ => {}
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Directive {
    Merge,
    Replace,
    Delete,
}

/// The `$patch` directive of a patch map, if any.
fn directive(m: &Mapping) -> Result<Option<Directive>, PatchError> {
    let Some(d) = m.get(DIRECTIVE) else { return Ok(None) };
    match d.as_str() {
        Some("merge") => Ok(Some(Directive::Merge)),
        Some("replace") => Ok(Some(Directive::Replace)),
        Some("delete") => Ok(Some(Directive::Delete)),
        _ => Err(PatchError::new(format!("unknown patch strategy '{}'", scalar_text(d)), d.loc)),
    }
}

fn without_directive(p: &Node) -> Node {
    let mut n = p.clone();
    if let Some(m) = n.as_map_mut() {
        m.shift_remove(DIRECTIVE);
    }
    n
}

fn path_str(path: &[String]) -> String {
    if path.is_empty() { "(root)".to_string() } else { path.join(".") }
}

/// Text kyaml compares merge keys by (so `80` and `"80"` match).
fn scalar_text(n: &Node) -> String {
    match &n.value {
        Value::Seq(_) | Value::Map(_) => n.to_json().to_string(),
        _ => n.scalar_text().unwrap_or_default(),
    }
}

fn kind_error(dest: &Node, patch: &Node, path: &[String]) -> PatchError {
    PatchError::new(
        format!("cannot merge a {} into a {} at {}", patch.type_name(), dest.type_name(), path_str(path)),
        patch.loc,
    )
}

/// Merges `patch` into `dest` (absent when `None`). Returns the new value, `None` to remove it.
fn merge(
    dest: Option<Node>,
    patch: &Node,
    meta: &dyn MergeMeta,
    path: &mut Vec<String>,
) -> Result<Option<Node>, PatchError> {
    let dest = dest.filter(|d| !d.is_null());
    match &patch.value {
        Value::Null(_) => Ok(None),
        Value::Map(pm) => {
            match directive(pm)? {
                Some(Directive::Delete) => return Ok(None),
                Some(Directive::Replace) => return merge(None, &without_directive(patch), meta, path),
                _ => {}
            }
            // The target is owned: each level merges into it in place, not into a copy.
            let mut out = match dest {
                None => Node::empty_map(patch.loc),
                Some(d) if d.as_map().is_some() => d,
                Some(d) => return Err(kind_error(&d, patch, path)),
            };
            let om = out.as_map_mut().ok_or_else(|| kind_error(patch, patch, path))?;
            for (k, pv) in pm.iter() {
                if k == DIRECTIVE {
                    continue;
                }
                path.push(k.clone());
                let child = om.get_mut(k).map(|c| std::mem::replace(c, Node::synthetic(Value::NULL)));
                let r = merge(child, pv, meta, path);
                path.pop();
                match r? {
                    None => {
                        om.shift_remove(k);
                    }
                    Some(v) => {
                        om.insert(k.clone(), v);
                    }
                }
            }
            Ok(Some(out))
        }
        Value::Seq(ps) => {
            let ds: &[Node] = match &dest {
                None => &[],
                Some(d) => d.as_seq().ok_or_else(|| kind_error(d, patch, path))?,
            };
            let keys: Vec<&str> = path.iter().map(String::as_str).collect();
            let items = match meta.list_strategy(&keys) {
                ListStrategy::Replace => return Ok(Some(patch.clone())),
                ListStrategy::MergeSet => merge_set(ds, ps)?,
                ListStrategy::MergeByKeys(k) => {
                    let Some(items) = merge_keyed(ds, ps, &k, meta, path)? else { return Ok(None) };
                    items
                }
            };
            let loc = dest.as_ref().map_or(patch.loc, |d| d.loc);
            Ok(Some(Node::new(Value::Seq(items), loc)))
        }
        _ => match dest {
            Some(d) if matches!(d.value, Value::Map(_) | Value::Seq(_)) => Err(kind_error(&d, patch, path)),
            // An equal value is not a change (e.g. the patch's `metadata.name`): keep its origin.
            Some(d) if d.value == patch.value && d.type_name() == patch.type_name() => Ok(Some(d)),
            _ => Ok(Some(patch.clone())),
        },
    }
}

/// A keyless merge list (e.g. finalizers): the patch's values, then the target's others.
fn merge_set(dest: &[Node], patch: &[Node]) -> Result<Vec<Node>, PatchError> {
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for n in patch.iter().chain(dest) {
        if n.is_null() {
            continue;
        }
        if seen.insert(scalar_text(n)) {
            out.push(n.clone());
        }
    }
    Ok(out)
}

/// Merge-key values of a list item, `""` for a missing key (as kyaml reads them).
fn tuple(item: &Node, keys: &[String]) -> Option<Vec<String>> {
    let m = item.as_map()?;
    Some(keys.iter().map(|k| m.get(k).map(scalar_text).unwrap_or_default()).collect())
}

/// Whether two key tuples agree on every key both set, and both set at least one.
fn compatible(a: &[String], b: &[String]) -> bool {
    let mut shared = false;
    for (x, y) in a.iter().zip(b) {
        if !x.is_empty() && !y.is_empty() {
            if x != y {
                return false;
            }
            shared = true;
        }
    }
    shared
}

/// Merges a list by merge key(s). `Ok(None)` removes the list (`- $patch: delete`).
fn merge_keyed(
    dest: &[Node],
    patch: &[Node],
    keys: &[String],
    meta: &dyn MergeMeta,
    path: &mut Vec<String>,
) -> Result<Option<Vec<Node>>, PatchError> {
    // List-level directives are items that carry `$patch` but no merge key.
    let mut items: Vec<&Node> = Vec::new();
    let mut list_replace = false;
    for p in patch {
        if let Some(m) = p.as_map()
            && m.contains_key(DIRECTIVE)
            && !keys.iter().any(|k| m.contains_key(k))
        {
            match directive(m)? {
                Some(Directive::Delete) => return Ok(None),
                Some(Directive::Replace) => list_replace = true,
                _ => {}
            }
            continue;
        }
        items.push(p);
    }
    if list_replace {
        let mut out = Vec::new();
        for p in items {
            if let Some(v) = merge(None, p, meta, path)? {
                out.push(v);
            }
        }
        return Ok(Some(out));
    }
    // Keys no item uses do not count: ports that never name a `protocol` merge like a
    // single-key list (patch items first), as kustomize does.
    let used: Vec<String> = keys
        .iter()
        .filter(|k| dest.iter().chain(items.iter().copied()).any(|n| n.get(k.as_str()).is_some()))
        .cloned()
        .collect();
    if keys.len() == 1 {
        merge_single_key(dest, &items, &keys[0], meta, path)
    } else if let [only] = used.as_slice() {
        merge_single_key(dest, &items, only, meta, path)
    } else {
        merge_multi_key(dest, &items, keys, meta, path)
    }
    .map(Some)
}

/// Result of merging one patch item into its (possibly absent) target item.
fn merge_item(
    d: Option<&Node>,
    p: &Node,
    meta: &dyn MergeMeta,
    path: &mut Vec<String>,
) -> Result<Option<Node>, PatchError> {
    let dir = match p.as_map() {
        Some(m) => directive(m)?,
        None => None,
    };
    let r = match (dir, d) {
        (Some(Directive::Delete), _) => None,
        // kyaml keeps the target item when the patch item says `$patch: replace`.
        (Some(Directive::Replace), Some(d)) => Some(d.clone()),
        (Some(Directive::Replace), None) => merge(None, &without_directive(p), meta, path)?,
        _ => merge(d.cloned(), p, meta, path)?,
    };
    // kyaml drops items that end up empty.
    Ok(r.filter(|n| !n.as_map().is_some_and(Mapping::is_empty)))
}

/// One merge key: patch items first (patch order), then the target's other items.
fn merge_single_key(
    dest: &[Node],
    patch: &[&Node],
    key: &str,
    meta: &dyn MergeMeta,
    path: &mut Vec<String>,
) -> Result<Vec<Node>, PatchError> {
    let key_of = |n: &Node| n.get(key).filter(|v| !v.is_null()).map(scalar_text);
    let mut order: Vec<String> = Vec::new();
    for n in patch.iter().copied().chain(dest) {
        if let Some(k) = key_of(n)
            && !order.contains(&k)
        {
            order.push(k);
        }
    }
    let mut out = Vec::new();
    for k in &order {
        let d = dest.iter().find(|n| key_of(n).as_ref() == Some(k));
        let p = patch.iter().copied().find(|n| key_of(n).as_ref() == Some(k));
        let v = match p {
            None => d.cloned(),
            Some(p) => merge_item(d, p, meta, path)?,
        };
        out.extend(v);
    }
    // Items without the key cannot be matched: the patch's are added, the target's kept.
    for p in patch.iter().copied().filter(|n| key_of(n).is_none()) {
        out.extend(merge_item(None, p, meta, path)?);
    }
    out.extend(dest.iter().filter(|n| key_of(n).is_none()).cloned());
    Ok(out)
}

/// Several merge keys (`x-kubernetes-list-map-keys`): an item merges into the target item whose
/// key values are all equal; a patch item that agrees with a target item only on some keys is
/// dropped; unmatched patch items come first, then the target's items in their order.
fn merge_multi_key(
    dest: &[Node],
    patch: &[&Node],
    keys: &[String],
    meta: &dyn MergeMeta,
    path: &mut Vec<String>,
) -> Result<Vec<Node>, PatchError> {
    let mut kept: Vec<Option<Node>> = dest.iter().cloned().map(Some).collect();
    let dest_tuples: Vec<Option<Vec<String>>> = dest.iter().map(|d| tuple(d, keys)).collect();
    let mut new_items = Vec::new();
    for p in patch.iter().copied() {
        let Some(tp) = tuple(p, keys) else {
            new_items.extend(merge_item(None, p, meta, path)?);
            continue;
        };
        if let Some(i) = dest_tuples.iter().position(|t| t.as_ref() == Some(&tp)) {
            let cur = kept[i].take();
            kept[i] = merge_item(cur.as_ref(), p, meta, path)?;
        } else if !dest_tuples.iter().flatten().any(|t| compatible(t, &tp)) {
            new_items.extend(merge_item(None, p, meta, path)?);
        }
    }
    new_items.extend(kept.into_iter().flatten());
    Ok(new_items)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::yaml::{Dialect, parse};
    use crate::source::{FileId, Limits};

    fn y(text: &str, file: u32) -> Node {
        let p = parse(text, FileId(file), Dialect::Yaml12, &Limits::default());
        assert!(p.error.is_none(), "{:?}", p.error);
        p.docs.into_iter().next().unwrap_or_else(|| Node::synthetic(Value::NULL))
    }

    fn apply(base: &str, patch: &str) -> Result<Node, PatchError> {
        let mut t = y(base, 0);
        let meta = BuiltinMeta::for_object(&t);
        apply_strategic(&mut t, &y(patch, 1), &meta).map(|()| t)
    }

    const DEP: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\n  labels: {a: '1', b: '2'}\nspec:\n  template:\n    spec:\n      containers:\n      - name: main\n        image: main:1\n        env:\n        - {name: A, value: '1'}\n      - name: side\n        image: side:1\n";
    const HEAD: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\n";

    fn names(n: &Node, path: &[&str]) -> Vec<String> {
        n.path(path)
            .and_then(Node::as_seq)
            .map(|s| s.iter().filter_map(|i| i.str_at(&["name"])).map(String::from).collect())
            .unwrap_or_default()
    }

    const CONTAINERS: [&str; 4] = ["spec", "template", "spec", "containers"];

    #[test]
    fn empty_nulls_of_the_target_are_dropped_written_nulls_kept() {
        let base = format!(
            "{HEAD}spec:\n  paused:\n  minReadySeconds: ~\n  template:\n    spec:\n      containers:\n      - name: main\n        args: [a, ]\n        workingDir:\n      tolerations:\n      - key: k\n        operator:\n"
        );
        let r = apply(&base, &format!("{HEAD}  labels: {{x: '1'}}\n")).unwrap_or_else(|e| panic!("{e}"));
        assert!(r.path(&["spec", "paused"]).is_none(), "`paused:` is dropped");
        assert!(r.path(&["spec", "minReadySeconds"]).is_some_and(Node::is_null), "`~` is kept");
        let main = r.path(&CONTAINERS).and_then(Node::as_seq).and_then(|s| s.first().cloned());
        assert!(main.as_ref().is_some_and(|m| m.get("workingDir").is_none()), "merge-list items are walked");
        let tol = r
            .path(&["spec", "template", "spec", "tolerations"])
            .and_then(Node::as_seq)
            .and_then(|s| s.first().cloned());
        assert!(tol.is_some_and(|t| t.get("operator").is_some()), "replaced lists are not");
    }

    #[test]
    fn maps_merge_and_null_deletes() {
        let r = apply(DEP, &format!("{HEAD}  labels: {{b: null, c: '3'}}\n")).unwrap_or_else(|e| panic!("{e}"));
        let labels =
            r.path(&["metadata", "labels"]).and_then(Node::as_map).map(|m| m.keys().cloned().collect::<Vec<_>>());
        assert_eq!(labels, Some(vec!["a".to_string(), "c".to_string()]));
    }

    #[test]
    fn containers_merge_by_name_patch_items_first() {
        let p = format!(
            "{HEAD}spec:\n  template:\n    spec:\n      containers:\n      - name: side\n        image: side:2\n      - name: new\n"
        );
        let r = apply(DEP, &p).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(names(&r, &CONTAINERS), ["side", "new", "main"]);
        assert_eq!(r.str_at(&["spec", "template", "spec", "containers"]), None);
        let side = &r.path(&CONTAINERS).and_then(Node::as_seq).map(|s| s[0].clone());
        assert_eq!(side.as_ref().and_then(|s| s.str_at(&["image"])), Some("side:2"));
    }

    #[test]
    fn multi_key_lists_without_second_key_merge_like_single_key() {
        let base = "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  ports:\n  - {port: 80, targetPort: 80}\n  - {port: 9000}\n";
        let patch = "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  ports:\n  - {port: 80, targetPort: 8080}\n  - {port: 443}\n";
        let r = apply(base, patch).unwrap_or_else(|e| panic!("{e}"));
        let ports: Vec<String> = r
            .path(&["spec", "ports"])
            .and_then(Node::as_seq)
            .map(|s| s.iter().filter_map(|p| p.get("port")).map(scalar_text).collect())
            .unwrap_or_default();
        assert_eq!(ports, ["80", "443", "9000"]);
    }

    #[test]
    fn provenance_patch_values_carry_patch_loc() {
        let p = format!(
            "{HEAD}spec:\n  template:\n    spec:\n      containers:\n      - name: main\n        image: main:2\n"
        );
        let r = apply(DEP, &p).unwrap_or_else(|e| panic!("{e}"));
        let main = r.path(&CONTAINERS).and_then(Node::as_seq).and_then(|s| s.first()).cloned();
        let main = main.unwrap_or_else(|| panic!("no container"));
        let image = main.get("image").map(|n| n.loc);
        assert_eq!(image.map(|l| (l.file, l.line)), Some((FileId(1), 10)));
        // untouched values keep the target's location
        let env = main.path(&["env"]).map(|n| n.loc);
        assert_eq!(env.map(|l| (l.file, l.line)), Some((FileId(0), 12)));
        assert_eq!(r.path(&["metadata", "name"]).map(|n| n.loc.file), Some(FileId(0)));
    }

    #[test]
    fn patch_directives_on_items_and_lists() {
        let del =
            format!("{HEAD}spec:\n  template:\n    spec:\n      containers:\n      - {{name: side, $patch: delete}}\n");
        assert_eq!(names(&apply(DEP, &del).unwrap_or_else(|e| panic!("{e}")), &CONTAINERS), ["main"]);
        let rep = format!(
            "{HEAD}spec:\n  template:\n    spec:\n      containers:\n      - $patch: replace\n      - name: only\n"
        );
        assert_eq!(names(&apply(DEP, &rep).unwrap_or_else(|e| panic!("{e}")), &CONTAINERS), ["only"]);
        let ldel = format!("{HEAD}spec:\n  template:\n    spec:\n      containers:\n      - $patch: delete\n");
        assert!(apply(DEP, &ldel).unwrap_or_else(|e| panic!("{e}")).path(&CONTAINERS).is_none());
        let mrep = format!("{HEAD}  labels:\n    $patch: replace\n    z: '9'\n");
        let r = apply(DEP, &mrep).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.path(&["metadata", "labels"]).and_then(Node::as_map).map(|m| m.len()), Some(1));
    }

    #[test]
    fn finalizers_merge_as_set_and_crd_lists_replace() {
        let r = apply(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  finalizers: [a, b]\n",
            "metadata:\n  finalizers: [c, a]\n",
        );
        let f: Vec<String> = r
            .unwrap_or_else(|e| panic!("{e}"))
            .path(&["metadata", "finalizers"])
            .and_then(Node::as_seq)
            .map(|s| s.iter().filter_map(Node::as_str).map(String::from).collect())
            .unwrap_or_default();
        assert_eq!(f, ["c", "a", "b"]);
        let r = apply(
            "apiVersion: x.io/v1\nkind: Foo\nmetadata:\n  finalizers: [a]\nspec:\n  l: [{name: a, v: 1}]\n",
            "metadata:\n  finalizers: [b]\nspec:\n  l: [{name: b}]\n",
        );
        let r = r.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.path(&["metadata", "finalizers"]).and_then(Node::as_seq).map(Vec::len), Some(1));
        assert_eq!(names(&r, &["spec", "l"]), ["b"]);
    }

    #[test]
    fn unsupported_directives_pass_through_like_kustomize() {
        let r = apply(DEP, &format!("{HEAD}spec:\n  $retainKeys: [template]\n")).unwrap_or_else(|e| panic!("{e}"));
        assert!(r.path(&["spec", "$retainKeys"]).is_some());
    }

    #[test]
    fn root_delete_empties_target() {
        let r = apply(DEP, &format!("{HEAD}$patch: delete\n")).unwrap_or_else(|e| panic!("{e}"));
        assert!(r.is_null());
    }

    #[test]
    fn malformed_patches_are_errors_not_panics() {
        let e = apply(DEP, &format!("{HEAD}  labels:\n    $patch: explode\n")).err();
        assert_eq!(e.as_ref().map(|e| e.message.as_str()), Some("unknown patch strategy 'explode'"));
        assert_eq!(e.and_then(|e| e.loc).map(|l| l.line), Some(6));
        let e = apply(DEP, &format!("{HEAD}spec: [1]\n")).err().map(|e| e.message);
        assert_eq!(e.as_deref(), Some("cannot merge a list into a map at spec"));
        assert!(apply(DEP, "- a\n").is_err());
        let e = apply(DEP, &format!("{HEAD}spec:\n  template:\n    spec:\n      containers: {{a: 1}}\n")).err();
        assert!(e.is_some());
    }
}
