//! `namespace:` and the builtin `NamespaceTransformer`: moves every namespaced object into the
//! namespace and sets the namespace fields its field specs name, as kustomize does:
//! - the default specs (see [`default_fields`]) rename a core `v1` `Namespace` object to the
//!   namespace itself (a `Namespace` kind of another API group is an ordinary object), and point
//!   an APIService's and a CRD conversion webhook's service at it;
//! - (Cluster)RoleBinding subjects: by default only those named `default` move (kustomize's role
//!   binding hack); `setRoleBindingSubjects` selects all ServiceAccount subjects, or none;
//! - `unsetOnly` leaves fields (and objects) that already name a namespace alone;
//! - two objects that end up with one id are an "ID conflict" error.
//!
//! Which kinds are cluster-scoped follows kustomize's embedded schema, by apiVersion and kind
//! ([`crate::kustomize::resource::kustomize_cluster_scoped`]).

use crate::kustomize::fieldspec::{split, visit};
use crate::kustomize::kustomization::CustomField;
use crate::kustomize::resource::{ResId, Resource, kustomize_cluster_scoped};
use crate::source::{Loc, Node};

/// Which (Cluster)RoleBinding subjects take the namespace.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Subjects {
    /// Subjects named `default` (kustomize's default).
    #[default]
    DefaultOnly,
    /// Every subject of kind ServiceAccount.
    AllServiceAccounts,
    /// None.
    None,
}

impl Subjects {
    /// Parses `setRoleBindingSubjects` (empty: the default).
    pub fn parse(s: &str) -> Result<Subjects, String> {
        match s {
            "" | "defaultOnly" => Ok(Subjects::DefaultOnly),
            "allServiceAccounts" => Ok(Subjects::AllServiceAccounts),
            "none" => Ok(Subjects::None),
            other => Err(format!(
                "invalid value \"{other}\" for setRoleBindingSubjects: must be one of \"defaultOnly\", \"none\" or \"allServiceAccounts\""
            )),
        }
    }
}

/// Options of one namespace transformation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// Only set fields that are missing or empty.
    pub unset_only: bool,
    pub subjects: Subjects,
}

fn spec(group: Option<&str>, kind: &str, path: &str, create: bool) -> CustomField {
    CustomField {
        group: group.map(str::to_string),
        version: None,
        kind: Some(kind.to_string()),
        path: path.to_string(),
        create,
    }
}

/// kustomize's default namespace field specs (used by the kustomization's `namespace:`, not by
/// a `NamespaceTransformer` plugin configuration, which names its own).
pub fn default_fields() -> Vec<CustomField> {
    vec![
        spec(None, "Namespace", "metadata/name", true),
        spec(Some("apiregistration.k8s.io"), "APIService", "spec/service/namespace", true),
        spec(
            Some("apiextensions.k8s.io"),
            "CustomResourceDefinition",
            "spec/conversion/webhook/clientConfig/service/namespace",
            false,
        ),
    ]
}

fn is_role_binding(kind: &str) -> bool {
    kind == "RoleBinding" || kind == "ClusterRoleBinding"
}

/// Sets `namespace` at `field` of `holder` (a map), creating it when `create`.
fn set(holder: &mut Node, field: &str, namespace: &str, create: bool, opts: Options, loc: Loc) {
    let Some(m) = holder.as_map_mut() else { return };
    let current = m.get(field);
    let present = current.is_some_and(|n| !n.is_null());
    if !present && !create {
        return;
    }
    if opts.unset_only && current.and_then(Node::as_str).is_some_and(|s| !s.is_empty()) {
        return;
    }
    let at = current.map_or(loc, |n| if n.loc == Loc::NONE { loc } else { n.loc });
    m.insert(field.to_string(), Node::string(namespace, at));
}

/// [`set`] on a map, or on each map of a sequence (kustomize walks lists at every level).
fn set_in(holder: &mut Node, field: &str, namespace: &str, create: bool, opts: Options, loc: Loc) {
    match holder.as_seq_mut() {
        Some(items) => items.iter_mut().for_each(|i| set_in(i, field, namespace, create, opts, loc)),
        None => set(holder, field, namespace, create, opts, loc),
    }
}

/// Moves one object: its own namespace, its binding subjects, then the field specs.
fn transform_one(r: &mut Resource, namespace: &str, loc: Loc, fields: &[CustomField], opts: Options) {
    let gvk = r.gvk();
    let api_version = r.api_version().to_string();
    if !kustomize_cluster_scoped(&api_version, &gvk.kind)
        && r.node.ensure_map(&["metadata"], loc).is_some()
        && let Some(meta) = r.node.get_mut("metadata")
    {
        set(meta, "namespace", namespace, true, opts, loc);
    }
    let binding = is_role_binding(&gvk.kind);
    if binding && opts.subjects != Subjects::None {
        for s in r.node.get_mut("subjects").and_then(Node::as_seq_mut).into_iter().flatten() {
            let hit = match opts.subjects {
                Subjects::DefaultOnly => s.str_at(&["name"]) == Some("default"),
                Subjects::AllServiceAccounts => s.str_at(&["kind"]) == Some("ServiceAccount"),
                Subjects::None => false,
            };
            if hit {
                set(s, "namespace", namespace, true, opts, loc);
            }
        }
    }
    for f in fields.iter().filter(|f| f.applies(&gvk)) {
        let unneeded = f.path == "metadata/namespace"
            || (f.path == "metadata/name" && api_version != "v1")
            || (binding && f.path == "subjects/namespace" && f.kind.as_deref().is_some_and(is_role_binding));
        if unneeded {
            continue;
        }
        let path = split(&f.path);
        let Some((last, parents)) = path.split_last() else { continue };
        visit(&mut r.node, parents, f.create, loc, &mut |holder| set_in(holder, last, namespace, f.create, opts, loc));
    }
}

