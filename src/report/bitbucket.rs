//! Bitbucket Server / Data Center Code Insights: the report card and the line annotations of a
//! pull request, in the shapes of the Code Insights REST API (Bitbucket Server 5.15+), so
//! `fluxgate publish bitbucket-insights` sends them unchanged.
//!
//! The file `validate --bitbucket-insights FILE` writes:
//!
//! ```json
//! { "key": "fluxgate",
//!   "report": { "title", "details", "result": "PASS" | "FAIL", "reporter", "link"?,
//!               "data": [ { "title", "type": "NUMBER" | "PERCENTAGE", "value" } ] },
//!   "annotations": [ { "path"?, "line"?, "message", "severity": "HIGH" | "MEDIUM" | "LOW",
//!                      "type": "BUG" | "CODE_SMELL" | "VULNERABILITY", "link"?, "externalId" } ] }
//! ```
//!
//! `report` is the body of `PUT .../reports/{key}`; `annotations`, in batches, the
//! `annotations` array of `POST .../reports/{key}/annotations`. The API's limits are kept here:
//! at most [`MAX_ANNOTATIONS`] annotations (the most severe, in report order; the details say
//! how many were left out), messages and details of at most 2000 UTF-16 units (Bitbucket is a
//! Java server), a title and reporter of at most 450, at most [`MAX_DATA`] data fields,
//! external ids unique and at most 450. Paths are relative to the git repository, not to the
//! fluxgate root: the caller passes the root's prefix inside the repository. Suppressed findings
//! are counted in the card, never annotated. Output is deterministic.

use std::collections::BTreeSet;
use std::io::{self, Write};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::RunReport;
use crate::finding::{Finding, Severity};
use crate::rules::Rule;

/// Annotations one report may hold (Bitbucket rejects more).
pub const MAX_ANNOTATIONS: usize = 1000;
/// Longest annotation message and report details, in UTF-16 code units.
pub const MAX_TEXT: usize = 2000;
/// Longest report title, reporter and annotation external id.
pub const MAX_SHORT: usize = 450;
/// Data fields one report may show.
pub const MAX_DATA: usize = 6;
/// The report key fluxgate publishes under (one report per commit, replaced on every run).
pub const REPORT_KEY: &str = "fluxgate";

/// The report and its annotations, as written to the file and sent to the server.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Insights {
    /// The report key in the URL (`.../reports/{key}`).
    pub key: String,
    pub report: InsightReport,
    pub annotations: Vec<Annotation>,
}

/// The body of `PUT .../reports/{key}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InsightReport {
    pub title: String,
    pub details: String,
    /// `PASS` or `FAIL`: what a required Code Insights merge check reads.
    pub result: String,
    pub reporter: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    pub data: Vec<DataField>,
}

/// One of the report card's data fields.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DataField {
    pub title: String,
    /// `NUMBER`, `PERCENTAGE`, `TEXT`, `BOOLEAN`, `DATE`, `DURATION` or `LINK`.
    #[serde(rename = "type")]
    pub kind: String,
    pub value: serde_json::Value,
}

/// One annotation: a finding on a line of a file of the pull request.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Annotation {
    /// Relative to the git repository; absent for findings about no file (shown on the card).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// 1-based; 0 or absent puts the annotation on the file as a whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    pub message: String,
    /// `HIGH` (error), `MEDIUM` (warning) or `LOW` (info).
    pub severity: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    pub external_id: String,
}

/// What the report needs to know besides the run.
#[derive(Clone, Debug, Default)]
pub struct InsightsOptions {
    /// The fluxgate root inside the git repository (`""` or `gitops/`, with a trailing `/`).
    pub prefix: String,
    /// The report's link (e.g. the CI build), http or https.
    pub report_link: Option<String>,
    /// Where the rules are documented; each annotation links to `<url>#<rule-id>`.
    pub rules_url: Option<String>,
    /// The run fails on warnings too (`--fail-on warning`), so the result does.
    pub fail_on_warning: bool,
}

