//! `fluxgate audit`: the health of a whole repository in one document. It is built from the same
//! [`RunReport`] a `validate` run produces (the pipeline is not forked) and adds what people ask
//! of a bulk audit: findings grouped by rule, environment and team, the suppressions and their
//! reasons, every entry point with its objects, the source snippet of every finding, and, with a
//! previous audit, what got better or worse ([`compare`]).
//!
//! The [`Audit`] document is a contract: it is written as JSON (`schemaVersion` 1, described by
//! `docs/audit.schema.json`), and the HTML and Markdown reports only format it, so the three
//! always show the same numbers. Keys are only ever added within a schema version.

pub mod compare;
pub mod html;
pub mod markdown;

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::config::Config;
use crate::finding::{Finding, ObjectRef, Severity};
use crate::report::{EntryPointKind, EntryPointReport, RunReport, SourceText};

/// The version of the audit JSON document; bumped only when a key changes meaning or goes away.
pub const SCHEMA_VERSION: u32 = 1;

/// The group name of findings and entry points with no environment or no team.
pub const NONE: &str = "(none)";

/// Longest snippet line kept (characters); longer lines end in `…`.
const SNIPPET_LINE_MAX: usize = 300;

/// One audit of a repository: everything the HTML, Markdown and JSON reports show.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Audit {
    /// Always [`SCHEMA_VERSION`].
    pub schema_version: u32,
    pub tool: Tool,
    /// Given with `--generated-at` (no clock is read, so the output is reproducible).
    pub generated_at: Option<String>,
    /// The Kubernetes version the objects were checked against.
    pub kubernetes_version: Option<String>,
    pub config: ConfigInfo,
    pub summary: AuditSummary,
    /// Every rule with at least one finding (suppressed ones included), most findings first.
    pub by_rule: Vec<RuleCount>,
    /// Every environment of the config plus `(none)`, most findings first.
    pub by_environment: Vec<GroupCount>,
    /// Every team found on an object plus `(none)`, most findings first.
    pub by_team: Vec<GroupCount>,
    /// Every finding, suppressed ones included, in the run's order.
    pub findings: Vec<AuditFinding>,
    /// Suppressed findings grouped by reason and rule.
    pub suppressions: Vec<SuppressionGroup>,
    pub entry_points: Vec<AuditEntryPoint>,
    pub schema_coverage: Option<Coverage>,
    /// Set by `--compare PREVIOUS.json`.
    #[serde(default)]
    pub compare: Option<compare::Comparison>,
}

/// Which fluxgate wrote the audit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tool {
    pub name: String,
    pub version: String,
}

/// The configuration the audit ran with.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfigInfo {
    /// `.fluxgate.yaml` when the repository has one.
    pub file: Option<String>,
    /// The config file's text as read.
    pub text: Option<String>,
    pub team_labels: Vec<String>,
    pub environments: Vec<EnvironmentInfo>,
    pub ignore: Vec<String>,
}

/// One configured environment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvironmentInfo {
    pub name: String,
    pub globs: Vec<String>,
}

/// Findings by severity. Suppressed findings count only in `suppressed`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Unsuppressed findings (`errors + warnings + infos`).
    pub findings: usize,
    pub errors: usize,
    pub warnings: usize,
    pub infos: usize,
    pub suppressed: usize,
}

impl Counts {
    fn add(&mut self, severity: Severity, suppressed: bool) {
        if suppressed {
            self.suppressed += 1;
            return;
        }
        self.findings += 1;
        match severity {
            Severity::Error => self.errors += 1,
            Severity::Warning => self.warnings += 1,
            Severity::Info => self.infos += 1,
        }
    }

    /// The order groups are listed in: most errors, then most findings, then most suppressed.
    fn rank(&self) -> impl Ord {
        (std::cmp::Reverse(self.errors), std::cmp::Reverse(self.findings), std::cmp::Reverse(self.suppressed))
    }
}

/// The headline numbers.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditSummary {
    pub entry_points: usize,
    pub entry_points_failed: usize,
    pub objects: usize,
    #[serde(flatten)]
    pub counts: Counts,
    pub rules: usize,
    pub environments: usize,
    pub teams: usize,
}

/// Findings of one rule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleCount {
    pub rule: String,
    /// What the rule catches (absent for a rule this fluxgate does not know, e.g. in an older
    /// audit read with `--compare`).
    pub summary: Option<String>,
    pub default_severity: Option<String>,
    #[serde(flatten)]
    pub counts: Counts,
}

/// Findings, entry points and objects of one environment or team.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupCount {
    pub name: String,
    pub entry_points: usize,
    pub objects: usize,
    #[serde(flatten)]
    pub counts: Counts,
}

