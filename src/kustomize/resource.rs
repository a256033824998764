//! One rendered object and its identity, plus kustomize's output order.

use std::cmp::Ordering;

use crate::finding::ObjectRef;
use crate::source::{Loc, Node, RelPath, Value};

/// Kinds that have no namespace (built-in). Their id ignores `metadata.namespace`, and the
/// namespace transformer leaves them alone.
pub const CLUSTER_SCOPED: &[&str] = &[
    "APIService",
    "CSIDriver",
    "CSINode",
    "CertificateSigningRequest",
    "ClusterRole",
    "ClusterRoleBinding",
    "ComponentStatus",
    "CustomResourceDefinition",
    "FlowSchema",
    "IngressClass",
    "MutatingAdmissionPolicy",
    "MutatingAdmissionPolicyBinding",
    "MutatingWebhookConfiguration",
    "Namespace",
    "Node",
    "PersistentVolume",
    "PodSecurityPolicy",
    "PriorityClass",
    "PriorityLevelConfiguration",
    "RuntimeClass",
    "SelfSubjectAccessReview",
    "SelfSubjectRulesReview",
    "StorageClass",
    "SubjectAccessReview",
    "TokenReview",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
    "ValidatingWebhookConfiguration",
    "VolumeAttachment",
    "VolumeAttributesClass",
    "ClusterTrustBundle",
    "DeviceClass",
];

/// Whether a kind is cluster-scoped in a cluster (by kind alone, whatever its API group): for
/// checks about what the API server does. The kustomize engine uses
/// [`kustomize_cluster_scoped`] instead.
pub fn is_cluster_scoped(kind: &str) -> bool {
    CLUSTER_SCOPED.contains(&kind)
}

/// The (group, kinds) kustomize v5.5 knows to be cluster-scoped: the `Cluster` scope entries of
/// the Kubernetes v1.21.2 OpenAPI data it embeds. Every other apiVersion and kind (a newer
/// built-in kind, a custom resource, a `Namespace` of another group) is namespaced to kustomize.
const KUSTOMIZE_CLUSTER_SCOPED: &[(&str, &[&str], &[&str])] = &[
    (
        "admissionregistration.k8s.io",
        &["v1", "v1beta1"],
        &["MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"],
    ),
    ("apiextensions.k8s.io", &["v1", "v1beta1"], &["CustomResourceDefinition"]),
    ("apiregistration.k8s.io", &["v1", "v1beta1"], &["APIService"]),
    ("certificates.k8s.io", &["v1", "v1beta1"], &["CertificateSigningRequest"]),
    ("flowcontrol.apiserver.k8s.io", &["v1beta1"], &["FlowSchema", "PriorityLevelConfiguration"]),
    ("networking.k8s.io", &["v1", "v1beta1"], &["IngressClass"]),
    ("node.k8s.io", &["v1", "v1beta1"], &["RuntimeClass"]),
    ("policy", &["v1beta1"], &["PodSecurityPolicy"]),
    ("rbac.authorization.k8s.io", &["v1", "v1beta1"], &["ClusterRole", "ClusterRoleBinding"]),
    ("scheduling.k8s.io", &["v1", "v1beta1"], &["PriorityClass"]),
    ("storage.k8s.io", &["v1", "v1beta1"], &["CSIDriver", "CSINode", "StorageClass", "VolumeAttachment"]),
    ("", &["v1"], &["ComponentStatus", "Namespace", "Node", "NodeProxyOptions", "PersistentVolume"]),
];

/// Whether kustomize treats an object of this apiVersion and kind as cluster-scoped: its id
/// ignores the namespace and the namespace transformer leaves it alone (checked against
/// `kubectl kustomize`: a `ValidatingAdmissionPolicy` or a `Namespace` of a custom group gets
/// `namespace:` set).
pub fn kustomize_cluster_scoped(api_version: &str, kind: &str) -> bool {
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    KUSTOMIZE_CLUSTER_SCOPED.iter().any(|(g, vs, ks)| *g == group && vs.contains(&version) && ks.contains(&kind))
}

