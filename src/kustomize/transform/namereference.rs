//! Name references: after prefixes, suffixes and hash suffixes rename objects, every field that
//! refers to a renamed object (a ConfigMap in a volume, a Service in an Ingress, a
//! ServiceAccount in a RoleBinding...) is updated to the new name, as kustomize does.

use crate::kustomize::config::NameRefConfig;
use crate::kustomize::fieldspec::{pod_spec_path, split};
use crate::kustomize::resource::Resource;
use crate::source::{Node, Value};

/// Which objects hold a reference.
#[derive(Clone, Copy)]
enum Referrer<'a> {
    /// Every workload kind, at `path` below its pod spec.
    Pod,
    /// Objects of this kind, at `path`.
    Kind(&'a str),
    /// Every object (a configured field spec without a kind).
    Any,
}

/// Where a referrer names an object of `referred` kind.
#[derive(Clone, Copy)]
struct Ref<'a> {
    referred: &'a str,
    referrer: Referrer<'a>,
    path: &'a str,
    /// The map holding the name also says which kind it means (`kind:` sibling must match).
    kind_sibling: bool,
}

const fn pod(referred: &'static str, path: &'static str) -> Ref<'static> {
    Ref { referred, referrer: Referrer::Pod, path, kind_sibling: false }
}
const fn at(referred: &'static str, referrer: &'static str, path: &'static str) -> Ref<'static> {
    Ref { referred, referrer: Referrer::Kind(referrer), path, kind_sibling: false }
}
const fn kinded(referred: &'static str, referrer: &'static str, path: &'static str) -> Ref<'static> {
    Ref { referred, referrer: Referrer::Kind(referrer), path, kind_sibling: true }
}

const REFS: &[Ref<'static>] = &[
    pod("ConfigMap", "volumes/configMap/name"),
    pod("ConfigMap", "volumes/projected/sources/configMap/name"),
    pod("ConfigMap", "containers/env/valueFrom/configMapKeyRef/name"),
    pod("ConfigMap", "initContainers/env/valueFrom/configMapKeyRef/name"),
    pod("ConfigMap", "ephemeralContainers/env/valueFrom/configMapKeyRef/name"),
    pod("ConfigMap", "containers/envFrom/configMapRef/name"),
    pod("ConfigMap", "initContainers/envFrom/configMapRef/name"),
    pod("ConfigMap", "ephemeralContainers/envFrom/configMapRef/name"),
    pod("Secret", "volumes/secret/secretName"),
    pod("Secret", "volumes/projected/sources/secret/name"),
    pod("Secret", "containers/env/valueFrom/secretKeyRef/name"),
    pod("Secret", "initContainers/env/valueFrom/secretKeyRef/name"),
    pod("Secret", "ephemeralContainers/env/valueFrom/secretKeyRef/name"),
    pod("Secret", "containers/envFrom/secretRef/name"),
    pod("Secret", "initContainers/envFrom/secretRef/name"),
    pod("Secret", "ephemeralContainers/envFrom/secretRef/name"),
    pod("Secret", "imagePullSecrets/name"),
    at("Secret", "ServiceAccount", "imagePullSecrets/name"),
    at("Secret", "ServiceAccount", "secrets/name"),
    at("Secret", "Ingress", "spec/tls/secretName"),
    pod("ServiceAccount", "serviceAccountName"),
    kinded("ServiceAccount", "RoleBinding", "subjects/name"),
    kinded("ServiceAccount", "ClusterRoleBinding", "subjects/name"),
    pod("PersistentVolumeClaim", "volumes/persistentVolumeClaim/claimName"),
    pod("PriorityClass", "priorityClassName"),
    at("Service", "Ingress", "spec/rules/http/paths/backend/service/name"),
    at("Service", "Ingress", "spec/defaultBackend/service/name"),
    at("Service", "Ingress", "spec/backend/serviceName"),
    at("Service", "Ingress", "spec/rules/http/paths/backend/serviceName"),
    at("Service", "StatefulSet", "spec/serviceName"),
    at("Service", "APIService", "spec/service/name"),
    at("Service", "ValidatingWebhookConfiguration", "webhooks/clientConfig/service/name"),
    at("Service", "MutatingWebhookConfiguration", "webhooks/clientConfig/service/name"),
    kinded("Role", "RoleBinding", "roleRef/name"),
    kinded("ClusterRole", "RoleBinding", "roleRef/name"),
    kinded("ClusterRole", "ClusterRoleBinding", "roleRef/name"),
    at("Deployment", "HorizontalPodAutoscaler", "spec/scaleTargetRef/name"),
    at("StatefulSet", "HorizontalPodAutoscaler", "spec/scaleTargetRef/name"),
    at("ReplicaSet", "HorizontalPodAutoscaler", "spec/scaleTargetRef/name"),
    at("StorageClass", "PersistentVolumeClaim", "spec/storageClassName"),
    at("StorageClass", "StatefulSet", "spec/volumeClaimTemplates/spec/storageClassName"),
];

/// A renamed object: its kind, current name and namespace, and the names it had.
struct Renamed {
    kind: String,
    name: String,
    namespace: String,
    previous: Vec<(String, String)>,
}

/// Updates every reference to an object whose name or namespace changed: the builtin table
/// plus `extra` entries from transformer configurations.
pub fn apply(resources: &mut [Resource], extra: &[NameRefConfig]) {
    let renamed: Vec<Renamed> = resources
        .iter()
        .filter(|r| !r.previous.is_empty())
        .map(|r| Renamed {
            kind: r.kind().to_string(),
            name: r.name().to_string(),
            namespace: r.namespace().to_string(),
            previous: r.previous.clone(),
        })
        .collect();
    if renamed.is_empty() {
        return;
    }
    let mut refs: Vec<Ref<'_>> = REFS.to_vec();
    for n in extra {
        for f in &n.specs {
            let referrer = f.kind.as_deref().map_or(Referrer::Any, Referrer::Kind);
            refs.push(Ref { referred: &n.kind, referrer, path: &f.path, kind_sibling: false });
        }
    }
    for r in resources.iter_mut() {
        let kind = r.kind().to_string();
        let ns = r.namespace().to_string();
        for spec in &refs {
            if !renamed.iter().any(|c| c.kind == spec.referred) {
                continue;
            }
            let mut path: Vec<&str> = match spec.referrer {
                Referrer::Kind(k) if k == kind => Vec::new(),
                Referrer::Kind(_) => continue,
                Referrer::Any => Vec::new(),
                Referrer::Pod => match pod_spec_path(&kind) {
                    Some(p) => p.to_vec(),
                    None => continue,
                },
            };
            path.extend(split(spec.path));
            let (field, parents) = match path.split_last() {
                Some(x) => x,
                None => continue,
            };
            for_each_map(&mut r.node, parents, &mut |holder| fix(holder, field, spec, &renamed, &ns));
        }
    }
}

fn for_each_map(node: &mut Node, path: &[&str], f: &mut dyn FnMut(&mut Node)) {
    match &mut node.value {
        Value::Seq(items) => items.iter_mut().for_each(|i| for_each_map(i, path, f)),
        Value::Map(m) => match path.split_first() {
            None => f(node),
            Some((k, rest)) => {
                if let Some(c) = m.get_mut(*k) {
                    for_each_map(c, rest, f);
                }
            }
        },
        _ => {}
    }
}

fn fix(holder: &mut Node, field: &str, spec: &Ref, renamed: &[Renamed], referrer_ns: &str) {
    if spec.kind_sibling && holder.str_at(&["kind"]).is_some_and(|k| k != spec.referred) {
        return;
    }
    let Some(old) = holder.str_at(&[field]).map(str::to_string) else { return };
    // A subject names its namespace explicitly; other references live in the referrer's.
    let explicit_ns = holder.str_at(&["namespace"]).map(str::to_string);
    let want_ns = explicit_ns.clone().unwrap_or_else(|| referrer_ns.to_string());
    let candidates: Vec<&Renamed> =
        renamed.iter().filter(|c| c.kind == spec.referred && c.previous.iter().any(|(n, _)| *n == old)).collect();
    let ns_eq = |a: &str, b: &str| a == b || (a.is_empty() && b == "default") || (a == "default" && b.is_empty());
    let exact = candidates.iter().find(|c| c.previous.iter().any(|(n, pns)| *n == old && ns_eq(pns, &want_ns)));
    // A reference that names its namespace only matches an object that was in it.
    let chosen = if explicit_ns.is_some() {
        exact
    } else {
        exact.or_else(|| candidates.iter().find(|c| c.namespace == referrer_ns)).or(if candidates.len() == 1 {
            candidates.first()
        } else {
            None
        })
    };
    let Some(c) = chosen else { return };
    let Some(m) = holder.as_map_mut() else { return };
    if let Some(n) = m.get_mut(field) {
        n.value = Value::Str(c.name.clone());
    }
    // A reference that names its namespace follows the object; a ServiceAccount subject
    // gains the namespace the account moved to.
    let subject = spec.kind_sibling && spec.referred == "ServiceAccount";
    if (explicit_ns.is_some() || subject) && !c.namespace.is_empty() {
        m.insert("namespace".into(), Node::string(c.namespace.clone(), crate::source::Loc::NONE));
    }
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
    fn moved_service_account_subject_gains_namespace() {
        let mut rs = resources(
            "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: sa}\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: rb}\nroleRef: {kind: Role, name: r}\nsubjects:\n- {kind: ServiceAccount, name: sa}\n",
        );
        rs[0].remember_name();
        rs[0].set_name("p-sa".into());
        if let Some(m) = rs[0].node.ensure_map(&["metadata"], crate::source::Loc::NONE) {
            m.insert("namespace".into(), Node::string("ci", crate::source::Loc::NONE));
        }
        apply(&mut rs, &[]);
        assert_eq!(rs[1].node.str_at(&["subjects"]), None);
        let subject = rs[1].node.path(&["subjects"]).and_then(Node::as_seq).and_then(|s| s.first()).cloned();
        assert_eq!(subject.as_ref().and_then(|s| s.str_at(&["name"])), Some("p-sa"));
        assert_eq!(subject.as_ref().and_then(|s| s.str_at(&["namespace"])), Some("ci"));
        assert_eq!(rs[1].node.str_at(&["roleRef", "namespace"]), None);
    }

    #[test]
    fn subject_in_another_namespace_is_not_this_account() {
        let mut rs = resources(
            "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: sa}\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: crb}\nroleRef: {kind: ClusterRole, name: r}\nsubjects:\n- {kind: ServiceAccount, name: sa, namespace: elsewhere}\n- {kind: ServiceAccount, name: sa, namespace: default}\n",
        );
        rs[0].remember_name();
        rs[0].set_name("p-sa".into());
        apply(&mut rs, &[]);
        let subjects = rs[1].node.path(&["subjects"]).and_then(Node::as_seq).cloned().unwrap_or_default();
        assert_eq!(subjects[0].str_at(&["name"]), Some("sa"));
        assert_eq!(subjects[1].str_at(&["name"]), Some("p-sa"));
    }

    #[test]
    fn deprecated_service_account_field_is_not_a_reference() {
        let mut rs = resources(
            "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: sa}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {serviceAccount: sa, serviceAccountName: sa}\n",
        );
        rs[0].remember_name();
        rs[0].set_name("sa-x".into());
        apply(&mut rs, &[]);
        assert_eq!(rs[1].node.str_at(&["spec", "serviceAccount"]), Some("sa"));
        assert_eq!(rs[1].node.str_at(&["spec", "serviceAccountName"]), Some("sa-x"));
    }
}