/// Builds the Code Insights report of `report`.
pub fn insights(report: &RunReport, opts: &InsightsOptions) -> Insights {
    let open: Vec<&Finding> = report.findings.iter().filter(|f| f.suppressed.is_none()).collect();
    // Most severe first; the stable sort keeps report order within a severity.
    let mut ranked = open.clone();
    ranked.sort_by_key(|f| f.severity);
    let kept = &ranked[..ranked.len().min(MAX_ANNOTATIONS)];
    let left_out = &ranked[kept.len()..];
    let mut ids = BTreeSet::new();
    let annotations = kept.iter().map(|f| annotation(f, opts, &mut ids)).collect();
    let failing =
        open.iter().any(|f| f.severity == Severity::Error || (opts.fail_on_warning && f.severity == Severity::Warning));
    Insights {
        key: REPORT_KEY.to_string(),
        report: InsightReport {
            title: "fluxgate".to_string(),
            details: details(report, left_out),
            result: if failing { "FAIL" } else { "PASS" }.to_string(),
            reporter: truncate(&format!("fluxgate {}", env!("CARGO_PKG_VERSION")), MAX_SHORT),
            link: opts.report_link.clone(),
            data: data(report),
        },
        annotations,
    }
}

/// Writes the Code Insights report of `report` as pretty JSON with a trailing newline.
pub fn write_insights(report: &RunReport, opts: &InsightsOptions, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, &insights(report, opts))?;
    out.write_all(b"\n")
}

fn details(report: &RunReport, left_out: &[&Finding]) -> String {
    let s = &report.summary;
    let mut d = format!(
        "{} entry points checked ({} failed to render), {} objects: {} errors, {} warnings, {} infos, {} suppressed.",
        s.entry_points, s.entry_points_failed, s.objects, s.errors, s.warnings, s.infos, s.suppressed
    );
    if let Some(c) = &report.changes {
        d.push_str(&format!(
            "\nChecked what the change from {} affects ({} changed files).",
            c.base,
            c.changed_files.len()
        ));
    }
    if !left_out.is_empty() {
        let count = |sev| left_out.iter().filter(|f| f.severity == sev).count();
        d.push_str(&format!(
            "\n{} findings not annotated (a report holds at most {MAX_ANNOTATIONS}; the most severe are shown): \
             {} errors, {} warnings, {} infos. The build's full report lists them all.",
            left_out.len(),
            count(Severity::Error),
            count(Severity::Warning),
            count(Severity::Info)
        ));
    }
    truncate(&d, MAX_TEXT)
}

fn data(report: &RunReport) -> Vec<DataField> {
    let s = &report.summary;
    let number = |title: &str, n: usize| DataField { title: title.into(), kind: "NUMBER".into(), value: n.into() };
    let mut data = vec![
        number("Errors", s.errors),
        number("Warnings", s.warnings),
        number("Entry points checked", s.entry_points),
        number("Failed renders", s.entry_points_failed),
        number("Suppressed", s.suppressed),
    ];
    if let Some(c) = &report.schema_coverage {
        // One decimal: the card shows the number as given.
        let pct = (c.percent() * 10.0).round() / 10.0;
        data.push(DataField { title: "Schema coverage".into(), kind: "PERCENTAGE".into(), value: pct.into() });
    }
    data.truncate(MAX_DATA);
    data
}

fn annotation(f: &Finding, opts: &InsightsOptions, ids: &mut BTreeSet<String>) -> Annotation {
    let mut message = format!("[{}] {}", f.rule_label(), f.message);
    if let Some(o) = &f.object {
        message.push_str(&format!(" ({})", o.display()));
    }
    if let Some(h) = &f.help {
        message.push_str("\nhelp: ");
        message.push_str(h);
    }
    if let (Some(ep), Some(_)) = (&f.entry_point, &f.location) {
        message.push_str(&format!("\nentry point: {ep}"));
    }
    Annotation {
        path: f.location.as_ref().map(|l| format!("{}{}", opts.prefix, l.file)),
        line: f.location.as_ref().map(|l| l.line),
        message: truncate(&message, MAX_TEXT),
        severity: match f.severity {
            Severity::Error => "HIGH",
            Severity::Warning => "MEDIUM",
            Severity::Info => "LOW",
        }
        .to_string(),
        kind: kind(f).to_string(),
        link: opts.rules_url.as_ref().map(|u| format!("{u}#{}", f.rule.id())),
        external_id: external_id(f, ids),
    }
}

