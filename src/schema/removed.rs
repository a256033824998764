//! API versions that Kubernetes (and Flux) stopped serving or deprecated: `api-removed` names
//! the version that removed it and what to use instead. Data from the Kubernetes deprecated API
//! migration guide and Flux's release notes, written as a table so adding one is a line.

/// One retired apiVersion of a kind.
#[derive(Clone, Copy, Debug)]
pub struct Retired {
    pub api_version: &'static str,
    pub kind: &'static str,
    /// Kubernetes minor version (e.g. 22 for 1.22) from which it is no longer served; `None`
    /// for Flux APIs, which are deprecated (warning) rather than tied to a Kubernetes version.
    pub removed_in: Option<u32>,
    pub replacement: &'static str,
}

const fn k(api_version: &'static str, kind: &'static str, removed_in: u32, replacement: &'static str) -> Retired {
    Retired { api_version, kind, removed_in: Some(removed_in), replacement }
}
const fn flux(api_version: &'static str, kind: &'static str, replacement: &'static str) -> Retired {
    Retired { api_version, kind, removed_in: None, replacement }
}

/// Retired apiVersions.
pub const RETIRED: &[Retired] = &[
    k("extensions/v1beta1", "Ingress", 22, "networking.k8s.io/v1"),
    k("extensions/v1beta1", "Deployment", 16, "apps/v1"),
    k("extensions/v1beta1", "DaemonSet", 16, "apps/v1"),
    k("extensions/v1beta1", "ReplicaSet", 16, "apps/v1"),
    k("extensions/v1beta1", "NetworkPolicy", 16, "networking.k8s.io/v1"),
    k("extensions/v1beta1", "PodSecurityPolicy", 16, "(removed; use Pod Security Admission)"),
    k("apps/v1beta1", "Deployment", 16, "apps/v1"),
    k("apps/v1beta1", "StatefulSet", 16, "apps/v1"),
    k("apps/v1beta2", "Deployment", 16, "apps/v1"),
    k("apps/v1beta2", "StatefulSet", 16, "apps/v1"),
    k("apps/v1beta2", "DaemonSet", 16, "apps/v1"),
    k("apps/v1beta2", "ReplicaSet", 16, "apps/v1"),
    k("networking.k8s.io/v1beta1", "Ingress", 22, "networking.k8s.io/v1"),
    k("networking.k8s.io/v1beta1", "IngressClass", 22, "networking.k8s.io/v1"),
    k("batch/v1beta1", "CronJob", 25, "batch/v1"),
    k("policy/v1beta1", "PodDisruptionBudget", 25, "policy/v1"),
    k("policy/v1beta1", "PodSecurityPolicy", 25, "(removed; use Pod Security Admission)"),
    k("autoscaling/v2beta1", "HorizontalPodAutoscaler", 25, "autoscaling/v2"),
    k("autoscaling/v2beta2", "HorizontalPodAutoscaler", 26, "autoscaling/v2"),
    k("discovery.k8s.io/v1beta1", "EndpointSlice", 25, "discovery.k8s.io/v1"),
    k("events.k8s.io/v1beta1", "Event", 25, "events.k8s.io/v1"),
    k("node.k8s.io/v1beta1", "RuntimeClass", 25, "node.k8s.io/v1"),
    k("flowcontrol.apiserver.k8s.io/v1beta1", "FlowSchema", 26, "flowcontrol.apiserver.k8s.io/v1"),
    k("flowcontrol.apiserver.k8s.io/v1beta1", "PriorityLevelConfiguration", 26, "flowcontrol.apiserver.k8s.io/v1"),
    k("flowcontrol.apiserver.k8s.io/v1beta2", "FlowSchema", 29, "flowcontrol.apiserver.k8s.io/v1"),
    k("flowcontrol.apiserver.k8s.io/v1beta2", "PriorityLevelConfiguration", 29, "flowcontrol.apiserver.k8s.io/v1"),
    k("flowcontrol.apiserver.k8s.io/v1beta3", "FlowSchema", 32, "flowcontrol.apiserver.k8s.io/v1"),
    k("flowcontrol.apiserver.k8s.io/v1beta3", "PriorityLevelConfiguration", 32, "flowcontrol.apiserver.k8s.io/v1"),
    k("storage.k8s.io/v1beta1", "CSIStorageCapacity", 27, "storage.k8s.io/v1"),
    k("storage.k8s.io/v1beta1", "CSIDriver", 22, "storage.k8s.io/v1"),
    k("storage.k8s.io/v1beta1", "CSINode", 22, "storage.k8s.io/v1"),
    k("storage.k8s.io/v1beta1", "StorageClass", 22, "storage.k8s.io/v1"),
    k("storage.k8s.io/v1beta1", "VolumeAttachment", 22, "storage.k8s.io/v1"),
    k("rbac.authorization.k8s.io/v1beta1", "ClusterRole", 22, "rbac.authorization.k8s.io/v1"),
    k("rbac.authorization.k8s.io/v1beta1", "ClusterRoleBinding", 22, "rbac.authorization.k8s.io/v1"),
    k("rbac.authorization.k8s.io/v1beta1", "Role", 22, "rbac.authorization.k8s.io/v1"),
    k("rbac.authorization.k8s.io/v1beta1", "RoleBinding", 22, "rbac.authorization.k8s.io/v1"),
    k("admissionregistration.k8s.io/v1beta1", "MutatingWebhookConfiguration", 22, "admissionregistration.k8s.io/v1"),
    k("admissionregistration.k8s.io/v1beta1", "ValidatingWebhookConfiguration", 22, "admissionregistration.k8s.io/v1"),
    k("apiextensions.k8s.io/v1beta1", "CustomResourceDefinition", 22, "apiextensions.k8s.io/v1"),
    k("apiregistration.k8s.io/v1beta1", "APIService", 22, "apiregistration.k8s.io/v1"),
    k("certificates.k8s.io/v1beta1", "CertificateSigningRequest", 22, "certificates.k8s.io/v1"),
    k("coordination.k8s.io/v1beta1", "Lease", 22, "coordination.k8s.io/v1"),
    k("scheduling.k8s.io/v1beta1", "PriorityClass", 22, "scheduling.k8s.io/v1"),
    flux("source.toolkit.fluxcd.io/v1beta1", "GitRepository", "source.toolkit.fluxcd.io/v1"),
    flux("source.toolkit.fluxcd.io/v1beta2", "GitRepository", "source.toolkit.fluxcd.io/v1"),
    flux("source.toolkit.fluxcd.io/v1beta1", "HelmRepository", "source.toolkit.fluxcd.io/v1"),
    flux("source.toolkit.fluxcd.io/v1beta2", "HelmRepository", "source.toolkit.fluxcd.io/v1"),
    flux("source.toolkit.fluxcd.io/v1beta1", "HelmChart", "source.toolkit.fluxcd.io/v1"),
    flux("source.toolkit.fluxcd.io/v1beta2", "HelmChart", "source.toolkit.fluxcd.io/v1"),
    flux("source.toolkit.fluxcd.io/v1beta1", "Bucket", "source.toolkit.fluxcd.io/v1"),
    flux("source.toolkit.fluxcd.io/v1beta2", "Bucket", "source.toolkit.fluxcd.io/v1"),
    flux("kustomize.toolkit.fluxcd.io/v1beta1", "Kustomization", "kustomize.toolkit.fluxcd.io/v1"),
    flux("kustomize.toolkit.fluxcd.io/v1beta2", "Kustomization", "kustomize.toolkit.fluxcd.io/v1"),
    flux("helm.toolkit.fluxcd.io/v2beta1", "HelmRelease", "helm.toolkit.fluxcd.io/v2"),
    flux("helm.toolkit.fluxcd.io/v2beta2", "HelmRelease", "helm.toolkit.fluxcd.io/v2"),
    flux("notification.toolkit.fluxcd.io/v1beta1", "Receiver", "notification.toolkit.fluxcd.io/v1"),
    flux("notification.toolkit.fluxcd.io/v1beta2", "Receiver", "notification.toolkit.fluxcd.io/v1"),
    flux("notification.toolkit.fluxcd.io/v1beta1", "Alert", "notification.toolkit.fluxcd.io/v1beta3"),
    flux("notification.toolkit.fluxcd.io/v1beta1", "Provider", "notification.toolkit.fluxcd.io/v1beta3"),
    flux("image.toolkit.fluxcd.io/v1beta1", "ImageRepository", "image.toolkit.fluxcd.io/v1beta2"),
    flux("image.toolkit.fluxcd.io/v1beta1", "ImagePolicy", "image.toolkit.fluxcd.io/v1beta2"),
    flux("image.toolkit.fluxcd.io/v1beta1", "ImageUpdateAutomation", "image.toolkit.fluxcd.io/v1beta2"),
];