/// Group, version and kind of an object.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Gvk {
    pub group: String,
    pub version: String,
    pub kind: String,
}

impl Gvk {
    /// Splits an `apiVersion` (`apps/v1`, or `v1` for the core group).
    pub fn from_api_version(api_version: &str, kind: &str) -> Gvk {
        let (group, version) = match api_version.split_once('/') {
            Some((g, v)) => (g.to_string(), v.to_string()),
            None => (String::new(), api_version.to_string()),
        };
        Gvk { group, version, kind: kind.to_string() }
    }

    pub fn api_version(&self) -> String {
        if self.group.is_empty() { self.version.clone() } else { format!("{}/{}", self.group, self.version) }
    }
}

/// An object's identity in one render: kustomize refuses two resources with the same id.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResId {
    pub gvk: Gvk,
    pub namespace: String,
    pub name: String,
}

impl std::fmt::Display for ResId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ns = if self.namespace.is_empty() { String::new() } else { format!(" in namespace '{}'", self.namespace) };
        write!(f, "{} '{}'{}", self.gvk.kind, self.name, ns)
    }
}

/// One object in a render: its YAML, and the names it had before prefixes, suffixes and hashes
/// changed it (so references to the old names can be fixed up).
#[derive(Clone, Debug)]
pub struct Resource {
    pub node: Node,
    /// The ids this object was known by, oldest first, excluding the current one.
    pub previous: Vec<PrevId>,
    /// Generated by a `configMapGenerator`/`secretGenerator` that wants a content hash suffix.
    pub needs_hash: bool,
    /// Whether a generator behaviour other than create may merge into this object.
    pub generated: bool,
    /// Legacy vars tied to this object (their values are read from it).
    pub ref_vars: Vec<String>,
    /// Where the object came from (`buildMetadata: [originAnnotations]`).
    pub origin: Option<Origin>,
    /// Transformers that ran over it, oldest first.
    pub transformations: Transformations,
    /// Name prefixes and suffixes applied to it, innermost first: name references prefer a
    /// target renamed by the same kustomizations as the referrer.
    pub affixes: Box<(Vec<String>, Vec<String>)>,
}

/// An id an object had before a transformer or patch renamed, moved or re-kinded it, as kustomize
/// records it (`previousKinds`, `previousNames`, `previousNamespaces`): its apiVersion is always
/// the current one. Patches without a target, vars and name references find the object by it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrevId {
    pub kind: String,
    pub name: String,
    /// As written (`metadata.namespace`, empty when unset).
    pub namespace: String,
}

/// Where an object came from, for kustomize's `config.kubernetes.io/origin` annotation.
#[derive(Clone, Debug, PartialEq)]
pub enum Origin {
    /// Read from this resource file.
    File(RelPath),
    /// Made by a builtin generator (`ConfigMapGenerator`, `SecretGenerator`) that this
    /// kustomization file configured. Boxed: most objects come from files, and every object
    /// of a render carries this field (a run holds 160,000 objects or views at once on huge).
    Generator(Box<Configured>),
}

/// A builtin generator or transformer and the file that configured it (a kustomization, or a
/// plugin configuration file with its `metadata.name`).
#[derive(Clone, Debug, PartialEq)]
pub struct Configured {
    pub file: RelPath,
    pub kind: &'static str,
    pub name: Option<String>,
    pub namespace: Option<String>,
}

/// The builtin transformers that ran over an object, oldest first, with consecutive repeats
/// counted rather than stored: a kustomization with P patches records P entries on each of its
/// N objects, which stored one by one made a render's memory grow with N x P.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Transformations {
    /// Shared: one transformer's record is the same on every object it ran over.
    runs: Vec<(std::sync::Arc<Configured>, usize)>,
}

impl Transformations {
    /// Records that `c` ran (once more).
    pub fn push(&mut self, c: &std::sync::Arc<Configured>) {
        match self.runs.last_mut() {
            Some((last, n)) if last == c => *n += 1,
            _ => self.runs.push((std::sync::Arc::clone(c), 1)),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.runs.is_empty()
    }

    /// Every entry, repeats included, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &Configured> {
        self.runs.iter().flat_map(|(c, n)| std::iter::repeat_n(&**c, *n))
    }
}

