//! kustomize's builtin name reference table (v5.5), as data: for each kind of object that can
//! be renamed, the fields of other objects that hold its name. Written out per workload
//! kind, like kustomize's own list: a kind missing here (a ConfigMap in a ReplicationController,
//! a Secret named by a ServiceAccount's `secrets`, ephemeral containers) is not followed by
//! kustomize either.

use super::{Backref, GvkSel, Referrer};

/// Where each workload kind keeps its pod spec, with the version kustomize requires of a Pod
/// for ConfigMap and Secret references.
const POD_TEMPLATES: &[(&str, &str)] = &[
    ("Pod", "spec"),
    ("PodTemplate", "template/spec"),
    ("Deployment", "spec/template/spec"),
    ("ReplicaSet", "spec/template/spec"),
    ("DaemonSet", "spec/template/spec"),
    ("StatefulSet", "spec/template/spec"),
    ("Job", "spec/template/spec"),
    ("CronJob", "spec/jobTemplate/spec/template/spec"),
];

/// Kinds whose pod spec kustomize follows for ServiceAccount, PVC and PriorityClass names.
const POD_OWNERS: &[(&str, &str)] = &[
    ("Pod", "spec"),
    ("StatefulSet", "spec/template/spec"),
    ("Deployment", "spec/template/spec"),
    ("ReplicationController", "spec/template/spec"),
    ("CronJob", "spec/jobTemplate/spec/template/spec"),
    ("Job", "spec/template/spec"),
    ("DaemonSet", "spec/template/spec"),
];

fn sel(group: &str, version: &str, kind: &str) -> GvkSel {
    GvkSel { group: group.into(), version: version.into(), kind: kind.into() }
}

fn at(group: &str, version: &str, kind: &str, path: &str) -> Referrer {
    Referrer { sel: sel(group, version, kind), path: path.into() }
}

/// References from every pod template kind; a Pod must be `v1` for ConfigMaps and Secrets.
fn in_templates(fields: &[&str]) -> Vec<Referrer> {
    let mut out = Vec::new();
    for (kind, base) in POD_TEMPLATES {
        let version = if *kind == "Pod" { "v1" } else { "" };
        out.extend(fields.iter().map(|f| at("", version, kind, &format!("{base}/{f}"))));
    }
    out
}

fn in_owners(field: &str) -> Vec<Referrer> {
    POD_OWNERS.iter().map(|(kind, base)| at("", "", kind, &format!("{base}/{field}"))).collect()
}

