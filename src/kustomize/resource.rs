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

/// The cluster-scoped `apiVersion`s and kinds of kustomize's embedded OpenAPI schema
/// (Kubernetes 1.21). Its namespace transformer takes every other object as namespaced, so a
/// kind newer than that schema (a `ValidatingAdmissionPolicy`, a `flowcontrol/v1` FlowSchema)
/// or a built-in kind's name in another group gets the kustomization's namespace.
const KUSTOMIZE_CLUSTER_SCOPED: &[(&str, &[&str])] = &[
    ("v1", &["ComponentStatus", "Namespace", "Node", "PersistentVolume"]),
    ("admissionregistration.k8s.io/v1", &["MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"]),
    ("admissionregistration.k8s.io/v1beta1", &["MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"]),
    ("apiextensions.k8s.io/v1", &["CustomResourceDefinition"]),
    ("apiextensions.k8s.io/v1beta1", &["CustomResourceDefinition"]),
    ("apiregistration.k8s.io/v1", &["APIService"]),
    ("apiregistration.k8s.io/v1beta1", &["APIService"]),
    ("certificates.k8s.io/v1", &["CertificateSigningRequest"]),
    ("certificates.k8s.io/v1beta1", &["CertificateSigningRequest"]),
    ("flowcontrol.apiserver.k8s.io/v1beta1", &["FlowSchema", "PriorityLevelConfiguration"]),
    ("networking.k8s.io/v1", &["IngressClass"]),
    ("networking.k8s.io/v1beta1", &["IngressClass"]),
    ("node.k8s.io/v1", &["RuntimeClass"]),
    ("node.k8s.io/v1beta1", &["RuntimeClass"]),
    ("policy/v1beta1", &["PodSecurityPolicy"]),
    ("rbac.authorization.k8s.io/v1", &["ClusterRole", "ClusterRoleBinding"]),
    ("rbac.authorization.k8s.io/v1beta1", &["ClusterRole", "ClusterRoleBinding"]),
    ("scheduling.k8s.io/v1", &["PriorityClass"]),
    ("scheduling.k8s.io/v1beta1", &["PriorityClass"]),
    ("storage.k8s.io/v1", &["CSIDriver", "CSINode", "StorageClass", "VolumeAttachment"]),
    ("storage.k8s.io/v1beta1", &["CSIDriver", "CSINode", "StorageClass", "VolumeAttachment"]),
];

/// Whether kustomize's namespace transformer leaves this object alone (see
/// [`KUSTOMIZE_CLUSTER_SCOPED`]); [`is_cluster_scoped`] is the cluster's view.
pub fn kustomize_cluster_scoped(api_version: &str, kind: &str) -> bool {
    KUSTOMIZE_CLUSTER_SCOPED.iter().any(|(v, kinds)| *v == api_version && kinds.contains(&kind))
}

/// Whether a kind is cluster-scoped as far as kustomize knows.
pub fn is_cluster_scoped(kind: &str) -> bool {
    CLUSTER_SCOPED.contains(&kind)
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
    /// (name, namespace) pairs this object was known by, oldest first, excluding the current one.
    pub previous: Vec<(String, String)>,
    /// Generated by a `configMapGenerator`/`secretGenerator` that wants a content hash suffix.
    pub needs_hash: bool,
    /// Whether a generator behaviour other than create may merge into this object.
    pub generated: bool,
    /// Legacy vars tied to this object (their values are read from it).
    pub ref_vars: Vec<String>,
    /// Where the object came from (`buildMetadata: [originAnnotations]`).
    pub origin: Option<Origin>,
    /// Transformers that ran over it, oldest first.
    pub transformations: Vec<Configured>,
}