/// Moves every object into `namespace` (see the module docs). `fields` are the complete field
/// specs: [`default_fields`] plus configured ones for `namespace:`, the plugin's own otherwise.
/// Errors when two objects end up with the same id; the message names it.
pub fn apply(
    resources: &mut [Resource],
    namespace: &str,
    loc: Loc,
    fields: &[CustomField],
    opts: Options,
) -> Result<(), String> {
    for r in resources.iter_mut() {
        r.remember_id();
        transform_one(r, namespace, loc, fields, opts);
    }
    let mut ids: Vec<(ResId, usize)> = resources.iter().enumerate().map(|(i, r)| (r.effective_id(), i)).collect();
    ids.sort();
    if let Some(w) = ids.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(format!(
            "namespace transformation produces ID conflict: 'namespace: {namespace}' gives two objects the id {}",
            w[0].0
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::yaml::{Dialect, parse};
    use crate::source::{FileId, Limits};

    fn resources(text: &str) -> Vec<Resource> {
        parse(text, FileId(0), Dialect::Yaml12, &Limits::default()).docs.into_iter().map(Resource::new).collect()
    }

    #[test]
    fn default_subjects_and_apiservice_follow_namespace() {
        let mut rs = resources(
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: rb}\nsubjects:\n- {kind: ServiceAccount, name: default, namespace: kube-system}\n- {kind: ServiceAccount, name: other}\n---\napiVersion: apiregistration.k8s.io/v1\nkind: APIService\nmetadata: {name: v1.x.io}\nspec:\n  service: {name: s}\n",
        );
        assert_eq!(apply(&mut rs, "team", Loc::NONE, &default_fields(), Options::default()), Ok(()));
        let subjects = rs[0].node.path(&["subjects"]).and_then(Node::as_seq).cloned().unwrap_or_default();
        assert_eq!(subjects[0].str_at(&["namespace"]), Some("team"));
        assert_eq!(subjects[1].str_at(&["namespace"]), None);
        assert_eq!(rs[0].namespace(), "team");
        assert_eq!(rs[1].node.str_at(&["spec", "service", "namespace"]), Some("team"));
        assert_eq!(rs[1].node.str_at(&["metadata", "namespace"]), None);
    }

    #[test]
    fn core_namespace_is_renamed_other_groups_are_namespaced_objects() {
        let mut rs = resources(
            "apiVersion: v1\nkind: Namespace\nmetadata: {name: _}\n---\napiVersion: example.com/v1\nkind: Namespace\nmetadata: {name: other}\n",
        );
        assert_eq!(apply(&mut rs, "media", Loc::NONE, &default_fields(), Options::default()), Ok(()));
        assert_eq!((rs[0].name(), rs[0].namespace()), ("media", ""));
        assert_eq!((rs[1].name(), rs[1].namespace()), ("other", "media"));
        // A plugin configuration without field specs leaves the name alone.
        let mut rs = resources("apiVersion: v1\nkind: Namespace\nmetadata: {name: _}\n");
        assert_eq!(apply(&mut rs, "media", Loc::NONE, &[], Options::default()), Ok(()));
        assert_eq!(rs[0].name(), "_");
    }

    #[test]
    fn unset_only_and_subject_modes() {
        let text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: kept}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: rb}\nsubjects:\n- {kind: ServiceAccount, name: x}\n- {kind: User, name: default}\n";
        let mut rs = resources(text);
        let opts = Options { unset_only: true, subjects: Subjects::AllServiceAccounts };
        assert_eq!(apply(&mut rs, "new", Loc::NONE, &[], opts), Ok(()));
        assert_eq!(rs[0].namespace(), "kept");
        assert_eq!(rs[1].namespace(), "new");
        assert_eq!(first_subject_ns(&rs[2]), Some("new"));
        let mut rs = resources(text);
        let opts = Options { unset_only: false, subjects: Subjects::None };
        assert_eq!(apply(&mut rs, "new", Loc::NONE, &[], opts), Ok(()));
        assert_eq!(rs[0].namespace(), "new");
        assert_eq!(first_subject_ns(&rs[2]), None);
        assert!(Subjects::parse("some").is_err());
    }

    fn first_subject_ns(r: &Resource) -> Option<&str> {
        r.node.get("subjects").and_then(Node::as_seq).and_then(|s| s.first()).and_then(|s| s.str_at(&["namespace"]))
    }

    #[test]
    fn two_objects_with_one_id_conflict() {
        let mut rs = resources(
            "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: b}\n",
        );
        assert!(apply(&mut rs, "prod", Loc::NONE, &default_fields(), Options::default()).is_err());
        let mut rs = resources(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: x}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: y}\n",
        );
        assert!(apply(&mut rs, "prod", Loc::NONE, &[], Options::default()).is_err());
    }
}
