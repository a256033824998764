//! Per-object checks against the schema registry: schema (strict, CEL), removed and deprecated
//! APIs, unknown built-in kinds, missing schemas, metadata syntax. Violations are located by
//! mapping their path back to the source node that produced the value.

use crate::config::Level;
use crate::finding::{Finding, Severity};
use crate::kustomize::kustomization::closest;
use crate::kustomize::resource::Resource;
use crate::rules::Rule;
use crate::schema::registry::{Registry, Resolved};
use crate::schema::{PathSeg, SchemaViolation, loc_at, metadata};
use crate::source::{Loc, Node};

/// A finding about one object, located by source position (the caller fills in the rest).
pub struct Located {
    pub finding: Finding,
    pub loc: Loc,
    /// For a finding about a map key (an unknown field), the key: the reporter points at it
    /// rather than at its value.
    pub key: Option<String>,
    /// The field the finding is about (`spec.template.spec.containers[0].image`), when it is
    /// about one: messages of objects with no line of their own (chart output) name it.
    pub path: Option<String>,
}

/// The outcome of checking one object.
pub struct ObjectCheck {
    pub findings: Vec<Located>,
    /// Whether the object was checked against a schema.
    pub checked: bool,
    /// CEL rules not evaluated: transition rules (`oldSelf`) and rules using functions fluxgate
    /// does not implement. Reported in the coverage, never silently dropped.
    pub cel_skipped: usize,
}

impl Located {
    /// A finding at `loc`, about no key or field in particular.
    fn at(finding: Finding, loc: Loc) -> Located {
        Located { finding, loc, key: None, path: None }
    }
}

fn violation(node: &Node, v: SchemaViolation) -> Located {
    let mut f = Finding::new(v.rule, v.message);
    f.help = v.help;
    let key = match (v.rule, v.path.last()) {
        (
            Rule::SchemaUnknownField | Rule::MetadataInvalidLabel | Rule::MetadataInvalidAnnotation,
            Some(PathSeg::Key(k)),
        ) => Some(k.clone()),
        _ => None,
    };
    let path = (!v.path.is_empty()).then(|| crate::schema::display_path(&v.path));
    Located { loc: loc_at(node, &v.path), finding: f, key, path }
}

/// Whether an object is SOPS-encrypted down to its `apiVersion` or `kind` (a `sops:` block and
/// ciphertext there): kustomize-controller decrypts any object with SOPS metadata before
/// applying it, so its type, and so its schema, is known only in the cluster.
fn encrypted_type(node: &Node, api_version: &str, kind: &str) -> bool {
    let cipher = |s: &str| s.starts_with("ENC[") && s.ends_with(']');
    node.get("sops").and_then(Node::as_map).is_some() && (cipher(api_version) || cipher(kind))
}

/// The `schema-missing` finding of a kind with no schema: a deprecated Flux API, a kind nothing
/// defines, or a version its CRD does not serve. With `--cluster`, a version the live cluster
/// does not serve of a kind it serves is certain to fail: an error.
fn missing(
    registry: &Registry,
    api_version: &str,
    kind: &str,
    other_versions: &[String],
    flux_replacement: Option<&str>,
    schema_missing: Level,
) -> Finding {
    let (msg, help) = if let Some(rep) = flux_replacement {
        (
            format!("{kind} {api_version} is a deprecated Flux API and no CRD in the repository serves it"),
            format!("use apiVersion: {rep}"),
        )
    } else if other_versions.is_empty() {
        (
            format!(
                "no schema for {kind} ({api_version}): no CRD in the repository, the catalog or the bundled CRDs defines it"
            ),
            registry.missing_hint(api_version, kind),
        )
    } else {
        (
            format!("the CRD for {kind} does not serve version '{}'", api_version.rsplit('/').next().unwrap_or("")),
            format!("served versions: {}", other_versions.join(", ")),
        )
    };
    let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
    let served_elsewhere = registry.cluster_serves_kind(group, kind).filter(|_| !other_versions.is_empty());
    let msg = match (served_elsewhere, registry.cluster_context()) {
        (Some(context), _) => format!("{msg} in the cluster (context {context})"),
        (None, Some(context)) if other_versions.is_empty() && flux_replacement.is_none() => {
            format!("{msg}, and the cluster (context {context}) has no such CRD")
        }
        _ => msg,
    };
    let mut f = Finding::new(Rule::SchemaMissing, msg).help(help);
    if schema_missing == Level::Error || served_elsewhere.is_some() {
        f.severity = Severity::Error;
    }
    f
}