/// The object a finding is about, or one rendered object.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditObject {
    pub api_version: String,
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
}

impl AuditObject {
    fn of(o: &ObjectRef) -> AuditObject {
        AuditObject {
            api_version: o.api_version().to_string(),
            kind: o.kind().to_string(),
            namespace: o.namespace().map(str::to_string),
            name: o.name().to_string(),
        }
    }

    /// `Kind/namespace/name` (`_` for no namespace), as the other reports name objects.
    pub fn display(&self) -> String {
        format!("{}/{}/{}", self.kind, self.namespace.as_deref().unwrap_or("_"), self.name)
    }
}

/// Where a finding points.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AuditLocation {
    pub file: String,
    pub line: u32,
    pub column: u32,
}

/// One source line of a snippet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnippetLine {
    pub line: u32,
    pub text: String,
}

/// One finding with the groups it belongs to and its source snippet.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditFinding {
    pub rule: String,
    pub severity: String,
    pub entry_point: Option<String>,
    pub environment: String,
    pub team: String,
    pub object: Option<AuditObject>,
    pub location: Option<AuditLocation>,
    pub message: String,
    pub help: Option<String>,
    /// The suppression's reason when the finding is suppressed.
    pub suppressed: Option<String>,
    /// The finding's line with one line of context either side (empty when there is no file).
    pub snippet: Vec<SnippetLine>,
    /// Fields later added to a finding (e.g. the admission policy that raised it), as the
    /// validate JSON report names them.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

impl AuditFinding {
    /// `file:line` or the empty string.
    pub fn file_line(&self) -> String {
        self.location.as_ref().map(|l| format!("{}:{}", l.file, l.line)).unwrap_or_default()
    }

    /// The identity used to tell new from fixed findings across audits: rule, file, object and
    /// message (not the line, which moves with unrelated edits).
    pub fn identity(&self) -> (String, Option<String>, Option<String>, String) {
        (
            self.rule.clone(),
            self.location.as_ref().map(|l| l.file.clone()),
            self.object.as_ref().map(AuditObject::display),
            self.message.clone(),
        )
    }
}

/// Suppressed findings of one reason and rule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuppressionGroup {
    pub reason: String,
    pub rule: String,
    pub count: usize,
}

/// One rendered object of an entry point.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryPointObject {
    #[serde(flatten)]
    pub object: AuditObject,
    pub team: String,
}

/// One entry point with its objects and finding counts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntryPoint {
    pub name: String,
    /// `kustomize` or `flux`.
    pub kind: String,
    pub path: String,
    pub environment: String,
    pub rendered: bool,
    pub objects: Vec<EntryPointObject>,
    #[serde(flatten)]
    pub counts: Counts,
}

/// How much was checked against a schema.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Coverage {
    pub checked: usize,
    pub total: usize,
    pub unchecked: Vec<UncheckedKindInfo>,
}

/// A kind rendered without a schema.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UncheckedKindInfo {
    pub api_version: String,
    pub kind: String,
    pub count: usize,
}

/// What the audit needs besides the run: the config and how the report should be labelled.
pub struct AuditInput<'a> {
    pub config: &'a Config,
    /// The config file's text, when the repository has one.
    pub config_text: Option<&'a str>,
    pub generated_at: Option<String>,
}

/// The environment of an entry point, as the policy settings chose it, else `(none)`.
fn environment_of(config: &Config, e: &EntryPointReport) -> String {
    crate::policy::environment(config, e.kind, &e.name, &e.path).unwrap_or(NONE).to_string()
}

fn kind_name(kind: EntryPointKind) -> &'static str {
    match kind {
        EntryPointKind::Kustomize => "kustomize",
        EntryPointKind::Flux => "flux",
        EntryPointKind::HelmRelease => "helmrelease",
    }
}

/// Cuts a line to [`SNIPPET_LINE_MAX`] characters.
fn clip(line: String) -> String {
    if line.chars().count() <= SNIPPET_LINE_MAX {
        return line;
    }
    let mut s: String = line.chars().take(SNIPPET_LINE_MAX).collect();
    s.push('…');
    s
}

/// The finding's line and one line either side, as far as they exist.
fn snippet(source: &dyn SourceText, f: &Finding) -> Vec<SnippetLine> {
    let Some(l) = &f.location else { return Vec::new() };
    (l.line.saturating_sub(1).max(1)..=l.line + 1)
        .filter_map(|n| source.line(&l.file, n).map(|text| SnippetLine { line: n, text: clip(text) }))
        .collect()
}