/// `VULNERABILITY` for the rules about a workload's attack surface, `BUG` for other errors,
/// `CODE_SMELL` for the rest.
fn kind(f: &Finding) -> &'static str {
    use Rule::*;
    match f.rule {
        PodRunAsNonRoot
        | PodPrivileged
        | PodPrivilegeEscalation
        | PodCapabilitiesDropAll
        | PodReadOnlyRootFs
        | PodHostNamespace
        | PodHostPath
        | SecretPlain
        | ImageRegistryAllowed
        | ImageDigestRequired => "VULNERABILITY",
        _ if f.severity == Severity::Error => "BUG",
        _ => "CODE_SMELL",
    }
}

/// A stable id from what the finding says and where (so the same finding keeps its id across
/// builds), made unique within the report.
fn external_id(f: &Finding, ids: &mut BTreeSet<String>) -> String {
    let mut h = Sha256::new();
    for part in [
        f.rule_label().as_str(),
        f.entry_point.as_deref().unwrap_or(""),
        &f.object.as_ref().map(|o| o.display()).unwrap_or_default(),
        &f.location.as_ref().map(|l| format!("{}:{}:{}", l.file, l.line, l.column)).unwrap_or_default(),
        &f.message,
    ] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    let digest: String = h.finalize().iter().take(10).map(|b| format!("{b:02x}")).collect();
    let base = format!("fluxgate-{}-{digest}", f.rule.id());
    let mut id = base.clone();
    let mut n = 1;
    while !ids.insert(id.clone()) {
        n += 1;
        id = format!("{base}-{n}");
    }
    id
}

