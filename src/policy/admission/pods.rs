//! Pod templates of workloads as the Pods their controllers will create, so a policy written
//! for Pods (the usual case: images, resources, host paths) gates the Deployment in the PR
//! instead of failing later, in the cluster, when the ReplicaSet creates its Pods.

use crate::kustomize::resource::Resource;
use crate::policy::builtin::pod::template_keys;
use crate::source::{Mapping, Node, Value};

/// The Pod a workload's template describes: the template's metadata (named after the workload
/// when it has no name, in the workload's namespace) and spec, every value keeping the source
/// location it has in the workload. `None` for other kinds and templates without a spec.
pub(super) fn synthetic_pod(workload: &Resource) -> Option<Node> {
    let template = template_keys(workload.group(), workload.kind()).and_then(|k| workload.node.path(k));
    let template = template.filter(|t| t.as_map().is_some())?;
    let workload = &workload.node;
    let spec = template.get("spec").filter(|s| s.as_map().is_some())?.clone();
    let mut metadata = template
        .get("metadata")
        .filter(|m| m.as_map().is_some())
        .cloned()
        .unwrap_or_else(|| Node::empty_map(template.loc));
    if let Some(m) = metadata.as_map_mut() {
        if !m.contains_key("name")
            && let Some(name) = workload.get("metadata").and_then(|md| md.get("name"))
        {
            m.insert("name".into(), name.clone());
        }
        if let Some(ns) = workload.get("metadata").and_then(|md| md.get("namespace")) {
            m.insert("namespace".into(), ns.clone());
        }
    }
    let mut pod = Mapping::default();
    pod.insert("apiVersion".into(), Node::string("v1", template.loc));
    pod.insert("kind".into(), Node::string("Pod", template.loc));
    pod.insert("metadata".into(), metadata);
    pod.insert("spec".into(), spec);
    Some(Node::new(Value::Map(Box::new(pod)), template.loc))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::yaml::{Dialect, parse};
    use crate::source::{FileId, Limits};

    fn node(text: &str) -> Resource {
        Resource::new(parse(text, FileId(0), Dialect::Yaml12, &Limits::default()).docs.remove(0))
    }

    #[test]
    fn deployment_and_cronjob_templates() {
        let d = node(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop}\nspec:\n  template:\n    metadata: {labels: {app: web}}\n    spec:\n      containers: [{name: web, image: nginx}]\n",
        );
        let pod = synthetic_pod(&d).unwrap();
        assert_eq!(pod.str_at(&["kind"]), Some("Pod"));
        assert_eq!(pod.str_at(&["metadata", "name"]), Some("web"));
        assert_eq!(pod.str_at(&["metadata", "namespace"]), Some("shop"));
        assert_eq!(pod.str_at(&["metadata", "labels", "app"]), Some("web"));
        assert_eq!(pod.path(&["spec", "containers"]).unwrap().loc.line, 8);
        let c = node(
            "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: nightly}\nspec:\n  schedule: '@daily'\n  jobTemplate:\n    spec:\n      template:\n        spec: {containers: [{name: a, image: b}]}\n",
        );
        assert_eq!(synthetic_pod(&c).unwrap().str_at(&["metadata", "name"]), Some("nightly"));
        assert!(synthetic_pod(&node("apiVersion: v1\nkind: Service\nmetadata: {name: s}\n")).is_none());
    }
}
