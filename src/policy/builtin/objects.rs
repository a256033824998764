//! Rules on single objects (labels, Ingress hosts, selectors, Secrets, Flux and Helm objects)
//! and on one render as a whole (dangling Services, PodDisruptionBudgets, replicas).

use std::collections::{BTreeMap, HashMap};
use std::sync::LazyLock;

use base64::Engine as _;
use regex::Regex;

use super::pod::PodTemplate;
use super::{Ctx, Hit, path, render_index};
use crate::kustomize::resource::Resource;
use crate::policy::selector::{LabelSelector, label_map};
use crate::rules::Rule;
use crate::schema::PathSeg;
use crate::schema::{display_path, loc_at};
use crate::source::vars::has_reference;
use crate::source::{Loc, Node};

#[allow(clippy::unwrap_used)]
static SEMVER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^v?\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$").unwrap());
#[allow(clippy::unwrap_used)]
static DURATION: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$").unwrap());

/// Whether a host matches a domain pattern: `*.acme.com` matches any host ending in
/// `.acme.com` (one or more labels), anything else must be equal (case-insensitive).
pub fn host_matches(host: &str, pattern: &str) -> bool {
    let (h, p) = (host.to_ascii_lowercase(), pattern.to_ascii_lowercase());
    match p.strip_prefix("*.") {
        Some(suffix) => h.len() > suffix.len() + 1 && h.ends_with(&format!(".{suffix}")),
        None => h == p,
    }
}

/// A workload's, PDB's or Service's selector (`plain_map`: a Service's or
/// ReplicationController's map of labels), or `None` when its requirements are unknown: a
/// `${var}` Flux substitutes later, or a selector the API server would reject (the schema check
/// reports that).
fn selector(node: &Node, plain_map: bool) -> Option<LabelSelector> {
    if holds_reference(node) {
        return None;
    }
    if plain_map { LabelSelector::from_map(node) } else { LabelSelector::parse(Some(node)) }.ok()
}

/// Whether any key or scalar under `node` holds a Flux `${var}`.
fn holds_reference(node: &Node) -> bool {
    crate::source::vars::holds_reference(node, &has_reference)
}

/// Whether a selector selects these labels; `None` when that is unknown (see [`selector`]).
pub fn selects(selector_node: &Node, labels: &BTreeMap<String, String>, plain_map: bool) -> Option<bool> {
    selector(selector_node, plain_map).map(|s| s.matches(labels))
}

fn is_empty_selector(sel: &Node, plain_map: bool) -> bool {
    selector(sel, plain_map).is_some_and(|s| s.is_empty())
}

/// Whether a Secret's values are SOPS-encrypted: a `sops:` block, or (a Secret generated from
/// SOPS-encrypted files) every value holding `ENC[` ciphertext.
/// The first key of a Secret whose value is a plain secret, as `data.KEY` / `stringData.KEY`:
/// `None` when the Secret is SOPS-encrypted (a `sops` section, or every value `ENC[...]`) or
/// every value is empty, a Flux `${VAR}`, or a reference a secret tool resolves before apply
/// (1Password `op://`, vals `ref+...://`, argocd-vault-plugin `<path:...>`, a `{{ }}` template).
fn plain_secret_key(r: &Resource) -> Option<String> {
    if r.node.get("sops").is_some() {
        return None;
    }
    for field in ["data", "stringData"] {
        let Some(m) = r.node.get(field).and_then(Node::as_map) else { continue };
        for (k, v) in m.iter() {
            let text = v.scalar_text().unwrap_or_default();
            let text = if field == "data" {
                let decoded = base64::engine::general_purpose::STANDARD.decode(text.trim()).unwrap_or_default();
                String::from_utf8_lossy(&decoded).into_owned()
            } else {
                text
            };
            if !not_a_secret_value(&text) {
                return Some(format!("{field}.{k}"));
            }
        }
    }
    None
}

