//! How a plain overlay stands to the Flux tree, which decides how far its own render is to be
//! believed. A plain overlay that a Flux Kustomization builds reaches the cluster only the way
//! Flux builds it. One that lies inside a part of the tree that Flux builds, but that the build
//! leaves out (an app commented out of its namespace's `kustomization.yaml`), or next to a Flux
//! Kustomization that no controller applies (an archived app), is a disabled part of the tree
//! and reaches the cluster not at all: its findings are infos. Any other overlay is an entry
//! point of its own (applied by `kubectl apply -k`, a bootstrap script, a cluster whose sync is
//! not in the repository): checked in full, but in a Flux-managed repository nothing shows that
//! it is applied at all, so its errors are warnings; in a repository without Flux they stay
//! errors.

use std::collections::{BTreeMap, BTreeSet};

use crate::finding::{Finding, Severity};
use crate::flux::tree::FluxEntry;
use crate::kustomize::build::kustomization_file;
use crate::kustomize::kustomization::FILE_NAMES;
use crate::source::{RelPath, Repo};

use super::check::Checked;

/// What the Flux tree's renders reached.
#[derive(Default)]
pub(super) struct FluxReach {
    /// Every file a Flux entry point read, with the first such entry point: the kustomization
    /// files in it are the plain overlays whose objects reach the cluster through Flux.
    read: BTreeMap<RelPath, String>,
    /// Directories whose content Flux decides (not the repository root, which holds
    /// everything): what a Flux entry point built, the directory of every kustomization file
    /// one read, and the directory of a Flux Kustomization that no controller applies; each
    /// with why, for the message.
    decided: BTreeMap<RelPath, String>,
    /// Every file a Flux entry point that failed to render read: an overlay among them is
    /// built by Flux (which reports the failure), so it is neither subsumed nor left out.
    failed: BTreeSet<RelPath>,
    /// Whether a Flux entry point rendered from this repository: then the repository is
    /// Flux-managed, and what Flux does not apply is applied, if at all, by other means.
    managed: bool,
}

impl FluxReach {
    /// Collects what every Flux render read and built, and what is dead with the
    /// Kustomizations no controller applies. An entry point that rendered nothing (a source out
    /// of scope) read no file and built no directory.
    pub(super) fn of(repo: &Repo, entries: &[FluxEntry]) -> FluxReach {
        let mut out = FluxReach::default();
        for e in entries {
            if let Some(d) = &e.disabled {
                out.note_disabled(repo, d, &e.name);
            }
            let r = match &e.result {
                Ok(r) => r,
                Err(f) => {
                    out.failed.extend(f.files.iter().cloned());
                    continue;
                }
            };
            if r.files.is_empty() {
                continue;
            }
            out.managed = true;
            for f in &r.files {
                out.read.entry(f.clone()).or_insert_with(|| e.name.clone());
            }
            if let Some(d) = RelPath::parse(&e.dir).filter(|d| !d.is_root()) {
                out.decided.entry(d).or_insert_with(|| format!("which Flux Kustomization {} builds", e.name));
            }
        }
        let kustomizations: Vec<(RelPath, String)> = out
            .read
            .iter()
            .filter(|(f, _)| FILE_NAMES.contains(&f.file_name()))
            .map(|(f, e)| (f.parent(), e.clone()))
            .filter(|(d, _)| !d.is_root())
            .collect();
        for (d, e) in kustomizations {
            out.decided.entry(d).or_insert_with(|| format!("whose kustomization Flux Kustomization {e} reads"));
        }
        out
    }

    /// The directory that is dead with a Flux Kustomization no controller applies
    /// ([`FluxEntry::disabled`]), unless it is the root or an overlay of its own (it has a
    /// kustomization file: an app directory holds a `ks.yaml` and the app, not one).
    fn note_disabled(&mut self, repo: &Repo, dir: &RelPath, flux: &str) {
        if dir.is_root() || kustomization_file(repo, dir).is_some() {
            return;
        }
        self.decided
            .entry(dir.clone())
            .or_insert_with(|| format!("which holds Flux Kustomization {flux}, which no controller applies"));
    }

    /// Adjusts the checked plain overlay at `dir` to how it reaches the cluster (see the
    /// module docs); an overlay of its own is left as checked.
    pub(super) fn judge(&self, repo: &Repo, dir: &RelPath, checked: &mut Checked) {
        self.judge_findings(repo, dir, checked.report.rendered, &mut checked.findings);
    }

