//! `namespace:`: moves every namespaced object into the namespace. References to moved
//! ServiceAccounts (RoleBinding subjects) follow via name references.

use crate::kustomize::resource::{Resource, is_cluster_scoped};
use crate::source::{Loc, Node};

/// Sets `metadata.namespace` on every namespaced object.
pub fn apply(resources: &mut [Resource], namespace: &str, loc: Loc) {
    for r in resources.iter_mut() {
        if is_cluster_scoped(r.kind()) {
            continue;
        }
        r.remember_name();
        if let Some(meta) = r.node.ensure_map(&["metadata"], loc) {
            meta.insert("namespace".into(), Node::string(namespace, loc));
        }
    }
    // An APIService names the namespace of the Service behind it.
    for r in resources.iter_mut().filter(|r| r.kind() == "APIService") {
        if let Some(svc) = r.node.get_mut("spec").and_then(|s| s.get_mut("service")).and_then(Node::as_map_mut) {
            svc.insert("namespace".into(), Node::string(namespace, loc));
        }
    }
}
