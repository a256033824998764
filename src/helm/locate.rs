//! Where a value of a chart's output came from, so a finding on it points at a line a reviewer
//! can change. helm's output carries no provenance; what we know is the HelmRelease's values
//! (with their source lines). A rendered value is traced to the values line that holds the
//! same value under the same key (`terminationGracePeriodSeconds: 30s` in the values →
//! `spec.template.spec.terminationGracePeriodSeconds: 30s` in a Deployment), or to the one
//! values line holding that (distinctive) text under any key; a list or map is traced to the
//! values entry with the same key and the same content (`toYaml .Values.resources`). Values
//! that match nothing, or more than one line, keep the location given to the whole output:
//! the HelmRelease's `chart:` line. Post-renderer patches run afterwards and set their own
//! lines on what they change.

use std::collections::HashMap;

use crate::source::{Loc, Node, Value};

/// The HelmRelease's values, indexed by what a rendered value may match.
pub struct ValuesIndex {
    /// (key, scalar text) → the one line holding it (`None` when several do).
    keyed: HashMap<(String, String), Option<Loc>>,
    /// Scalar text → the one line holding it under any key (`None` when several do).
    text: HashMap<String, Option<Loc>>,
    /// (key, canonical JSON of a list or map) → the one entry holding it.
    trees: HashMap<(String, String), Option<Loc>>,
}

fn insert<K: std::hash::Hash + Eq>(m: &mut HashMap<K, Option<Loc>>, k: K, loc: Loc) {
    m.entry(k).and_modify(|l| *l = None).or_insert(Some(loc));
}

/// Scalars too common to trace by text alone (`true`, `1`, `none`): they match by key only.
fn distinctive(text: &str) -> bool {
    text.chars().count() >= 3 && text.parse::<f64>().is_err() && !matches!(text, "true" | "false" | "null")
}

impl ValuesIndex {
    /// Indexes every located value of `values` (the merged values node of a HelmRelease).
    pub fn new(values: &Node) -> ValuesIndex {
        let mut ix = ValuesIndex { keyed: HashMap::new(), text: HashMap::new(), trees: HashMap::new() };
        ix.add("", values);
        ix
    }

    fn add(&mut self, key: &str, n: &Node) {
        match &n.value {
            Value::Map(m) => {
                if !key.is_empty() && !n.loc.is_none() {
                    insert(&mut self.trees, (key.to_string(), n.to_json().to_string()), n.loc);
                }
                for (k, v) in m.iter() {
                    self.add(k, v);
                }
            }
            Value::Seq(s) => {
                if !key.is_empty() && !n.loc.is_none() {
                    insert(&mut self.trees, (key.to_string(), n.to_json().to_string()), n.loc);
                }
                for v in s {
                    self.add(key, v);
                }
            }
            _ => {
                let Some(t) = n.scalar_text() else { return };
                if n.loc.is_none() {
                    return;
                }
                if distinctive(&t) {
                    insert(&mut self.text, t.clone(), n.loc);
                }
                if !key.is_empty() {
                    insert(&mut self.keyed, (key.to_string(), t), n.loc);
                }
            }
        }
    }

    /// Whether there is nothing to trace to.
    pub fn is_empty(&self) -> bool {
        self.keyed.is_empty() && self.text.is_empty() && self.trees.is_empty()
    }

    /// Points the nodes of a rendered object whose value the values hold at the values line.
    pub fn relocate(&self, node: &mut Node) {
        if !self.is_empty() {
            self.walk("", node);
        }
    }

    fn walk(&self, key: &str, n: &mut Node) {
        match &mut n.value {
            Value::Map(_) | Value::Seq(_) => {
                if !key.is_empty()
                    && let Some(Some(loc)) = self.trees.get(&(key.to_string(), n.to_json().to_string()))
                {
                    n.set_loc_deep(*loc);
                    return;
                }
                match &mut n.value {
                    Value::Map(m) => {
                        for (k, v) in m.iter_mut() {
                            self.walk(k, v);
                        }
                    }
                    Value::Seq(s) => s.iter_mut().for_each(|v| self.walk(key, v)),
                    _ => {}
                }
            }
            _ => {
                let Some(t) = n.scalar_text() else { return };
                let by_key = self.keyed.get(&(key.to_string(), t.clone()));
                let found = match by_key {
                    Some(found) => *found,
                    None => self.text.get(&t).copied().flatten(),
                };
                if let Some(loc) = found {
                    n.loc = loc;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::FileId;

    fn at(line: u32) -> Loc {
        Loc::new(FileId(0), line, 5)
    }

    fn node(j: serde_json::Value, line: u32) -> Node {
        Node::from_json(&j, at(line))
    }

    fn values() -> Node {
        // Each top-level entry on its own line, as a values block would be.
        let mut v = node(serde_json::json!({}), 10);
        let m = v.as_map_mut().unwrap();
        m.insert("terminationGracePeriodSeconds".into(), node(serde_json::json!("30s"), 11));
        m.insert("image".into(), node(serde_json::json!({"repository": "ghcr.io/acme/web", "tag": "1.2"}), 12));
        m.insert("resources".into(), node(serde_json::json!({"limits": {"cpu": "1"}}), 15));
        m.insert("replicaCount".into(), node(serde_json::json!(1), 18));
        m.insert("enabled".into(), node(serde_json::json!(true), 19));
        m.insert("other".into(), node(serde_json::json!({"enabled": true}), 20));
        v
    }

    #[test]
    fn rendered_values_point_at_the_values_line_that_holds_them() {
        let ix = ValuesIndex::new(&values());
        let chart = Loc::new(FileId(0), 7, 5);
        let mut out = node(
            serde_json::json!({"spec": {"replicas": 1, "template": {"spec": {
                "terminationGracePeriodSeconds": "30s",
                "containers": [{"image": "ghcr.io/acme/web", "resources": {"limits": {"cpu": "1"}}}],
                "enabled": true}}}}),
            0,
        );
        out.set_loc_deep(chart);
        ix.relocate(&mut out);
        let pod = out.path(&["spec", "template", "spec"]).unwrap();
        assert_eq!(pod.get("terminationGracePeriodSeconds").unwrap().loc.line, 11, "same key, same value");
        let c = &pod.get("containers").unwrap().as_seq().unwrap()[0];
        assert_eq!(c.get("image").unwrap().loc.line, 12, "a distinctive text under another key");
        assert_eq!(c.get("resources").unwrap().loc.line, 15, "a map rendered with toYaml");
        assert_eq!(c.path(&["resources", "limits", "cpu"]).unwrap().loc.line, 15);
        // `1` and `true` are not distinctive; `enabled: true` is on two lines: the chart line.
        assert_eq!(out.path(&["spec", "replicas"]).unwrap().loc, chart);
        assert_eq!(pod.get("enabled").unwrap().loc, chart);
        assert_eq!(out.loc, chart);
    }

    #[test]
    fn values_without_a_location_trace_nothing() {
        let ix = ValuesIndex::new(&Node::from_json(&serde_json::json!({"a": "some-text"}), Loc::NONE));
        assert!(ix.is_empty());
        let mut out = node(serde_json::json!({"a": "some-text"}), 3);
        ix.relocate(&mut out);
        assert_eq!(out.get("a").unwrap().loc.line, 3);
    }
}