    /// [`FluxReach::judge`] on the findings of an overlay's check (`rendered`: whether its
    /// render succeeded).
    pub(super) fn judge_findings(&self, repo: &Repo, dir: &RelPath, rendered: bool, findings: &mut Vec<Finding>) {
        let own = kustomization_file(repo, dir);
        if let Some(flux) = own.as_ref().and_then(|k| self.read.get(k)) {
            return subsume_by_flux(rendered, findings, flux);
        }
        // Built by a Flux Kustomization that fails: checked in full, as Flux reports it.
        if own.as_ref().is_some_and(|k| self.failed.contains(k)) {
            return;
        }
        // The deepest such directory (an ancestor sorts before its descendants).
        if let Some((decided, why)) = self.decided.iter().rev().find(|(d, _)| dir.starts_with(d) && *d != dir) {
            left_out(findings, dir, decided, why);
        } else if self.managed {
            unreached(findings, dir);
        }
    }
}

/// A plain overlay that Flux entry point `flux` builds: Flux's render decides. Its object
/// findings are dropped (the Flux entry point reports what applies); its failure alone, when
/// Flux builds it, is an info.
fn subsume_by_flux(rendered: bool, findings: &mut Vec<Finding>, flux: &str) {
    if rendered {
        findings.retain(|f| f.object.is_none());
    } else {
        built_by_flux_only(findings, flux);
    }
}

/// A plain overlay's render failed, but a Flux Kustomization (`flux`) built its directory:
/// kustomize fails on the directory alone (a patch whose target only the Kustomization's
/// `spec.components` add, say), the cluster does not. Its findings become infos that say so.
fn built_by_flux_only(findings: &mut [Finding], flux: &str) {
    for f in findings {
        f.severity = Severity::Info;
        f.message = format!(
            "{}; `kustomize build` of this directory alone fails, but Flux Kustomization {flux} builds it (with its spec.components and patches) without this failure",
            f.message
        );
    }
}

/// A plain overlay at `dir` of a Flux-managed repository that no Flux Kustomization reaches:
/// a bootstrap overlay applied by hand, a template a script fills in, an old copy. Its failures are certain only if something
/// applies it, which the repository does not show: its errors become warnings that say so.
fn unreached(findings: &mut [Finding], dir: &RelPath) {
    for f in findings.iter_mut().filter(|f| f.severity == Severity::Error) {
        f.severity = Severity::Warning;
        f.message = format!(
            "{}; no Flux Kustomization of this repository applies {dir}, so this fails only where something else applies it (`kubectl apply -k`, a script)",
            f.message
        );
    }
}

/// A plain overlay at `dir`, below directory `decided` whose content Flux decides (`why`)
/// without this overlay: nothing applies it, and were it included again it would be applied
/// by Flux, after the parent's `spec.patches` and substitution that its plain render lacks (a
/// child Kustomization's `prune` and `sourceRef` often come from there). Its findings become
/// infos that say so; the Flux render checks it once it is included.
fn left_out(findings: &mut [Finding], dir: &RelPath, decided: &RelPath, why: &str) {
    for f in findings {
        if f.severity == Severity::Info {
            continue;
        }
        f.severity = Severity::Info;
        f.message = format!(
            "{}; not applied: {dir} is below {decided}, {why}, and no Flux Kustomization includes it (a disabled part of the tree, checked by Flux's render once it is included)",
            f.message
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::Rule;

    #[test]
    fn left_out_findings_become_infos_that_name_the_builder() {
        let mut fs = vec![Finding::new(Rule::SchemaRequired, "missing required field 'prune'")];
        fs[0].severity = Severity::Error;
        let dir = RelPath::parse("k/apps/off").unwrap();
        let built = RelPath::parse("k/apps").unwrap();
        left_out(&mut fs, &dir, &built, "which Flux Kustomization k/flux/flux-system/apps builds");
        assert_eq!(fs[0].severity, Severity::Info);
        assert!(fs[0].message.contains("not applied: k/apps/off is below k/apps, which Flux"), "{}", fs[0].message);
    }

    #[test]
    fn unreached_errors_become_warnings_and_warnings_stay() {
        let mut fs = vec![
            Finding::new(Rule::FileNotFound, "'bootstrap/cni/values.yaml' does not exist"),
            Finding::new(Rule::NamespaceMissing, "ConfigMap 'x' has no namespace"),
        ];
        fs[0].severity = Severity::Error;
        fs[1].severity = Severity::Warning;
        unreached(&mut fs, &RelPath::parse("bootstrap/cni").unwrap());
        assert_eq!(fs[0].severity, Severity::Warning);
        assert!(
            fs[0].message.contains("no Flux Kustomization of this repository applies bootstrap/cni"),
            "{}",
            fs[0].message
        );
        assert_eq!(fs[1].message, "ConfigMap 'x' has no namespace");
    }
}