/// Keys of a serialized [`Finding`] that [`AuditFinding`] names itself.
const FINDING_KEYS: &[&str] =
    &["rule", "severity", "entry_point", "object", "location", "message", "help", "suppressed"];

/// Any field of the finding beyond the ones the audit names (added to `Finding` later).
fn extra_fields(f: &Finding) -> BTreeMap<String, Value> {
    match serde_json::to_value(f) {
        Ok(Value::Object(m)) => {
            m.into_iter().filter(|(k, v)| !FINDING_KEYS.contains(&k.as_str()) && !v.is_null()).collect()
        }
        _ => BTreeMap::new(),
    }
}

/// Sorts groups by [`Counts::rank`], then name, keeping `(none)` last among equals.
fn sort_groups(groups: &mut [GroupCount]) {
    groups.sort_by(|a, b| {
        a.counts.rank().cmp(&b.counts.rank()).then((a.name == NONE).cmp(&(b.name == NONE))).then(a.name.cmp(&b.name))
    });
}

/// Builds the audit of a finished run.
// long: one pass over the findings fills every audit section (rules, environments, teams,
// suppressions, entry points) from the same per-finding facts; a split is planned in
// docs/ARCHITECTURE.md once the audit gains its next section.
pub fn build(report: &RunReport, source: &dyn SourceText, input: &AuditInput) -> Audit {
    let config = input.config;
    let env_of_ep: BTreeMap<&str, String> =
        report.entry_points.iter().map(|e| (e.name.as_str(), environment_of(config, e))).collect();
    let team_of = |ep: Option<&str>, obj: Option<&ObjectRef>| -> String {
        match (ep, obj) {
            (Some(ep), Some(o)) => {
                report.teams.get(&(ep.to_string(), o.clone())).cloned().unwrap_or_else(|| NONE.to_string())
            }
            _ => NONE.to_string(),
        }
    };

    let findings: Vec<AuditFinding> = report
        .findings
        .iter()
        .map(|f| {
            let ep = f.entry_point.as_deref();
            let environment = match ep.and_then(|n| env_of_ep.get(n)) {
                Some(e) => e.clone(),
                None => f
                    .location
                    .as_ref()
                    .and_then(|l| config.environment_of(&l.file))
                    .or_else(|| ep.and_then(|n| config.environment_of(n)))
                    .unwrap_or(NONE)
                    .to_string(),
            };
            AuditFinding {
                rule: f.rule.id().to_string(),
                severity: f.severity.as_str().to_string(),
                entry_point: f.entry_point.clone(),
                environment,
                team: team_of(ep, f.object.as_ref()),
                object: f.object.as_ref().map(AuditObject::of),
                location: f.location.as_ref().map(|l| AuditLocation {
                    file: l.file.clone(),
                    line: l.line,
                    column: l.column,
                }),
                message: f.message.clone(),
                help: f.help.clone(),
                suppressed: f.suppressed.clone(),
                snippet: snippet(source, f),
                extra: extra_fields(f),
            }
        })
        .collect();

    // Entry points, their objects and teams.
    let mut ep_counts: BTreeMap<&str, Counts> = BTreeMap::new();
    for (f, af) in report.findings.iter().zip(&findings) {
        if let Some(ep) = &af.entry_point {
            ep_counts.entry(ep.as_str()).or_default().add(f.severity, f.suppressed.is_some());
        }
    }
    let mut env_groups: BTreeMap<String, GroupCount> = BTreeMap::new();
    let mut team_groups: BTreeMap<String, GroupCount> = BTreeMap::new();
    fn entry<'m>(map: &'m mut BTreeMap<String, GroupCount>, name: &str) -> &'m mut GroupCount {
        map.entry(name.to_string()).or_insert_with(|| GroupCount {
            name: name.to_string(),
            entry_points: 0,
            objects: 0,
            counts: Counts::default(),
        })
    }
    for env in &config.environments {
        entry(&mut env_groups, &env.name);
    }
    entry(&mut env_groups, NONE);
    let mut entry_points = Vec::new();
    for e in &report.entry_points {
        let environment = env_of_ep.get(e.name.as_str()).cloned().unwrap_or_else(|| NONE.to_string());
        let g = entry(&mut env_groups, &environment);
        g.entry_points += 1;
        g.objects += e.objects.len();
        let mut teams_here: BTreeSet<String> = BTreeSet::new();
        let objects: Vec<EntryPointObject> = e
            .objects
            .iter()
            .map(|o| {
                let team = team_of(Some(&e.name), Some(o));
                entry(&mut team_groups, &team).objects += 1;
                teams_here.insert(team.clone());
                EntryPointObject { object: AuditObject::of(o), team }
            })
            .collect();
        for t in teams_here {
            entry(&mut team_groups, &t).entry_points += 1;
        }
        entry_points.push(AuditEntryPoint {
            name: e.name.clone(),
            kind: kind_name(e.kind).to_string(),
            path: e.path.clone(),
            environment,
            rendered: e.rendered,
            objects,
            counts: ep_counts.get(e.name.as_str()).copied().unwrap_or_default(),
        });
    }

    let mut rules: BTreeMap<crate::rules::Rule, Counts> = BTreeMap::new();
    let mut reasons: BTreeMap<(String, String), usize> = BTreeMap::new();
    let mut totals = Counts::default();
    for (f, af) in report.findings.iter().zip(&findings) {
        let suppressed = f.suppressed.is_some();
        totals.add(f.severity, suppressed);
        rules.entry(f.rule).or_default().add(f.severity, suppressed);
        entry(&mut env_groups, &af.environment).counts.add(f.severity, suppressed);
        entry(&mut team_groups, &af.team).counts.add(f.severity, suppressed);
        if let Some(reason) = &f.suppressed {
            *reasons.entry((reason.clone(), af.rule.clone())).or_default() += 1;
        }
    }
    let mut by_rule: Vec<RuleCount> = rules
        .into_iter()
        .map(|(r, counts)| RuleCount {
            rule: r.id().to_string(),
            summary: Some(r.summary().to_string()),
            default_severity: Some(r.default_severity().as_str().to_string()),
            counts,
        })
        .collect();
    by_rule.sort_by(|a, b| a.counts.rank().cmp(&b.counts.rank()).then(a.rule.cmp(&b.rule)));
    let mut by_environment: Vec<GroupCount> = env_groups.into_values().collect();
    sort_groups(&mut by_environment);
    let mut by_team: Vec<GroupCount> = team_groups.into_values().collect();
    sort_groups(&mut by_team);

    let summary = AuditSummary {
        entry_points: report.summary.entry_points,
        entry_points_failed: report.summary.entry_points_failed,
        objects: report.summary.objects,
        counts: totals,
        rules: by_rule.len(),
        environments: by_environment.iter().filter(|g| g.name != NONE).count(),
        teams: by_team.iter().filter(|g| g.name != NONE).count(),
    };
    let kubernetes_version = report
        .schema_coverage
        .as_ref()
        .map(|c| c.kubernetes_version.clone())
        .or_else(|| config.kubernetes_version.clone());
    Audit {
        schema_version: SCHEMA_VERSION,
        tool: Tool { name: "fluxgate".into(), version: env!("CARGO_PKG_VERSION").into() },
        generated_at: input.generated_at.clone(),
        kubernetes_version,
        config: ConfigInfo {
            file: input.config_text.map(|_| crate::config::FILE_NAME.to_string()),
            text: input.config_text.map(str::to_string),
            team_labels: config.audit.team_labels.clone(),
            environments: config
                .environments
                .iter()
                .map(|e| EnvironmentInfo { name: e.name.clone(), globs: e.globs.clone() })
                .collect(),
            ignore: config.ignore.clone(),
        },
        summary,
        by_rule,
        by_environment,
        by_team,
        findings,
        suppressions: reasons
            .into_iter()
            .map(|((reason, rule), count)| SuppressionGroup { reason, rule, count })
            .collect(),
        entry_points,
        schema_coverage: report.schema_coverage.as_ref().map(|c| Coverage {
            checked: c.checked,
            total: c.total,
            unchecked: c
                .unchecked
                .iter()
                .map(|u| UncheckedKindInfo { api_version: u.api_version.clone(), kind: u.kind.clone(), count: u.count })
                .collect(),
        }),
        compare: None,
    }
}

/// Writes the audit as one pretty-printed JSON document with a trailing newline.
pub fn write_json(audit: &Audit, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, audit)?;
    out.write_all(b"\n")
}

/// Reads a previous audit (for `--compare`); a document of another schema version is refused.
pub fn read_json(text: &str) -> Result<Audit, String> {
    let v: Value = serde_json::from_str(text).map_err(|e| format!("not a JSON document: {e}"))?;
    match v.get("schemaVersion").and_then(Value::as_u64) {
        Some(n) if n == u64::from(SCHEMA_VERSION) => {}
        Some(n) => return Err(format!("schemaVersion {n} is not supported (this fluxgate reads {SCHEMA_VERSION})")),
        None => return Err("not a fluxgate audit: no schemaVersion".into()),
    }
    serde_json::from_value(v).map_err(|e| format!("not a fluxgate audit: {e}"))
}

#[cfg(test)]
mod tests;
