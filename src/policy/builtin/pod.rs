//! Rules on pod templates: images, resources, probes, securityContext, host access, env.
//! [`pod_template`] is the one place that knows where each workload kind keeps its pod spec.

pub use crate::config::policy::WORKLOAD_KINDS;
use std::collections::BTreeSet;

use super::{Ctx, Hit, join};
use crate::kustomize::resource::Resource;
use crate::kustomize::transform::images::split_image;
use crate::rules::Rule;
use crate::schema::PathSeg;
use crate::schema::{display_path, loc_at};
use crate::source::Node;
use crate::source::vars::has_reference;

/// Where a workload keeps its pod spec.
#[derive(Clone, Debug)]
pub struct PodTemplate<'a> {
    /// The pod spec (`spec.template.spec`, or a Pod's `spec`).
    pub spec: &'a Node,
    /// JSON path of the pod spec from the object root.
    pub prefix: Vec<PathSeg>,
    /// The pod's labels (`spec.template.metadata.labels`, or a Pod's own).
    pub labels: Option<&'a Node>,
    /// Runs to completion (Job, CronJob, a Pod owned by a Job): no probes expected.
    pub job_like: bool,
}

/// Where a workload kind of a built-in API group keeps its pod template (by group, so a CRD
/// that happens to be called `Deployment` is not mistaken for one). `None` for a Pod (its own
/// template) and every other kind.
pub fn template_keys(group: &str, kind: &str) -> Option<&'static [&'static str]> {
    match (group, kind) {
        ("", "ReplicationController")
        | ("apps", "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet")
        | ("batch", "Job") => Some(&["spec", "template"]),
        ("batch", "CronJob") => Some(&["spec", "jobTemplate", "spec", "template"]),
        _ => None,
    }
}

/// The pod template of a built-in workload kind, or of a Pod.
pub fn pod_template(r: &Resource) -> Option<PodTemplate<'_>> {
    let group = r.group();
    let (template, job_like): (&[&str], bool) = if group.is_empty() && r.kind() == "Pod" {
        let owned_by_job = r
            .node
            .path(&["metadata", "ownerReferences"])
            .and_then(Node::as_seq)
            .is_some_and(|s| s.iter().any(|o| matches!(o.str_at(&["kind"]), Some("Job" | "CronJob"))));
        (&[], owned_by_job)
    } else {
        (template_keys(group, r.kind())?, group == "batch")
    };
    let keys: Vec<&str> = template.iter().copied().chain(["spec"]).collect();
    let meta: Vec<&str> = template.iter().copied().chain(["metadata", "labels"]).collect();
    let spec = r.node.path(&keys).filter(|n| n.as_map().is_some())?;
    Some(PodTemplate { spec, prefix: super::path(&keys), labels: r.node.path(&meta), job_like })
}

/// Which list a container is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContainerKind {
    Main,
    Init,
    Ephemeral,
}

/// One container of a pod template and its path from the object root.
pub struct Container<'a> {
    pub node: &'a Node,
    pub path: Vec<PathSeg>,
    pub kind: ContainerKind,
}

impl Container<'_> {
    pub fn name(&self) -> &str {
        self.node.str_at(&["name"]).unwrap_or("?")
    }

    fn at(&self, keys: &[&str]) -> Vec<PathSeg> {
        join(&self.path, keys)
    }
}

/// The containers, init containers and ephemeral containers of a pod spec.
pub fn containers<'a>(t: &PodTemplate<'a>) -> Vec<Container<'a>> {
    let mut out = Vec::new();
    for (list, kind) in [
        ("containers", ContainerKind::Main),
        ("initContainers", ContainerKind::Init),
        ("ephemeralContainers", ContainerKind::Ephemeral),
    ] {
        if let Some(seq) = t.spec.get(list).and_then(Node::as_seq) {
            for (i, c) in seq.iter().enumerate() {
                if c.as_map().is_some() {
                    let mut path = join(&t.prefix, &[list]);
                    path.push(PathSeg::Index(i));
                    out.push(Container { node: c, path, kind });
                }
            }
        }
    }
    out
}

