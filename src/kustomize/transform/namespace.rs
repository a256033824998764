//! `namespace:`: moves every namespaced object into the namespace. References to moved
//! ServiceAccounts (RoleBinding subjects) follow via name references; subjects named
//! `default` are moved too, whatever namespace they named (kustomize's role binding hack).

use crate::kustomize::fieldspec::{split, visit};
use crate::kustomize::kustomization::CustomField;
use crate::kustomize::resource::{Resource, is_cluster_scoped};
use crate::source::{Loc, Node};

/// Which RoleBinding / ClusterRoleBinding subjects get the namespace (`setRoleBindingSubjects`
/// of a `NamespaceTransformer`; the `namespace:` field uses the default).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SubjectMode {
    /// Subjects named `default`, whatever their kind.
    #[default]
    DefaultOnly,
    /// Every `ServiceAccount` subject.
    AllServiceAccounts,
    /// No subject.
    None,
}

/// The options of a `NamespaceTransformer` plugin configuration.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NamespaceOptions {
    /// `unsetOnly`: only fields that are absent or empty are set.
    pub unset_only: bool,
    pub subjects: SubjectMode,
}

/// Sets `metadata.namespace` on every namespaced object. kustomize refuses (an "ID conflict")
/// when the objects hold more than one Namespace; the error names them.
/// `extra` fields from transformer configurations are set to the namespace as well.
pub fn apply(resources: &mut [Resource], namespace: &str, loc: Loc, extra: &[CustomField]) -> Result<(), String> {
    apply_with(resources, namespace, loc, extra, NamespaceOptions::default())
}

/// Sets `key` of a map to the namespace (with `unset_only`, only where it is absent or empty).
fn set(m: &mut crate::source::Mapping, key: &str, namespace: &str, loc: Loc, unset_only: bool) {
    if unset_only && m.get(key).and_then(Node::as_str).is_some_and(|v| !v.is_empty()) {
        return;
    }
    m.insert(key.to_string(), Node::string(namespace, loc));
}

/// [`apply`] with a `NamespaceTransformer`'s options.
pub fn apply_with(
    resources: &mut [Resource],
    namespace: &str,
    loc: Loc,
    extra: &[CustomField],
    opts: NamespaceOptions,
) -> Result<(), String> {
    let namespaces: Vec<&str> = resources.iter().filter(|r| r.kind() == "Namespace").map(|r| r.name()).collect();
    if namespaces.len() > 1 {
        return Err(format!(
            "namespace transformation produces ID conflict: 'namespace: {namespace}' with several Namespace objects ({})",
            namespaces.join(", ")
        ));
    }
    for r in resources.iter_mut() {
        if is_cluster_scoped(r.kind()) {
            continue;
        }
        r.remember_name();
        if let Some(meta) = r.node.ensure_map(&["metadata"], loc) {
            set(meta, "namespace", namespace, loc, opts.unset_only);
        }
    }
    for r in resources.iter_mut().filter(|r| matches!(r.kind(), "RoleBinding" | "ClusterRoleBinding")) {
        let Some(subjects) = r.node.get_mut("subjects").and_then(Node::as_seq_mut) else { continue };
        for s in subjects.iter_mut() {
            let chosen = match opts.subjects {
                SubjectMode::DefaultOnly => s.str_at(&["name"]) == Some("default"),
                SubjectMode::AllServiceAccounts => s.str_at(&["kind"]) == Some("ServiceAccount"),
                SubjectMode::None => false,
            };
            if chosen && let Some(m) = s.as_map_mut() {
                set(m, "namespace", namespace, loc, opts.unset_only);
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
                    set(m, last, namespace, loc, opts.unset_only);
                }
            });
        }
    }
    // An APIService names the namespace of the Service behind it.
    for r in resources.iter_mut().filter(|r| r.kind() == "APIService") {
        if let Some(svc) = r.node.get_mut("spec").and_then(|s| s.get_mut("service")).and_then(Node::as_map_mut) {
            set(svc, "namespace", namespace, loc, opts.unset_only);
        }
    }
    // Objects that differed only in namespace now collide: kustomize refuses.
    let mut seen = std::collections::HashSet::new();
    for r in resources.iter() {
        let id = r.id();
        if !seen.insert(id.to_string()) {
            return Err(format!("namespace transformation produces ID conflict: two objects are now {id}"));
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

    #[test]
    fn unset_only_and_subject_modes() {
        let text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: kept}\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: rb}\nsubjects:\n- {kind: ServiceAccount, name: bot, namespace: x}\n- {kind: User, name: default}\n";
        let fresh = || -> Vec<Resource> {
            parse(text, FileId(0), Dialect::Yaml12, &Limits::default()).docs.into_iter().map(Resource::new).collect()
        };
        let ns_of = |rs: &[Resource], i: usize| {
            rs[1]
                .node
                .path(&["subjects"])
                .and_then(Node::as_seq)
                .and_then(|s| s[i].str_at(&["namespace"]).map(str::to_string))
        };
        let mut rs = fresh();
        let all = NamespaceOptions { unset_only: false, subjects: SubjectMode::AllServiceAccounts };
        assert_eq!(apply_with(&mut rs, "t", Loc::NONE, &[], all), Ok(()));
        assert_eq!((rs[0].namespace(), ns_of(&rs, 0), ns_of(&rs, 1)), ("t", Some("t".into()), None));
        let mut rs = fresh();
        let unset = NamespaceOptions { unset_only: true, subjects: SubjectMode::DefaultOnly };
        assert_eq!(apply_with(&mut rs, "t", Loc::NONE, &[], unset), Ok(()));
        assert_eq!((rs[0].namespace(), ns_of(&rs, 0), ns_of(&rs, 1)), ("kept", Some("x".into()), Some("t".into())));
        let mut rs = fresh();
        let none = NamespaceOptions { unset_only: false, subjects: SubjectMode::None };
        assert_eq!(apply_with(&mut rs, "t", Loc::NONE, &[], none), Ok(()));
        assert_eq!(ns_of(&rs, 1), None);
    }
}