/// The builtin table.
pub fn builtin() -> Vec<Backref> {
    let mut out = Vec::new();
    for target in ["Deployment", "ReplicationController", "ReplicaSet", "StatefulSet"] {
        out.push(Backref {
            target: sel("", "", target),
            referrers: vec![at("", "", "HorizontalPodAutoscaler", "spec/scaleTargetRef/name")],
        });
    }
    let mut config_map = in_templates(&[
        "volumes/configMap/name",
        "containers/env/valueFrom/configMapKeyRef/name",
        "initContainers/env/valueFrom/configMapKeyRef/name",
        "containers/envFrom/configMapRef/name",
        "initContainers/envFrom/configMapRef/name",
        "volumes/projected/sources/configMap/name",
    ]);
    config_map.extend([
        at("", "", "Node", "spec/configSource/configMap"),
        at("", "", "Role", "rules/resourceNames"),
        at("", "", "ClusterRole", "rules/resourceNames"),
        at("", "", "Ingress", r"metadata/annotations/nginx.ingress.kubernetes.io\/fastcgi-params-configmap"),
    ]);
    out.push(Backref { target: sel("", "v1", "ConfigMap"), referrers: config_map });
    let mut secret = in_templates(&[
        "volumes/secret/secretName",
        "containers/env/valueFrom/secretKeyRef/name",
        "initContainers/env/valueFrom/secretKeyRef/name",
        "containers/envFrom/secretRef/name",
        "initContainers/envFrom/secretRef/name",
        "imagePullSecrets/name",
        "volumes/projected/sources/secret/name",
    ]);
    secret.extend([
        at("", "", "Ingress", "spec/tls/secretName"),
        at("", "", "Ingress", r"metadata/annotations/ingress.kubernetes.io\/auth-secret"),
        at("", "", "Ingress", r"metadata/annotations/nginx.ingress.kubernetes.io\/auth-secret"),
        at("", "", "Ingress", r"metadata/annotations/nginx.ingress.kubernetes.io\/auth-tls-secret"),
        at("", "", "ServiceAccount", "imagePullSecrets/name"),
        at("", "", "StorageClass", "parameters/secretName"),
        at("", "", "StorageClass", "parameters/adminSecretName"),
        at("", "", "StorageClass", "parameters/userSecretName"),
        at("", "", "StorageClass", "parameters/secretRef"),
        at("", "", "Role", "rules/resourceNames"),
        at("", "", "ClusterRole", "rules/resourceNames"),
        at("serving.knative.dev", "v1", "Service", "spec/template/spec/containers/env/valueFrom/secretKeyRef/name"),
        at("", "", "PersistentVolume", "spec/azureFile/secretName"),
    ]);
    out.push(Backref { target: sel("", "v1", "Secret"), referrers: secret });
    let webhook = "admissionregistration.k8s.io";
    out.push(Backref {
        target: sel("", "v1", "Service"),
        referrers: vec![
            at("apps", "", "StatefulSet", "spec/serviceName"),
            at("", "", "Ingress", "spec/rules/http/paths/backend/serviceName"),
            at("", "", "Ingress", "spec/backend/serviceName"),
            at("", "", "Ingress", "spec/rules/http/paths/backend/service/name"),
            at("", "", "Ingress", "spec/defaultBackend/service/name"),
            at("apiregistration.k8s.io", "", "APIService", "spec/service/name"),
            at(webhook, "", "ValidatingWebhookConfiguration", "webhooks/clientConfig/service"),
            at(webhook, "", "MutatingWebhookConfiguration", "webhooks/clientConfig/service"),
        ],
    });
    let rbac = "rbac.authorization.k8s.io";
    out.push(Backref { target: sel(rbac, "", "Role"), referrers: vec![at(rbac, "", "RoleBinding", "roleRef/name")] });
    out.push(Backref {
        target: sel(rbac, "", "ClusterRole"),
        referrers: vec![
            at(rbac, "", "RoleBinding", "roleRef/name"),
            at(rbac, "", "ClusterRoleBinding", "roleRef/name"),
        ],
    });
    let mut accounts = vec![at(rbac, "", "RoleBinding", "subjects"), at(rbac, "", "ClusterRoleBinding", "subjects")];
    accounts.extend(in_owners("serviceAccountName"));
    out.push(Backref { target: sel("", "v1", "ServiceAccount"), referrers: accounts });
    out.push(Backref {
        target: sel("", "v1", "PersistentVolumeClaim"),
        referrers: in_owners("volumes/persistentVolumeClaim/claimName"),
    });
    out.push(Backref {
        target: sel("", "v1", "PersistentVolume"),
        referrers: vec![
            at("", "", "PersistentVolumeClaim", "spec/volumeName"),
            at("", "", "ClusterRole", "rules/resourceNames"),
        ],
    });
    out.push(Backref {
        target: sel("storage.k8s.io", "v1", "StorageClass"),
        referrers: vec![
            at("", "", "PersistentVolume", "spec/storageClassName"),
            at("", "", "PersistentVolumeClaim", "spec/storageClassName"),
            at("", "", "StatefulSet", "spec/volumeClaimTemplates/spec/storageClassName"),
        ],
    });
    out.push(Backref {
        target: sel("scheduling.k8s.io", "v1", "PriorityClass"),
        referrers: in_owners("priorityClassName"),
    });
    // kustomize writes this group with its version ("networking.k8s.io/v1"), which no object's
    // group equals: an IngressClass reference is never updated. Kept, to match.
    out.push(Backref {
        target: sel("networking.k8s.io/v1", "v1", "IngressClass"),
        referrers: vec![at("", "", "Ingress", "spec/ingressClassName")],
    });
    out.push(Backref {
        target: sel(webhook, "", "ValidatingAdmissionPolicy"),
        referrers: vec![at(webhook, "", "ValidatingAdmissionPolicyBinding", "spec/policyName")],
    });
    out
}