impl Resource {
    pub fn new(node: Node) -> Resource {
        Resource {
            node,
            previous: Vec::new(),
            needs_hash: false,
            generated: false,
            ref_vars: Vec::new(),
            origin: None,
            transformations: Transformations::default(),
            affixes: Box::default(),
        }
    }

    pub fn kind(&self) -> &str {
        self.node.str_at(&["kind"]).unwrap_or("")
    }

    pub fn api_version(&self) -> &str {
        self.node.str_at(&["apiVersion"]).unwrap_or("")
    }

    pub fn name(&self) -> &str {
        self.node.str_at(&["metadata", "name"]).unwrap_or("")
    }

    pub fn namespace(&self) -> &str {
        self.node.str_at(&["metadata", "namespace"]).unwrap_or("")
    }

    /// The API group (empty for the core group), borrowed: hot filters compare it per object
    /// and [`Resource::gvk`] allocates.
    pub fn group(&self) -> &str {
        self.api_version().split_once('/').map_or("", |(g, _)| g)
    }

    pub fn gvk(&self) -> Gvk {
        Gvk::from_api_version(self.api_version(), self.kind())
    }

    pub fn id(&self) -> ResId {
        let kind = self.kind();
        let namespace = if kustomize_cluster_scoped(self.api_version(), kind) {
            String::new()
        } else {
            self.namespace().to_string()
        };
        ResId { gvk: self.gvk(), namespace, name: self.name().to_string() }
    }

    /// The id kustomize compares for collisions: an unset namespace and `default` are one.
    pub fn effective_id(&self) -> ResId {
        let mut id = self.id();
        if id.namespace == "default" {
            id.namespace.clear();
        }
        id
    }

    /// Where the object's document starts.
    pub fn loc(&self) -> Loc {
        self.node.loc
    }

    /// Whether this object was ever called `name` (now or before a rename).
    pub fn had_name(&self, name: &str) -> bool {
        self.name() == name || self.previous.iter().any(|p| p.name == name)
    }

    /// Whether the object has, or ever had, exactly this id (apiVersion, kind, name and
    /// effective namespace: unset means `default`), as kustomize finds the target of a
    /// strategic merge patch that names no `target`.
    pub fn has_any_id(&self, api_version: &str, kind: &str, name: &str, namespace: &str) -> bool {
        // Callers scan every object: the cheap comparisons go first, and nothing allocates.
        if !self.had_name(name) || self.api_version() != api_version {
            return false;
        }
        let cluster = kustomize_cluster_scoped(api_version, kind);
        fn effective(cluster: bool, ns: &str) -> &str {
            if cluster {
                ""
            } else if ns.is_empty() {
                "default"
            } else {
                ns
            }
        }
        let want = effective(cluster, namespace);
        let eff = |ns: &str| effective(cluster, ns) == want;
        std::iter::once((self.kind(), self.name(), self.namespace()))
            .chain(self.previous.iter().map(|p| (p.kind.as_str(), p.name.as_str(), p.namespace.as_str())))
            .any(|(k, n, ns)| k == kind && n == name && eff(ns))
    }

    /// The name this object had when it was first read.
    pub fn original_name(&self) -> &str {
        self.previous.first().map_or(self.name(), |p| p.name.as_str())
    }

    /// The current id, in the form it is remembered by once it changes.
    pub fn prev_id(&self) -> PrevId {
        PrevId { kind: self.kind().to_string(), name: self.name().to_string(), namespace: self.namespace().to_string() }
    }

    /// Records the current id before a rename, a move or a change of kind.
    pub fn remember_id(&mut self) {
        self.remember(self.prev_id());
    }

    /// Records an id the object had (unless it is the last one recorded).
    pub fn remember(&mut self, id: PrevId) {
        if self.previous.last() != Some(&id) {
            self.previous.push(id);
        }
    }

