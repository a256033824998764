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
/// final maps are created (located at `loc`); the final node is created as an empty map.
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
            let key = path[0];
            if !m.contains_key(key) || m.get(key).is_some_and(Node::is_null) {
                if !create {
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

/// Splits a `a/b/c` spec path. A `[]` after a key (`containers[]/image`) marks a list, which
/// the walk goes through anyway, so it is dropped.
pub fn split(path: &str) -> Vec<&str> {
    path.split('/').map(|s| s.strip_suffix("[]").unwrap_or(s)).filter(|s| !s.is_empty()).collect()
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
    fn list_markers_in_paths_are_dropped() {
        assert_eq!(split("spec/steps[]/image"), ["spec", "steps", "image"]);
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
}