/// The fully qualified name Docker resolves a short name to (`nginx` is
/// `docker.io/library/nginx`, `bitnami/redis` is `docker.io/bitnami/redis`).
pub fn qualified(name: &str) -> String {
    match name.split_once('/') {
        Some((first, _)) if first.contains('.') || first.contains(':') || first == "localhost" => name.to_string(),
        Some(_) => format!("docker.io/{name}"),
        None => format!("docker.io/library/{name}"),
    }
}

/// Whether an image lies under an allowed registry prefix (whole path components only, so
/// `ghcr.io/fluxcd` does not allow `ghcr.io/fluxcd-evil/x`).
pub fn registry_allowed(image: &str, prefixes: &[String]) -> bool {
    let q = qualified(split_image(image).name);
    let under = |s: &str, p: &str| {
        s.starts_with(p)
            && (p.ends_with('/') || s.len() == p.len() || matches!(s.as_bytes()[p.len()], b'/' | b':' | b'@'))
    };
    prefixes.iter().any(|p| under(image, p) || under(&q, p))
}

fn truthy(n: Option<&Node>) -> bool {
    n.and_then(Node::as_bool) == Some(true)
}

/// Pod-template rules for one workload.
// long: one block per pod rule over the same container walk; all of one shape.
pub fn check(r: &Resource, idx: usize, t: &PodTemplate, ctx: &Ctx, out: &mut Vec<Hit>) {
    let rs = ctx.rules;
    let node = &r.node;
    let what = format!("{} '{}'", r.kind(), r.name());
    let mut hit = |rule: Rule, path: &[PathSeg], message: String, help: &str| {
        if rs.on(rule) {
            let field = Some(display_path(path));
            out.push(Hit {
                rule,
                loc: loc_at(node, path),
                object: Some(idx),
                message,
                help: help.to_string(),
                path: field,
            });
        }
    };
    // Host namespaces and hostPath volumes are pod-level.
    for field in ["hostNetwork", "hostPID", "hostIPC"] {
        if truthy(t.spec.get(field)) {
            hit(
                Rule::PodHostNamespace,
                &join(&t.prefix, &[field]),
                format!("{what} sets {field}: true and shares the node's namespace"),
                "remove it; use a Service / hostPort-free design, or suppress with a reason for node agents",
            );
        }
    }
    if let Some(vols) = t.spec.get("volumes").and_then(Node::as_seq) {
        for (i, v) in vols.iter().enumerate() {
            if v.get("hostPath").is_some() {
                let mut p = join(&t.prefix, &["volumes"]);
                p.push(PathSeg::Index(i));
                p.push(PathSeg::Key("hostPath".into()));
                hit(
                    Rule::PodHostPath,
                    &p,
                    format!(
                        "{what} mounts the node's filesystem (hostPath volume '{}')",
                        v.str_at(&["name"]).unwrap_or("?")
                    ),
                    "use an emptyDir, a ConfigMap/Secret or a PersistentVolumeClaim",
                );
            }
        }
    }
    let pod_sc = t.spec.get("securityContext");
    for c in containers(t) {
        let cw = format!("container '{}' of {what}", c.name());
        let sc = c.node.get("securityContext");
        // Images.
        if let Some(image) = c.node.get("image").and_then(Node::as_str).filter(|i| !has_reference(i)) {
            let ip = c.at(&["image"]);
            let regs = rs.get(Rule::ImageRegistryAllowed).list("registries");
            if !regs.is_empty() && !registry_allowed(image, regs) {
                hit(
                    Rule::ImageRegistryAllowed,
                    &ip,
                    format!("image '{image}' of {cw} is not from an allowed registry ({})", regs.join(", ")),
                    "mirror the image into an allowed registry, or add the registry to rules.image-registry-allowed.registries",
                );
            }
            let img = split_image(image);
            if img.digest.is_none() {
                match img.tag {
                    None => hit(
                        Rule::ImageTagLatest,
                        &ip,
                        format!("image '{image}' of {cw} has no tag, so it means 'latest'"),
                        &format!("pin a version tag (and a digest): image: {}:<version>", img.name),
                    ),
                    Some("latest") => hit(
                        Rule::ImageTagLatest,
                        &ip,
                        format!("image '{image}' of {cw} uses the 'latest' tag"),
                        &format!("pin a version tag (and a digest): image: {}:<version>", img.name),
                    ),
                    _ => {}
                }
                hit(
                    Rule::ImageDigestRequired,
                    &ip,
                    format!("image '{image}' of {cw} is not pinned by digest"),
                    "append the digest: image: repo/name:1.2.3@sha256:<digest> (e.g. from `crane digest`)",
                );
            }
        }
        if c.kind != ContainerKind::Ephemeral {
            for (rule, field) in
                [(Rule::ResourcesRequestsMissing, "requests"), (Rule::ResourcesLimitsMissing, "limits")]
            {
                if !rs.on(rule) {
                    continue;
                }
                let wanted = rs.get(rule);
                let missing = super::missing(c.node.path(&["resources", field]), wanted.list("resources"));
                if !missing.is_empty() {
                    hit(
                        rule,
                        &c.at(&["resources", field]),
                        format!("{cw} has no {field} for {}", missing.join(", ")),
                        &format!("set resources.{field}.{} on the container", missing.join(" and resources.{field}.")),
                    );
                }
            }
        }
        if c.kind == ContainerKind::Main && !t.job_like {
            for (rule, field) in
                [(Rule::ProbeLivenessMissing, "livenessProbe"), (Rule::ProbeReadinessMissing, "readinessProbe")]
            {
                if c.node.get(field).is_none_or(Node::is_null) {
                    hit(
                        rule,
                        &c.at(&[field]),
                        format!("{cw} has no {field}"),
                        &format!(
                            "add a {field} (httpGet, tcpSocket, grpc or exec) so Kubernetes knows when the container is healthy"
                        ),
                    );
                }
            }
        }
        // runAsNonRoot / runAsUser: the container's setting wins over the pod's.
        let eff = |key: &str| -> Option<(&Node, Vec<PathSeg>)> {
            match sc.and_then(|s| s.get(key)) {
                Some(n) if !n.is_null() => Some((n, c.at(&["securityContext", key]))),
                _ => pod_sc
                    .and_then(|s| s.get(key))
                    .filter(|n| !n.is_null())
                    .map(|n| (n, join(&t.prefix, &["securityContext", key]))),
            }
        };
        let user = eff("runAsUser");
        let non_root = eff("runAsNonRoot");
        match (&user, &non_root) {
            (Some((u, p)), _) if u.as_i64() == Some(0) => hit(
                Rule::PodRunAsNonRoot,
                p,
                format!("{cw} runs as root (runAsUser: 0)"),
                "run as a non-zero user id and set runAsNonRoot: true",
            ),
            (_, Some((n, p))) if n.as_bool() == Some(false) => hit(
                Rule::PodRunAsNonRoot,
                p,
                format!("{cw} sets runAsNonRoot: false"),
                "set runAsNonRoot: true (pod or container securityContext)",
            ),
            (_, Some((n, _))) if n.as_bool() == Some(true) => {}
            (Some((u, _)), _) if u.as_i64().is_some_and(|u| u > 0) || u.as_str().is_some_and(has_reference) => {}
            (_, Some((n, _))) if n.as_str().is_some_and(has_reference) => {}
            _ => hit(
                Rule::PodRunAsNonRoot,
                &c.at(&["securityContext", "runAsNonRoot"]),
                format!("{cw} may run as root: no runAsNonRoot: true and no non-zero runAsUser"),
                "set securityContext.runAsNonRoot: true on the pod or the container",
            ),
        }
        if truthy(sc.and_then(|s| s.get("privileged"))) {
            hit(
                Rule::PodPrivileged,
                &c.at(&["securityContext", "privileged"]),
                format!("{cw} is privileged"),
                "remove privileged: true; add only the capabilities it needs",
            );
        }
        match sc.and_then(|s| s.get("allowPrivilegeEscalation")).and_then(Node::as_bool) {
            Some(false) => {}
            Some(true) => hit(
                Rule::PodPrivilegeEscalation,
                &c.at(&["securityContext", "allowPrivilegeEscalation"]),
                format!("{cw} sets allowPrivilegeEscalation: true"),
                "set securityContext.allowPrivilegeEscalation: false",
            ),
            None => hit(
                Rule::PodPrivilegeEscalation,
                &c.at(&["securityContext", "allowPrivilegeEscalation"]),
                format!("{cw} does not set allowPrivilegeEscalation: false (the default allows it)"),
                "set securityContext.allowPrivilegeEscalation: false",
            ),
        }
        let drops_all = sc
            .and_then(|s| s.path(&["capabilities", "drop"]))
            .and_then(Node::as_seq)
            .is_some_and(|d| d.iter().any(|x| x.as_str().is_some_and(|s| s.eq_ignore_ascii_case("ALL"))));
        if !drops_all {
            hit(
                Rule::PodCapabilitiesDropAll,
                &c.at(&["securityContext", "capabilities", "drop"]),
                format!("{cw} does not drop ALL capabilities"),
                "set securityContext.capabilities.drop: [ALL] (add back only what it needs)",
            );
        }
        if !truthy(sc.and_then(|s| s.get("readOnlyRootFilesystem"))) {
            hit(
                Rule::PodReadOnlyRootFs,
                &c.at(&["securityContext", "readOnlyRootFilesystem"]),
                format!("{cw} has a writable root filesystem"),
                "set securityContext.readOnlyRootFilesystem: true; mount an emptyDir where it must write",
            );
        }
        if let Some(env) = c.node.get("env").and_then(Node::as_seq) {
            let mut seen = BTreeSet::new();
            for (i, e) in env.iter().enumerate() {
                let Some(name) = e.str_at(&["name"]) else { continue };
                if !seen.insert(name) {
                    let mut p = c.at(&["env"]);
                    p.push(PathSeg::Index(i));
                    p.push(PathSeg::Key("name".into()));
                    hit(
                        Rule::EnvDuplicateName,
                        &p,
                        format!("{cw} defines env var '{name}' twice; only the last value is used"),
                        "keep one definition of the variable",
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kustomize::transform::images::ImageRef;

    #[test]
    fn images_parse_with_ports_tags_and_digests() {
        assert_eq!(split_image("nginx"), ImageRef { name: "nginx", tag: None, digest: None });
        assert_eq!(split_image("reg:5000/a/b:1.2"), ImageRef { name: "reg:5000/a/b", tag: Some("1.2"), digest: None });
        assert_eq!(split_image("reg:5000/a/b"), ImageRef { name: "reg:5000/a/b", tag: None, digest: None });
        assert_eq!(split_image("a/b:1@sha256:ab"), ImageRef { name: "a/b", tag: Some("1"), digest: Some("sha256:ab") });
        assert_eq!(qualified("nginx"), "docker.io/library/nginx");
        assert_eq!(qualified("bitnami/redis"), "docker.io/bitnami/redis");
        assert_eq!(qualified("ghcr.io/fluxcd/x"), "ghcr.io/fluxcd/x");
    }

    #[test]
    fn registry_prefixes_match_whole_components() {
        let allowed = vec!["ghcr.io/fluxcd".to_string(), "docker.io/library/".to_string()];
        assert!(registry_allowed("ghcr.io/fluxcd/source-controller:v1", &allowed));
        assert!(!registry_allowed("ghcr.io/fluxcd-evil/x:1", &allowed));
        assert!(registry_allowed("nginx:1.27", &allowed));
        assert!(!registry_allowed("bitnami/redis:7", &allowed));
    }
}