/// Whether a Secret value holds no secret in Git: empty, SOPS ciphertext, a Flux variable, or
/// only references that a secret tool replaces before the object is applied.
fn not_a_secret_value(v: &str) -> bool {
    let t = v.trim();
    const REFERENCE_PREFIXES: [&str; 4] = ["op://", "ref+", "<path:", "vault:"];
    t.is_empty()
        || t.contains("ENC[")
        || has_reference(t)
        || (t.starts_with("{{") && t.ends_with("}}"))
        || REFERENCE_PREFIXES.iter().any(|p| t.starts_with(p) && !t.contains(char::is_whitespace))
        || is_op_reference(t)
        || is_public_material(t)
}

/// Public keys and certificates are not secrets, even kept in a Secret: every non-empty,
/// non-comment line an SSH public key (`ssh-ed25519 AAAA...`, as in `authorized_keys`), or the
/// whole value PEM blocks of certificates and public keys only.
fn is_public_material(t: &str) -> bool {
    const SSH: [&str; 4] = ["ssh-", "ecdsa-sha2-", "sk-ssh-", "sk-ecdsa-"];
    let lines: Vec<&str> = t.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).collect();
    let ssh = !lines.is_empty()
        && lines.iter().all(|l| {
            let mut parts = l.split_whitespace();
            let (kind, key) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
            SSH.iter().any(|p| kind.starts_with(p)) && key.starts_with("AAAA")
        });
    let pem_public = t.contains("-----BEGIN ")
        && t.lines().filter(|l| l.starts_with("-----BEGIN ")).all(|l| {
            matches!(
                l.trim(),
                "-----BEGIN CERTIFICATE-----" | "-----BEGIN PUBLIC KEY-----" | "-----BEGIN RSA PUBLIC KEY-----"
            )
        });
    ssh || pem_public
}

/// A 1Password secret reference, `op://vault/item/[section/]field`: vault, item and field
/// names may hold spaces (`op://Automation/1password connect/token`), so one line with at
/// least three non-empty segments.
fn is_op_reference(t: &str) -> bool {
    t.strip_prefix("op://").is_some_and(|rest| {
        !rest.contains(['\n', '\r']) && rest.split('/').count() >= 3 && rest.split('/').all(|s| !s.trim().is_empty())
    })
}