    /// Gives `metadata.annotations` the shape kustomize outputs: it reads and rewrites them as
    /// a string map at the end of every build, so each scalar value becomes its text (a null
    /// the text it was written as: `~`, `null`, or the empty string) and an empty or null map
    /// is dropped.
    pub fn normalize_annotations(&mut self) {
        let Some(meta) = self.node.get_mut("metadata").and_then(Node::as_map_mut) else { return };
        let empty = match meta.get_mut("annotations") {
            None => return,
            Some(a) => match &mut a.value {
                Value::Null(_) => true,
                Value::Map(m) => {
                    for v in m.values_mut() {
                        match v.value {
                            Value::Null(form) => v.value = Value::Str(form.text().to_string()),
                            Value::Bool(_) | Value::Int(_) | Value::Float(_) => {
                                v.value = Value::Str(v.scalar_text().unwrap_or_default())
                            }
                            Value::Str(_) | Value::Seq(_) | Value::Map(_) => {}
                        }
                    }
                    m.is_empty()
                }
                _ => false,
            },
        };
        if empty {
            meta.shift_remove("annotations");
        }
    }

    /// Renames the object, remembering the old name.
    pub fn set_name(&mut self, name: String) {
        self.remember_id();
        if let Some(m) = self.node.ensure_map(&["metadata"], self.node.loc) {
            let loc = m.get("name").map_or(Loc::NONE, |n| n.loc);
            m.insert("name".into(), Node::string(name, loc));
        }
    }

    pub fn object_ref(&self) -> ObjectRef {
        let ns = self.namespace();
        ObjectRef::new(self.api_version(), self.kind(), (!ns.is_empty()).then_some(ns), self.name())
    }
}

/// kustomize's default `orderFirst` kinds.
pub const ORDER_FIRST: &[&str] = &[
    "Namespace",
    "ResourceQuota",
    "StorageClass",
    "CustomResourceDefinition",
    "ServiceAccount",
    "PodSecurityPolicy",
    "Role",
    "ClusterRole",
    "RoleBinding",
    "ClusterRoleBinding",
    "ConfigMap",
    "Secret",
    "Endpoints",
    "Service",
    "LimitRange",
    "PriorityClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "Deployment",
    "StatefulSet",
    "CronJob",
    "PodDisruptionBudget",
];
/// kustomize's default `orderLast` kinds.
pub const ORDER_LAST: &[&str] = &["MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"];

fn kind_rank<S: AsRef<str>>(kind: &str, first: &[S], last: &[S]) -> i32 {
    if let Some(i) = first.iter().position(|k| k.as_ref() == kind) {
        return i as i32 - first.len() as i32;
    }
    if let Some(i) = last.iter().position(|k| k.as_ref() == kind) {
        return i as i32 + 1;
    }
    0
}

/// kustomize's legacy output order: well-known kinds first/last, then `group_version_kind`
/// compared as one string (a core `Namespace` before a `Namespace` of another group), then
/// `namespace|name` as one string (unset namespace `~X`). Measured against kustomize v5.5.
pub fn legacy_cmp(a: &Resource, b: &Resource) -> Ordering {
    legacy_cmp_with(a, b, ORDER_FIRST, ORDER_LAST)
}

/// kustomize's `group_version_kind` sort string.
fn gvk_sort_string(g: &Gvk) -> String {
    let or = |s: &str, d: &str| if s.is_empty() { d.to_string() } else { s.to_string() };
    format!("{}_{}_{}", or(&g.group, "~G"), or(&g.version, "~V"), or(&g.kind, "~K"))
}

/// The legacy order with other `orderFirst` / `orderLast` kind lists (`sortOptions`).
pub fn legacy_cmp_with<S: AsRef<str>>(a: &Resource, b: &Resource, first: &[S], last: &[S]) -> Ordering {
    LegacyKey::of(a, first, last).cmp_legacy(&LegacyKey::of(b, first, last))
}