/// Where an object came from, for kustomize's `config.kubernetes.io/origin` annotation.
#[derive(Clone, Debug, PartialEq)]
pub enum Origin {
    /// Read from this resource file.
    File(RelPath),
    /// Made by a builtin generator (`ConfigMapGenerator`, `SecretGenerator`) that this
    /// kustomization file configured.
    Generator(Configured),
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

impl Resource {
    pub fn new(node: Node) -> Resource {
        Resource {
            node,
            previous: Vec::new(),
            needs_hash: false,
            generated: false,
            ref_vars: Vec::new(),
            origin: None,
            transformations: Vec::new(),
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

    pub fn gvk(&self) -> Gvk {
        Gvk::from_api_version(self.api_version(), self.kind())
    }

    pub fn id(&self) -> ResId {
        let kind = self.kind();
        let namespace = if is_cluster_scoped(kind) { String::new() } else { self.namespace().to_string() };
        ResId { gvk: self.gvk(), namespace, name: self.name().to_string() }
    }

    /// Where the object's document starts.
    pub fn loc(&self) -> Loc {
        self.node.loc
    }

    /// Whether this object was ever called `name` (now or before a rename).
    pub fn had_name(&self, name: &str) -> bool {
        self.name() == name || self.previous.iter().any(|(n, _)| n == name)
    }

    /// The name this object had when it was first read.
    pub fn original_name(&self) -> &str {
        self.previous.first().map_or(self.name(), |(n, _)| n.as_str())
    }

    /// Records the current name before it changes.
    pub fn remember_name(&mut self) {
        let cur = (self.name().to_string(), self.namespace().to_string());
        if self.previous.last() != Some(&cur) {
            self.previous.push(cur);
        }
    }

    /// Gives `metadata.annotations` the shape kustomize outputs: it reads and rewrites them as
    /// a string map at the end of every build, so each scalar value becomes its text (null
    /// the empty string) and an empty or null map is dropped.
    pub fn normalize_annotations(&mut self) {
        let Some(meta) = self.node.get_mut("metadata").and_then(Node::as_map_mut) else { return };
        let empty = match meta.get_mut("annotations") {
            None => return,
            Some(a) => match &mut a.value {
                Value::Null => true,
                Value::Map(m) => {
                    for v in m.values_mut() {
                        match &v.value {
                            Value::Null => v.value = Value::Str(String::new()),
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
        self.remember_name();
        if let Some(m) = self.node.ensure_map(&["metadata"], self.node.loc) {
            let loc = m.get("name").map_or(Loc::NONE, |n| n.loc);
            m.insert("name".into(), Node::string(name, loc));
        }
    }

    pub fn object_ref(&self) -> ObjectRef {
        let ns = self.namespace();
        ObjectRef {
            api_version: self.api_version().to_string(),
            kind: self.kind().to_string(),
            namespace: (!ns.is_empty()).then(|| ns.to_string()),
            name: self.name().to_string(),
        }
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

/// kustomize's legacy output order: well-known kinds first/last, then group, version, kind,
/// then namespace (unset last) and name. Measured against kustomize v5.5.
pub fn legacy_cmp(a: &Resource, b: &Resource) -> Ordering {
    legacy_cmp_with(a, b, ORDER_FIRST, ORDER_LAST)
}

/// The legacy order with other `orderFirst` / `orderLast` kind lists (`sortOptions`).
pub fn legacy_cmp_with<S: AsRef<str>>(a: &Resource, b: &Resource, first: &[S], last: &[S]) -> Ordering {
    let (ia, ib) = (a.id(), b.id());
    let key = |id: &ResId| {
        let g = if id.gvk.group.is_empty() { "~G".to_string() } else { id.gvk.group.clone() };
        let v = if id.gvk.version.is_empty() { "~V".to_string() } else { id.gvk.version.clone() };
        let ns = if id.namespace.is_empty() { "~X".to_string() } else { id.namespace.clone() };
        (kind_rank(&id.gvk.kind, first, last), g, v, id.gvk.kind.clone(), ns, id.name.clone())
    };
    key(&ia).cmp(&key(&ib))
}
