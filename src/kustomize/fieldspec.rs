//! Field specs: which field of which kinds a transformer touches, as data. A path is a list of
//! map keys; sequences on the way are walked transparently, as in kustomize.

use crate::source::{Loc, Node, Value};

/// One field of some kinds (`kind: None` means every kind).
#[derive(Clone, Copy, Debug)]
pub struct FieldSpec {
    pub group: Option<&'static str>,
    pub kind: Option<&'static str>,
    pub path: &'static str,
    /// Create missing maps along the path (e.g. `metadata.labels`).
    pub create: bool,
}

/// Shorthand for table entries.
pub const fn fs(kind: Option<&'static str>, path: &'static str, create: bool) -> FieldSpec {
    FieldSpec { group: None, kind, path, create }
}

impl FieldSpec {
    /// Whether this spec applies to an object of this group and kind.
    pub fn applies(&self, group: &str, kind: &str) -> bool {
        self.kind.is_none_or(|k| k == kind) && self.group.is_none_or(|g| g == group)
    }
}

/// Calls `f` on every node at `path` below `node`. With `create`, missing intermediate and
/// final maps are created (located at `loc`); the final node is created as an empty map. A
/// segment `name[]` is a list, which is never created.
pub fn visit(node: &mut Node, path: &[&str], create: bool, loc: Loc, f: &mut dyn FnMut(&mut Node)) {
    if path.is_empty() {
        f(node);
        return;
    }
    match &mut node.value {
        Value::Seq(items) => {
            for item in items {
                visit(item, path, create, loc, f);
            }
        }
        Value::Map(m) => {
            // `name[]` names a list: walked when present, never created (as kustomize does).
            let (key, list) = path[0].strip_suffix("[]").map_or((path[0], false), |k| (k, true));
            if !m.contains_key(key) || m.get(key).is_some_and(Node::is_null) {
                if !create || list {
                    return;
                }
                m.insert(key.to_string(), Node::empty_map(loc));
            }
            if let Some(child) = m.get_mut(key) {
                visit(child, &path[1..], create, loc, f);
            }
        }
        _ => {}
    }
}

/// Splits a `a/b/c` spec path. A `[]` after a key (`containers[]/image`) marks a list.
pub fn split(path: &str) -> Vec<&str> {
    // A list marker stays on inner segments ([`visit`] walks such a list but never creates it);
    // the last segment is a key callers use as is.
    let mut segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    if let Some(last) = segs.last_mut() {
        *last = last.strip_suffix("[]").unwrap_or(last);
    }
    segs
}

/// Splits a configured field path on `/`, where `\/` keeps a slash inside a key
/// (`metadata/annotations/a.io\/b`), as kustomize's field paths and `ValueAddTransformer`
/// paths are read.
pub fn split_escaped(path: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for part in path.split('/') {
        match out.last_mut() {
            Some(prev) if prev.ends_with('\\') => {
                prev.pop();
                prev.push('/');
                prev.push_str(part);
            }
            _ => out.push(part.to_string()),
        }
    }
    out
}

/// Pod spec locations per workload kind, so transformers and checks reach containers.
pub fn pod_spec_path(kind: &str) -> Option<&'static [&'static str]> {
    match kind {
        "Pod" => Some(&["spec"]),
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Job" | "ReplicationController" => {
            Some(&["spec", "template", "spec"])
        }
        "CronJob" => Some(&["spec", "jobTemplate", "spec", "template", "spec"]),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::yaml::{Dialect, parse};
    use crate::source::{FileId, Limits};

    #[test]
    fn list_markers_stay_on_inner_segments_only() {
        assert_eq!(split("spec/steps[]/image"), ["spec", "steps[]", "image"]);
        assert_eq!(split("spec/args[]"), ["spec", "args"]);
        assert_eq!(split("/a//b/"), ["a", "b"]);
    }

    #[test]
    fn visits_through_lists_and_creates() {
        let mut n =
            parse("spec:\n  containers:\n  - name: a\n  - name: b\n", FileId(0), Dialect::Yaml12, &Limits::default())
                .docs
                .remove(0);
        let mut names = Vec::new();
        visit(&mut n, &["spec", "containers", "name"], false, Loc::NONE, &mut |x| {
            names.push(x.as_str().unwrap().to_string())
        });
        assert_eq!(names, ["a", "b"]);
        let mut count = 0;
        visit(&mut n, &["metadata", "labels"], true, Loc::NONE, &mut |_| count += 1);
        assert_eq!(count, 1);
        assert!(n.path(&["metadata", "labels"]).unwrap().as_map().is_some());
    }

    #[test]
    fn lists_are_walked_but_never_created() {
        let mut n = parse("spec: {}\n", FileId(0), Dialect::Yaml12, &Limits::default()).docs.remove(0);
        let mut count = 0;
        visit(&mut n, &["spec", "claims[]", "metadata", "labels"], true, Loc::NONE, &mut |_| count += 1);
        assert_eq!((count, n.path(&["spec", "claims"]).is_none()), (0, true));
        let mut n = parse("spec:\n  claims:\n  - a: 1\n  - a: 2\n", FileId(0), Dialect::Yaml12, &Limits::default())
            .docs
            .remove(0);
        visit(&mut n, &["spec", "claims[]", "metadata", "labels"], true, Loc::NONE, &mut |_| count += 1);
        assert_eq!(count, 2);
    }
}