/// Single-object rules.
// long: one block per built-in rule, each guarded by whether the rule is on; all of one shape.
pub fn check(r: &Resource, idx: usize, ctx: &Ctx, out: &mut Vec<Hit>) {
    let rs = ctx.rules;
    let node = &r.node;
    let what = format!("{} '{}'", r.kind(), r.name());
    let mut hit = |rule: Rule, p: &[PathSeg], message: String, help: &str| {
        if rs.on(rule) {
            let field = Some(display_path(p));
            out.push(Hit {
                rule,
                loc: loc_at(node, p),
                object: Some(idx),
                message,
                help: help.to_string(),
                path: field,
            });
        }
    };
    let group = r.group();
    let kind = r.kind();

    let labels = rs.get(Rule::LabelsRequired);
    // A workload kind name counts only in its built-in API group (not a CRD called `Deployment`).
    let workload_ok = !super::pod::WORKLOAD_KINDS.contains(&kind) || super::pod::pod_template(r).is_some();
    if workload_ok && labels.list("kinds").iter().any(|k| k == kind) {
        let missing = super::missing(node.path(&["metadata", "labels"]), labels.list("labels"));
        if !missing.is_empty() {
            hit(
                Rule::LabelsRequired,
                &path(&["metadata", "labels"]),
                format!(
                    "{what} lacks required label{} {}",
                    if missing.len() > 1 { "s" } else { "" },
                    missing.join(", ")
                ),
                &format!("add metadata.labels.{} (or a kustomize `labels:` entry)", missing.join(", metadata.labels.")),
            );
        }
    }

    if kind == "Ingress" && matches!(group, "networking.k8s.io" | "extensions") {
        let domains = rs.get(Rule::IngressHostDomain).list("domains");
        if !domains.is_empty() {
            let mut hosts: Vec<(Vec<PathSeg>, &str)> = Vec::new();
            for (i, rule) in node.path(&["spec", "rules"]).and_then(Node::as_seq).into_iter().flatten().enumerate() {
                if let Some(h) = rule.str_at(&["host"]) {
                    hosts.push((
                        vec![
                            PathSeg::Key("spec".into()),
                            PathSeg::Key("rules".into()),
                            PathSeg::Index(i),
                            PathSeg::Key("host".into()),
                        ],
                        h,
                    ));
                }
            }
            for (i, tls) in node.path(&["spec", "tls"]).and_then(Node::as_seq).into_iter().flatten().enumerate() {
                for (j, h) in tls.get("hosts").and_then(Node::as_seq).into_iter().flatten().enumerate() {
                    if let Some(h) = h.as_str() {
                        let p = vec![
                            PathSeg::Key("spec".into()),
                            PathSeg::Key("tls".into()),
                            PathSeg::Index(i),
                            PathSeg::Key("hosts".into()),
                            PathSeg::Index(j),
                        ];
                        hosts.push((p, h));
                    }
                }
            }
            for (p, h) in hosts {
                if !has_reference(h) && !domains.iter().any(|d| host_matches(h, d)) {
                    hit(
                        Rule::IngressHostDomain,
                        &p,
                        format!("{what} host '{h}' is outside this environment's domains ({})", domains.join(", ")),
                        "use a host under the environment's domain; check the overlay patches the host for this environment",
                    );
                }
            }
        }
    }

    // Selector vs template labels (the API server rejects a mismatch for apps/v1 kinds).
    let sel = match (group, kind) {
        ("apps", "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet") => {
            node.path(&["spec", "selector"]).map(|s| (s, false))
        }
        ("", "ReplicationController") => node.path(&["spec", "selector"]).map(|s| (s, true)),
        ("batch", "Job") if node.path(&["spec", "manualSelector"]).and_then(Node::as_bool) == Some(true) => {
            node.path(&["spec", "selector"]).map(|s| (s, false))
        }
        _ => None,
    };
    if let Some((s, plain)) = sel
        && !is_empty_selector(s, plain)
    {
        let labels = label_map(node.path(&["spec", "template", "metadata", "labels"]));
        if selects(s, &labels, plain) == Some(false) {
            hit(
                Rule::SelectorMismatch,
                &path(&["spec", "selector"]),
                format!("{what}: spec.selector does not match the pod template's labels"),
                "make spec.template.metadata.labels include every selector label (the API server rejects this object)",
            );
        }
    }

    if kind == "Secret"
        && group.is_empty()
        && let Some(key) = plain_secret_key(r)
    {
        let (field, k) = key.split_once('.').unwrap_or((&key, ""));
        hit(
            Rule::SecretPlain,
            &path(&[field, k]),
            format!("{what} holds a plain (unencrypted) value in {key}"),
            "encrypt the file with SOPS (`sops --encrypt --encrypted-regex '^(data|stringData)$' --in-place FILE`), \
             or move the value to an external secret store (ExternalSecret)",
        );
    }

    if kind == "HelmRelease" && group == "helm.toolkit.fluxcd.io" && node.path(&["spec", "chartRef"]).is_none() {
        let source_kind = node.str_at(&["spec", "chart", "spec", "sourceRef", "kind"]).unwrap_or("HelmRepository");
        // A chart from a GitRepository or Bucket is a path: its version field is not used.
        if source_kind == "HelmRepository" {
            match node.path(&["spec", "chart", "spec", "version"]).and_then(Node::scalar_text) {
                Some(v) if SEMVER.is_match(v.trim()) || has_reference(&v) => {}
                Some(v) => hit(
                    Rule::HelmChartVersionUnpinned,
                    &path(&["spec", "chart", "spec", "version"]),
                    format!("{what} chart version '{v}' is a range, not one version"),
                    "pin an exact version: version: 1.2.3",
                ),
                None => hit(
                    Rule::HelmChartVersionUnpinned,
                    &path(&["spec", "chart", "spec", "version"]),
                    format!("{what} has no chart version: every reconcile may install the newest chart"),
                    "pin an exact version: spec.chart.spec.version: 1.2.3",
                ),
            }
        }
    }

    if kind == "Kustomization" && group == "kustomize.toolkit.fluxcd.io" {
        if node.path(&["spec", "prune"]).and_then(Node::as_bool) != Some(true) {
            hit(
                Rule::FluxKustomizationPrune,
                &path(&["spec", "prune"]),
                format!("{what} does not set prune: true; objects removed from Git keep running"),
                "set spec.prune: true",
            );
        }
        match node.path(&["spec", "interval"]).and_then(Node::as_str) {
            Some(i) if DURATION.is_match(i) || has_reference(i) => {}
            Some(i) => hit(
                Rule::FluxKustomizationInterval,
                &path(&["spec", "interval"]),
                format!("{what} interval '{i}' is not a duration"),
                "use a Go duration such as 10m or 1h",
            ),
            None => hit(
                Rule::FluxKustomizationInterval,
                &path(&["spec", "interval"]),
                format!("{what} has no interval"),
                "set spec.interval, e.g. 10m",
            ),
        }
    }

    if kind == "ImageUpdateAutomation" && group == "image.toolkit.fluxcd.io" {
        hit(
            Rule::ImageAutomationNotAllowed,
            &path(&["kind"]),
            format!("{what} updates images automatically in an environment that does not allow it"),
            "promote images through Git commits here; keep image automation to the environments the config allows",
        );
    }
}

