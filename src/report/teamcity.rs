//! TeamCity service messages, for a build step that reports straight to TeamCity's test view.
//!
//! ```text
//! ##teamcity[testSuiteStarted name='apps/base' flowId='0']
//! ##teamcity[testStarted name='render' flowId='0']
//! ##teamcity[testFinished name='render' flowId='0']
//! ##teamcity[testStarted name='Deployment/default/web' flowId='0']
//! ##teamcity[testFailed name='Deployment/default/web' message='…' details='error|[duplicate-object|]: …' flowId='0']
//! ##teamcity[testFinished name='Deployment/default/web' flowId='0']
//! ##teamcity[testSuiteFinished name='apps/base' flowId='0']
//! ##teamcity[buildProblem description='apps/broken failed to render: …' identity='fluxgate-render-0123456789abcdef']
//! ##teamcity[buildStatisticValue key='fluxgate.errors' value='6']
//! ##teamcity[buildStatus text='{build.status.text}; fluxgate: 6 errors, 2 warnings in 3 entry points']
//! ```
//!
//! The tests are the ones the JUnit report has, with the same names (see [`super::junit`]): a
//! suite per entry point (its real name), a `render` test, one test per object named
//! `Kind/namespace/name` with dots made `_`; findings outside every entry point go to a suite named
//! `fluxgate`. A test fails on an unsuppressed error (`message` = the first error, `details` =
//! every finding of the test in terminal style, plain), is ignored when it only has suppressed
//! findings, and passes otherwise (warnings go to `testStdOut`). An entry point that failed to
//! render also raises a `buildProblem`, whose identity (≤ 60 characters) is a hash of the entry
//! point and the first error's rule, so TeamCity can track it across builds.
//!
//! Every suite has its own `flowId` (its index in the report's sorted order), so TeamCity keeps
//! them apart even if a future caller interleaves them. Nothing depends on time or the machine:
//! the same report gives the same bytes.

use std::collections::BTreeMap;
use std::io::{self, Write};

use annotate_snippets::Renderer;
use indexmap::IndexMap;
use sha2::{Digest, Sha256};

use super::junit::{Case, RENDER_CASE, RUN_SUITE, case_names};
use super::terminal::render_finding;
use super::{EntryPointReport, RunReport, SourceText};
use crate::finding::{Finding, Severity};

/// Escapes a value for a service message attribute: `|` → `||`, `'` → `|'`, `[` → `|[`,
/// `]` → `|]`, LF → `|n`, CR → `|r`, the Unicode line breaks U+0085/U+2028/U+2029 → `|x`/`|l`/`|p`,
/// and every other control character → `|0xNNNN`, so one message is always one printable line.
/// Other non-ASCII characters stay as they are (TeamCity reads the build log as UTF-8).
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '|' => out.push_str("||"),
            '\'' => out.push_str("|'"),
            '[' => out.push_str("|["),
            ']' => out.push_str("|]"),
            '\n' => out.push_str("|n"),
            '\r' => out.push_str("|r"),
            '\u{85}' => out.push_str("|x"),
            '\u{2028}' => out.push_str("|l"),
            '\u{2029}' => out.push_str("|p"),
            c if c.is_control() => out.push_str(&format!("|0x{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// Writes `report` as TeamCity service messages, one per line.
pub fn write_teamcity(report: &RunReport, src: &dyn SourceText, out: &mut dyn Write) -> io::Result<()> {
    let renderer = Renderer::plain();
    let mut by_entry_point: BTreeMap<Option<&str>, Vec<&Finding>> = BTreeMap::new();
    for f in &report.findings {
        by_entry_point.entry(f.entry_point.as_deref()).or_default().push(f);
    }
    let mut suites = Vec::new();
    for ep in &report.entry_points {
        let findings = by_entry_point.remove(&Some(ep.name.as_str())).unwrap_or_default();
        suites.push(entry_point_suite(&ep.name, Some(ep), findings));
    }
    // Findings naming an entry point the report does not list still get a suite of their own.
    let run_findings = by_entry_point.remove(&None);
    for (name, findings) in by_entry_point {
        suites.push(entry_point_suite(name.unwrap_or_default(), None, findings));
    }
    if let Some(findings) = run_findings {
        suites.push(run_suite(findings));
    }
    let mut w = Messages { out, renderer: &renderer, src };
    for (flow, suite) in suites.iter().enumerate() {
        w.suite(suite, flow)?;
    }
    let s = &report.summary;
    for (key, value) in [
        ("errors", s.errors),
        ("warnings", s.warnings),
        ("infos", s.infos),
        ("suppressed", s.suppressed),
        ("entryPoints", s.entry_points),
        ("entryPointsFailed", s.entry_points_failed),
        ("objects", s.objects),
    ] {
        w.message("buildStatisticValue", &[("key", &format!("fluxgate.{key}")), ("value", &value.to_string())])?;
    }
    let text = format!(
        "{{build.status.text}}; fluxgate: {}, {} in {}",
        plural(s.errors, "error"),
        plural(s.warnings, "warning"),
        plural(s.entry_points, "entry point")
    );
    w.message("buildStatus", &[("text", &text)])
}

struct Suite<'a> {
    name: &'a str,
    /// Set when the entry point failed to render: its `render` test fails and a build problem is
    /// raised.
    render_failed: bool,
    cases: Vec<(Case<'a>, Vec<&'a Finding>)>,
}

fn entry_point_suite<'a>(name: &'a str, ep: Option<&'a EntryPointReport>, findings: Vec<&'a Finding>) -> Suite<'a> {
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
    Suite { name, render_failed: ep.is_some_and(|e| !e.rendered), cases: cases.into_iter().collect() }
}

