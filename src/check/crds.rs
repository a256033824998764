//! The custom resource kinds the repository defines (every `CustomResourceDefinition` found in
//! its files), so custom resources are known rather than silently passed.

use std::collections::BTreeSet;

use crate::source::Node;

/// (group, version, kind) triples served by CRDs found in the repository.
#[derive(Clone, Debug, Default)]
pub struct CrdIndex {
    served: BTreeSet<(String, String, String)>,
}

impl CrdIndex {
    /// Adds the versions a CRD document serves; ignores documents that are not CRDs.
    pub fn add(&mut self, doc: &Node) {
        if doc.str_at(&["kind"]) != Some("CustomResourceDefinition") {
            return;
        }
        let (Some(group), Some(kind)) = (doc.str_at(&["spec", "group"]), doc.str_at(&["spec", "names", "kind"])) else {
            return;
        };
        for v in doc.path(&["spec", "versions"]).and_then(Node::as_seq).into_iter().flatten() {
            let served = v.get("served").and_then(Node::as_bool).unwrap_or(true);
            if let (true, Some(name)) = (served, v.str_at(&["name"])) {
                self.served.insert((group.to_string(), name.to_string(), kind.to_string()));
            }
        }
    }

    pub fn serves(&self, group: &str, version: &str, kind: &str) -> bool {
        self.served.contains(&(group.to_string(), version.to_string(), kind.to_string()))
    }

    /// Versions of a group/kind that some CRD serves.
    pub fn versions_of(&self, group: &str, kind: &str) -> Vec<String> {
        self.served.iter().filter(|(g, _, k)| g == group && k == kind).map(|(_, v, _)| v.clone()).collect()
    }

    pub fn len(&self) -> usize {
        self.served.len()
    }

    pub fn is_empty(&self) -> bool {
        self.served.is_empty()
    }
}