/// What the legacy order compares of one resource, computed once per sort instead of once
/// per comparison (each needs the id and two formatted strings).
pub struct LegacyKey {
    gvk: Gvk,
    rank: i32,
    gvk_sort: String,
    /// `namespace|name` as written (unset namespace `~X`, unset name `~N`).
    name_sort: String,
}

impl LegacyKey {
    pub fn of<S: AsRef<str>>(r: &Resource, first: &[S], last: &[S]) -> LegacyKey {
        let gvk = r.gvk();
        // kustomize sorts on the object's current id as written, so a cluster-scoped object
        // that carries a `metadata.namespace` sorts by it (before those without one, `~X`).
        let ns = if r.namespace().is_empty() { "~X" } else { r.namespace() };
        let name = if r.name().is_empty() { "~N" } else { r.name() };
        LegacyKey {
            rank: kind_rank(&gvk.kind, first, last),
            gvk_sort: gvk_sort_string(&gvk),
            name_sort: format!("{ns}|{name}"),
            gvk,
        }
    }

    /// kustomize's legacy comparison of two keys.
    pub fn cmp_legacy(&self, other: &LegacyKey) -> Ordering {
        let (a, b) = (self, other);
        if a.gvk != b.gvk {
            if a.rank != b.rank {
                return a.rank.cmp(&b.rank);
            }
            let namespaces = a.gvk.kind == "Namespace" && b.gvk.kind == "Namespace";
            if namespaces && (a.gvk.group.is_empty() || b.gvk.group.is_empty()) {
                return b.gvk_sort.cmp(&a.gvk_sort);
            }
            return a.gvk_sort.cmp(&b.gvk_sort);
        }
        a.name_sort.cmp(&b.name_sort)
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

    /// The borrowed group is the allocated one of [`Resource::gvk`], core group included.
    #[test]
    fn group_is_the_gvks_group() {
        let rs = resources(
            "apiVersion: apps/v1\nkind: D\n---\napiVersion: v1\nkind: C\n---\nkind: N\n---\napiVersion: a/b/c\n",
        );
        let groups: Vec<&str> = rs.iter().map(Resource::group).collect();
        assert_eq!(groups, ["apps", "", "", "a"]);
        assert!(rs.iter().all(|r| r.group() == r.gvk().group));
    }

    #[test]
    fn scope_follows_kustomizes_schema_by_api_version() {
        assert!(kustomize_cluster_scoped("v1", "Namespace"));
        assert!(!kustomize_cluster_scoped("example.com/v1", "Namespace"));
        assert!(kustomize_cluster_scoped("rbac.authorization.k8s.io/v1", "ClusterRole"));
        assert!(!kustomize_cluster_scoped("storage.k8s.io/v1alpha1", "StorageClass"));
        // Newer than kustomize's v1.21 schema: namespaced as far as kustomize knows.
        assert!(!kustomize_cluster_scoped("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicy"));
    }

    #[test]
    fn any_id_uses_effective_namespace_and_history() {
        let mut rs = resources("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n");
        assert!(rs[0].has_any_id("v1", "ConfigMap", "c", "default"));
        assert!(!rs[0].has_any_id("v1", "ConfigMap", "c", "other"));
        assert!(!rs[0].has_any_id("v1beta1", "ConfigMap", "c", ""));
        rs[0].set_name("p-c".into());
        assert!(rs[0].has_any_id("v1", "ConfigMap", "c", ""));
        assert_eq!(
            rs[0].effective_id(),
            resources("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: p-c, namespace: default}\n")[0].effective_id()
        );
    }

    #[test]
    fn legacy_order_compares_sort_strings_like_kustomize() {
        let mut rs = resources(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: z, namespace: app}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: app-x}\n---\napiVersion: a.example.com/v1\nkind: Namespace\nmetadata: {name: n}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: core}\n",
        );
        rs.sort_by(legacy_cmp);
        let names: Vec<&str> = rs.iter().map(Resource::name).collect();
        // `app-x|a` sorts before `app|z` ('-' < '|'); the core Namespace before another group's.
        assert_eq!(names, ["core", "n", "a", "z"]);
    }
}
