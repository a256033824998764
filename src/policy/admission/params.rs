//! Parameter objects: what a binding's `paramRef` resolves to, among the objects in the policy
//! paths and the objects of the render being checked (the cluster would have both).

use std::collections::BTreeMap;

use crate::kustomize::resource::Resource;
use crate::schema::registry::Registry;
use crate::source::Node;

use super::model::{Binding, ParamKind, Policy};
use crate::policy::selector::labels_of;

/// An object read from the policy paths that may serve as a parameter.
pub(super) struct ParamObject {
    pub api_version: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub node: Node,
}

impl ParamObject {
    /// A parameter candidate from a document (`None` when it is not a named object).
    pub fn of(doc: &Node) -> Option<ParamObject> {
        Some(ParamObject {
            api_version: doc.str_at(&["apiVersion"])?.to_string(),
            kind: doc.str_at(&["kind"])?.to_string(),
            namespace: doc.str_at(&["metadata", "namespace"]).unwrap_or_default().to_string(),
            name: doc.str_at(&["metadata", "name"])?.to_string(),
            node: doc.clone(),
        })
    }
}

/// What a binding's parameters are for one object.
pub(super) enum Params<'a> {
    /// The policy takes no parameters: `params` is null.
    NotUsed,
    /// The parameter objects to evaluate with, each with a label for messages.
    Found(Vec<(String, &'a Node)>),
    /// Nothing found and `parameterNotFoundAction: Allow`: the binding does nothing.
    Allow,
    /// Nothing found under `Deny`, or the binding cannot name parameters; the message says why.
    Missing(String),
}

/// Resolves a binding's parameters for an object in `namespace` (empty: cluster-scoped).
pub(super) fn resolve<'a>(
    policy: &Policy,
    binding: &Binding,
    namespace: &str,
    stored: &'a [ParamObject],
    rendered: &'a [Resource],
    registry: &Registry,
) -> Params<'a> {
    let (pk, pr) = match (&policy.param_kind, &binding.param_ref) {
        (None, None) => return Params::NotUsed,
        (None, Some(_)) => {
            return Params::Missing(format!(
                "binding '{}' has a paramRef but policy '{}' declares no paramKind",
                binding.name, policy.name
            ));
        }
        (Some(pk), None) => {
            return Params::Missing(format!(
                "policy '{}' takes parameters ({} {}) but binding '{}' has no paramRef",
                policy.name, pk.api_version, pk.kind, binding.name
            ));
        }
        (Some(pk), Some(pr)) => (pk, pr),
    };
    let namespaced = registry.is_namespaced(&pk.api_version, &pk.kind);
    let want_ns = if namespaced {
        match pr.namespace.as_deref().filter(|n| !n.is_empty()).unwrap_or(namespace) {
            "" => {
                return Params::Missing(format!(
                    "binding '{}' names namespaced parameters ({}) without paramRef.namespace, and the object is cluster-scoped",
                    binding.name, pk.kind
                ));
            }
            ns => Some(ns),
        }
    } else {
        None
    };
    // (namespace, name) → object; the render wins over the policy paths (it is what is applied).
    let mut candidates: BTreeMap<(String, String), &'a Node> = BTreeMap::new();
    let effective_ns = |ns: &str| {
        if namespaced && ns.is_empty() {
            "default".to_string()
        } else if namespaced {
            ns.to_string()
        } else {
            String::new()
        }
    };
    for p in stored.iter().filter(|p| is_kind(pk, &p.api_version, &p.kind)) {
        candidates.insert((effective_ns(&p.namespace), p.name.clone()), &p.node);
    }
    for r in rendered.iter().filter(|r| is_kind(pk, r.api_version(), r.kind())) {
        candidates.insert((effective_ns(r.namespace()), r.name().to_string()), &r.node);
    }
    let found: Vec<(String, &Node)> = candidates
        .into_iter()
        .filter(|((ns, name), node)| {
            want_ns.is_none_or(|w| w == ns)
                && match (&pr.name, &pr.selector) {
                    (Some(n), _) => n == name,
                    (None, Some(sel)) => sel.matches(&labels_of(node)),
                    (None, None) => false,
                }
        })
        .map(|((ns, name), node)| {
            let label =
                if ns.is_empty() { format!("{} '{name}'", pk.kind) } else { format!("{} '{ns}/{name}'", pk.kind) };
            (label, node)
        })
        .collect();
    if !found.is_empty() {
        return Params::Found(found);
    }
    if !pr.deny_if_missing {
        return Params::Allow;
    }
    let what = match (&pr.name, want_ns) {
        (Some(n), Some(ns)) => format!("{} '{ns}/{n}'", pk.kind),
        (Some(n), None) => format!("{} '{n}'", pk.kind),
        (None, Some(ns)) => format!("{} matching the paramRef selector in namespace '{ns}'", pk.kind),
        (None, None) => format!("{} matching the paramRef selector", pk.kind),
    };
    Params::Missing(format!(
        "binding '{}' finds no parameter object {what} (parameterNotFoundAction: Deny), so the API server denies the object",
        binding.name
    ))
}

fn is_kind(pk: &ParamKind, api_version: &str, kind: &str) -> bool {
    pk.api_version == api_version && pk.kind == kind
}