fn run_suite(findings: Vec<&Finding>) -> Suite<'_> {
    let mut cases: BTreeMap<Case, Vec<&Finding>> = BTreeMap::new();
    for f in findings {
        let case = match (&f.object, &f.location) {
            (Some(obj), _) => Case::Object(obj),
            (None, Some(loc)) => Case::File(&loc.file),
            (None, None) => Case::Run,
        };
        cases.entry(case).or_default().push(f);
    }
    Suite { name: RUN_SUITE, render_failed: false, cases: cases.into_iter().collect() }
}

struct Messages<'w> {
    out: &'w mut dyn Write,
    renderer: &'w Renderer,
    src: &'w dyn SourceText,
}

impl Messages<'_> {
    /// `##teamcity[name key='value' …]` on one line.
    fn message(&mut self, name: &str, attrs: &[(&str, &str)]) -> io::Result<()> {
        let mut line = format!("##teamcity[{name}");
        for (key, value) in attrs {
            line.push_str(&format!(" {key}='{}'", escape(value)));
        }
        line.push_str("]\n");
        self.out.write_all(line.as_bytes())
    }

    fn suite(&mut self, suite: &Suite, flow: usize) -> io::Result<()> {
        let flow = flow.to_string();
        self.message("testSuiteStarted", &[("name", suite.name), ("flowId", &flow)])?;
        let names = case_names(suite.cases.iter().map(|(c, _)| c));
        for ((case, findings), name) in suite.cases.iter().zip(names) {
            let forced = *case == Case::Render && suite.render_failed;
            self.test(&name, findings, forced, &flow)?;
        }
        self.message("testSuiteFinished", &[("name", suite.name), ("flowId", &flow)])?;
        if suite.render_failed {
            let cases = suite.cases.iter();
            let findings: Vec<&Finding> =
                cases.filter(|(c, _)| *c == Case::Render).flat_map(|(_, f)| f.clone()).collect();
            let first = findings.iter().find(|f| f.suppressed.is_none() && f.severity == Severity::Error);
            let description = match first {
                Some(f) => format!("{} failed to render: {}", suite.name, f.message),
                None => format!("{} failed to render", suite.name),
            };
            let identity = problem_identity(suite.name, first.map_or(RENDER_CASE, |f| f.rule.id()));
            self.message("buildProblem", &[("description", &description), ("identity", &identity)])?;
        }
        Ok(())
    }

    fn test(&mut self, name: &str, findings: &[&Finding], forced: bool, flow: &str) -> io::Result<()> {
        self.message("testStarted", &[("name", name), ("flowId", flow)])?;
        let first_error = findings.iter().find(|f| f.suppressed.is_none() && f.severity == Severity::Error);
        let all_suppressed = !findings.is_empty() && findings.iter().all(|f| f.suppressed.is_some());
        if first_error.is_some() || forced {
            let message = first_error.map_or("the entry point failed to render", |f| f.message.as_str());
            let details = self.body(findings);
            self.message(
                "testFailed",
                &[("name", name), ("message", message), ("details", &details), ("flowId", flow)],
            )?;
        } else if all_suppressed {
            let reason = findings[0].suppressed.as_deref().unwrap_or_default();
            let message = format!("suppressed: {reason}");
            self.message("testIgnored", &[("name", name), ("message", &message), ("flowId", flow)])?;
        } else if !findings.is_empty() {
            let text = self.body(findings);
            self.message("testStdOut", &[("name", name), ("out", &text), ("flowId", flow)])?;
        }
        self.message("testFinished", &[("name", name), ("flowId", flow)])
    }

    /// Every finding in terminal style (plain), unsuppressed ones first, separated by blank lines.
    fn body(&self, findings: &[&Finding]) -> String {
        let (active, suppressed): (Vec<&&Finding>, Vec<&&Finding>) =
            findings.iter().partition(|f| f.suppressed.is_none());
        let blocks: Vec<String> =
            active.iter().chain(&suppressed).map(|f| render_finding(self.renderer, f, self.src)).collect();
        blocks.join("\n\n")
    }
}

