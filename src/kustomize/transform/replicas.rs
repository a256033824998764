//! `replicas`: sets `spec.replicas` of the named workloads.

use crate::kustomize::kustomization::ReplicaSpec;
use crate::kustomize::resource::Resource;
use crate::source::{Node, Value};

const KINDS: &[&str] = &["Deployment", "ReplicationController", "ReplicaSet", "StatefulSet"];

/// Sets the count on every scalable resource with that (current or original) name. Returns the
/// specs that matched nothing.
pub fn apply<'a>(resources: &mut [Resource], specs: &'a [ReplicaSpec]) -> Vec<&'a ReplicaSpec> {
    let mut unmatched = Vec::new();
    for spec in specs {
        let mut hit = false;
        for r in resources.iter_mut().filter(|r| KINDS.contains(&r.kind()) && r.had_name(&spec.name)) {
            hit = true;
            if let Some(m) = r.node.ensure_map(&["spec"], spec.loc) {
                m.insert("replicas".into(), Node::new(Value::Int(spec.count), spec.loc));
            }
        }
        if !hit {
            unmatched.push(spec);
        }
    }
    unmatched
}
