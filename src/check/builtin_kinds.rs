//! The kinds each built-in API group/version serves (Kubernetes 1.31–1.34), for the
//! kind/apiVersion sanity check until full schemas land.

/// (apiVersion, kinds).
pub const BUILTIN: &[(&str, &[&str])] = &[
    (
        "v1",
        &[
            "Binding",
            "ComponentStatus",
            "ConfigMap",
            "Endpoints",
            "Event",
            "LimitRange",
            "Namespace",
            "Node",
            "PersistentVolume",
            "PersistentVolumeClaim",
            "Pod",
            "PodTemplate",
            "ReplicationController",
            "ResourceQuota",
            "Secret",
            "Service",
            "ServiceAccount",
            "List",
        ],
    ),
    ("apps/v1", &["ControllerRevision", "DaemonSet", "Deployment", "ReplicaSet", "StatefulSet"]),
    ("batch/v1", &["CronJob", "Job"]),
    ("autoscaling/v1", &["HorizontalPodAutoscaler"]),
    ("autoscaling/v2", &["HorizontalPodAutoscaler"]),
    ("policy/v1", &["PodDisruptionBudget", "Eviction"]),
    ("networking.k8s.io/v1", &["Ingress", "IngressClass", "NetworkPolicy"]),
    ("networking.k8s.io/v1beta1", &["IPAddress", "ServiceCIDR"]),
    ("rbac.authorization.k8s.io/v1", &["ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"]),
    ("storage.k8s.io/v1", &["CSIDriver", "CSINode", "CSIStorageCapacity", "StorageClass", "VolumeAttachment"]),
    ("storage.k8s.io/v1beta1", &["VolumeAttributesClass"]),
    ("scheduling.k8s.io/v1", &["PriorityClass"]),
    ("coordination.k8s.io/v1", &["Lease"]),
    ("node.k8s.io/v1", &["RuntimeClass"]),
    ("discovery.k8s.io/v1", &["EndpointSlice"]),
    ("events.k8s.io/v1", &["Event"]),
    ("certificates.k8s.io/v1", &["CertificateSigningRequest"]),
    ("apiextensions.k8s.io/v1", &["CustomResourceDefinition"]),
    ("apiregistration.k8s.io/v1", &["APIService"]),
    (
        "admissionregistration.k8s.io/v1",
        &[
            "MutatingWebhookConfiguration",
            "ValidatingWebhookConfiguration",
            "ValidatingAdmissionPolicy",
            "ValidatingAdmissionPolicyBinding",
        ],
    ),
    ("flowcontrol.apiserver.k8s.io/v1", &["FlowSchema", "PriorityLevelConfiguration"]),
    ("resource.k8s.io/v1beta1", &["DeviceClass", "ResourceClaim", "ResourceClaimTemplate", "ResourceSlice"]),
];

/// API groups that Kubernetes itself serves; a kind under one of them must be in [`BUILTIN`].
pub fn is_builtin_group(group: &str) -> bool {
    BUILTIN.iter().any(|(av, _)| av.split_once('/').map_or("", |(g, _)| g) == group)
}

/// The kinds served at an apiVersion, if it is a built-in one.
pub fn kinds_of(api_version: &str) -> Option<&'static [&'static str]> {
    BUILTIN.iter().find(|(av, _)| *av == api_version).map(|(_, k)| *k)
}

/// Every apiVersion of a group that serves `kind`.
pub fn versions_serving(group: &str, kind: &str) -> Vec<&'static str> {
    BUILTIN
        .iter()
        .filter(|(av, kinds)| av.split_once('/').map_or("", |(g, _)| g) == group && kinds.contains(&kind))
        .map(|(av, _)| *av)
        .collect()
}
