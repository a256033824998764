//! Pod Security admission levels that the repository gives its namespaces
//! (`pod-security.kubernetes.io/enforce` on a `Namespace`). The error-level pod rules
//! (`pod-privileged`, `pod-host-namespace`, `pod-host-path`) are what Pod Security's baseline
//! level forbids; in a namespace the repository labels `privileged` the cluster admits such pods
//! by the repository's own declaration, so they are warnings there, not certain failures; so
//! they are in an unlabelled `kube-system`, which admission configurations exempt.

use std::collections::BTreeMap;

use crate::finding::{Finding, Severity};
use crate::kustomize::resource::Resource;
use crate::rules::Rule;

/// The label that sets a namespace's enforced Pod Security level.
pub const ENFORCE_LABEL: &str = "pod-security.kubernetes.io/enforce";

/// The enforced Pod Security level of each namespace the renders define.
#[derive(Clone, Debug, Default)]
pub struct PodSecurity {
    levels: BTreeMap<String, Level>,
}

/// Pod Security levels, least strict first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Level {
    Privileged,
    Baseline,
    Restricted,
}

impl PodSecurity {
    /// Reads the level of every core `Namespace` among `resources`. A namespace defined more
    /// than once (by several clusters or overlays) gets the strictest level any definition
    /// sets: a definition without the label leaves it as server-side apply does (a field one
    /// applier sets stays until that applier drops it), so it does not count.
    pub fn from_resources<'a>(resources: impl IntoIterator<Item = &'a Resource>) -> PodSecurity {
        let mut levels: BTreeMap<String, Level> = BTreeMap::new();
        for r in resources {
            if r.kind() != "Namespace" || r.api_version() != "v1" {
                continue;
            }
            let level = match r.node.str_at(&["metadata", "labels", ENFORCE_LABEL]) {
                Some("privileged") => Level::Privileged,
                Some("baseline") => Level::Baseline,
                // Any other value is rejected by the API server; `restricted` is the strictest.
                Some(_) => Level::Restricted,
                None => continue,
            };
            let e = levels.entry(r.name().to_string()).or_insert(level);
            *e = (*e).max(level);
        }
        PodSecurity { levels }
    }

    /// Whether every definition of `namespace` in the repository enforces `privileged`.
    pub fn allows_privileged(&self, namespace: &str) -> bool {
        self.levels.get(namespace) == Some(&Level::Privileged)
    }

    /// A baseline-level pod finding (privileged, host namespaces, hostPath) on an object in a
    /// namespace labelled `privileged` becomes a warning that says why.
    pub fn adjust(&self, f: &mut Finding) {
        if !matches!(f.rule, Rule::PodPrivileged | Rule::PodHostNamespace | Rule::PodHostPath)
            || f.severity != Severity::Error
        {
            return;
        }
        let Some(ns) = f.object.as_ref().and_then(|o| o.namespace()) else { return };
        if self.allows_privileged(ns) {
            f.severity = Severity::Warning;
            f.message = format!("{}; allowed: namespace '{ns}' is labelled {ENFORCE_LABEL}: privileged", f.message);
        } else if ns == SYSTEM_NAMESPACE && !self.levels.contains_key(ns) {
            f.severity = Severity::Warning;
            f.message = format!(
                "{}; allowed unless the cluster enforces Pod Security there: {SYSTEM_NAMESPACE} holds node-level components and admission configurations exempt it (it has no {ENFORCE_LABEL} label here)",
                f.message
            );
        }
    }
}

/// The namespace of the cluster's own node-level components (CNI, CSI, kube-vip). Pod Security
/// admission configurations that enforce a level cluster-wide exempt it (Talos, RKE2 and k3s
/// hardening do), and without such a configuration nothing is enforced at all: a baseline
/// violation there fails only where the repository itself labels it stricter.
const SYSTEM_NAMESPACE: &str = "kube-system";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::ObjectRef;
    use crate::source::yaml::{self, Dialect};
    use crate::source::{FileId, Limits};

    fn namespaces(text: &str) -> Vec<Resource> {
        let parsed = yaml::parse(text, FileId(0), Dialect::Yaml12, &Limits::default());
        assert!(parsed.error.is_none(), "{:?}", parsed.error);
        parsed.docs.into_iter().map(Resource::new).collect()
    }

    fn finding(rule: Rule, ns: &str) -> Finding {
        let mut f = Finding::new(rule, "container 'c' of Deployment 'd' is privileged");
        f.object = Some(ObjectRef::new("apps/v1", "Deployment", Some(ns), "d"));
        f
    }

    #[test]
    fn privileged_namespace_turns_baseline_findings_into_warnings() {
        let ps = PodSecurity::from_resources(&namespaces(
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: storage\n  labels:\n    pod-security.kubernetes.io/enforce: privileged\n---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: apps\n  labels:\n    pod-security.kubernetes.io/enforce: baseline\n---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: mixed\n  labels:\n    pod-security.kubernetes.io/enforce: privileged\n---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: mixed\n  labels:\n    pod-security.kubernetes.io/enforce: restricted\n---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: storage\n",
        ));
        let mut f = finding(Rule::PodPrivileged, "storage");
        ps.adjust(&mut f);
        assert_eq!(f.severity, Severity::Warning);
        assert!(f.message.ends_with("namespace 'storage' is labelled pod-security.kubernetes.io/enforce: privileged"));
        for ns in ["apps", "mixed", "elsewhere"] {
            let mut f = finding(Rule::PodHostPath, ns);
            ps.adjust(&mut f);
            assert_eq!(f.severity, Severity::Error, "{ns}");
        }
        let mut other = finding(Rule::ImageTagLatest, "storage");
        ps.adjust(&mut other);
        assert_eq!(other.severity, Severity::Error);
    }

    #[test]
    fn kube_system_allows_node_agents_unless_labelled_stricter() {
        let mut f = finding(Rule::PodHostNamespace, "kube-system");
        PodSecurity::default().adjust(&mut f);
        assert_eq!(f.severity, Severity::Warning);
        assert!(f.message.contains("kube-system holds node-level components"), "{}", f.message);
        let strict = PodSecurity::from_resources(&namespaces(
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: kube-system\n  labels:\n    pod-security.kubernetes.io/enforce: baseline\n",
        ));
        let mut f = finding(Rule::PodPrivileged, "kube-system");
        strict.adjust(&mut f);
        assert_eq!(f.severity, Severity::Error);
    }
}
