//! JUnit XML for CI test views (TeamCity, and any JUnit consumer).
//!
//! - one `<testsuite>` per entry point, named by the entry point; findings that belong to no
//!   entry point go to a suite named `fluxgate`;
//! - in an entry point's suite, a `render` testcase (failing when the render failed or an
//!   object-less finding is an error), then one testcase per rendered object, named
//!   `Kind/namespace/name`; objects that findings name but the render did not list follow;
//! - in the `fluxgate` suite, object-less findings are grouped per file (testcase named by the
//!   path) or, with no file, into a testcase named `run`;
//! - an object's error findings all go into ONE `<failure>` (TeamCity keeps only the first):
//!   `message` = the first error's message, `type` = its rule id, and the body holds every finding
//!   of the object in terminal style (without colour), real names included;
//! - warnings and infos alone pass, with their text in `<system-out>`; a testcase whose only
//!   findings are suppressed is `<skipped>`; otherwise suppressed findings are listed in the text.
//!
//! TeamCity joins `classname + "." + name` and splits the result at dots, so dots in classnames
//! and testcase names become `_` (`podinfo.v2` → `podinfo_v2`); names stay stable across runs.
//! No timestamps, hostnames or real durations (`time` is always `0.000`): the same report gives
//! byte-identical XML. quick-junit escapes markup and drops characters XML cannot carry.

use std::collections::{BTreeMap, HashSet};
use std::io::{self, Write};
use std::time::Duration;

use annotate_snippets::Renderer;
use indexmap::IndexMap;
use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite, XmlString};

use super::terminal::render_finding;
use super::{EntryPointReport, RunReport, SourceText};
use crate::finding::{Finding, ObjectRef, Severity};

/// Name of the suite that holds findings outside every entry point.
pub const RUN_SUITE: &str = "fluxgate";
/// Name of the testcase that holds an entry point's object-less findings (render failures).
pub const RENDER_CASE: &str = "render";

/// Writes `report` as a JUnit XML document (`<testsuites name="fluxgate">`).
pub fn write_junit(report: &RunReport, src: &dyn SourceText, out: &mut dyn Write) -> io::Result<()> {
    let renderer = Renderer::plain();
    let mut by_entry_point: BTreeMap<Option<&str>, Vec<&Finding>> = BTreeMap::new();
    for f in &report.findings {
        by_entry_point.entry(f.entry_point.as_deref()).or_default().push(f);
    }
    let mut junit = Report::new(RUN_SUITE);
    for ep in &report.entry_points {
        let findings = by_entry_point.remove(&Some(ep.name.as_str())).unwrap_or_default();
        junit.add_test_suite(entry_point_suite(&ep.name, Some(ep), &findings, &renderer, src));
    }
    // Findings naming an entry point the report does not list still get a suite of their own.
    let run_findings = by_entry_point.remove(&None);
    for (name, findings) in &by_entry_point {
        let name = name.unwrap_or_default();
        junit.add_test_suite(entry_point_suite(name, None, findings, &renderer, src));
    }
    if let Some(findings) = run_findings {
        junit.add_test_suite(run_suite(&findings, &renderer, src));
    }
    junit.serialize(out).map_err(io::Error::other)
}

/// What one testcase stands for, in the order testcases are written.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Case<'a> {
    Render,
    Object(&'a ObjectRef),
    File(&'a str),
    Run,
}

fn entry_point_suite(
    name: &str,
    ep: Option<&EntryPointReport>,
    findings: &[&Finding],
    renderer: &Renderer,
    src: &dyn SourceText,
) -> TestSuite {
    let mut cases: IndexMap<Case, Vec<&Finding>> = IndexMap::new();
    if ep.is_some() || findings.iter().any(|f| f.object.is_none()) {
        cases.insert(Case::Render, Vec::new());
    }
    for obj in ep.map(|e| e.objects.as_slice()).unwrap_or_default() {
        cases.entry(Case::Object(obj)).or_default();
    }
    for f in findings {
        let case = f.object.as_ref().map_or(Case::Render, Case::Object);
        cases.entry(case).or_default().push(f);
    }
    let render_failed = ep.is_some_and(|e| !e.rendered);
    build_suite(name, cases.into_iter().collect(), render_failed, renderer, src)
}

fn run_suite(findings: &[&Finding], renderer: &Renderer, src: &dyn SourceText) -> TestSuite {
    let mut cases: BTreeMap<Case, Vec<&Finding>> = BTreeMap::new();
    for f in findings {
        let case = match (&f.object, &f.location) {
            (Some(obj), _) => Case::Object(obj),
            (None, Some(loc)) => Case::File(&loc.file),
            (None, None) => Case::Run,
        };
        cases.entry(case).or_default().push(f);
    }
    build_suite(RUN_SUITE, cases.into_iter().collect(), false, renderer, src)
}

/// The test names of a suite's cases, in order: sanitised for TeamCity, and unique even when
/// two objects differ only in a dot (or a character quick-junit drops), deterministically.
/// Shared with the TeamCity reporter so both name every test the same way.
pub(crate) fn case_names<'a: 'b, 'b>(cases: impl IntoIterator<Item = &'b Case<'a>>) -> Vec<String> {
    let mut used = HashSet::new();
    cases
        .into_iter()
        .map(|case| {
            let base = match case {
                Case::Render => RENDER_CASE.to_owned(),
                Case::Object(obj) => sanitize(&obj.display()),
                Case::File(file) => sanitize(file),
                Case::Run => "run".to_owned(),
            };
            let mut name = base.clone();
            let mut n = 1;
            while !used.insert(name.clone()) {
                n += 1;
                name = format!("{base}_{n}");
            }
            name
        })
        .collect()
}

