//! Organisation policies: built-in rules, custom rules written as Kubernetes
//! ValidatingAdmissionPolicy objects (CEL), and suppressions. Policies run on rendered objects,
//! after schema checks, and produce ordinary findings.

pub mod admission;
pub mod builtin;
pub mod pod_security;
pub mod selector;
pub mod settings;
pub mod suppress;

use crate::config::Config;
use crate::finding::EntryPointKind;
use crate::finding::Finding;
use crate::finding::location;
use crate::kustomize::build::Rendered;
use crate::source::Repo;

/// The entry point a policy pass runs for.
pub struct EntryPoint<'a> {
    pub name: &'a str,
    /// The rendered directory.
    pub path: &'a str,
    pub kind: EntryPointKind,
    /// Whether the render is a whole application (not a base other overlays build on), so
    /// cross-object rules apply.
    pub complete: bool,
}

/// The environment of an entry point, the one answer for the policy settings and the audit. A
/// plain overlay is in the environment its directory matches. A Flux entry point or HelmRelease
/// is in its cluster's environment (its name starts with the cluster directory, e.g.
/// `clusters/production/...`), falling back to the directory it renders: a shared
/// `infrastructure/controllers` applied by the production cluster is production.
pub fn environment<'a>(config: &'a Config, kind: EntryPointKind, name: &str, path: &str) -> Option<&'a str> {
    match kind {
        EntryPointKind::Kustomize => config.environment_of(path),
        EntryPointKind::Flux | EntryPointKind::HelmRelease => {
            config.environment_of(name).or_else(|| config.environment_of(path))
        }
    }
}

/// Runs the built-in rules over one rendered entry point with its environment's settings,
/// appends their findings, then applies the objects' `fluxgate.io/ignore` annotations to every
/// finding of the entry point (schema, built-in and admission-policy findings alike). Call it
/// after every other per-object check of the entry point. Returns which annotation
/// suppressions matched, for [`finish`].
pub fn check_entry_point(
    repo: &Repo,
    config: &Config,
    ep: &EntryPoint,
    rendered: &Rendered,
    findings: &mut Vec<Finding>,
) -> suppress::Usage {
    let env = environment(config, ep.kind, ep.name, ep.path);
    let rules = builtin::RuleSet::new(&config.policy, env);
    let mut markers = Vec::new();
    if rules.on(crate::rules::Rule::ImageAutomationNotAllowed) {
        for p in &rendered.files {
            let Ok(f) = repo.read(p) else { continue };
            if f.text.contains("$imagepolicy") {
                let locs = builtin::objects::marker_locs(f.id, &f.text);
                if !locs.is_empty() {
                    markers.push((p.clone(), locs));
                }
            }
        }
    }
    let ctx = builtin::Ctx { rules: &rules, complete: ep.complete, markers: &markers };
    for h in builtin::evaluate(&rendered.resources, &ctx) {
        let Some(severity) = rules.get(h.rule).severity else { continue };
        // Chart output has no lines of its own: the message names the field, as schema
        // findings on it do.
        let message = match (&h.path, ep.kind) {
            (Some(p), EntryPointKind::HelmRelease) => format!("{p}: {}", h.message),
            _ => h.message,
        };
        let mut f = Finding::new(h.rule, message).at(location(repo, h.loc)).entry_point(ep.name).help(h.help);
        f.severity = severity;
        f.object = h.object.map(|i| rendered.resources[i].object_ref());
        findings.push(f);
    }
    suppress::apply_annotations(repo, ep.name, &rendered.resources, findings)
}

/// Run-level end of the policy pass: applies `.fluxgate.yaml` suppressions to every finding
/// and, when the run checked everything (`complete`: no shard, no partial `--base`), reports
/// the suppressions that matched nothing as `suppression-unused`.
pub fn finish(config: &Config, findings: &mut Vec<Finding>, usage: suppress::Usage, complete: bool) {
    suppress::finish(config, findings, usage, complete);
}
