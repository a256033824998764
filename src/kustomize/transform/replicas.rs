//! `replicas`: sets `spec.replicas` of the named workloads.

use crate::kustomize::fieldspec::{split, visit};
use crate::kustomize::kustomization::{CustomField, ReplicaSpec};
use crate::kustomize::resource::Resource;
use crate::source::{Node, Value};

const KINDS: &[&str] = &["Deployment", "ReplicationController", "ReplicaSet", "StatefulSet"];

/// Sets the count on every scalable resource with that (current or original) name. Returns the
/// specs that matched nothing.
/// `extra` replica fields (transformer configurations) are set on the kinds they name.
pub fn apply<'a>(resources: &mut [Resource], specs: &'a [ReplicaSpec], extra: &[CustomField]) -> Vec<&'a ReplicaSpec> {
    let mut unmatched = Vec::new();
    for spec in specs {
        let mut hit = false;
        for r in resources.iter_mut().filter(|r| r.had_name(&spec.name)) {
            let gvk = r.gvk();
            if KINDS.contains(&r.kind()) {
                hit = true;
                if let Some(m) = r.node.ensure_map(&["spec"], spec.loc) {
                    m.insert("replicas".into(), Node::new(Value::Int(spec.count), spec.loc));
                }
            }
            for f in extra.iter().filter(|f| f.applies(&gvk) && f.kind.is_some()) {
                hit = true;
                let path = split(&f.path);
                let Some((last, parents)) = path.split_last() else { continue };
                visit(&mut r.node, parents, f.create, spec.loc, &mut |holder| {
                    if let Some(m) = holder.as_map_mut() {
                        m.insert((*last).to_string(), Node::new(Value::Int(spec.count), spec.loc));
                    }
                });
            }
        }
        if !hit {
            unmatched.push(spec);
        }
    }
    unmatched
}