/// The replica count a workload runs with: its HorizontalPodAutoscaler's `minReplicas` when one
/// targets it (1 when unset), else `spec.replicas` (1 when unset). `None` when unknown (`${var}`).
fn replicas(r: &Resource, all: &[Resource], hpas: &HashMap<(&str, &str, &str), usize>) -> Option<(i64, Option<usize>)> {
    let hpa = hpas.get(&(r.namespace(), r.kind(), r.name())).copied();
    if let Some(i) = hpa {
        return match all[i].node.path(&["spec", "minReplicas"]) {
            None => Some((1, Some(i))),
            Some(n) => n.as_i64().map(|v| (v, Some(i))),
        };
    }
    match r.node.path(&["spec", "replicas"]) {
        None => Some((1, None)),
        Some(n) => n.as_i64().map(|v| (v, None)),
    }
}

/// Rules over a whole render.
pub fn check_render(resources: &[Resource], templates: &[Option<PodTemplate>], ctx: &Ctx, out: &mut Vec<Hit>) {
    let rs = ctx.rules;
    if rs.on(Rule::ImageAutomationNotAllowed) {
        for (file, locs) in ctx.markers {
            for loc in locs {
                out.push(Hit {
                    rule: Rule::ImageAutomationNotAllowed,
                    loc: *loc,
                    object: None,
                    message: format!("image automation marker in {file}, in an environment that does not allow it"),
                    help: "remove the $imagepolicy marker; promote images here through reviewed commits".into(),
                    path: None,
                });
            }
        }
    }
    let pods: Vec<(usize, BTreeMap<String, String>)> =
        templates.iter().enumerate().filter_map(|(i, t)| t.as_ref().map(|t| (i, label_map(t.labels)))).collect();
    let pod_index = render_index::Pods::new(resources, &pods);
    let hpas = render_index::autoscalers(resources);
    let budgets = render_index::Budgets::new(resources.iter().filter_map(|p| {
        let is_pdb = p.kind() == "PodDisruptionBudget" && p.group() == "policy";
        // A budget without a selector covers nothing; one that cannot be read yet may cover any.
        let sel = p.node.path(&["spec", "selector"]).filter(|_| is_pdb)?;
        Some((p.namespace(), selector(sel, false)))
    }));
    for (i, r) in resources.iter().enumerate() {
        let group = r.group();
        let what = format!("{} '{}'", r.kind(), r.name());
        if ctx.complete
            && rs.on(Rule::DanglingService)
            && r.kind() == "Service"
            && group.is_empty()
            && r.node.str_at(&["spec", "type"]) != Some("ExternalName")
            && let Some(sel) = r.node.path(&["spec", "selector"]).filter(|s| !is_empty_selector(s, true))
            && !pod_index.any_selected(r.namespace(), selector(sel, true).as_ref())
        {
            out.push(Hit {
                rule: Rule::DanglingService,
                loc: loc_at(&r.node, &path(&["spec", "selector"])),
                object: Some(i),
                message: format!("{what} selects no pod template in this render"),
                help: "fix the selector to match the workload's pod template labels, or remove the Service".into(),
                path: Some("spec.selector".into()),
            });
        }
        if !(group == "apps" && matches!(r.kind(), "Deployment" | "StatefulSet")) {
            continue;
        }
        let Some((count, hpa)) = replicas(r, resources, &hpas) else { continue };
        let min = rs.get(Rule::ReplicasMinimum).int("min", 2);
        if rs.on(Rule::ReplicasMinimum) && count < min {
            let (obj, loc, field) = match hpa {
                Some(h) => (h, loc_at(&resources[h].node, &path(&["spec", "minReplicas"])), "spec.minReplicas"),
                None => (i, loc_at(&r.node, &path(&["spec", "replicas"])), "spec.replicas"),
            };
            out.push(Hit {
                rule: Rule::ReplicasMinimum,
                loc,
                object: Some(obj),
                message: format!(
                    "{what} runs {count} replica{} here; the minimum is {min}",
                    if count == 1 { "" } else { "s" }
                ),
                help: format!(
                    "set {} to at least {min}",
                    if hpa.is_some() { "the autoscaler's minReplicas" } else { "spec.replicas" }
                ),
                path: Some(field.into()),
            });
        }
        if ctx.complete && rs.on(Rule::PdbMissing) && count >= 2 {
            let labels = templates[i].as_ref().map(|t| label_map(t.labels)).unwrap_or_default();
            if !budgets.covers(r.namespace(), &labels) {
                let field = if r.node.path(&["spec", "replicas"]).is_some() { "spec.replicas" } else { "kind" };
                let loc = loc_at(&r.node, &path(&field.split('.').collect::<Vec<_>>()));
                out.push(Hit {
                    rule: Rule::PdbMissing,
                    loc,
                    object: Some(i),
                    message: format!(
                        "{what} runs {count} replicas but no PodDisruptionBudget in this render selects its pods"
                    ),
                    help: "add a PodDisruptionBudget (e.g. maxUnavailable: 1) whose selector matches the pod template labels".into(),
                    path: Some(field.into()),
                });
            }
        }
    }
}

