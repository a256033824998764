//! `commonAnnotations`: metadata annotations everywhere and on pod templates.

use crate::kustomize::fieldspec::{FieldSpec, fs, split};
use crate::kustomize::kustomization::CustomField;
use crate::kustomize::resource::Resource;
use crate::kustomize::transform::labels::set_pairs;
use crate::source::{Loc, Node};

const SPECS: &[FieldSpec] = &[
    fs(None, "metadata/annotations", true),
    fs(Some("ReplicationController"), "spec/template/metadata/annotations", true),
    fs(Some("Deployment"), "spec/template/metadata/annotations", true),
    fs(Some("ReplicaSet"), "spec/template/metadata/annotations", true),
    fs(Some("DaemonSet"), "spec/template/metadata/annotations", true),
    fs(Some("StatefulSet"), "spec/template/metadata/annotations", true),
    fs(Some("Job"), "spec/template/metadata/annotations", true),
    fs(Some("CronJob"), "spec/jobTemplate/metadata/annotations", true),
    fs(Some("CronJob"), "spec/jobTemplate/spec/template/metadata/annotations", true),
];

/// Adds the annotations to every resource, at the builtin fields and `extra` ones from
/// transformer configurations.
pub fn apply(resources: &mut [Resource], pairs: &[(String, Node)], loc: Loc, extra: &[CustomField]) {
    if pairs.is_empty() {
        return;
    }
    for r in resources.iter_mut() {
        let gvk = r.gvk();
        for s in SPECS.iter().filter(|s| s.applies(&gvk.group, &gvk.kind)) {
            set_pairs(&mut r.node, &split(s.path), s.create, pairs, loc);
        }
        for f in extra.iter().filter(|f| f.applies(&gvk)) {
            set_pairs(&mut r.node, &split(&f.path), f.create, pairs, loc);
        }
    }
}