/// `s` cut to at most `max` UTF-16 code units, ending in `…` when cut.
pub fn truncate(s: &str, max: usize) -> String {
    if s.encode_utf16().count() <= max {
        return s.to_string();
    }
    let mut out = String::new();
    let mut units = 0;
    for c in s.chars() {
        if units + c.len_utf16() > max - 1 {
            break;
        }
        units += c.len_utf16();
        out.push(c);
    }
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::Location;
    use crate::report::fixture;

    fn opts() -> InsightsOptions {
        InsightsOptions {
            prefix: "gitops/".into(),
            report_link: Some("https://ci.example.com/build/7".into()),
            rules_url: Some("https://docs.example.com/rules.md".into()),
            fail_on_warning: false,
        }
    }

    #[test]
    fn report_card_and_annotations_have_the_api_shapes() {
        let report = fixture::report();
        let ins = insights(&report, &opts());
        let v = serde_json::to_value(&ins).unwrap();
        assert_eq!(v["key"], "fluxgate");
        assert_eq!(v["report"]["result"], "FAIL");
        assert_eq!(v["report"]["link"], "https://ci.example.com/build/7");
        let data = v["report"]["data"].as_array().unwrap();
        assert!(data.len() <= MAX_DATA);
        assert_eq!(data[0], serde_json::json!({"title": "Errors", "type": "NUMBER", "value": report.summary.errors}));
        // Suppressed findings are not annotated.
        let open = report.findings.iter().filter(|f| f.suppressed.is_none()).count();
        assert_eq!(ins.annotations.len(), open);
        let a = v["annotations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["message"].as_str().unwrap().contains("twice"))
            .unwrap();
        assert_eq!(a["severity"], "HIGH");
        assert_eq!(a["path"], "gitops/apps/base/deploy.yaml");
        assert_eq!(a["line"], 1);
        assert_eq!(a["type"], "BUG");
        assert_eq!(a["link"], "https://docs.example.com/rules.md#duplicate-object");
        assert!(a["message"].as_str().unwrap().starts_with("[duplicate-object] Deployment default/web"));
        assert!(a["externalId"].as_str().unwrap().starts_with("fluxgate-duplicate-object-"));
        // A finding with no file has neither path nor line: Bitbucket shows it on the card.
        let unlocated = ins.annotations.iter().find(|a| a.message.contains("render aborted")).unwrap();
        assert_eq!((unlocated.path.as_ref(), unlocated.line), (None, None));
        // Warnings after errors.
        let sev: Vec<&str> = ins.annotations.iter().map(|a| a.severity.as_str()).collect();
        let mut sorted = sev.clone();
        sorted.sort_by_key(|s| ["HIGH", "MEDIUM", "LOW"].iter().position(|x| x == s));
        assert_eq!(sev, sorted);
    }

    #[test]
    fn passes_without_errors_unless_warnings_fail() {
        let mut report = fixture::report();
        report.findings.retain(|f| f.severity != Severity::Error || f.suppressed.is_some());
        assert_eq!(insights(&report, &opts()).report.result, "PASS");
        let strict = InsightsOptions { fail_on_warning: true, ..opts() };
        assert_eq!(insights(&report, &strict).report.result, "FAIL");
    }

    #[test]
    fn keeps_the_most_severe_thousand_and_says_how_many_were_left_out() {
        let mut findings = Vec::new();
        for i in 0..1200 {
            let f = Finding::new(Rule::ImageTagLatest, format!("tag latest {i}")).at(Some(Location {
                file: format!("apps/{i}.yaml"),
                line: 3,
                column: 1,
            }));
            findings.push(Finding { severity: Severity::Warning, ..f });
        }
        for i in 0..5 {
            findings.push(Finding::new(Rule::DuplicateObject, format!("twice {i}")));
        }
        let report = RunReport::new(vec![], findings);
        let ins = insights(&report, &InsightsOptions::default());
        assert_eq!(ins.annotations.len(), MAX_ANNOTATIONS);
        assert_eq!(ins.annotations.iter().filter(|a| a.severity == "HIGH").count(), 5);
        assert!(ins.report.details.contains("205 findings not annotated"), "{}", ins.report.details);
        assert!(ins.report.details.contains("0 errors, 205 warnings"), "{}", ins.report.details);
        let ids: BTreeSet<&str> = ins.annotations.iter().map(|a| a.external_id.as_str()).collect();
        assert_eq!(ids.len(), MAX_ANNOTATIONS);
        assert!(ins.annotations.iter().all(|a| a.external_id.len() <= MAX_SHORT && a.link.is_none()));
    }

    #[test]
    fn long_messages_are_cut_in_utf16_units_and_ids_stay_unique() {
        let long = "é𝄞".repeat(1500);
        let f = Finding::new(Rule::ObjectInvalid, long.clone());
        let report = RunReport::new(vec![], vec![f.clone(), f.clone().entry_point("x"), f.entry_point("x")]);
        let ins = insights(&report, &InsightsOptions::default());
        for a in &ins.annotations {
            assert!(a.message.encode_utf16().count() <= MAX_TEXT);
            assert!(a.message.ends_with('…'));
        }
        assert_eq!(truncate("short", 10), "short");
        assert_eq!(truncate("abcdef", 4), "abc…");
        // Identical findings were de-duplicated by the report; the rest have distinct ids.
        let ids: BTreeSet<&str> = ins.annotations.iter().map(|a| a.external_id.as_str()).collect();
        assert_eq!(ids.len(), ins.annotations.len());
    }

    #[test]
    fn output_is_deterministic_and_reads_back() {
        let report = fixture::report();
        let (mut a, mut b) = (Vec::new(), Vec::new());
        write_insights(&report, &opts(), &mut a).unwrap();
        write_insights(&report, &opts(), &mut b).unwrap();
        assert_eq!(a, b);
        let back: Insights = serde_json::from_slice(&a).unwrap();
        assert_eq!(back, insights(&report, &opts()));
    }
}
