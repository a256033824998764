//! `namespace:`: moves every namespaced object into the namespace. References to moved
//! ServiceAccounts (RoleBinding subjects) follow via name references; subjects named
//! `default` are moved too, whatever namespace they named (kustomize's role binding hack).

use crate::kustomize::fieldspec::{split, visit};
use crate::kustomize::kustomization::CustomField;
use crate::kustomize::resource::{Resource, is_cluster_scoped};
use crate::source::{Loc, Node};

/// Sets `metadata.namespace` on every namespaced object. kustomize refuses (an "ID conflict")
/// when the objects hold more than one Namespace; the error names them.
/// `extra` fields from transformer configurations are set to the namespace as well.
/// A core Namespace object is renamed to the namespace (a placeholder `name: _` works).
pub fn apply(resources: &mut [Resource], namespace: &str, loc: Loc, extra: &[CustomField]) -> Result<(), String> {
    let namespaces: Vec<&str> = resources.iter().filter(|r| r.kind() == "Namespace").map(|r| r.name()).collect();
    if namespaces.len() > 1 {
        return Err(format!(
            "namespace transformation produces ID conflict: 'namespace: {namespace}' with several Namespace objects ({})",
            namespaces.join(", ")
        ));
    }
    for r in resources.iter_mut() {
        // kustomize's namespace field specs include `metadata/name` of a core `v1` Namespace:
        // the one Namespace object takes the kustomization's namespace as its name.
        if r.kind() == "Namespace" && r.node.str_at(&["apiVersion"]) == Some("v1") {
            if r.name() != namespace {
                r.set_name(namespace.to_string());
            }
            continue;
        }
        if is_cluster_scoped(r.kind()) {
            continue;
        }
        r.remember_name();
        if let Some(meta) = r.node.ensure_map(&["metadata"], loc) {
            meta.insert("namespace".into(), Node::string(namespace, loc));
        }
    }
    for r in resources.iter_mut().filter(|r| matches!(r.kind(), "RoleBinding" | "ClusterRoleBinding")) {
        let Some(subjects) = r.node.get_mut("subjects").and_then(Node::as_seq_mut) else { continue };
        for s in subjects.iter_mut().filter(|s| s.str_at(&["name"]) == Some("default")) {
            if let Some(m) = s.as_map_mut() {
                m.insert("namespace".into(), Node::string(namespace, loc));
            }
        }
    }
    for r in resources.iter_mut() {
        let gvk = r.gvk();
        for f in extra.iter().filter(|f| f.applies(&gvk) && f.path != "metadata/namespace") {
            let path = split(&f.path);
            let Some((last, parents)) = path.split_last() else { continue };
            visit(&mut r.node, parents, f.create, loc, &mut |holder| {
                if let Some(m) = holder.as_map_mut()
                    && (f.create || m.contains_key(*last))
                {
                    m.insert((*last).to_string(), Node::string(namespace, loc));
                }
            });
        }
    }
    // An APIService names the namespace of the Service behind it.
    for r in resources.iter_mut().filter(|r| r.kind() == "APIService") {
        if let Some(svc) = r.node.get_mut("spec").and_then(|s| s.get_mut("service")).and_then(Node::as_map_mut) {
            svc.insert("namespace".into(), Node::string(namespace, loc));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::yaml::{Dialect, parse};
    use crate::source::{FileId, Limits};

    #[test]
    fn default_subjects_and_apiservice_follow_namespace() {
        let text = "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: rb}\nsubjects:\n- {kind: ServiceAccount, name: default, namespace: kube-system}\n- {kind: ServiceAccount, name: other}\n---\napiVersion: apiregistration.k8s.io/v1\nkind: APIService\nmetadata: {name: v1.x.io}\nspec:\n  service: {name: s}\n";
        let mut rs: Vec<Resource> =
            parse(text, FileId(0), Dialect::Yaml12, &Limits::default()).docs.into_iter().map(Resource::new).collect();
        assert_eq!(apply(&mut rs, "team", Loc::NONE, &[]), Ok(()));
        let subjects = rs[0].node.path(&["subjects"]).and_then(Node::as_seq).cloned().unwrap_or_default();
        assert_eq!(subjects[0].str_at(&["namespace"]), Some("team"));
        assert_eq!(subjects[1].str_at(&["namespace"]), None);
        assert_eq!(rs[0].namespace(), "team");
        assert_eq!(rs[1].node.str_at(&["spec", "service", "namespace"]), Some("team"));
        assert_eq!(rs[1].node.str_at(&["metadata", "namespace"]), None);
    }

    #[test]
    fn two_namespace_objects_conflict() {
        let text = "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: b}\n";
        let mut rs: Vec<Resource> =
            parse(text, FileId(0), Dialect::Yaml12, &Limits::default()).docs.into_iter().map(Resource::new).collect();
        assert!(apply(&mut rs, "prod", Loc::NONE, &[]).is_err());
    }
}
