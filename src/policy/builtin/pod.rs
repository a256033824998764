//! Rules on pod templates: images, resources, probes, securityContext, host access, env.
//! [`pod_template`] is the one place that knows where each workload kind keeps its pod spec.

use std::collections::BTreeSet;

use super::{Ctx, Hit, is_var, join};
use crate::check::objects::loc_at;
use crate::kustomize::resource::Resource;
use crate::rules::Rule;
use crate::schema::PathSeg;
use crate::source::{Node, Value};

/// Every kind with a pod template, which the pod rules (and `labels-required` by default) check.
pub const WORKLOAD_KINDS: &[&str] =
    &["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Job", "CronJob", "Pod"];

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

/// The pod template of a built-in workload kind (by API group, so a CRD that happens to be
/// called `Deployment` is not mistaken for one).
pub fn pod_template(r: &Resource) -> Option<PodTemplate<'_>> {
    let group = r.gvk().group;
    let (keys, job_like): (&[&str], bool) = match (group.as_str(), r.kind()) {
        ("", "Pod") => {
            let owned_by_job = r
                .node
                .path(&["metadata", "ownerReferences"])
                .and_then(Node::as_seq)
                .is_some_and(|s| s.iter().any(|o| matches!(o.str_at(&["kind"]), Some("Job" | "CronJob"))));
            (&["spec"], owned_by_job)
        }
        ("", "ReplicationController") | ("apps", "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet") => {
            (&["spec", "template", "spec"], false)
        }
        ("batch", "Job") => (&["spec", "template", "spec"], true),
        ("batch", "CronJob") => (&["spec", "jobTemplate", "spec", "template", "spec"], true),
        _ => return None,
    };
    let spec = r.node.path(keys).filter(|n| n.as_map().is_some())?;
    let meta: Vec<&str> = if keys.len() == 1 {
        vec!["metadata", "labels"]
    } else {
        let mut m = keys[..keys.len() - 1].to_vec();
        m.extend(["metadata", "labels"]);
        m
    };
    Some(PodTemplate { spec, prefix: super::path(keys), labels: r.node.path(&meta), job_like })
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

/// An image reference split into name, tag and digest.
#[derive(Debug, PartialEq, Eq)]
pub struct Image<'a> {
    pub name: &'a str,
    pub tag: Option<&'a str>,
    pub digest: Option<&'a str>,
}

/// Splits `registry/path/name:tag@sha256:...` (the tag is after the last `:` of the last path
/// component, so a registry port is not a tag).
pub fn parse_image(s: &str) -> Image<'_> {
    let (rest, digest) = match s.split_once('@') {
        Some((r, d)) => (r, Some(d)),
        None => (s, None),
    };
    let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
    match rest[last_slash..].rfind(':') {
        Some(i) => Image { name: &rest[..last_slash + i], tag: Some(&rest[last_slash + i + 1..]), digest },
        None => Image { name: rest, tag: None, digest },
    }
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
    let q = qualified(parse_image(image).name);
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
pub fn check(r: &Resource, idx: usize, t: &PodTemplate, ctx: &Ctx, out: &mut Vec<Hit>) {
    let rs = ctx.rules;
    let node = &r.node;
    let what = format!("{} '{}'", r.kind(), r.name());
    let mut hit = |rule: Rule, path: &[PathSeg], message: String, help: &str| {
        if rs.on(rule) {
            out.push(Hit { rule, loc: loc_at(node, path), object: Some(idx), message, help: help.to_string() });
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
        if let Some(image) = c.node.get("image").and_then(Node::as_str).filter(|i| !is_var(i)) {
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
            let img = parse_image(image);
            if img.digest.is_none() {
                match img.tag {
                    None => hit(
                        Rule::ImageTagLatest,
                        &ip,
                        format!("image '{image}' of {cw} has no tag, so it means 'latest'"),
                        "pin a version tag (and a digest): image: repo/name:1.2.3",
                    ),
                    Some("latest") => hit(
                        Rule::ImageTagLatest,
                        &ip,
                        format!("image '{image}' of {cw} uses the 'latest' tag"),
                        "pin a version tag (and a digest): image: repo/name:1.2.3",
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
                let have = c.node.path(&["resources", field]);
                let missing: Vec<&str> = rs
                    .get(rule)
                    .list("resources")
                    .iter()
                    .map(String::as_str)
                    .filter(|r| have.and_then(|h| h.get(r)).is_none_or(Node::is_null))
                    .collect();
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
            (Some((u, _)), _) if u.as_i64().is_some_and(|u| u > 0) || u.as_str().is_some_and(is_var) => {}
            (_, Some((n, _))) if n.as_str().is_some_and(is_var) => {}
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

/// The labels of a pod template as text.
pub fn labels_of(n: Option<&Node>) -> Vec<(&str, String)> {
    match n.map(|n| &n.value) {
        Some(Value::Map(m)) => m.iter().filter_map(|(k, v)| v.scalar_text().map(|t| (k.as_str(), t))).collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_parse_with_ports_tags_and_digests() {
        assert_eq!(parse_image("nginx"), Image { name: "nginx", tag: None, digest: None });
        assert_eq!(parse_image("reg:5000/a/b:1.2"), Image { name: "reg:5000/a/b", tag: Some("1.2"), digest: None });
        assert_eq!(parse_image("reg:5000/a/b"), Image { name: "reg:5000/a/b", tag: None, digest: None });
        assert_eq!(parse_image("a/b:1@sha256:ab"), Image { name: "a/b", tag: Some("1"), digest: Some("sha256:ab") });
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
