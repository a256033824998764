//! `commonLabels` and `labels`: metadata labels everywhere, and (as configured) selectors and
//! pod templates, with the field specs kustomize uses.

use crate::kustomize::fieldspec::{FieldSpec, fs, split, visit};
use crate::kustomize::kustomization::LabelSpec;
use crate::kustomize::resource::Resource;
use crate::source::Node;

const AFFINITY: [&str; 4] = [
    "spec/template/spec/affinity/podAffinity/preferredDuringSchedulingIgnoredDuringExecution/podAffinityTerm/labelSelector/matchLabels",
    "spec/template/spec/affinity/podAffinity/requiredDuringSchedulingIgnoredDuringExecution/labelSelector/matchLabels",
    "spec/template/spec/affinity/podAntiAffinity/preferredDuringSchedulingIgnoredDuringExecution/podAffinityTerm/labelSelector/matchLabels",
    "spec/template/spec/affinity/podAntiAffinity/requiredDuringSchedulingIgnoredDuringExecution/labelSelector/matchLabels",
];

/// Selector fields (only with `includeSelectors`).
const SELECTORS: &[FieldSpec] = &[
    fs(Some("Service"), "spec/selector", true),
    fs(Some("ReplicationController"), "spec/selector", false),
    fs(Some("Deployment"), "spec/selector/matchLabels", true),
    fs(Some("Deployment"), AFFINITY[0], false),
    fs(Some("Deployment"), AFFINITY[1], false),
    fs(Some("Deployment"), AFFINITY[2], false),
    fs(Some("Deployment"), AFFINITY[3], false),
    fs(Some("Deployment"), "spec/template/spec/topologySpreadConstraints/labelSelector/matchLabels", false),
    fs(Some("ReplicaSet"), "spec/selector/matchLabels", true),
    fs(Some("DaemonSet"), "spec/selector/matchLabels", true),
    fs(Some("StatefulSet"), "spec/selector/matchLabels", true),
    fs(Some("StatefulSet"), AFFINITY[0], false),
    fs(Some("StatefulSet"), AFFINITY[1], false),
    fs(Some("StatefulSet"), AFFINITY[2], false),
    fs(Some("StatefulSet"), AFFINITY[3], false),
    fs(Some("StatefulSet"), "spec/template/spec/topologySpreadConstraints/labelSelector/matchLabels", false),
    fs(Some("Job"), "spec/selector/matchLabels", false),
    fs(Some("CronJob"), "spec/jobTemplate/spec/selector/matchLabels", false),
    fs(Some("PodDisruptionBudget"), "spec/selector/matchLabels", false),
    fs(Some("NetworkPolicy"), "spec/podSelector/matchLabels", false),
    fs(Some("NetworkPolicy"), "spec/ingress/from/podSelector/matchLabels", false),
    fs(Some("NetworkPolicy"), "spec/egress/to/podSelector/matchLabels", false),
];

/// Pod template labels (with `includeSelectors` or `includeTemplates`).
const TEMPLATES: &[FieldSpec] = &[
    fs(Some("ReplicationController"), "spec/template/metadata/labels", true),
    fs(Some("Deployment"), "spec/template/metadata/labels", true),
    fs(Some("ReplicaSet"), "spec/template/metadata/labels", true),
    fs(Some("DaemonSet"), "spec/template/metadata/labels", true),
    fs(Some("StatefulSet"), "spec/template/metadata/labels", true),
    fs(Some("StatefulSet"), "spec/volumeClaimTemplates[]/metadata/labels", true),
    fs(Some("Job"), "spec/template/metadata/labels", true),
    fs(Some("CronJob"), "spec/jobTemplate/metadata/labels", true),
    fs(Some("CronJob"), "spec/jobTemplate/spec/template/metadata/labels", true),
];

const METADATA: FieldSpec = fs(None, "metadata/labels", true);

/// Applies one label set to every resource.
pub fn apply(resources: &mut [Resource], spec: &LabelSpec) {
    if spec.pairs.is_empty() {
        return;
    }
    let mut specs: Vec<&FieldSpec> = vec![&METADATA];
    if spec.include_selectors || spec.include_templates {
        specs.extend(TEMPLATES.iter());
    }
    if spec.include_selectors {
        specs.extend(SELECTORS.iter());
    }
    for r in resources.iter_mut() {
        let gvk = r.gvk();
        for s in &specs {
            if !s.applies(&gvk.group, &gvk.kind) {
                continue;
            }
            set_pairs(&mut r.node, &split(s.path), s.create, &spec.pairs, spec.loc);
        }
        for f in &spec.fields {
            let applies = f.group.as_ref().is_none_or(|g| *g == gvk.group)
                && f.version.as_ref().is_none_or(|v| *v == gvk.version)
                && f.kind.as_ref().is_none_or(|k| *k == gvk.kind);
            if applies {
                set_pairs(&mut r.node, &split(&f.path), f.create, &spec.pairs, spec.loc);
            }
        }
    }
}

/// Writes `pairs` into every map found at `path`.
pub fn set_pairs(node: &mut Node, path: &[&str], create: bool, pairs: &[(String, Node)], loc: crate::source::Loc) {
    visit(node, path, create, loc, &mut |target| {
        if target.is_null() {
            *target = Node::empty_map(loc);
        }
        if let Some(m) = target.as_map_mut() {
            for (k, v) in pairs {
                m.insert(k.clone(), v.clone());
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kustomize::kustomization::CustomField;
    use crate::source::yaml::{Dialect, parse};
    use crate::source::{FileId, Limits, Loc};

    #[test]
    fn custom_fields_get_the_labels() {
        let text = "apiVersion: example.com/v1\nkind: Thing\nmetadata: {name: t}\nspec: {}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n";
        let mut rs: Vec<Resource> =
            parse(text, FileId(0), Dialect::Yaml12, &Limits::default()).docs.into_iter().map(Resource::new).collect();
        let spec = LabelSpec {
            pairs: vec![("team".into(), Node::string("x", Loc::NONE))],
            include_selectors: false,
            include_templates: false,
            fields: vec![CustomField {
                kind: Some("Thing".into()),
                path: "spec/selectorLabels".into(),
                create: true,
                ..CustomField::default()
            }],
            loc: Loc::NONE,
        };
        apply(&mut rs, &spec);
        assert_eq!(rs[0].node.str_at(&["spec", "selectorLabels", "team"]), Some("x"));
        assert_eq!(rs[0].node.str_at(&["metadata", "labels", "team"]), Some("x"));
        assert_eq!(rs[1].node.str_at(&["spec", "selectorLabels", "team"]), None);
    }
}