fn build_suite(
    name: &str,
    cases: Vec<(Case, Vec<&Finding>)>,
    render_failed: bool,
    renderer: &Renderer,
    src: &dyn SourceText,
) -> TestSuite {
    let classname = sanitize(name);
    let mut suite = TestSuite::new(xml_text(name));
    suite.set_time(Duration::ZERO);
    let names = case_names(cases.iter().map(|(c, _)| c));
    for ((case, findings), test_name) in cases.into_iter().zip(names) {
        let forced = (case == Case::Render && render_failed).then_some("the entry point failed to render");
        let mut test = TestCase::new(test_name, status(&findings, forced, renderer, src));
        test.set_classname(classname.clone()).set_time(Duration::ZERO);
        let passing_text = findings.iter().any(|f| f.suppressed.is_none())
            && !findings.iter().any(|f| f.suppressed.is_none() && f.severity == Severity::Error)
            && forced.is_none();
        if passing_text {
            test.set_system_out(body(&findings, renderer, src));
        }
        suite.add_test_case(test);
    }
    suite
}

/// Failure (any unsuppressed error, or `forced`), skipped (only suppressed findings), or success.
fn status(findings: &[&Finding], forced: Option<&str>, renderer: &Renderer, src: &dyn SourceText) -> TestCaseStatus {
    let first_error = findings.iter().find(|f| f.suppressed.is_none() && f.severity == Severity::Error);
    if let Some(first) = first_error {
        let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
        status
            .set_message(xml_text(&first.message))
            .set_type(first.rule_label())
            .set_description(body(findings, renderer, src));
        return status;
    }
    if let Some(message) = forced {
        let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
        status.set_message(message).set_type(RENDER_CASE);
        if !findings.is_empty() {
            status.set_description(body(findings, renderer, src));
        }
        return status;
    }
    if let Some(first) = findings.first().filter(|_| findings.iter().all(|f| f.suppressed.is_some())) {
        let mut status = TestCaseStatus::skipped();
        let reason = first.suppressed.as_deref().unwrap_or_default();
        status
            .set_message(xml_text(&format!("suppressed: {reason}")))
            .set_type(first.rule_label())
            .set_description(body(findings, renderer, src));
        return status;
    }
    TestCaseStatus::success()
}

/// Every finding in terminal style, unsuppressed ones first, separated by blank lines.
fn body(findings: &[&Finding], renderer: &Renderer, src: &dyn SourceText) -> String {
    let (active, suppressed): (Vec<&&Finding>, Vec<&&Finding>) = findings.iter().partition(|f| f.suppressed.is_none());
    let blocks: Vec<String> = active.iter().chain(&suppressed).map(|f| render_finding(renderer, f, src)).collect();
    xml_text(&(blocks.join("\n\n") + "\n"))
}

/// A name TeamCity will not split: dots become `_`, other characters stay.
pub(crate) fn sanitize(name: &str) -> String {
    xml_text(&name.replace('.', "_"))
}

/// The text exactly as quick-junit will write it (ANSI escapes and C0 controls dropped), minus
/// the two characters XML 1.0 cannot carry that quick-junit lets through (U+FFFE, U+FFFF).
/// Markup is escaped later, by the serializer.
fn xml_text(s: &str) -> String {
    XmlString::new(s.replace(['\u{fffe}', '\u{ffff}'], "")).into_string()
}

#[cfg(test)]
mod tests {
    use quick_xml::Reader;
    use quick_xml::events::Event;

    use super::*;
    use crate::report::fixture;

