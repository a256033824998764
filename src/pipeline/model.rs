//! The report model of one run: what every reporter formats (entry points, findings, summary,
//! schema coverage, the change scope of `--base`). Reporters only read it.

use std::collections::BTreeMap;

use serde::Serialize;

pub use crate::finding::EntryPointKind;
use crate::finding::{Finding, ObjectRef, Severity};
use crate::source::{RelPath, Repo};

/// One rendered entry point and what came out of it.
#[derive(Clone, Debug, Serialize)]
pub struct EntryPointReport {
    /// Stable name: the overlay directory relative to the root (`apps/production/web`), or for
    /// a Flux Kustomization `<cluster dir>/<namespace>/<name>`
    /// (`clusters/production/flux-system/apps`).
    pub name: String,
    pub kind: EntryPointKind,
    /// The directory that was rendered, relative to the root.
    pub path: String,
    /// Whether rendering succeeded (a failed render still has findings, and no objects).
    pub rendered: bool,
    /// The objects rendered, in output order.
    pub objects: Vec<ObjectRef>,
}

/// Counts shown in every report.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct Summary {
    pub entry_points: usize,
    pub entry_points_failed: usize,
    /// HelmReleases not rendered because no helm binary was found: not entry points of the
    /// report and not failed renders; one `helm-skipped` finding says so.
    pub entry_points_skipped: usize,
    pub objects: usize,
    pub errors: usize,
    pub warnings: usize,
    pub infos: usize,
    pub suppressed: usize,
}

/// A kind rendered without any schema to check it against.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct UncheckedKind {
    pub api_version: String,
    pub kind: String,
    pub count: usize,
    /// One line: which project ships the kind, or how to add its schema.
    pub hint: String,
}

/// A kind checked against a schema, and where that schema came from.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct CheckedKind {
    pub api_version: String,
    pub kind: String,
    pub count: usize,
    /// `kubernetes`, `repository-crd`, `repository-catalog`, `bundled-flux` or `bundled-catalog`.
    pub source_type: String,
    /// Where exactly: `Kubernetes 1.37`, `CRD in <file>`, `schema catalog <file>`,
    /// `bundled cert-manager v1.21.1 CRDs`.
    pub source: String,
}

/// How much of what was rendered was checked against a schema.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct SchemaCoverage {
    pub kubernetes_version: String,
    pub checked: usize,
    pub total: usize,
    /// Kinds with no schema, most frequent first.
    pub unchecked: Vec<UncheckedKind>,
    /// Kinds checked against a schema, with the schema's source, sorted by apiVersion and kind.
    pub checked_kinds: Vec<CheckedKind>,
    /// CEL rule evaluations skipped (transition rules using `oldSelf`, unsupported functions).
    pub cel_rules_skipped: usize,
}

impl SchemaCoverage {
    /// Percentage of objects checked (100 when nothing was rendered).
    pub fn percent(&self) -> f64 {
        if self.total == 0 { 100.0 } else { self.checked as f64 * 100.0 / self.total as f64 }
    }
}

/// The result of a whole run, as every reporter sees it. Findings are sorted by
/// [`Finding::sort_key`], entry points by name.
#[derive(Clone, Debug, Serialize)]
pub struct RunReport {
    pub version: u32,
    pub summary: Summary,
    pub entry_points: Vec<EntryPointReport>,
    pub findings: Vec<Finding>,
    /// Schema coverage of the run (absent when schemas were not checked).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema_coverage: Option<SchemaCoverage>,
    /// What a `--base` run compared and selected (absent on a full run).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changes: Option<ChangeScope>,
    /// The helm binary that rendered HelmReleases (absent when none was used).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub helm: Option<crate::helm::release::HelmInfo>,
    /// The team/owner of each rendered object, per entry point: the value of the first
    /// `audit.teamLabels` key among its labels, else among its annotations (absent when it
    /// carries none). Read by the audit report; not part of the validate JSON.
    #[serde(skip)]
    pub teams: BTreeMap<(String, ObjectRef), String>,
}

/// The change set of a `validate --base REF` run, so a reader sees why these entry points.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct ChangeScope {
    /// The ref given with `--base`.
    pub base: String,
    /// `git merge-base BASE HEAD`, the commit the working tree was compared with.
    pub merge_base: String,
    /// Changed paths relative to the root (deleted ones and both sides of renames included).
    pub changed_files: Vec<String>,
    /// Why every entry point was checked (a config, CRD or schema catalog change), if so.
    pub everything: Option<String>,
    /// Plain entry points whose kustomization the change deleted.
    pub removed_entry_points: Vec<String>,
}

impl RunReport {
    /// Builds the report: sorts everything and computes the summary.
    pub fn new(mut entry_points: Vec<EntryPointReport>, mut findings: Vec<Finding>) -> RunReport {
        entry_points.sort_by(|a, b| a.name.cmp(&b.name));
        findings.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
        findings.dedup();
        let mut summary = Summary {
            entry_points: entry_points.len(),
            entry_points_failed: entry_points.iter().filter(|e| !e.rendered).count(),
            objects: entry_points.iter().map(|e| e.objects.len()).sum(),
            ..Summary::default()
        };
        for f in &findings {
            if f.suppressed.is_some() {
                summary.suppressed += 1;
                continue;
            }
            match f.severity {
                Severity::Error => summary.errors += 1,
                Severity::Warning => summary.warnings += 1,
                Severity::Info => summary.infos += 1,
            }
        }
        RunReport {
            version: 1,
            summary,
            entry_points,
            findings,
            schema_coverage: None,
            changes: None,
            teams: BTreeMap::new(),
            helm: None,
        }
    }
}

/// Gives reporters the text of source lines for snippets.
pub trait SourceText {
    /// The text of 1-based `line` of the repository file `file` (root-relative, `/`-separated).
    fn line(&self, file: &str, line: u32) -> Option<String>;
}

impl SourceText for Repo {
    fn line(&self, file: &str, line: u32) -> Option<String> {
        let p = RelPath::parse(file)?;
        self.read(&p).ok()?.line_text(line).map(str::to_string)
    }
}