/// Checks one rendered object.
pub fn check(r: &Resource, registry: &Registry, schema_missing: Level) -> ObjectCheck {
    let node = &r.node;
    let api_loc = node.get("apiVersion").map_or(node.loc, |n| n.loc);
    let kind_loc = node.get("kind").map_or(node.loc, |n| n.loc);
    let mut findings = Vec::new();
    let mut checked = false;
    let mut cel_skipped = 0;
    let (api_version, kind) = (r.api_version(), r.kind());
    if api_version.is_empty() {
        // kustomize renders it; the API server refuses it.
        let f = Finding::new(Rule::ObjectInvalid, "this object has no 'apiVersion' (or it is not a string)")
            .help("every Kubernetes object needs apiVersion, kind and metadata.name");
        findings.push(Located::at(f, api_loc));
        findings.extend(metadata::check(node).into_iter().map(|v| violation(node, v)));
        return ObjectCheck { findings, checked, cel_skipped };
    }
    if encrypted_type(node, api_version, kind) {
        // Flux decrypts the whole object before applying it: what it is is not known here.
        return ObjectCheck { findings, checked, cel_skipped };
    }
    match &*registry.lookup(api_version, kind) {
        Resolved::Schema { origin, schema, cel, deprecated } => {
            // A schema that does not compile checks nothing: coverage must not count it.
            checked = schema.is_ok();
            if let Some(d) = deprecated {
                findings.push(Located::at(Finding::new(Rule::ApiDeprecated, d.clone()), api_loc));
            }
            match schema {
                Ok(s) => findings.extend(s.validate(node).into_iter().map(|v| violation(node, v))),
                Err(e) => findings.push(Located::at(
                    Finding::new(
                        Rule::SchemaMissing,
                        format!("the schema for {kind} from {origin} does not compile: {e}"),
                    )
                    .help("fix or replace the CRD; this object is not checked"),
                    api_loc,
                )),
            }
            if let Some(c) = cel {
                let outcome = c.evaluate(node);
                cel_skipped += outcome.skipped_transition_rules + outcome.unsupported_rules;
                findings.extend(outcome.violations.into_iter().map(|v| violation(node, v)));
            }
        }
        Resolved::Removed { removed_in, replacement } => {
            let mut f = Finding::new(
                Rule::ApiRemoved,
                format!(
                    "{kind} {api_version} was removed in Kubernetes 1.{removed_in}; the target is Kubernetes {}",
                    registry.kubernetes_version()
                ),
            )
            .help(format!("use apiVersion: {replacement}"));
            if !registry.removal_is_certain(*removed_in) {
                f.severity = Severity::Warning;
                f.message.push_str(&format!(
                    " (the default target: a cluster older than 1.{removed_in} still serves it; set `kubernetesVersion` in .fluxgate.yaml to decide)"
                ));
            }
            findings.push(Located::at(f, api_loc));
        }
        Resolved::UnknownBuiltin { served_versions, kinds_at_version } => {
            let (msg, help, loc) = if !served_versions.is_empty() {
                (
                    format!(
                        "{kind} is not served at apiVersion '{api_version}' by Kubernetes {}",
                        registry.kubernetes_version()
                    ),
                    format!("use apiVersion: {}", served_versions.join(" or ")),
                    api_loc,
                )
            } else if kinds_at_version.is_empty() {
                (
                    format!("Kubernetes {} does not serve apiVersion '{api_version}'", registry.kubernetes_version()),
                    "check the group and version spelling".to_string(),
                    api_loc,
                )
            } else {
                let known: Vec<&str> = kinds_at_version.iter().map(String::as_str).collect();
                let help = closest(kind, &known)
                    .map(|s| format!("did you mean kind: {s}?"))
                    .unwrap_or_else(|| format!("'{api_version}' serves: {}", known.join(", ")));
                (format!("apiVersion '{api_version}' has no kind '{kind}'"), help, kind_loc)
            };
            findings.push(Located::at(Finding::new(Rule::UnknownKind, msg).help(help), loc));
        }
        Resolved::Missing { other_versions, flux_replacement } => {
            if schema_missing != Level::Off {
                let f = missing(registry, api_version, kind, other_versions, *flux_replacement, schema_missing);
                findings.push(Located::at(f, api_loc));
            }
        }
    }
    findings.extend(metadata::check(node).into_iter().map(|v| violation(node, v)));
    ObjectCheck { findings, checked, cel_skipped }
}