/// What the target version says about an apiVersion/kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// No longer served by the target Kubernetes minor version.
    Removed { removed_in: u32, replacement: &'static str },
    /// Still served, but deprecated.
    Deprecated { replacement: &'static str },
}

/// Looks an apiVersion/kind up for a target Kubernetes minor version (e.g. 34).
pub fn status(api_version: &str, kind: &str, target_minor: u32) -> Option<Status> {
    let r = RETIRED.iter().find(|r| r.api_version == api_version && r.kind == kind)?;
    Some(match r.removed_in {
        Some(v) if target_minor >= v => Status::Removed { removed_in: v, replacement: r.replacement },
        _ => Status::Deprecated { replacement: r.replacement },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removed_versions_name_their_replacement() {
        assert_eq!(
            status("extensions/v1beta1", "Ingress", 34),
            Some(Status::Removed { removed_in: 22, replacement: "networking.k8s.io/v1" })
        );
        assert_eq!(status("batch/v1beta1", "CronJob", 24), Some(Status::Deprecated { replacement: "batch/v1" }));
        assert!(matches!(status("helm.toolkit.fluxcd.io/v2beta1", "HelmRelease", 34), Some(Status::Deprecated { .. })));
        assert_eq!(status("apps/v1", "Deployment", 34), None);
    }
}
