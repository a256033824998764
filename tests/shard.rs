//! `validate --shard I/N`: the N shards together report exactly what one unsharded run reports.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use quick_xml::events::Event;

fn fluxgate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fluxgate")).args(args).output().unwrap()
}

fn fixture(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(p)
}

/// One testcase as TeamCity sees it: suite, classname, name, status and the failure's
/// message, type and text.
type Case = (String, String, String, String, String, String, String);

/// The suites and testcases of a JUnit file.
fn parse(path: &Path) -> (Vec<String>, Vec<Case>) {
    let xml = std::fs::read_to_string(path).unwrap();
    let mut reader = quick_xml::Reader::from_str(&xml);
    let (mut suites, mut cases) = (Vec::new(), Vec::new());
    let mut suite = String::new();
    let mut case: Option<Case> = None;
    let mut in_body = false;
    let attr = |e: &quick_xml::events::BytesStart, k: &str| {
        e.attributes()
            .filter_map(Result::ok)
            .find(|a| a.key.as_ref() == k.as_bytes())
            .map(|a| a.normalized_value(quick_xml::XmlVersion::Implicit1_0).unwrap().into_owned())
            .unwrap_or_default()
    };
    loop {
        let event = reader.read_event().unwrap();
        // `<failure .../>` (an Empty event) has no body and no End event.
        let is_start = matches!(event, Event::Start(_));
        match event {
            Event::Start(e) | Event::Empty(e) if e.name().as_ref() == b"testsuite" => {
                suite = attr(&e, "name");
                suites.push(suite.clone());
            }
            Event::Start(e) | Event::Empty(e) if e.name().as_ref() == b"testcase" => {
                if let Some(c) = case.take() {
                    cases.push(c);
                }
                let c = (
                    suite.clone(),
                    attr(&e, "classname"),
                    attr(&e, "name"),
                    "ok".into(),
                    "".into(),
                    "".into(),
                    "".into(),
                );
                case = Some(c);
            }
            Event::Start(e) | Event::Empty(e) if matches!(e.name().as_ref(), b"failure" | b"error" | b"skipped") => {
                if let Some(c) = case.as_mut() {
                    c.3 = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                    c.4 = attr(&e, "message");
                    c.5 = attr(&e, "type");
                }
                in_body = is_start;
            }
            Event::Text(t) if in_body => {
                if let Some(c) = case.as_mut() {
                    c.6.push_str(&String::from_utf8_lossy(t.as_ref()));
                }
            }
            Event::End(e) if matches!(e.name().as_ref(), b"failure" | b"error" | b"skipped") => in_body = false,
            Event::Eof => break,
            _ => {}
        }
    }
    cases.extend(case);
    (suites, cases)
}

fn check_union(name: &str) {
    let dir = tempfile::tempdir().unwrap();
    let root = fixture(name);
    let root = root.to_str().unwrap();
    let full = dir.path().join("full.xml");
    let out = fluxgate(&["validate", root, "--junit", full.to_str().unwrap(), "--format", "json"]);
    let full_code = out.status.code();
    let (suites, cases) = parse(&full);
    assert!(!cases.is_empty());
    for n in 1..=4usize {
        let (mut all_suites, mut all_cases) = (Vec::new(), Vec::new());
        let mut codes = Vec::new();
        for i in 1..=n {
            let p = dir.path().join(format!("shard-{i}-of-{n}.xml"));
            let out = fluxgate(&["validate", root, "--shard", &format!("{i}/{n}"), "--junit", p.to_str().unwrap()]);
            codes.push(out.status.code());
            let (s, c) = parse(&p);
            all_suites.extend(s);
            all_cases.extend(c);
        }
        // Each suite and testcase is in exactly one shard, and nothing is lost or invented.
        assert_eq!(all_suites.len(), suites.len(), "{name} {n} shards: suite count");
        assert_eq!(all_cases.len(), cases.len(), "{name} {n} shards: testcase count");
        assert_eq!(
            all_suites.iter().collect::<BTreeSet<_>>(),
            suites.iter().collect::<BTreeSet<_>>(),
            "{name} {n} shards: suites"
        );
        assert_eq!(
            all_cases.iter().collect::<BTreeSet<_>>(),
            cases.iter().collect::<BTreeSet<_>>(),
            "{name} {n} shards: testcases"
        );
        // The build fails iff the unsharded run fails.
        let any_failed = codes.contains(&Some(1));
        assert_eq!(any_failed, full_code == Some(1), "{name} {n} shards: exit codes {codes:?}");
    }
}

#[test]
fn shards_of_flux_gsf_add_up_to_the_whole() {
    check_union("flux-gsf");
}

#[test]
fn shards_of_broken_add_up_to_the_whole() {
    check_union("broken");
}

#[test]
fn same_shard_twice_is_byte_identical() {
    let root = fixture("flux-gsf");
    let a = fluxgate(&["validate", root.to_str().unwrap(), "--shard", "2/3", "--format", "json"]);
    let b = fluxgate(&["validate", root.to_str().unwrap(), "--shard", "2/3", "--format", "json", "-j", "1"]);
    assert_eq!(a.stdout, b.stdout);
}

#[test]
fn bad_shard_values_exit_2() {
    let root = fixture("flux-gsf");
    for bad in ["0/2", "3/2", "1/0", "x", "1/", "/2", "1/2/3"] {
        let out = fluxgate(&["validate", root.to_str().unwrap(), "--shard", bad]);
        assert_eq!(out.status.code(), Some(2), "--shard {bad}: {}", String::from_utf8_lossy(&out.stderr));
    }
}