    fn xml(report: &RunReport) -> String {
        let mut out = Vec::new();
        write_junit(report, &fixture::source(), &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    /// A parsed testcase: (suite, classname, name, status element, message, type, text).
    #[derive(Debug, Default, Clone)]
    struct Case {
        suite: String,
        classname: String,
        name: String,
        status: Option<String>,
        message: String,
        ty: String,
        text: String,
        system_out: String,
    }

    fn attr(e: &quick_xml::events::BytesStart, key: &str) -> String {
        e.try_get_attribute(key)
            .unwrap()
            .map(|a| a.normalized_value(quick_xml::XmlVersion::Implicit1_0).unwrap().into_owned())
            .unwrap_or_default()
    }

    /// A parsed testsuite: (name, tests, failures, skipped).
    type SuiteCounts = (String, usize, usize, usize);

    /// Parses the XML with a strict reader; panics on anything malformed.
    fn parse(xml: &str) -> (Vec<SuiteCounts>, Vec<Case>) {
        let mut reader = Reader::from_str(xml);
        reader.config_mut().check_end_names = true;
        let (mut suites, mut cases) = (Vec::new(), Vec::<Case>::new());
        let mut suite = String::new();
        let mut in_status = false;
        let mut in_out = false;
        loop {
            match reader.read_event().unwrap() {
                Event::Start(e) | Event::Empty(e) => match e.name().as_ref() {
                    b"testsuite" => {
                        suite = attr(&e, "name");
                        let n = |k| attr(&e, k).parse::<usize>().unwrap();
                        suites.push((suite.clone(), n("tests"), n("failures"), n("skipped")));
                    }
                    b"testcase" => cases.push(Case {
                        suite: suite.clone(),
                        classname: attr(&e, "classname"),
                        name: attr(&e, "name"),
                        ..Case::default()
                    }),
                    tag @ (b"failure" | b"skipped" | b"error") => {
                        let case = cases.last_mut().unwrap();
                        assert!(case.status.is_none(), "two statuses in {}", case.name);
                        case.status = Some(String::from_utf8(tag.to_vec()).unwrap());
                        case.message = attr(&e, "message");
                        case.ty = attr(&e, "type");
                        in_status = true;
                    }
                    b"system-out" => in_out = true,
                    _ => {}
                },
                ev @ (Event::Text(_) | Event::GeneralRef(_) | Event::CData(_)) => {
                    let t = match ev {
                        Event::Text(t) => t.xml10_content().unwrap().into_owned(),
                        Event::CData(t) => t.decode().unwrap().into_owned(),
                        Event::GeneralRef(r) => match r.resolve_char_ref().unwrap() {
                            Some(c) => c.to_string(),
                            None => match r.decode().unwrap().as_ref() {
                                "lt" => "<".into(),
                                "gt" => ">".into(),
                                "amp" => "&".into(),
                                "quot" => "\"".into(),
                                "apos" => "'".into(),
                                other => panic!("unknown entity &{other};"),
                            },
                        },
                        _ => unreachable!(),
                    };
                    let case = cases.last_mut();
                    if in_status {
                        case.unwrap().text.push_str(&t);
                    } else if in_out {
                        case.unwrap().system_out.push_str(&t);
                    }
                }
                Event::End(e) => match e.name().as_ref() {
                    b"failure" | b"skipped" | b"error" => in_status = false,
                    b"system-out" => in_out = false,
                    _ => {}
                },
                Event::Eof => break,
                _ => {}
            }
        }
        (suites, cases)
    }

    #[test]
    fn suites_cases_and_failures() {
        let xml = xml(&fixture::report());
        let (suites, cases) = parse(&xml);
        assert_eq!(
            suites,
            [
                ("apps/base".to_owned(), 3, 1, 0),
                ("apps/broken".to_owned(), 1, 1, 0),
                ("clusters/prod/podinfo.v2".to_owned(), 3, 1, 1),
                ("fluxgate".to_owned(), 2, 1, 0),
            ]
        );
        let names: Vec<(&str, &str, &str, Option<&str>)> = cases
            .iter()
            .map(|c| (c.suite.as_str(), c.classname.as_str(), c.name.as_str(), c.status.as_deref()))
            .collect();
        assert_eq!(
            names,
            [
                ("apps/base", "apps/base", "render", None),
                ("apps/base", "apps/base", "ConfigMap/default/settings_v2", None),
                ("apps/base", "apps/base", "Deployment/default/web", Some("failure")),
                ("apps/broken", "apps/broken", "render", Some("failure")),
                ("clusters/prod/podinfo.v2", "clusters/prod/podinfo_v2", "render", None),
                (
                    "clusters/prod/podinfo.v2",
                    "clusters/prod/podinfo_v2",
                    "HelmRelease/podinfo/podinfo",
                    Some("skipped")
                ),
                ("clusters/prod/podinfo.v2", "clusters/prod/podinfo_v2", "Evil/_/<script>]]>", Some("failure")),
                ("fluxgate", "fluxgate", "stray/kustomization_yaml", Some("failure")),
                ("fluxgate", "fluxgate", "run", None),
            ]
        );
        for c in &cases {
            assert!(!c.name.contains('.') && !c.classname.contains('.'), "{c:?}");
        }
    }

    #[test]
    fn one_failure_holds_every_finding_of_the_object() {
        let (_, cases) = parse(&xml(&fixture::report()));
        let web = cases.iter().find(|c| c.name == "Deployment/default/web").unwrap();
        // Findings are in report order: deploy.yaml sorts before patch.yaml.
        assert_eq!(web.message, "Deployment default/web is defined twice");
        assert_eq!(web.ty, "duplicate-object");
        assert!(
            web.text.starts_with(
                "error[duplicate-object]: Deployment default/web is defined twice\n --> apps/base/deploy.yaml:1:1\n"
            ),
            "{}",
            web.text
        );
        assert!(web.text.contains("error[patch-failed]: cannot apply patch"));
        assert!(web.text.contains("  = help: write `containers:` as a list of maps\n"));
        assert!(web.text.contains("4 |       containers: oops\n  |                   ^^^^\n"));

        let broken = cases.iter().find(|c| c.suite == "apps/broken").unwrap();
        assert_eq!(broken.ty, "internal-error");
        assert!(broken.text.contains("error[yaml-syntax]: unterminated flow sequence"));

        let settings = cases.iter().find(|c| c.name.starts_with("ConfigMap")).unwrap();
        assert!(settings.system_out.contains("warning[schema-missing]"));
        assert!(settings.system_out.contains("object ConfigMap/default/settings.v2"), "real name in text");

        let helm = cases.iter().find(|c| c.name.starts_with("HelmRelease")).unwrap();
        assert_eq!(helm.message, "suppressed: annotation fluxgate.io/ignore: CRD installed later");
        assert!(helm.text.contains("= note: suppressed: annotation"));

        let evil = cases.iter().find(|c| c.name.starts_with("Evil")).unwrap();
        assert_eq!(evil.ty, "unknown-kind");
        assert!(evil.text.contains("error[unknown-kind]"));
        assert!(evil.text.contains("warning[schema-missing]: no schema for Evil"), "suppressed listed");
        assert!(evil.text.contains("= note: suppressed: config"));
        assert!(evil.text.find("unknown-kind") < evil.text.find("schema-missing"));
        assert!(evil.text.contains("entry point clusters/prod/podinfo.v2"), "real name in text");

        let run = cases.iter().find(|c| c.name == "run").unwrap();
        assert!(run.system_out.contains("warning[internal-error]: --kube-version 1.99"));
    }

    #[test]
    fn hostile_text_stays_valid_xml() {
        let xml = xml(&fixture::report());
        assert!(!xml.contains('\u{1}'));
        assert!(!xml.contains("<script>"));
        assert!(xml.contains("&lt;script&gt;]]&gt;"));
        // A hostile entry point name, U+FFFE and an ANSI escape survive too; names that only
        // differ in a dot or a dropped character stay distinct.
        let ep = crate::report::EntryPointReport {
            name: "a.b/<x>]]>\u{1}\u{fffe}\u{1b}[31m\"'&".into(),
            kind: crate::report::EntryPointKind::Kustomize,
            path: "a".into(),
            rendered: false,
            objects: vec![
                fixture::evil(),
                fixture::obj("v1", "Evil", None, "<script>]]>"),
                fixture::obj("v1", "A", None, "x.y"),
                fixture::obj("v1", "A", None, "x_y"),
            ],
        };
        let report = RunReport::new(vec![ep], vec![]);
        let (suites, cases) = parse(&self::xml(&report));
        assert_eq!(suites[0].0, "a.b/<x>]]>\"'&");
        assert_eq!(cases[0].classname, "a_b/<x>]]>\"'&");
        let names: Vec<&str> = cases.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["render", "Evil/_/<script>]]>", "Evil/_/<script>]]>_2", "A/_/x_y", "A/_/x_y_2"]);
        assert_eq!(cases[0].status.as_deref(), Some("failure"));
        assert_eq!(cases[0].message, "the entry point failed to render");
    }

    #[test]
    fn deterministic() {
        let report = fixture::report();
        let first = xml(&report);
        assert_eq!(first, xml(&report));
        assert_eq!(first, xml(&fixture::report()));
        assert!(!first.contains("timestamp") && !first.contains("hostname"));
        assert!(first.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"fluxgate\" tests=\"9\" skipped=\"1\" failures=\"4\" errors=\"0\">"), "{first}");
    }
}
