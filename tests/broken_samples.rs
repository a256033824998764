//! Every broken sample under `fixtures/broken/` fails with exactly the error its `EXPECTED`
//! file names (rule, file and line), exit code 1, and a failing JUnit testcase.

use std::path::{Path, PathBuf};
use std::process::Command;

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_fluxgate")
}

fn cases() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/broken");
    let mut v: Vec<PathBuf> =
        std::fs::read_dir(&root).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()).collect();
    v.sort();
    v
}

/// The (rule, file, line) errors a case's EXPECTED file lists, one `rule file:line` per line
/// (several when the error is seen from several entry points, e.g. each side of a cycle).
fn expected(case: &Path) -> Vec<(String, String, u64)> {
    let text = std::fs::read_to_string(case.join("EXPECTED")).unwrap();
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let (rule, loc) = l.trim().split_once(' ').unwrap();
            let (file, line) = loc.rsplit_once(':').unwrap();
            (rule.to_string(), file.to_string(), line.parse().unwrap())
        })
        .collect()
}

#[test]
fn at_least_twelve_broken_samples() {
    assert!(cases().len() >= 12, "only {} broken samples", cases().len());
}

#[test]
fn each_broken_sample_reports_its_expected_error() {
    let mut failures = Vec::new();
    for case in cases() {
        let want = expected(&case);
        let out = Command::new(bin()).args(["validate", "--format", "json"]).arg(&case).output().unwrap();
        let name = case.file_name().unwrap().to_string_lossy().to_string();
        if out.status.code() != Some(1) {
            failures.push(format!(
                "{name}: exit code {:?}, want 1; stderr: {}",
                out.status.code(),
                String::from_utf8_lossy(&out.stderr)
            ));
            continue;
        }
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let errors: Vec<&serde_json::Value> =
            json["findings"].as_array().unwrap().iter().filter(|f| f["severity"] == "error").collect();
        let summary: Vec<String> = errors
            .iter()
            .map(|f| format!("{} {}:{}", f["rule"].as_str().unwrap(), f["location"]["file"], f["location"]["line"]))
            .collect();
        let is = |f: &serde_json::Value, (rule, file, line): &(String, String, u64)| {
            f["rule"] == rule.as_str() && f["location"]["file"] == file.as_str() && f["location"]["line"] == *line
        };
        let all_expected = errors.iter().all(|f| want.iter().any(|w| is(f, w)));
        let all_seen = want.iter().all(|w| errors.iter().any(|f| is(f, w)));
        if !all_expected || !all_seen {
            failures.push(format!("{name}: want exactly {want:?}, got {summary:?}"));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn junit_has_a_suite_per_entry_point_and_a_failing_case_per_error() {
    let dir = tempfile::tempdir().unwrap();
    for case in cases() {
        let junit = dir.path().join("junit.xml");
        let out = Command::new(bin())
            .args(["validate", "--format", "json", "--junit"])
            .arg(&junit)
            .arg(&case)
            .output()
            .unwrap();
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let xml = std::fs::read_to_string(&junit).unwrap();
        let mut reader = quick_xml::Reader::from_str(&xml);
        let (mut suites, mut failures) = (Vec::new(), 0);
        loop {
            match reader.read_event().unwrap() {
                quick_xml::events::Event::Start(e) | quick_xml::events::Event::Empty(e) => match e.name().as_ref() {
                    b"testsuite" => {
                        let name = e
                            .try_get_attribute("name")
                            .unwrap()
                            .unwrap()
                            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                            .unwrap()
                            .to_string();
                        suites.push(name);
                    }
                    b"failure" => failures += 1,
                    _ => {}
                },
                quick_xml::events::Event::Eof => break,
                _ => {}
            }
        }
        let eps: Vec<String> =
            json["entry_points"].as_array().unwrap().iter().map(|e| e["name"].as_str().unwrap().to_string()).collect();
        assert_eq!(suites, eps, "{}", case.display());
        let failing_eps = json["entry_points"].as_array().unwrap().len();
        assert!(failures >= 1 && failures <= failing_eps * 4, "{}: {failures} failures", case.display());
    }
}