/// Where the marker comments of one file are.
pub fn marker_locs(file: crate::source::FileId, text: &str) -> Vec<Loc> {
    crate::flux::markers::find_markers(text).into_iter().map(|m| Loc::new(file, m.line, m.col)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_keys_and_references_are_no_secret_values_but_private_keys_are() {
        assert!(not_a_secret_value("ssh-ed25519 AAAAC3Nza user@host\nssh-rsa AAAAB3Nza other\n"));
        assert!(not_a_secret_value("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"));
        assert!(not_a_secret_value("op://Automation/1password connect/token"));
        assert!(!not_a_secret_value(
            "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n"
        ));
        assert!(!not_a_secret_value("ssh-ed25519 AAAAC3Nza user@host\nhunter2"));
        assert!(!not_a_secret_value("op://vault/item/field\nsecond line"));
    }

    #[test]
    fn wildcard_domains_match_subdomains_only() {
        assert!(host_matches("shop.acme.com", "*.acme.com"));
        assert!(host_matches("a.b.acme.com", "*.acme.com"));
        assert!(!host_matches("acme.com", "*.acme.com"));
        assert!(!host_matches("shop.acme.com.evil.io", "*.acme.com"));
        assert!(host_matches("Shop.Acme.com", "shop.acme.com"));
    }

    #[test]
    fn versions_and_durations() {
        assert!(SEMVER.is_match("1.2.3") && SEMVER.is_match("v1.2.3-rc.1"));
        assert!(
            !SEMVER.is_match("1.x")
                && !SEMVER.is_match(">=1.0.0")
                && !SEMVER.is_match("*")
                && !SEMVER.is_match("~1.2.3")
        );
        assert!(DURATION.is_match("1h30m") && !DURATION.is_match("10"));
    }
}