/// A stable `buildProblem` identity (TeamCity allows 60 characters): `fluxgate-render-` and the
/// first 16 hex digits of SHA-256 over the entry point name and the rule id.
fn problem_identity(entry_point: &str, rule: &str) -> String {
    let digest =
        Sha256::new().chain_update(entry_point.as_bytes()).chain_update([0]).chain_update(rule.as_bytes()).finalize();
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("fluxgate-render-{hex}")
}

/// `1 error`, `2 errors`.
fn plural(n: usize, word: &str) -> String {
    if n == 1 { format!("1 {word}") } else { format!("{n} {word}s") }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{EntryPointKind, fixture};
    use crate::rules::Rule;

    fn messages(report: &RunReport) -> String {
        let mut out = Vec::new();
        write_teamcity(report, &fixture::source(), &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    /// Reverses [`escape`]; panics on an escape TeamCity would not accept.
    fn unescape(s: &str) -> String {
        let mut out = String::new();
        let mut chars = s.chars();
        while let Some(c) = chars.next() {
            if c != '|' {
                out.push(c);
                continue;
            }
            match chars.next() {
                Some('|') => out.push('|'),
                Some('\'') => out.push('\''),
                Some('[') => out.push('['),
                Some(']') => out.push(']'),
                Some('n') => out.push('\n'),
                Some('r') => out.push('\r'),
                Some('x') => out.push('\u{85}'),
                Some('l') => out.push('\u{2028}'),
                Some('p') => out.push('\u{2029}'),
                Some('0') => {
                    assert_eq!(chars.next(), Some('x'), "in {s:?}");
                    let hex: String = chars.by_ref().take(4).collect();
                    out.push(char::from_u32(u32::from_str_radix(&hex, 16).unwrap()).unwrap());
                }
                other => panic!("bad escape |{other:?} in {s:?}"),
            }
        }
        out
    }

    /// One parsed message: its name and un-escaped attributes in order.
    type Message = (String, Vec<(String, String)>);

    /// Parses one line strictly: `##teamcity[name key='value' …]`, every quote and bracket inside
    /// a value escaped, nothing after the closing `]`.
    fn parse_line(line: &str) -> Message {
        let body = line.strip_prefix("##teamcity[").unwrap_or_else(|| panic!("prefix: {line:?}"));
        let body = body.strip_suffix(']').unwrap_or_else(|| panic!("suffix: {line:?}"));
        let (name, mut rest) = body.split_once(' ').unwrap_or((body, ""));
        assert!(name.chars().all(|c| c.is_ascii_alphanumeric()), "{line:?}");
        let mut attrs = Vec::new();
        while !rest.is_empty() {
            let (key, after) = rest.split_once("='").unwrap_or_else(|| panic!("attr: {line:?}"));
            assert!(key.chars().all(|c| c.is_ascii_alphanumeric()), "{line:?}");
            let mut end = None;
            let mut escaped = false;
            for (i, c) in after.char_indices() {
                match (escaped, c) {
                    (true, _) => escaped = false,
                    (false, '|') => escaped = true,
                    (false, '\'') => {
                        end = Some(i);
                        break;
                    }
                    (false, '[' | ']') => panic!("unescaped bracket in {line:?}"),
                    _ => {}
                }
            }
            let end = end.unwrap_or_else(|| panic!("unterminated value: {line:?}"));
            attrs.push((key.to_owned(), unescape(&after[..end])));
            rest = &after[end + 1..];
            if !rest.is_empty() {
                rest = rest.strip_prefix(' ').unwrap_or_else(|| panic!("no space after a value: {line:?}"));
            }
        }
        (name.to_owned(), attrs)
    }

    /// Parses every line and checks suites and tests open and close in order, per flow.
    fn parse(text: &str) -> Vec<Message> {
        assert!(text.ends_with('\n'));
        let messages: Vec<Message> = text.lines().map(parse_line).collect();
        let mut open: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
        for (name, attrs) in &messages {
            let get = |k: &str| attrs.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
            let flow = get("flowId").unwrap_or_default();
            let stack = open.entry(flow.clone()).or_default();
            match name.as_str() {
                "testSuiteStarted" | "testStarted" => stack.push((name.replace("Started", ""), get("name").unwrap())),
                "testSuiteFinished" | "testFinished" => {
                    assert_eq!(stack.pop(), Some((name.replace("Finished", ""), get("name").unwrap())), "{name}")
                }
                "testFailed" | "testIgnored" | "testStdOut" => {
                    assert_eq!(
                        stack.last(),
                        Some(&("test".to_owned(), get("name").unwrap())),
                        "{name} outside its test"
                    )
                }
                "buildProblem" => {
                    assert!(flow.is_empty(), "buildProblem belongs to no flow");
                    assert!(get("identity").unwrap().len() <= 60);
                }
                _ => {}
            }
        }
        assert!(open.values().all(Vec::is_empty), "{open:?}");
        messages
    }

    fn attr<'a>(m: &'a Message, key: &str) -> &'a str {
        m.1.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str()).unwrap_or_default()
    }

    #[test]
    fn escapes() {
        assert_eq!(escape("a'b|c[d]\ne\rf"), "a|'b||c|[d|]|ne|rf");
        assert_eq!(escape("plain text: é ✓"), "plain text: é ✓");
        assert_eq!(escape("\u{1}\u{1b}[0m\u{9b}\t"), "|0x0001|0x001B|[0m|0x009B|0x0009");
        assert_eq!(escape("\u{85}\u{2028}\u{2029}"), "|x|l|p");
        for s in ["", "||", "'']]", "<script>]]>\u{1}", "a\r\n|n", "|0x0041", "\u{10ffff}\u{7f}"] {
            assert_eq!(unescape(&escape(s)), s);
            assert!(!escape(s).contains(['\n', '\r']));
        }
    }

    #[test]
    fn fixture_layout() {
        let report = fixture::report();
        let messages = parse(&messages(&report));
        let summary: Vec<String> =
            messages.iter().map(|m| format!("{} {} {}", m.0, attr(m, "flowId"), attr(m, "name"))).collect();
        let hostile = format!("Evil/_/{}", fixture::HOSTILE.replace('\u{1}', ""));
        let expected = [
            "testSuiteStarted 0 apps/base",
            "testStarted 0 render",
            "testFinished 0 render",
            "testStarted 0 ConfigMap/default/settings_v2",
            "testStdOut 0 ConfigMap/default/settings_v2",
            "testFinished 0 ConfigMap/default/settings_v2",
            "testStarted 0 Deployment/default/web",
            "testFailed 0 Deployment/default/web",
            "testFinished 0 Deployment/default/web",
            "testSuiteFinished 0 apps/base",
            "testSuiteStarted 1 apps/broken",
            "testStarted 1 render",
            "testFailed 1 render",
            "testFinished 1 render",
            "testSuiteFinished 1 apps/broken",
            "buildProblem  ",
            "testSuiteStarted 2 clusters/prod/podinfo.v2",
            "testStarted 2 render",
            "testFinished 2 render",
            "testStarted 2 HelmRelease/podinfo/podinfo",
            "testIgnored 2 HelmRelease/podinfo/podinfo",
            "testFinished 2 HelmRelease/podinfo/podinfo",
            &format!("testStarted 2 {hostile}"),
            &format!("testFailed 2 {hostile}"),
            &format!("testFinished 2 {hostile}"),
            "testSuiteFinished 2 clusters/prod/podinfo.v2",
            "testSuiteStarted 3 fluxgate",
            "testStarted 3 stray/kustomization_yaml",
            "testFailed 3 stray/kustomization_yaml",
            "testFinished 3 stray/kustomization_yaml",
            "testStarted 3 run",
            "testStdOut 3 run",
            "testFinished 3 run",
            "testSuiteFinished 3 fluxgate",
        ];
        assert_eq!(summary[..expected.len()], expected);
        let tail: Vec<&str> = summary[expected.len()..].iter().map(|s| s.split(' ').next().unwrap()).collect();
        assert_eq!(tail, [["buildStatisticValue"; 7].as_slice(), &["buildStatus"]].concat());
        assert_eq!(
            attr(messages.last().unwrap(), "text"),
            "{build.status.text}; fluxgate: 6 errors, 2 warnings in 3 entry points"
        );
        let errors = messages.iter().find(|m| attr(m, "key") == "fluxgate.errors").unwrap();
        assert_eq!(attr(errors, "value"), "6");
    }

    #[test]
    fn failures_hold_every_finding() {
        let messages = parse(&messages(&fixture::report()));
        let failed = |name: &str| messages.iter().find(|m| m.0 == "testFailed" && attr(m, "name") == name).unwrap();
        let web = failed("Deployment/default/web");
        assert_eq!(attr(web, "message"), "Deployment default/web is defined twice");
        let details = attr(web, "details");
        assert!(
            details.starts_with(
                "error[duplicate-object]: Deployment default/web is defined twice\n --> apps/base/deploy.yaml:1:1\n"
            ),
            "{details}"
        );
        assert!(details.contains("4 |       containers: oops\n  |                   ^^^^\n"));
        assert!(details.contains("object Deployment/default/web"), "real name in text");

        let render = failed("render");
        assert_eq!(attr(render, "message"), "render aborted");
        assert!(attr(render, "details").contains("error[yaml-syntax]: unterminated flow sequence"));

        let evil = messages.iter().find(|m| m.0 == "testFailed" && attr(m, "name").starts_with("Evil")).unwrap();
        let details = attr(evil, "details");
        assert!(details.find("unknown-kind") < details.find("schema-missing"), "suppressed listed last");
        assert!(details.contains("= note: suppressed: config"));

        let ignored = messages.iter().find(|m| m.0 == "testIgnored").unwrap();
        assert_eq!(attr(ignored, "message"), "suppressed: annotation fluxgate.io/ignore: CRD installed later");

        let problem = messages.iter().find(|m| m.0 == "buildProblem").unwrap();
        assert_eq!(attr(problem, "description"), "apps/broken failed to render: render aborted");
        assert_eq!(attr(problem, "identity"), problem_identity("apps/broken", "internal-error"));
        assert!(attr(problem, "identity").starts_with("fluxgate-render-"));
        assert_ne!(problem_identity("apps/broken", "yaml-syntax"), problem_identity("apps/broken", "internal-error"));
    }

    #[test]
    fn hostile_names_round_trip() {
        let name = "a.b|[x]'y\"\nz\r<script>]]>\u{1}\u{2028}";
        let ep = EntryPointReport {
            name: name.into(),
            kind: EntryPointKind::Kustomize,
            path: "a".into(),
            rendered: false,
            objects: vec![
                fixture::obj("v1", "Evil", Some("n|s"), "x'[y]\nz"),
                fixture::obj("v1", "A", None, "x.y"),
                fixture::obj("v1", "A", None, "x_y"),
            ],
        };
        let finding = Finding::new(Rule::ObjectInvalid, name)
            .entry_point(name)
            .object(Some(fixture::obj("v1", "Evil", Some("n|s"), "x'[y]\nz")))
            .help("']|[\n");
        let report = RunReport::new(vec![ep], vec![finding]);
        let text = messages(&report);
        assert!(!text.contains('\u{1}') && !text.contains('\r'));
        for line in text.lines() {
            assert!(line.starts_with("##teamcity[") && line.ends_with(']'), "{line:?}");
        }
        let messages = parse(&text);
        assert_eq!(attr(&messages[0], "name"), name, "suite keeps the real name");
        let tests: Vec<&str> = messages.iter().filter(|m| m.0 == "testStarted").map(|m| attr(m, "name")).collect();
        assert_eq!(tests, ["render", &super::super::junit::sanitize("Evil/n|s/x'[y]\nz"), "A/_/x_y", "A/_/x_y_2"]);
        let failed = messages.iter().find(|m| m.0 == "testFailed" && attr(m, "name").starts_with("Evil")).unwrap();
        assert_eq!(attr(failed, "message"), name);
        let problem = messages.iter().find(|m| m.0 == "buildProblem").unwrap();
        assert_eq!(attr(problem, "description"), format!("{name} failed to render"));
        assert!(attr(problem, "identity").len() <= 60);
    }

    #[test]
    fn deterministic_and_empty() {
        let first = messages(&fixture::report());
        assert_eq!(first, messages(&fixture::report()));
        let empty = messages(&RunReport::new(vec![], vec![]));
        let last = empty.lines().last().unwrap();
        assert_eq!(
            last,
            "##teamcity[buildStatus text='{build.status.text}; fluxgate: 0 errors, 0 warnings in 0 entry points']"
        );
    }
}
